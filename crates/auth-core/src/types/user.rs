//! Users and the values that identify them.
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

use super::PasswordHash;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// A value that breaks the rules of its type, named by `what`.
pub enum ValueError {
    #[error("{what} must be between {min} and {max} characters")]
    /// Too short or too long.
    Length {
        /// Which value.
        what: &'static str,
        /// The fewest characters allowed.
        min: usize,
        /// The most characters allowed.
        max: usize,
    },
    #[error("{what} contains a character that is not allowed: {ch:?}")]
    /// A character the value may not hold.
    Character {
        /// Which value.
        what: &'static str,
        /// The first character not allowed.
        ch: char,
    },
    #[error("{0} is not a valid email address")]
    /// Not an email address (the first 64 characters of it).
    Email(String),
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
/// An account's id: a UUID, the `sub` of its tokens.
pub struct UserId(Uuid);

impl UserId {
    /// The account id `id`.
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }
    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A login name: 1 to 64 characters, letters, digits and `._-@+`, compared
/// case-insensitively (stored lower-cased) so `John` and `john` are one user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username (trimmed, lower-cased).
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let raw = raw.trim();
        let len = raw.chars().count();
        if !(1..=64).contains(&len) {
            return Err(ValueError::Length {
                what: "username",
                min: 1,
                max: 64,
            });
        }
        if let Some(ch) = raw
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')))
        {
            return Err(ValueError::Character {
                what: "username",
                ch,
            });
        }
        Ok(Self(raw.to_lowercase()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, lower-cased. The check is the practical one (one `@`,
/// a dotted domain, no spaces, at most 254 characters): deliverability is
/// proven by mail, not by a parser.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a dot in the domain, no spaces (lower-cased).
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let raw = raw.trim();
        let bad = || ValueError::Email(raw.chars().take(64).collect());
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(bad());
        }
        Ok(Self(raw.to_lowercase()))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored account.
#[derive(Debug, Clone)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its username, a login name.
    pub username: Username,
    /// Its email, also a login name.
    pub email: Option<Email>,
    /// The argon2id hash of its password; `None` for an account that signs in only through upstream providers.
    pub password_hash: Option<PasswordHash>,
    /// First name, released by the `profile` scope.
    pub given_name: Option<String>,
    /// Last name, released by the `profile` scope.
    pub family_name: Option<String>,
    /// Signs in nowhere while set; its tokens are refused.
    pub disabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The generation its tokens are issued in: raised each time every
    /// token of the account is ended (a password change, disabling, an
    /// operator's sign-out), so that an access token of an earlier
    /// generation is refused wherever it is verified.
    pub token_generation: TokenGeneration,
}

impl User {
    /// The account as the tokens issued for it name it.
    pub fn token_owner(&self) -> TokenOwner {
        TokenOwner {
            id: self.id,
            generation: self.token_generation,
        }
    }
}

/// A count on an account, raised each time all its tokens are ended. A
/// count rather than an instant: a token and the revocation that ends it
/// can fall within one second (or one reading of a coarse clock), and a
/// count orders them anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenGeneration(u32);

impl TokenGeneration {
    /// The generation numbered `n`.
    pub fn new(n: u32) -> Self {
        Self(n)
    }

    /// Its number.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether a token issued in this generation is still good for an
    /// account now in `current`.
    pub fn is_current(self, current: TokenGeneration) -> bool {
        self >= current
    }
}

/// Who a user's tokens are issued for: the account and its generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenOwner {
    /// The account.
    pub id: UserId,
    /// Its token generation at issuance.
    pub generation: TokenGeneration,
}

/// What registration hands to the user repository.
pub type NewUser = User;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" John ").unwrap().as_str(), "john");
        assert!(Username::parse("admin@break-out.org").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("<script>").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Michael_Lee@Gmail.com").unwrap().as_str(),
            "michael_lee@gmail.com"
        );
        for bad in [
            "no-at",
            "@x.org",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@.org",
            "a@b.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
