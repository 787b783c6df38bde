//! Randomness from the operating system.
use auth_core::ports::RandomSource;
use auth_core::types::OpaqueToken;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl OsRandom {
    fn fill(buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // Without OS randomness every token would be guessable; there is
            // no safe way to go on serving, so stop the process outright.
            std::process::abort();
        }
    }
}

impl RandomSource for OsRandom {
    fn token(&self) -> OpaqueToken {
        let mut bytes = [0u8; 32];
        Self::fill(&mut bytes);
        OpaqueToken::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        Self::fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_distinct() {
        let a = OsRandom.token();
        let b = OsRandom.token();
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
        assert_eq!(OsRandom.uuid().get_version_num(), 4);
    }
}
