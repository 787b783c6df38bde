//! Upstream identities: who a person is at another identity provider, and
//! how that is tied to an account here.
use chrono::{DateTime, Utc};
use std::fmt;

use super::{Email, UserId, ValueError};

/// A configured upstream provider's name: `github`, or an operator's name
/// for an OpenID provider (`google`, `corp`). 1 to 32 lower-case letters,
/// digits and `-`, so it is safe in a path (`/federation/callback/{name}`)
/// and in a login name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderName(String);

impl ProviderName {
    /// Parses a provider name: 1 to 32 characters of `a-z 0-9 -`.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let len = raw.len();
        if !(1..=32).contains(&len) {
            return Err(ValueError::Length {
                what: "provider name",
                min: 1,
                max: 32,
            });
        }
        if let Some(ch) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(ValueError::Character {
                what: "provider name",
                ch,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The provider's stable identifier of the person: GitHub's numeric `id`
/// (never the login, which its owner can rename and someone else can then
/// take), an OpenID provider's `sub`. At most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamSubject(String);

impl UpstreamSubject {
    /// Parses a subject: 1 to 255 bytes, no control characters.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.is_empty() || raw.len() > 255 {
            return Err(ValueError::Length {
                what: "upstream subject",
                min: 1,
                max: 255,
            });
        }
        if let Some(ch) = raw.chars().find(|c| c.is_control()) {
            return Err(ValueError::Character {
                what: "upstream subject",
                ch,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The subject as the provider gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who the provider says signed in. Only what the provider vouches for is
/// here: `email` is set only when the provider says it is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The provider it is at.
    pub provider: ProviderName,
    /// Its stable id there (GitHub's numeric id, an OpenID `sub`).
    pub subject: UpstreamSubject,
    /// A verified email address, if the provider shared one.
    pub email: Option<Email>,
    /// The provider's login or preferred name, a hint for the new
    /// account's login name (never an identifier).
    pub login: Option<String>,
    /// First name, if the provider gave one.
    pub given_name: Option<String>,
    /// Last name, if the provider gave one.
    pub family_name: Option<String>,
}

/// An upstream identity tied to a local account. A user may have several;
/// an identity belongs to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedLink {
    /// The provider.
    pub provider: ProviderName,
    /// The identity's stable id there.
    pub subject: UpstreamSubject,
    /// The account it signs in to.
    pub user_id: UserId,
    /// When it was linked.
    pub created_at: DateTime<Utc>,
    /// Its login name at the provider when it was linked (GitHub's
    /// login), for people to recognize it; never an identifier.
    pub login: Option<String>,
}

/// An upstream device authorization as started (RFC 8628 section 3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamDevice {
    /// Where the person enters the code.
    pub verification_uri: String,
    /// The code to show the person.
    pub user_code: String,
    /// The provider's device code: a credential, never shown to anyone.
    pub device_code: super::OpaqueToken,
    /// When it ends unfinished.
    pub expires_at: DateTime<Utc>,
    /// The least time between two polls.
    pub interval: chrono::Duration,
}

/// One poll of an upstream device authorization (RFC 8628 section 3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// Signed in: the identity behind the token the provider issued.
    Done(UpstreamIdentity),
    /// The person has not finished yet.
    Pending,
    /// Poll less often: the interval grows by five seconds.
    SlowDown,
    /// The person refused.
    Denied,
    /// The device code expired.
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names() {
        assert!(ProviderName::parse("github").is_ok());
        assert!(ProviderName::parse("corp-sso2").is_ok());
        for bad in ["", "GitHub", "a/b", "a b", "ü", &"a".repeat(33)] {
            assert!(ProviderName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn upstream_subjects() {
        assert_eq!(UpstreamSubject::parse("583231").unwrap().as_str(), "583231");
        assert!(UpstreamSubject::parse("").is_err());
        assert!(UpstreamSubject::parse("a\nb").is_err());
        assert!(UpstreamSubject::parse(&"1".repeat(256)).is_err());
    }
}
