//! Sealing of signing keys at rest: the secret PASERK is stored as a PASETO
//! v4.local token (XChaCha20 + BLAKE2b-MAC) under a key-encryption key, with
//! the key id as implicit assertion so a sealed secret cannot be moved to
//! another key's row.
use auth_core::error::CryptoError;
use auth_core::types::{OpaqueToken, SigningKey};
use pasetors::Local;
use pasetors::keys::{Generate, SymmetricKey};
use pasetors::paserk::FormatAsPaserk;
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};

fn failed(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Failed(e.to_string())
}

/// The key-encryption key.
pub struct KeySealer {
    kek: SymmetricKey<V4>,
}

impl KeySealer {
    /// From a `k4.local.` PASERK.
    pub fn from_paserk(paserk: &str) -> Result<Self, CryptoError> {
        let kek = SymmetricKey::<V4>::try_from(paserk.trim()).map_err(|_| {
            CryptoError::Failed("the key-encryption key is not a k4.local PASERK".into())
        })?;
        Ok(Self { kek })
    }

    /// A new random key-encryption key and its PASERK, to be kept safe.
    pub fn generate() -> Result<(Self, OpaqueToken), CryptoError> {
        let kek = SymmetricKey::<V4>::generate().map_err(failed)?;
        let mut paserk = String::new();
        kek.fmt(&mut paserk).map_err(failed)?;
        Ok((Self { kek }, OpaqueToken::new(paserk)))
    }

    /// A copy of `key` with its secret sealed.
    pub fn seal(&self, key: &SigningKey) -> Result<SigningKey, CryptoError> {
        let sealed = LocalToken::encrypt(
            &self.kek,
            key.secret_key.expose().as_bytes(),
            None,
            Some(key.key_id.as_bytes()),
        )
        .map_err(failed)?;
        Ok(SigningKey {
            secret_key: OpaqueToken::new(sealed),
            ..key.clone()
        })
    }

    /// A copy of `key` with its secret unsealed. A secret stored before
    /// sealing existed (a bare `k4.secret.` PASERK) is returned as it is.
    pub fn unseal(&self, key: &SigningKey) -> Result<SigningKey, CryptoError> {
        let stored = key.secret_key.expose();
        if stored.starts_with("k4.secret.") {
            return Ok(key.clone());
        }
        let untrusted = UntrustedToken::<Local, V4>::try_from(stored).map_err(failed)?;
        let trusted = LocalToken::decrypt(&self.kek, &untrusted, None, Some(key.key_id.as_bytes()))
            .map_err(|_| {
                CryptoError::Failed(format!(
                    "signing key {} cannot be unsealed: wrong key-encryption key?",
                    key.key_id
                ))
            })?;
        Ok(SigningKey {
            secret_key: OpaqueToken::new(trusted.payload().to_owned()),
            ..key.clone()
        })
    }
}

/// What the session key is derived for (HKDF's `info`): a key derived for
/// one use is useless for another.
const SESSION_KEY_INFO: &[u8] = b"portcullis session sealing key v1";

impl KeySealer {
    /// The key that seals upstream sign-in states and device sessions,
    /// derived from the key-encryption key with HKDF-SHA256, so every node
    /// sharing the key-encryption key opens what another sealed, across
    /// restarts, and the key-encryption key itself never seals anything
    /// but signing keys.
    pub fn session_sealer(&self) -> Result<SessionSealer, CryptoError> {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        let mut derived = [0u8; 32];
        Salt::new(HKDF_SHA256, &[])
            .extract(self.kek.as_bytes())
            .expand(&[SESSION_KEY_INFO], HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut derived))
            .map_err(|_| CryptoError::Failed("deriving the session key failed".into()))?;
        let key = SymmetricKey::<V4>::from(&derived).map_err(failed)?;
        Ok(SessionSealer { key })
    }
}

/// Seals small payloads as PASETO v4.local tokens (XChaCha20 + BLAKE2b-MAC)
/// with the purpose as implicit assertion.
pub struct SessionSealer {
    key: SymmetricKey<V4>,
}

impl auth_core::ports::Sealer for SessionSealer {
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, CryptoError> {
        LocalToken::encrypt(&self.key, plaintext, None, Some(purpose.as_bytes())).map_err(failed)
    }

    /// PASETO payloads are text: what was sealed must have been UTF-8.
    fn unseal(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let untrusted = UntrustedToken::<Local, V4>::try_from(sealed).map_err(failed)?;
        let trusted = LocalToken::decrypt(&self.key, &untrusted, None, Some(purpose.as_bytes()))
            .map_err(|_| CryptoError::Failed("not sealed by this server for this use".into()))?;
        Ok(trusted.payload().as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn seal_round_trip_and_binding() {
        let (sealer, paserk) = KeySealer::generate().unwrap();
        assert!(paserk.expose().starts_with("k4.local."));
        let key = crate::generate_signing_key(Utc::now(), Utc::now()).unwrap();
        let sealed = sealer.seal(&key).unwrap();
        assert!(sealed.secret_key.expose().starts_with("v4.local."));
        assert!(!sealed.secret_key.expose().contains(key.secret_key.expose()));
        assert_eq!(sealer.unseal(&sealed).unwrap().secret_key, key.secret_key);
        // Moved to another key id, or under another KEK: refused.
        let moved = SigningKey {
            key_id: "k4.pid.other".into(),
            ..sealed.clone()
        };
        assert!(sealer.unseal(&moved).is_err());
        let (other, _) = KeySealer::generate().unwrap();
        assert!(other.unseal(&sealed).is_err());
        assert!(
            KeySealer::from_paserk(paserk.expose())
                .unwrap()
                .unseal(&sealed)
                .is_ok()
        );
        // Legacy plaintext secrets pass through.
        assert_eq!(sealer.unseal(&key).unwrap().secret_key, key.secret_key);
        assert!(KeySealer::from_paserk("nonsense").is_err());
    }

    #[test]
    fn sessions_open_only_under_the_same_key_and_purpose() {
        use auth_core::ports::Sealer as _;
        let (kek, paserk) = KeySealer::generate().unwrap();
        let sealer = kek.session_sealer().unwrap();
        let sealed = sealer.seal("state", b"{\"flow\":1}").unwrap();
        assert!(sealed.starts_with("v4.local."));
        assert!(!sealed.contains("flow"));
        // Another node with the same key-encryption key opens it.
        let again = KeySealer::from_paserk(paserk.expose())
            .unwrap()
            .session_sealer()
            .unwrap();
        assert_eq!(again.unseal("state", &sealed).unwrap(), b"{\"flow\":1}");
        // Another purpose, another key, an altered token: refused.
        assert!(sealer.unseal("device", &sealed).is_err());
        let (other, _) = KeySealer::generate().unwrap();
        assert!(
            other
                .session_sealer()
                .unwrap()
                .unseal("state", &sealed)
                .is_err()
        );
        let mut altered = sealed.clone().into_bytes();
        let i = altered.len() - 5;
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(sealer.unseal("state", &altered).is_err());
        assert!(sealer.unseal("state", "v4.local.nonsense").is_err());
        // The derived key is not the key-encryption key itself.
        let sealed_kek = LocalToken::encrypt(&kek.kek, b"x", None, Some(b"state")).unwrap();
        assert!(sealer.unseal("state", &sealed_kek).is_err());
    }
}
