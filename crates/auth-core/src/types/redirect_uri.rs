//! Redirection endpoints (RFC 6749 section 3.1.2).
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI is not an absolute URI")]
    NotAbsolute,
    #[error("redirect URI must not contain a fragment")]
    Fragment,
}

/// A registered or requested redirect URI. Comparison is exact string
/// equality of what was registered (RFC 6749 section 3.1.2.3, and the
/// OAuth 2.0 Security BCP's "exact string matching"); parsing only rejects
/// what could never be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        let parsed = url::Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
        if parsed.fragment().is_some() || raw.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        // Custom schemes (`myapp://callback`) are allowed for native apps.
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_absolute_without_fragment() {
        assert!(RedirectUri::parse("https://app.example/cb").is_ok());
        assert!(RedirectUri::parse("myapp://callback").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:9000/cb").is_ok());
        assert_eq!(
            RedirectUri::parse("/relative").unwrap_err(),
            RedirectUriError::NotAbsolute
        );
        assert_eq!(
            RedirectUri::parse("https://a.example/cb#x").unwrap_err(),
            RedirectUriError::Fragment
        );
    }

    #[test]
    fn comparison_is_exact() {
        let a = RedirectUri::parse("https://app.example/cb").unwrap();
        let b = RedirectUri::parse("https://app.example/cb/").unwrap();
        assert_ne!(a, b);
    }
}
