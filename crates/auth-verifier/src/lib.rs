//! Offline verification of Portcullis access tokens, for resource servers.
//!
//! A resource server fetches `GET /.well-known/paserk` from the issuer (with
//! whatever HTTP client and cache it already has: this crate does no I/O),
//! builds a [`KeySet`] from the document, and verifies each request's
//! PASETO v4.public bearer token against it, getting typed [`Claims`] back.
//! The token's footer names its key (PASERK `k4.pid`), so rotation needs no
//! guessing: refresh the key set when [`Rejection::UnknownKey`] comes back.
//!
//! Every token must name the issuer the resource server is configured with
//! (`iss`), and, when the resource server names an audience, be meant for it
//! (`aud`): a token of another issuer or for another audience is refused
//! even when its signature checks out.
//!
//! ```no_run
//! # fn demo(document: &str, token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use auth_verifier::{Expected, KeySet};
//! let keys = KeySet::from_document(document)?;
//! let expected = Expected::issuer("https://sso.example").audience("billing-api");
//! let claims = keys.verify(token, &expected, chrono::Utc::now())?;
//! if claims.has_scope("read") { /* serve */ }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
use chrono::{DateTime, Utc};
use pasetors::Public;
use pasetors::footer::Footer;
use pasetors::keys::AsymmetricPublicKey;
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use serde::Deserialize;
use serde_json::Value;

/// Why a key set document could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    #[error(
        "the key set is not valid JSON of the form {{\"keys\": [{{\"kid\", \"paserk\"}}]}}: {0}"
    )]
    /// The body is not the key set document.
    Document(#[from] serde_json::Error),
    #[error("key {kid} is not a k4.public PASERK")]
    /// A key is not a `k4.public` PASERK.
    Key {
        /// The key's id in the document.
        kid: String,
    },
    #[error("key {kid} does not match its id")]
    /// A key's `kid` is not the PASERK id of the key.
    KeyId {
        /// The key's id in the document.
        kid: String,
    },
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("the token is not a PASETO v4.public token with a key id")]
    /// Not a PASETO v4.public token with a key id in its footer.
    Malformed,
    #[error("the token was signed by a key not in the key set")]
    /// Signed by a key the key set does not hold (refetch it: a key may be new).
    UnknownKey,
    #[error("the token's signature or claims are invalid")]
    /// The signature, or a claim's form, is wrong.
    Invalid,
    #[error("the token has expired")]
    /// Its `exp` has passed, or its `nbf` has not come.
    Expired,
    #[error("the token was issued by another issuer")]
    /// Its `iss` is not the expected issuer.
    WrongIssuer,
    #[error("the token is meant for another audience")]
    /// Its `aud` is not the expected audience.
    WrongAudience,
}

/// What a resource server expects of every token besides a valid signature
/// and lifetime: its issuer, and optionally its audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    issuer: String,
    audience: Option<String>,
}

impl Expected {
    /// Tokens must carry `iss` equal to `issuer` (the issuer URL, as its
    /// metadata names it).
    pub fn issuer(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: None,
        }
    }

    /// Tokens must also name `audience` in `aud` (a string, or an array
    /// containing it).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }
}

/// The claims of a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The issuer (`iss`), checked against the expected one.
    pub issuer: String,
    /// The user id, or the client id for a client_credentials token.
    pub subject: String,
    /// The client the token was issued to (also its audience).
    pub client_id: String,
    /// The scopes granted.
    pub scope: Vec<String>,
    /// When it was issued (`iat`).
    pub issued_at: DateTime<Utc>,
    /// Before this it is not valid (`nbf`).
    pub not_before: DateTime<Utc>,
    /// When it expires (`exp`).
    pub expires_at: DateTime<Utc>,
    /// Unique per token (`jti`).
    pub token_id: String,
    /// The grant the token was issued in (`fid`, the refresh token family),
    /// when it has one: the issuer uses it to revoke the grant's tokens.
    pub family: Option<String>,
    /// The token generation of the account it acts for (`gen`, 0 when
    /// absent). The issuer raises an account's generation when it ends all
    /// of its tokens (a password change, a disabled account); offline
    /// verification cannot see that until the token expires, so a resource
    /// server that must know at once asks introspection.
    pub generation: u32,
    /// The account's groups by name, sorted, when the token was issued
    /// with the `groups` scope (`groups`); `None` without it.
    pub groups: Option<Vec<String>>,
}

impl Claims {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }
}

struct Key {
    id: String,
    public: AsymmetricPublicKey<V4>,
}

/// The issuer's public keys.
pub struct KeySet {
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    kid: String,
    paserk: String,
}

fn paserk_id(key: &AsymmetricPublicKey<V4>) -> Option<String> {
    let mut out = String::new();
    Id::from(key).fmt(&mut out).ok()?;
    Some(out)
}

impl KeySet {
    /// A set with no keys: every token is refused with `UnknownKey`.
    pub fn empty() -> Self {
        Self { keys: Vec::new() }
    }

    /// Parses the document of `GET /.well-known/paserk`.
    pub fn from_document(json: &str) -> Result<Self, KeySetError> {
        let doc: Document = serde_json::from_str(json)?;
        Self::from_paserks(doc.keys.iter().map(|e| (e.kid.as_str(), e.paserk.as_str())))
    }

    /// Builds a set from `(k4.pid, k4.public)` pairs; each id is checked
    /// against its key.
    pub fn from_paserks<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, KeySetError> {
        let mut keys = Vec::new();
        for (kid, paserk) in pairs {
            let public =
                AsymmetricPublicKey::<V4>::try_from(paserk).map_err(|_| KeySetError::Key {
                    kid: kid.to_owned(),
                })?;
            if paserk_id(&public).as_deref() != Some(kid) {
                return Err(KeySetError::KeyId {
                    kid: kid.to_owned(),
                });
            }
            keys.push(Key {
                id: kid.to_owned(),
                public,
            });
        }
        Ok(Self { keys })
    }

    /// The ids of the keys held, as the key set names them.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// Verifies `token` at `now`: signature by a key of the set (picked by
    /// the footer's `kid`), then `iss` and `aud` as `expected` says, then
    /// `exp` and `nbf`.
    pub fn verify(
        &self,
        token: &str,
        expected: &Expected,
        now: DateTime<Utc>,
    ) -> Result<Claims, Rejection> {
        let untrusted =
            UntrustedToken::<Public, V4>::try_from(token).map_err(|_| Rejection::Malformed)?;
        let mut footer = Footer::new();
        footer
            .parse_bytes(untrusted.untrusted_footer())
            .map_err(|_| Rejection::Malformed)?;
        let kid = footer
            .get_claim("kid")
            .and_then(Value::as_str)
            .ok_or(Rejection::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or(Rejection::UnknownKey)?;
        let trusted = PublicToken::verify(
            &key.public,
            &untrusted,
            Some(untrusted.untrusted_footer()),
            None,
        )
        .map_err(|_| Rejection::Invalid)?;
        let v: Value = serde_json::from_str(trusted.payload()).map_err(|_| Rejection::Invalid)?;
        let text = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(Rejection::Invalid)
        };
        let time = |name: &str| {
            DateTime::parse_from_rfc3339(&text(name)?)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| Rejection::Invalid)
        };
        let issuer = text("iss")?;
        if issuer != expected.issuer {
            return Err(Rejection::WrongIssuer);
        }
        if let Some(audience) = &expected.audience {
            let names_it = match v.get("aud") {
                Some(Value::String(a)) => a == audience,
                Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            if !names_it {
                return Err(Rejection::WrongAudience);
            }
        }
        let expires_at = time("exp")?;
        if expires_at <= now {
            return Err(Rejection::Expired);
        }
        let not_before = time("nbf")?;
        if not_before > now {
            return Err(Rejection::Invalid);
        }
        Ok(Claims {
            issuer,
            subject: text("sub")?,
            client_id: text("client_id")?,
            scope: text("scope")?
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            issued_at: time("iat")?,
            not_before,
            expires_at,
            token_id: text("jti")?,
            family: match v.get("fid") {
                None | Some(Value::Null) => None,
                Some(Value::String(f)) => Some(f.clone()),
                Some(_) => return Err(Rejection::Invalid),
            },
            generation: match v.get("gen") {
                None | Some(Value::Null) => 0,
                Some(g) => g
                    .as_u64()
                    .and_then(|g| u32::try_from(g).ok())
                    .ok_or(Rejection::Invalid)?,
            },
            groups: match v.get("groups") {
                None | Some(Value::Null) => None,
                Some(Value::Array(names)) => Some(
                    names
                        .iter()
                        .map(|n| n.as_str().map(str::to_owned).ok_or(Rejection::Invalid))
                        .collect::<Result<_, _>>()?,
                ),
                Some(_) => return Err(Rejection::Invalid),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_checked() {
        assert!(
            KeySet::from_document("{\"keys\": []}")
                .unwrap()
                .key_ids()
                .next()
                .is_none()
        );
        assert!(matches!(
            KeySet::from_document("nope"),
            Err(KeySetError::Document(_))
        ));
        let bad = r#"{"keys": [{"kid": "k4.pid.x", "paserk": "k4.public.AAAA"}]}"#;
        assert!(matches!(
            KeySet::from_document(bad),
            Err(KeySetError::Key { .. })
        ));
        assert_eq!(
            KeySet::empty().verify("v4.public.x", &Expected::issuer("https://i"), Utc::now()),
            Err(Rejection::Malformed)
        );
    }
}
