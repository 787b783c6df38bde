//! argon2id password hashing, off the async executor.
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use std::sync::Arc;

use async_trait::async_trait;
use auth_core::error::CryptoError;
use auth_core::ports::PasswordHasher;
use auth_core::types::{Password, PasswordHash};

/// Cost parameters of argon2id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP's recommendation (Password Storage Cheat Sheet): 19 MiB, t=2, p=1.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest argon2id allows; for tests only, where the real algorithm
    /// must run but its cost would only slow the suite.
    pub const TEST_ONLY: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

/// argon2id hasher. Hashes run on a fixed pool of one thread per core, off
/// the async executor (an inline hash would stall every other request on
/// that worker for its whole duration). Fixed threads matter: each hash
/// allocates its 19 MiB of blocks, and on tokio's elastic blocking pool every
/// new thread grew its own allocator arena and paid page faults to zero it
/// (measured: a quarter of the hashing threads' time in the kernel, 600 MB
/// resident). One thread per core also caps concurrent hashes at the cores.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    pool: Arc<rayon::ThreadPool>,
    /// A hash of a random password with the configured cost, verified when
    /// the user is unknown so that such a request costs the same time.
    dummy: PasswordHash,
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Failed(e.to_string())
}

impl Argon2Hasher {
    pub fn new(cost: HashCost) -> Result<Self, CryptoError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(failed)?;
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(failed)?;
        let dummy = hash_with(&params, &random)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cores)
            .thread_name(|i| format!("argon2-{i}"))
            // Without a handler rayon aborts the process when a job panics;
            // with it the job's caller sees its channel closed and fails
            // that one request.
            .panic_handler(|_| tracing::error!("a password hashing job panicked"))
            .build()
            .map_err(failed)?;
        Ok(Self {
            params,
            pool: Arc::new(pool),
            dummy,
        })
    }

    fn engine(params: &Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
    }

    /// Hashes synchronously; for benchmarks and the blocking pool.
    pub fn hash_blocking(&self, password: &Password) -> Result<PasswordHash, CryptoError> {
        hash_with(&self.params, password.expose().as_bytes())
    }

    /// Verifies synchronously; for benchmarks and the blocking pool.
    pub fn verify_blocking(&self, password: &Password, hash: Option<&PasswordHash>) -> bool {
        let (phc, known) = match hash {
            Some(h) => (h.as_str(), true),
            None => (self.dummy.as_str(), false),
        };
        // The parameters stored in the hash govern its verification, so old
        // hashes keep working when the configured cost changes.
        let ok = Self::engine(&self.params)
            .verify_password(password.expose().as_bytes(), phc)
            .is_ok();
        ok && known
    }
}

impl Argon2Hasher {
    /// Runs `job` on the hashing pool and waits for it without blocking.
    async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, CryptoError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let _ = tx.send(job());
        });
        rx.await.map_err(failed)
    }
}

fn hash_with(params: &Params, password: &[u8]) -> Result<PasswordHash, CryptoError> {
    let phc = Argon2Hasher::engine(params)
        .hash_password(password)
        .map_err(failed)?;
    Ok(PasswordHash::new(phc.to_string()))
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, CryptoError> {
        let this = self.clone();
        let password = password.clone();
        self.run(move || this.hash_blocking(&password)).await?
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, CryptoError> {
        let this = self.clone();
        let password = password.clone();
        let hash = hash.cloned();
        self.run(move || this.verify_blocking(&password, hash.as_ref()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let h = Argon2Hasher::new(HashCost::TEST_ONLY).unwrap();
        let pw = Password::parse("correct horse").unwrap();
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert!(h.verify(&pw, Some(&hash)).await.unwrap());
        let wrong = Password::parse("battery staple").unwrap();
        assert!(!h.verify(&wrong, Some(&hash)).await.unwrap());
        assert!(!h.verify(&pw, None).await.unwrap());
        // Two hashes of one password differ (random salt).
        assert_ne!(h.hash(&pw).await.unwrap(), hash);
    }

    #[test]
    fn a_hash_made_with_other_parameters_still_verifies() {
        let cheap = Argon2Hasher::new(HashCost::TEST_ONLY).unwrap();
        let other = Argon2Hasher::new(HashCost {
            memory_kib: 16,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        let pw = Password::parse("pw").unwrap();
        let hash = other.hash_blocking(&pw).unwrap();
        assert!(cheap.verify_blocking(&pw, Some(&hash)));
    }

    #[test]
    fn garbage_hash_is_a_failed_verification() {
        let h = Argon2Hasher::new(HashCost::TEST_ONLY).unwrap();
        let pw = Password::parse("pw").unwrap();
        assert!(!h.verify_blocking(&pw, Some(&PasswordHash::new("not-a-phc".into()))));
    }
}
