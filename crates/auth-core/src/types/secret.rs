//! Secret material. Nothing here prints its content through `Debug`.
use std::fmt;

/// A SHA-256 digest of a secret (refresh token, client secret, session id).
/// Only digests are ever stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest with these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Rebuilds a digest read back from storage; `None` if the length is wrong.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first four bytes are enough to tell digests apart in a log and
        // reveal nothing usable.
        write!(
            f,
            "Digest({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A bearer secret in the clear, as issued to or presented by a client:
/// refresh tokens, client secrets, codes. It lives only in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(String);

impl OpaqueToken {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret, for the one place that must send or check it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret, consumed.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why a password was refused.
pub enum PasswordError {
    #[error("the password is empty")]
    /// Nothing was given.
    Empty,
    #[error("the password is longer than {max} bytes")]
    /// Longer than [`Password::MAX_BYTES`].
    TooLong {
        /// The most bytes allowed.
        max: usize,
    },
    #[error("the password is shorter than {min} characters")]
    /// Shorter than a registration rule asks.
    TooShort {
        /// The fewest characters allowed.
        min: usize,
    },
}

/// A password in the clear, bounded so that a megabyte password cannot make
/// the hasher a denial-of-service lever.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The longest password accepted, in bytes.
    pub const MAX_BYTES: usize = 1024;

    /// Parses a password: not empty, at most [`Password::MAX_BYTES`].
    pub fn parse(raw: impl Into<String>) -> Result<Self, PasswordError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(PasswordError::Empty);
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(PasswordError::TooLong {
                max: Self::MAX_BYTES,
            });
        }
        Ok(Self(raw))
    }

    /// Applies a registration rule on top of parsing: login accepts any
    /// stored password, registration asks for at least `min` characters.
    pub fn require_min_chars(self, min: usize) -> Result<Self, PasswordError> {
        if self.0.chars().count() < min {
            Err(PasswordError::TooShort { min })
        } else {
            Ok(self)
        }
    }

    /// The password, for the hasher.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password as a sign-in sent it, not yet checked: the check parses it
/// into a [`Password`] and takes one it cannot parse as a wrong one (the
/// same cost, the same answer), so a sign-in's refusal says nothing about
/// why. Never printed.
#[derive(Clone)]
pub struct PasswordAttempt(String);

impl PasswordAttempt {
    /// Wraps the password as sent.
    pub fn new(sent: impl Into<String>) -> Self {
        Self(sent.into())
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The password as sent, for the check.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl From<&str> for PasswordAttempt {
    fn from(sent: &str) -> Self {
        Self::new(sent)
    }
}

impl From<String> for PasswordAttempt {
    fn from(sent: String) -> Self {
        Self(sent)
    }
}

impl fmt::Debug for PasswordAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordAttempt(<redacted>)")
    }
}

/// A password hash in PHC string form (`$argon2id$...`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read back from storage or made by the hasher.
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let p = Password::parse("hunter22").unwrap();
        let t = OpaqueToken::new("tok-secret".into());
        let h = PasswordHash::new("$argon2id$v=19$secret".into());
        for s in [format!("{p:?}"), format!("{t:?}"), format!("{h:?}")] {
            assert!(!s.contains("hunter22") && !s.contains("secret"), "{s}");
        }
    }

    #[test]
    fn password_bounds() {
        assert_eq!(Password::parse("").unwrap_err(), PasswordError::Empty);
        assert!(Password::parse("x".repeat(1025)).is_err());
        assert!(Password::parse("x".repeat(1024)).is_ok());
        assert_eq!(
            Password::parse("abc")
                .unwrap()
                .require_min_chars(8)
                .unwrap_err(),
            PasswordError::TooShort { min: 8 }
        );
    }

    #[test]
    fn digest_from_slice_checks_length() {
        assert!(Digest::from_slice(&[0u8; 31]).is_none());
        assert_eq!(
            Digest::from_slice(&[7u8; 32]).unwrap().as_bytes(),
            &[7u8; 32]
        );
    }
}
