//! SHA-256 digests of bearer secrets.
use auth_core::ports::SecretDigest;
use auth_core::types::Digest;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Secrets issued by this server carry 256 bits of entropy, so a plain
/// (unsalted, fast) SHA-256 is the right digest: there is nothing to brute
/// force, and lookups by digest stay indexable.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sha256Digest;

impl SecretDigest for Sha256Digest {
    fn digest(&self, secret: &str) -> Digest {
        let out: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        Digest::from_bytes(out)
    }

    fn verify(&self, secret: &str, expected: &Digest) -> bool {
        let actual = self.digest(secret);
        actual.as_bytes().ct_eq(expected.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_verify() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let d = Sha256Digest.digest("abc");
        assert_eq!(d.as_bytes()[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert!(Sha256Digest.verify("abc", &d));
        assert!(!Sha256Digest.verify("abd", &d));
    }
}
