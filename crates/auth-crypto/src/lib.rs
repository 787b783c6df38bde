//! Cryptographic adapters for the ports of `auth-core`: argon2id password
//! hashing, PASETO v4.public access tokens with a key ring, JWS ID tokens
//! (RS256 and EdDSA through aws-lc-rs), SHA-256 secret digests and OS
//! randomness.
//!
//! Nothing here knows about HTTP, storage or grants; nothing here hand-rolls
//! a primitive.

mod digest;
mod jws;
mod paseto;
mod password;
mod random;
mod sealing;
mod totp;

pub use digest::Sha256Digest;
pub use jws::{JwsRing, JwtCodec, generate_jws_key};
pub use paseto::{KeyRing, PasetoCodec, generate_signing_key};
pub use password::{Argon2Hasher, HashCost};
pub use random::OsRandom;
pub use sealing::{KeySealer, SessionSealer};
pub use totp::RfcTotp;
