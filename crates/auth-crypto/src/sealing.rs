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
}
