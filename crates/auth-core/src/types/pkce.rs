//! Proof Key for Code Exchange (RFC 7636).
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why a PKCE parameter was refused.
pub enum PkceError {
    #[error("code_challenge_method must be S256 or plain")]
    /// A method other than `S256` or `plain`.
    UnknownMethod,
    #[error("{0} must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)")]
    /// The named parameter breaks RFC 7636 section 4.1's form.
    Malformed(&'static str),
}

/// How the challenge was derived from the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    /// `BASE64URL(SHA256(verifier))`: the one a client should use.
    S256,
    /// The verifier itself: refused unless a client is configured to allow it.
    Plain,
}

impl ChallengeMethod {
    /// Parses `code_challenge_method`.
    pub fn parse(raw: &str) -> Result<Self, PkceError> {
        match raw {
            "S256" => Ok(Self::S256),
            "plain" => Ok(Self::Plain),
            _ => Err(PkceError::UnknownMethod),
        }
    }

    /// The method as RFC 7636 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`, 43 to 128 of them.
fn well_formed(raw: &str) -> bool {
    (43..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A code challenge as sent with the authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge {
    value: String,
    method: ChallengeMethod,
}

impl CodeChallenge {
    /// Parses a `code_challenge` made with `method`.
    pub fn parse(value: &str, method: ChallengeMethod) -> Result<Self, PkceError> {
        if !well_formed(value) {
            return Err(PkceError::Malformed("code_challenge"));
        }
        Ok(Self {
            value: value.to_owned(),
            method,
        })
    }

    /// The challenge as sent.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// How it was made.
    pub fn method(&self) -> ChallengeMethod {
        self.method
    }

    /// RFC 7636 section 4.6.
    pub fn verify(&self, verifier: &CodeVerifier) -> bool {
        match self.method {
            ChallengeMethod::S256 => {
                URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes())) == self.value
            }
            ChallengeMethod::Plain => verifier.0 == self.value,
        }
    }
}

/// The secret the client reveals at the token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// Parses a `code_verifier`: 43 to 128 unreserved characters.
    pub fn parse(raw: &str) -> Result<Self, PkceError> {
        if well_formed(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(PkceError::Malformed("code_verifier"))
        }
    }
}

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeVerifier(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let verifier = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        let challenge = CodeChallenge::parse(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ChallengeMethod::S256,
        )
        .unwrap();
        assert!(challenge.verify(&verifier));
        let other = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!challenge.verify(&other));
    }

    #[test]
    fn plain_and_malformed() {
        let v = "x".repeat(50);
        let c = CodeChallenge::parse(&v, ChallengeMethod::Plain).unwrap();
        assert!(c.verify(&CodeVerifier::parse(&v).unwrap()));
        assert!(CodeVerifier::parse("short").is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}!", "a".repeat(43))).is_err());
        assert_eq!(
            ChallengeMethod::parse("SHA256"),
            Err(PkceError::UnknownMethod)
        );
    }
}
