//! Test doubles of the ports that are not storage: cheap, predictable
//! stand-ins for hashing, signing, digests and randomness, and a scripted
//! upstream provider. Storage is `auth_memory::MemoryStore`, the real thing.
use std::hash::{Hash, Hasher as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use auth_core::error::{CryptoError, UpstreamError};
use auth_core::ports::*;
use auth_core::types::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// Stores passwords as `plain:<pw>`; counts verifications, including the
/// dummy ones for unknown users.
#[derive(Default)]
pub struct Hasher {
    pub verifications: AtomicUsize,
}

#[async_trait]
impl PasswordHasher for Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, CryptoError> {
        Ok(PasswordHash::new(format!("plain:{}", password.expose())))
    }
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, CryptoError> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        Ok(hash.is_some_and(|h| h.as_str() == format!("plain:{}", password.expose())))
    }
}

/// Encodes claims in the clear as `sub|client|scope|exp`.
pub struct Codec;

impl TokenCodec for Codec {
    /// Its tokens are looked up as references, as a format no codec
    /// recognises is.
    fn recognises(&self, _: &str) -> bool {
        false
    }
    fn issue(&self, c: &AccessClaims) -> Result<String, CryptoError> {
        Ok(format!(
            "{}|{}|{}|{}",
            c.subject,
            c.client_id,
            c.scope,
            c.expires_at.timestamp()
        ))
    }
    fn verify(&self, _: &str, _: DateTime<Utc>) -> Result<AccessClaims, TokenRejection> {
        Err(TokenRejection::Malformed)
    }
    fn public_keys(&self) -> Vec<PublicKey> {
        Vec::new()
    }
}

/// Writes ID token claims in the clear as `id|sub|aud|nonce|alg`.
pub struct IdTokens;

impl IdTokenSigner for IdTokens {
    fn sign_id_token(
        &self,
        c: &IdTokenClaims,
        algorithm: KeyAlgorithm,
    ) -> Result<String, CryptoError> {
        Ok(format!(
            "id|{}|{}|{}|{algorithm}",
            c.subject,
            c.audience,
            c.nonce.as_deref().unwrap_or("-")
        ))
    }
    fn public_jwks(&self) -> Vec<String> {
        Vec::new()
    }
    fn algorithms(&self) -> Vec<KeyAlgorithm> {
        vec![KeyAlgorithm::Rs256]
    }
    fn read_hint(&self, token: &str) -> Result<IdTokenHint, TokenRejection> {
        match token.split('|').collect::<Vec<_>>()[..] {
            ["id", subject, audience, ..] => Ok(IdTokenHint {
                issuer: "http://issuer.test".into(),
                subject: subject
                    .parse()
                    .map(auth_core::types::UserId::new)
                    .map_err(|_| TokenRejection::Invalid)?,
                audience: audience.into(),
            }),
            _ => Err(TokenRejection::Malformed),
        }
    }
}

pub struct Digests;

impl SecretDigest for Digests {
    fn digest(&self, secret: &str) -> Digest {
        let mut out = [0u8; 32];
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (i, secret).hash(&mut h);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
        Digest::from_bytes(out)
    }
    fn verify(&self, secret: &str, expected: &Digest) -> bool {
        &self.digest(secret) == expected
    }
}

#[derive(Default)]
pub struct Counter(AtomicU64);

impl RandomSource for Counter {
    fn token(&self) -> OpaqueToken {
        OpaqueToken::new(format!("rt-{}", self.0.fetch_add(1, Ordering::SeqCst)))
    }
    /// Spread over all 128 bits (a user code is made from the first 64),
    /// and never the same twice.
    fn uuid(&self) -> Uuid {
        let n = u128::from(self.0.fetch_add(1, Ordering::SeqCst)) + 1;
        Uuid::from_u128(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
    }
}

/// "Seals" by keeping the payload here and handing out its index with the
/// purpose: unforgeable within a test, and bound to its purpose.
#[derive(Default)]
pub struct Sealed(Mutex<Vec<(String, Vec<u8>)>>);

impl Sealer for Sealed {
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, CryptoError> {
        let mut all = self.0.lock().unwrap();
        all.push((purpose.to_owned(), plaintext.to_vec()));
        Ok(format!("sealed-{}", all.len() - 1))
    }
    fn unseal(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let index: usize = sealed
            .strip_prefix("sealed-")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| CryptoError::Failed("not sealed".into()))?;
        match self.0.lock().unwrap().get(index) {
            Some((p, plain)) if p == purpose => Ok(plain.clone()),
            _ => Err(CryptoError::Failed("not sealed for this".into())),
        }
    }
}

/// A provider whose answers the test scripts: the identity a web sign-in
/// or a token names, and the device polls' answers in order.
#[derive(Default)]
pub struct Upstream {
    pub identity: Mutex<Option<UpstreamIdentity>>,
    pub polls: Mutex<std::collections::VecDeque<DevicePoll>>,
    pub polled: AtomicUsize,
}

#[async_trait]
impl IdentityProvider for Upstream {
    fn display_name(&self) -> &str {
        "Upstream"
    }
    fn browser_origin(&self) -> String {
        "https://upstream.test".into()
    }
    fn authorization_url(&self, request: &UpstreamRequest<'_>) -> Result<String, UpstreamError> {
        Ok(format!(
            "https://upstream.test/authorize?state={}",
            request.state
        ))
    }
    async fn finish(
        &self,
        _callback: &UpstreamCallback<'_>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        self.identity
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| UpstreamError::Refused("bad_verification_code".into()))
    }
    async fn start_device(&self, now: DateTime<Utc>) -> Result<UpstreamDevice, UpstreamError> {
        Ok(UpstreamDevice {
            verification_uri: "https://upstream.test/device".into(),
            user_code: "WDJB-MJHT".into(),
            device_code: OpaqueToken::new("device-code".into()),
            expires_at: now + Duration::minutes(15),
            interval: Duration::seconds(5),
        })
    }
    async fn poll_device(&self, _device_code: &OpaqueToken) -> Result<DevicePoll, UpstreamError> {
        self.polled.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .polls
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(DevicePoll::Expired))
    }
    async fn identity(
        &self,
        _token: &str,
        now: DateTime<Utc>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        self.finish(&UpstreamCallback {
            code: "",
            code_verifier: "",
            nonce: "",
            redirect_uri: "",
            issuer: None,
            now,
        })
        .await
    }
}

/// TOTP without the HMAC: the code of time step `n` is `n`'s last six
/// digits, one step of skew either way, as the real one allows.
pub struct StepCodes;

impl StepCodes {
    /// The code of the step `at` falls in.
    pub fn code_at(at: DateTime<Utc>) -> String {
        format!("{:06}", (at.timestamp() / 30) % 1_000_000)
    }
}

impl OneTimePasswords for StepCodes {
    fn matching_step(&self, _secret: &[u8], code: &str, at: DateTime<Utc>) -> Option<i64> {
        let step = at.timestamp() / 30;
        [step - 1, step, step + 1]
            .into_iter()
            .find(|s| format!("{:06}", s % 1_000_000) == code)
    }
    fn provisioning_uri(&self, _secret: &[u8], issuer: &str, account: &str) -> String {
        format!("otpauth://totp/{issuer}:{account}")
    }
    fn manual_key(&self, secret: &[u8]) -> String {
        format!("{secret:?}")
    }
}
