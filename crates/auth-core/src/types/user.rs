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

/// A username: RFC 8265's `UsernameCaseMapped` profile (full- and
/// half-width forms mapped to their plain ones, upper case folded to lower,
/// NFC), then 1 to 64 characters among letters, digits and `._-@+`. So
/// `ＡＬＩＣＥ`, `Alice` and `alice` are one name; a look-alike in another
/// script (`аlice` with a Cyrillic `а`) is a name of its own, which
/// [`confusable_skeleton`] lets registration refuse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username (trimmed, then enforced by `UsernameCaseMapped`).
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        precis_name(raw, "username", &['.', '_', '-', '@', '+']).map(Self)
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

/// Why PRECIS refused a string.
enum PrecisRefusal {
    Empty,
    Character(char),
}

/// RFC 8265 section 3.3's `UsernameCaseMapped`, enforced.
/// A name (of an account, of a group) in its one stored form: trimmed,
/// enforced by RFC 8265's `UsernameCaseMapped`, then 1 to 64 characters
/// among letters, digits and `punctuation`. `what` names it in errors.
pub(crate) fn precis_name(
    raw: &str,
    what: &'static str,
    punctuation: &[char],
) -> Result<String, ValueError> {
    let raw = raw.trim();
    let length = || ValueError::Length {
        what,
        min: 1,
        max: 64,
    };
    if raw.is_empty() || raw.chars().count() > 256 {
        return Err(length());
    }
    let enforced = precis_username(raw).map_err(|e| match e {
        PrecisRefusal::Empty => length(),
        PrecisRefusal::Character(ch) => ValueError::Character { what, ch },
    })?;
    if !(1..=64).contains(&enforced.chars().count()) {
        return Err(length());
    }
    if let Some(ch) = enforced
        .chars()
        .find(|c| !(c.is_alphanumeric() || punctuation.contains(c)))
    {
        return Err(ValueError::Character { what, ch });
    }
    Ok(enforced)
}

fn precis_username(raw: &str) -> Result<String, PrecisRefusal> {
    use precis_core::profile::PrecisFastInvocation as _;
    precis_profiles::UsernameCaseMapped::enforce(raw)
        .map(|name| name.into_owned())
        .map_err(|e| match e {
            precis_core::Error::Invalid => PrecisRefusal::Empty,
            precis_core::Error::BadCodepoint(info) => {
                PrecisRefusal::Character(char::from_u32(info.cp).unwrap_or('\u{fffd}'))
            }
            // Unassigned code points and the like: name the first
            // character that is not plain ASCII, the likeliest culprit.
            _ => PrecisRefusal::Character(
                raw.chars()
                    .find(|c| !c.is_ascii_alphanumeric())
                    .unwrap_or('\u{fffd}'),
            ),
        })
}

/// A login as typed at a sign-in (a username or an email address), in
/// the one normal form names are stored and looked up in: an email as
/// [`Email`] keeps it, any other name as [`Username`] does. Made once, at
/// the edge ([`LoginName::lookup`]); every lookup and throttle below takes
/// it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginName(String);

impl LoginName {
    /// The normal form of `raw`; `None` for what can name no account.
    fn parse(raw: &str) -> Option<Self> {
        if let Ok(username) = Username::parse(raw) {
            // A name with an `@` may be an email address whose domain has
            // an IDNA form; the email's normal form is the stored one then.
            if username.as_str().contains('@')
                && let Ok(email) = Email::parse(raw)
            {
                return Some(Self(email.0));
            }
            return Some(Self(username.0));
        }
        Email::parse(raw).ok().map(|e| Self(e.0))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a sign-in looks `raw` up as: its normal form, or, for text that
    /// is no valid name, the text trimmed and lower-cased (which finds a
    /// name stored under older rules, and nothing else), so every login is
    /// looked up and counted alike.
    pub fn lookup(raw: &str) -> Self {
        Self::parse(raw).unwrap_or_else(|| Self(raw.trim().to_lowercase()))
    }
}

impl From<&str> for LoginName {
    /// [`LoginName::lookup`].
    fn from(raw: &str) -> Self {
        Self::lookup(raw)
    }
}

impl From<&Username> for LoginName {
    fn from(name: &Username) -> Self {
        Self(name.0.clone())
    }
}

impl From<&Email> for LoginName {
    fn from(email: &Email) -> Self {
        Self(email.0.clone())
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// UTS #39's confusable skeleton of a stored login name: two names with
/// one skeleton look alike (`alice` and `аlice`, `paypal` and `pаypаl`),
/// so a new name whose skeleton an existing name has is refused. For
/// comparison only, never shown.
pub fn confusable_skeleton(name: &str) -> String {
    unicode_security::confusable_detection::skeleton(name)
        .flat_map(char::to_lowercase)
        .collect()
}

/// An email address, lower-cased. The check is the practical one (one `@`,
/// a dotted domain, no spaces, at most 254 characters): deliverability is
/// proven by mail, not by a parser.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a dot in the domain, no spaces. The local
    /// part is lower-cased, the domain put in its IDNA ASCII form
    /// (`bücher.example` as `xn--bcher-kva.example`), so an address is
    /// compared as mail would route it.
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
        let domain = idna::domain_to_ascii(domain).map_err(|_| bad())?;
        if domain.is_empty() || domain.len() > 253 {
            return Err(bad());
        }
        Ok(Self(format!("{}@{domain}", local.to_lowercase())))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain, in IDNA form.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
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
    /// Whether a link mailed to `email` was opened (or an operator or an
    /// upstream provider vouched for it): what `email_verified` says.
    pub email_verified: bool,
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

    /// (input, its stored form or None when refused)
    fn check_usernames(cases: &[(&str, Option<&str>)]) {
        for (input, expect) in cases {
            let got = Username::parse(input).ok().map(|u| u.0);
            assert_eq!(got.as_deref(), *expect, "{input:?}");
        }
    }

    #[test]
    fn usernames_follow_precis_username_case_mapped() {
        check_usernames(&[
            // Width mapping and case folding: one name.
            ("ａｌｉｃｅ", Some("alice")),
            ("ＡＬＩＣＥ", Some("alice")),
            ("Alice", Some("alice")),
            // Another script is another name (refused later as a look-alike).
            ("аlice", Some("аlice")),
            ("Müller", Some("müller")),
            // Spaces and symbols PRECIS or our rule refuse.
            ("al ice", None),
            ("alice\u{200b}", None),
            ("al!ce", None),
        ]);
    }

    #[test]
    fn look_alikes_share_a_skeleton() {
        let skeleton = |name: &str| confusable_skeleton(Username::parse(name).unwrap().as_str());
        for alike in ["аlice", "ａｌｉｃｅ", "alіce"] {
            assert_eq!(skeleton(alike), skeleton("alice"), "{alike}");
        }
        for other in ["alicia", "bob", "aiice"] {
            assert_ne!(skeleton(other), skeleton("alice"), "{other}");
        }
    }

    #[test]
    fn email_domains_are_compared_in_their_idna_form() {
        let stored = |raw: &str| Email::parse(raw).unwrap().0;
        assert_eq!(
            stored("Carol@Bücher.Example"),
            "carol@xn--bcher-kva.example"
        );
        assert_eq!(
            stored("carol@xn--bcher-kva.example"),
            "carol@xn--bcher-kva.example"
        );
        assert_eq!(
            stored("carol@ＢÜＣＨＥＲ.example"),
            "carol@xn--bcher-kva.example"
        );
    }

    #[test]
    fn a_login_is_looked_up_in_the_stored_form() {
        assert_eq!(LoginName::lookup("ＡＬＩＣＥ").as_str(), "alice");
        assert_eq!(LoginName::lookup(" Alice ").as_str(), "alice");
        assert_eq!(
            LoginName::lookup("carol@bücher.example").as_str(),
            "carol@xn--bcher-kva.example"
        );
        assert_eq!(
            LoginName::lookup("MICHAEL_LEE@GMAIL.COM").as_str(),
            "michael_lee@gmail.com"
        );
        // No valid name: looked up as typed, lower-cased (finds nothing new).
        assert_eq!(LoginName::lookup("A B").as_str(), "a b");
    }
}
