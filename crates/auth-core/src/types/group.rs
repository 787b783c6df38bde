//! Groups of accounts: what applications authorize by (the `groups` claim)
//! and who may use a client at all (its allowed groups).
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

use super::user::{ValueError, precis_name};

/// A group's id: stable across renames, so a client's allowed groups and
/// the memberships follow a group that is renamed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct GroupId(Uuid);

impl GroupId {
    /// The group id `id`.
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Parses the text form of a group id.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw.trim()).ok().map(Self)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A group's name, normalised as usernames are (RFC 8265's
/// `UsernameCaseMapped`: `Admins` and `ＡＤＭＩＮＳ` are one name), then 1
/// to 64 letters, digits and `._-@+:` (`:` for names such as Kubernetes'
/// `team:infra`). It is what tokens carry, so two groups cannot differ only
/// in case or width.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(String);

impl GroupName {
    /// Parses a group name.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        precis_name(raw, "group name", &['.', '_', '-', '@', '+', ':']).map(Self)
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a group is for, in a sentence: at most 256 characters, without
/// control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupDescription(String);

impl GroupDescription {
    /// The longest description, in characters.
    pub const MAX: usize = 256;

    /// Parses a description.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let raw = raw.trim();
        if raw.chars().count() > Self::MAX {
            return Err(ValueError::Length {
                what: "group description",
                min: 0,
                max: Self::MAX,
            });
        }
        if let Some(ch) = raw.chars().find(|c| c.is_control()) {
            return Err(ValueError::Character {
                what: "group description",
                ch,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The description as stored (empty for none).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its id.
    pub id: GroupId,
    /// Its name, unique.
    pub name: GroupName,
    /// What it is for.
    pub description: GroupDescription,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its name or description last changed.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_case_and_width_and_keep_a_colon() {
        let a = GroupName::parse(" Admins ").unwrap();
        assert_eq!(a, GroupName::parse("ＡＤＭＩＮＳ").unwrap());
        assert_eq!(a.as_str(), "admins");
        assert_eq!(
            GroupName::parse("team:infra").unwrap().as_str(),
            "team:infra"
        );
        for bad in ["", "   ", "a b", "a/b", &"x".repeat(65)] {
            assert!(GroupName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_are_short_and_plain() {
        assert_eq!(
            GroupDescription::parse("  On call  ").unwrap().as_str(),
            "On call"
        );
        assert!(GroupDescription::parse("line\nbreak").is_err());
        assert!(GroupDescription::parse(&"x".repeat(257)).is_err());
    }
}
