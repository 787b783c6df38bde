//! OAuth scopes (RFC 6749 section 3.3).
use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why a scope was refused.
pub enum ScopeError {
    #[error("scope token {0:?} contains a character RFC 6749 section 3.3 forbids")]
    /// A token with a character RFC 6749 section 3.3 forbids.
    BadToken(String),
    #[error("scope is longer than {0} bytes")]
    /// Longer than the given number of bytes.
    TooLong(usize),
}

/// A set of scope tokens. Order and duplicates in the request do not matter;
/// it renders space-separated in sorted order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

/// What a scope lets a client do, in words a person reads on the consent
/// page: the standard OpenID Connect scopes' own, an operator's
/// description from `custom`, or, for a scope nobody described, words that
/// say so rather than the bare token.
pub fn describe_scope(scope: &str, custom: &std::collections::BTreeMap<String, String>) -> String {
    if let Some(description) = custom.get(scope) {
        return description.clone();
    }
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "See your name".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access while you are away".into(),
        other => format!("Use its \u{201c}{other}\u{201d} access (not described by this server)"),
    }
}

impl Scope {
    const MAX_LEN: usize = 2048;

    /// Parses a space-delimited scope string; an empty string is the empty set.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        if raw.len() > Self::MAX_LEN {
            return Err(ScopeError::TooLong(Self::MAX_LEN));
        }
        let mut set = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            let ok = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !ok {
                return Err(ScopeError::BadToken(token.to_owned()));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a scope from tokens, each checked as `parse` checks them.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = tokens.into_iter().map(|s| s.as_ref().to_owned()).collect();
        Self::parse(&joined.join(" "))
    }

    /// Whether it holds no token.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every token of it is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether it holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Its tokens, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Every token of either scope (each was checked when it was parsed).
    pub fn union(&self, other: &Scope) -> Scope {
        Self(self.0.union(&other.0).cloned().collect())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let s = Scope::parse("write  read read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(Scope::parse("read").unwrap().is_subset(&s));
        assert!(!s.is_subset(&Scope::parse("read").unwrap()));
        assert!(Scope::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_forbidden_characters() {
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "tab\there"] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
        assert!(Scope::parse(&"a".repeat(3000)).is_err());
    }
}
