//! PASETO v4.public access tokens and the key ring that signs and checks them.
//!
//! The payload is our own JSON claim set (PASETO's registered claims plus
//! `scope` and `client_id`), so that time checks use the `now` passed in
//! rather than the system clock. The footer carries the signing key's PASERK
//! id (`k4.pid`), so a verifier picks the key by id and rotation needs no
//! guessing.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use auth_core::error::CryptoError;
use auth_core::ports::{PublicKey, TokenCodec, TokenRejection};
use auth_core::types::{
    AccessClaims, ClientId, FamilyId, KeyAlgorithm, OpaqueToken, Scope, SigningKey, Subject,
    TokenGeneration,
};
use auth_verifier::{Expected, KeySet, Rejection};
use chrono::{DateTime, SecondsFormat, Utc};
use pasetors::footer::Footer;
use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::version4::{PublicToken, V4};
use serde_json::json;
use sha2::{Digest as _, Sha256};

fn failed(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Failed(e.to_string())
}

fn paserk(key: &dyn FormatAsPaserk) -> Result<String, CryptoError> {
    let mut out = String::new();
    key.fmt(&mut out).map_err(failed)?;
    Ok(out)
}

/// Makes a new Ed25519 key pair in PASERK form, signing from `activates_at`.
pub fn generate_signing_key(
    now: DateTime<Utc>,
    activates_at: DateTime<Utc>,
) -> Result<SigningKey, CryptoError> {
    let pair = AsymmetricKeyPair::<V4>::generate().map_err(failed)?;
    Ok(SigningKey {
        key_id: paserk(&Id::from(&pair.public))?,
        algorithm: KeyAlgorithm::PasetoV4Public,
        public_key: paserk(&pair.public)?,
        secret_key: OpaqueToken::new(paserk(&pair.secret)?),
        created_at: now,
        activates_at,
    })
}

struct LoadedKey {
    id: String,
    public_key: String,
    activates_at: DateTime<Utc>,
    secret: AsymmetricSecretKey<V4>,
    /// The footer naming this key, rendered once.
    footer: String,
}

impl LoadedKey {
    fn load(stored: &SigningKey) -> Result<Self, CryptoError> {
        let secret =
            AsymmetricSecretKey::<V4>::try_from(stored.secret_key.expose()).map_err(failed)?;
        let public =
            AsymmetricPublicKey::<V4>::try_from(stored.public_key.as_str()).map_err(failed)?;
        let id = Id::from(&public);
        let id_text = paserk(&id)?;
        if id_text != stored.key_id {
            return Err(CryptoError::Failed(format!(
                "stored key id {} does not match its public key",
                stored.key_id
            )));
        }
        let mut footer = Footer::new();
        footer.key_id(&id);
        Ok(Self {
            id: id_text,
            public_key: stored.public_key.clone(),
            activates_at: stored.activates_at,
            secret,
            footer: footer.to_string().map_err(failed)?,
        })
    }
}

/// The keys of one moment, latest activation first: the first one active at
/// a token's issue time signs it; every key, pending ones included, is
/// published and verifies.
struct Ring {
    keys: Vec<LoadedKey>,
    verifier: KeySet,
    /// Tokens this ring has verified, by SHA-256 of the token: a resource
    /// server presents the same token many times, and an Ed25519
    /// verification costs far more than a digest. Dropped with the ring, so
    /// a pruned key's tokens stop verifying at the next reload.
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

/// Past this many remembered tokens the memo starts over.
const MAX_VERIFIED: usize = 10_000;

/// The signing keys in use. The first key signs; all of them verify.
/// Replacing the set is atomic, so a rotation never shows a half-loaded ring.
#[derive(Clone)]
pub struct KeyRing {
    ring: Arc<RwLock<Arc<Ring>>>,
}

impl Default for KeyRing {
    fn default() -> Self {
        let empty = Ring {
            keys: Vec::new(),
            verifier: KeySet::empty(),
            verified: Mutex::default(),
        };
        Self {
            ring: Arc::new(RwLock::new(Arc::new(empty))),
        }
    }
}

impl KeyRing {
    /// Loads stored keys (secrets unsealed).
    pub fn load(stored: &[SigningKey]) -> Result<Self, CryptoError> {
        let ring = Self::default();
        ring.replace(stored)?;
        Ok(ring)
    }

    /// Swaps in a new set of keys (secrets unsealed).
    /// Keys of other algorithms are left to their own ring.
    pub fn replace(&self, stored: &[SigningKey]) -> Result<(), CryptoError> {
        let stored: Vec<&SigningKey> = stored
            .iter()
            .filter(|k| k.algorithm == KeyAlgorithm::PasetoV4Public)
            .collect();
        let mut keys = stored
            .iter()
            .map(|k| LoadedKey::load(k))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by_key(|k| std::cmp::Reverse(k.activates_at));
        let verifier = KeySet::from_paserks(
            stored
                .iter()
                .map(|k| (k.key_id.as_str(), k.public_key.as_str())),
        )
        .map_err(failed)?;
        let mut guard = self
            .ring
            .write()
            .map_err(|_| CryptoError::Failed("key ring lock poisoned".into()))?;
        *guard = Arc::new(Ring {
            keys,
            verifier,
            verified: Mutex::default(),
        });
        Ok(())
    }

    fn snapshot(&self) -> Arc<Ring> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            // A writer panicked mid-swap; the Arc inside is still whole.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Issues and verifies PASETO v4.public access tokens with a [`KeyRing`].
#[derive(Clone)]
pub struct PasetoCodec {
    ring: KeyRing,
    /// Tokens of another issuer are refused, even signed by a known key.
    expected: Expected,
}

impl PasetoCodec {
    pub fn new(ring: KeyRing, issuer: &str) -> Self {
        Self {
            ring,
            expected: Expected::issuer(issuer),
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl TokenCodec for PasetoCodec {
    fn recognises(&self, token: &str) -> bool {
        token.starts_with("v4.public.")
    }

    fn issue(&self, c: &AccessClaims) -> Result<String, CryptoError> {
        let ring = self.ring.snapshot();
        let key = ring
            .keys
            .iter()
            .find(|k| k.activates_at <= c.issued_at)
            .ok_or(CryptoError::NoSigningKey)?;
        let mut payload = json!({
            "iss": c.issuer,
            "sub": c.subject.to_string(),
            "aud": c.client_id.as_str(),
            "exp": rfc3339(c.expires_at),
            "iat": rfc3339(c.issued_at),
            "nbf": rfc3339(c.issued_at),
            "jti": c.token_id.to_string(),
            "scope": c.scope.to_string(),
            "client_id": c.client_id.as_str(),
        });
        if let Some(family) = c.family {
            payload["fid"] = json!(family.as_uuid().to_string());
        }
        if c.generation != TokenGeneration::default() {
            payload["gen"] = json!(c.generation.get());
        }
        if let Some(groups) = &c.groups {
            payload["groups"] = json!(groups);
        }
        let message = serde_json::to_vec(&payload).map_err(failed)?;
        PublicToken::sign(&key.secret, &message, Some(key.footer.as_bytes()), None).map_err(failed)
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenRejection> {
        let ring = self.ring.snapshot();
        let memo_key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let remembered = match ring.verified.lock() {
            Ok(memo) => memo.get(&memo_key).cloned(),
            Err(_) => None,
        };
        if let Some(c) = remembered {
            // Time is checked on every use; the signature only once.
            return if c.expires_at <= now {
                Err(TokenRejection::Expired)
            } else if c.issued_at > now {
                Err(TokenRejection::Invalid)
            } else {
                Ok(c)
            };
        }
        let c = ring
            .verifier
            .verify(token, &self.expected, now)
            .map_err(|r| match r {
                Rejection::Malformed => TokenRejection::Malformed,
                Rejection::UnknownKey => TokenRejection::UnknownKey,
                Rejection::Invalid | Rejection::WrongIssuer | Rejection::WrongAudience => {
                    TokenRejection::Invalid
                }
                Rejection::Expired => TokenRejection::Expired,
                // A reason a later verifier refuses for is a refusal here.
                _ => TokenRejection::Invalid,
            })?;
        let client_id = ClientId::parse(&c.client_id).map_err(|_| TokenRejection::Invalid)?;
        let claims = AccessClaims {
            issuer: c.issuer,
            subject: Subject::from_claim(&c.subject, &client_id).ok_or(TokenRejection::Invalid)?,
            client_id,
            scope: Scope::from_tokens(&c.scope).map_err(|_| TokenRejection::Invalid)?,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            token_id: c.token_id.parse().map_err(|_| TokenRejection::Invalid)?,
            family: c
                .family
                .map(|f| f.parse().map(FamilyId::new))
                .transpose()
                .map_err(|_| TokenRejection::Invalid)?,
            generation: TokenGeneration::new(c.generation),
            groups: c.groups,
        };
        if let Ok(mut memo) = ring.verified.lock() {
            if memo.len() >= MAX_VERIFIED {
                memo.clear();
            }
            memo.insert(memo_key, claims.clone());
        }
        Ok(claims)
    }

    fn public_keys(&self) -> Vec<PublicKey> {
        self.ring
            .snapshot()
            .keys
            .iter()
            .map(|k| PublicKey {
                key_id: k.id.clone(),
                paserk: k.public_key.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
    }

    const ISSUER: &str = "http://127.0.0.1:8080";

    fn claims() -> AccessClaims {
        AccessClaims {
            issuer: ISSUER.into(),
            subject: auth_core::types::Subject::User(auth_core::types::UserId::new(
                uuid::Uuid::nil(),
            )),
            client_id: ClientId::parse("app").unwrap(),
            scope: Scope::parse("read write").unwrap(),
            issued_at: t0(),
            expires_at: t0() + Duration::hours(1),
            token_id: uuid::Uuid::new_v4(),
            family: Some(FamilyId::new(uuid::Uuid::from_u128(7))),
            generation: TokenGeneration::new(3),
            groups: Some(vec!["admins".into(), "staff".into()]),
        }
    }

    #[test]
    fn round_trip_with_key_id_in_footer() {
        let key = generate_signing_key(t0(), t0()).unwrap();
        assert!(key.key_id.starts_with("k4.pid."));
        assert!(key.public_key.starts_with("k4.public."));
        let codec = PasetoCodec::new(KeyRing::load(std::slice::from_ref(&key)).unwrap(), ISSUER);
        let c = claims();
        let token = codec.issue(&c).unwrap();
        assert!(token.starts_with("v4.public."));
        assert_eq!(codec.verify(&token, t0()).unwrap(), c);
        assert_eq!(codec.public_keys()[0].key_id, key.key_id);
        // The same key, but a server of another issuer: refused.
        let elsewhere = PasetoCodec::new(
            KeyRing::load(std::slice::from_ref(&key)).unwrap(),
            "https://x.example",
        );
        assert_eq!(elsewhere.verify(&token, t0()), Err(TokenRejection::Invalid));
    }

    #[test]
    fn rejections() {
        let old = generate_signing_key(t0(), t0()).unwrap();
        let new = generate_signing_key(t0(), t0()).unwrap();
        let stranger = generate_signing_key(t0(), t0()).unwrap();
        let codec = PasetoCodec::new(KeyRing::load(&[new.clone(), old.clone()]).unwrap(), ISSUER);
        let token = codec.issue(&claims()).unwrap();
        assert_eq!(
            codec.verify(&token, t0() + Duration::hours(1)),
            Err(TokenRejection::Expired)
        );
        assert_eq!(
            codec.verify("garbage", t0()),
            Err(TokenRejection::Malformed)
        );
        // Signed by a key the ring does not hold.
        let foreign = PasetoCodec::new(KeyRing::load(&[stranger]).unwrap(), ISSUER);
        let t = foreign.issue(&claims()).unwrap();
        assert_eq!(codec.verify(&t, t0()), Err(TokenRejection::UnknownKey));
        // Signed by the old key: still verifies while it is in the ring.
        let by_old = PasetoCodec::new(KeyRing::load(&[old]).unwrap(), ISSUER);
        let t = by_old.issue(&claims()).unwrap();
        assert!(codec.verify(&t, t0()).is_ok());
        // A tampered payload fails the signature.
        let mut bytes = token.into_bytes();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(codec.verify(&tampered, t0()).is_err());
    }

    #[test]
    fn remembered_tokens_still_expire_and_go_with_their_ring() {
        let key = generate_signing_key(t0(), t0()).unwrap();
        let ring = KeyRing::load(std::slice::from_ref(&key)).unwrap();
        let codec = PasetoCodec::new(ring.clone(), ISSUER);
        let token = codec.issue(&claims()).unwrap();
        assert!(codec.verify(&token, t0()).is_ok());
        assert!(codec.verify(&token, t0()).is_ok(), "served from the memo");
        assert_eq!(
            codec.verify(&token, t0() + Duration::hours(1)),
            Err(TokenRejection::Expired)
        );
        // The key is pruned: the reloaded ring no longer knows the token.
        ring.replace(&[generate_signing_key(t0(), t0()).unwrap()])
            .unwrap();
        assert_eq!(codec.verify(&token, t0()), Err(TokenRejection::UnknownKey));
    }

    #[test]
    fn empty_ring_cannot_sign() {
        let codec = PasetoCodec::new(KeyRing::default(), ISSUER);
        assert!(matches!(
            codec.issue(&claims()),
            Err(CryptoError::NoSigningKey)
        ));
    }
}
