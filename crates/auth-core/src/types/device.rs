//! The device authorization grant's records (RFC 8628).
use chrono::{DateTime, Utc};

use super::{ClientId, Digest, Scope, UserId};

/// 20 consonants: no vowels (no words), no look-alikes (RFC 8628 section 6.1).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// An 8-character user code, shown as `XXXX-XXXX`.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// Parses what a person typed: case, dashes and spaces do not matter.
    pub fn parse(raw: &str) -> Option<Self> {
        let code: String = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (code.len() == 8 && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
            .then_some(Self(code))
    }

    /// Builds a code from 8 random bytes.
    pub fn from_random(bytes: [u8; 8]) -> Self {
        // 256 is not a multiple of 20; the bias this leaves (at most 1/13 per
        // character) costs far less than one character of the code's
        // 34.5 bits, and guessing is throttled.
        Self(
            bytes
                .iter()
                .map(|b| USER_CODE_ALPHABET[usize::from(*b) % 20] as char)
                .collect(),
        )
    }

    /// The normalised form, digested for storage and lookup.
    pub fn normalised(&self) -> &str {
        &self.0
    }

    /// `XXXX-XXXX`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(<redacted>)")
    }
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user at the verification page.
    Pending,
    /// Approved by this account; the next poll gets the tokens.
    Approved(UserId),
    /// The user refused.
    Denied,
    /// Tokens were issued; the device code is spent.
    Redeemed,
}

/// A stored device authorization (codes by digest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// The SHA-256 digest of the device code.
    pub device_digest: Digest,
    /// The SHA-256 digest of the user code (normalized).
    pub user_code_digest: Digest,
    /// The client (the device) that asked.
    pub client_id: ClientId,
    /// The scope asked for.
    pub scope: Scope,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it ends unfinished.
    pub expires_at: DateTime<Utc>,
    /// How long the device must wait between polls; grows by five seconds
    /// on `slow_down`.
    pub interval: chrono::Duration,
    /// When the device last polled, for `slow_down`.
    pub last_polled_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: DeviceStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes() {
        let c = UserCode::from_random([0, 1, 2, 3, 19, 20, 255, 40]);
        assert_eq!(c.display().len(), 9);
        assert_eq!(
            UserCode::parse(&c.display().to_lowercase()),
            Some(c.clone())
        );
        assert_eq!(UserCode::parse(&c.display().replace('-', " ")), Some(c));
        assert!(
            UserCode::parse("ABCD-EFGH").is_none(),
            "vowels are not in the alphabet"
        );
        assert!(UserCode::parse("BCDF-GHJ").is_none());
    }
}
