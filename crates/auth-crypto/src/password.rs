//! argon2id password hashing, off the async executor.
use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher as _, Version};
use std::sync::{Arc, Mutex, PoisonError};

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
    /// One of OWASP's recommendations (Password Storage Cheat Sheet): 12 MiB,
    /// t=3, p=1. The sheet lists it beside 19 MiB with t=2 as "an equal level
    /// of defense" that trades memory for passes. Chosen for memory: each
    /// verification in flight holds its memory, one per core, and at 19 MiB
    /// two of them held more than half of the server's resident memory under
    /// load (peak 70 MiB, 56-57 with this cost); verifying is no slower
    /// here (alternating runs of the `hash_rate` example, two cores:
    /// 108.2-120.9 verifications/s against 101.4-108.0).
    pub const OWASP: Self = Self {
        memory_kib: 12 * 1024,
        iterations: 3,
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

/// argon2id's working memory (12 MiB at the default cost), kept from one
/// verification to the next. Left to the library, each verification
/// allocates its blocks zeroed and frees them: glibc then zeroes them per
/// login, and jemalloc, which zeroes by handing the pages back to the kernel,
/// faults all of them in again (measured with the server on one core: a
/// quarter of its time in the kernel, the password grant at 77 % of
/// glibc's). argon2 writes every block before reading it, so a block set
/// needs no zeroing between uses. Sets left unused between two calls of
/// [`Argon2Hasher::release_idle_memory`] are freed, so memory a burst of
/// logins took goes back when they stop.
#[derive(Default)]
struct Scratch {
    spare: Mutex<Vec<Spare>>,
}

struct Spare {
    blocks: Vec<Block>,
    used_since_release: bool,
}

impl Scratch {
    /// Runs `job` over `count` blocks: a spare set of that size if there
    /// is one, else a new one, kept afterwards for the next job (at most
    /// `keep` sets, one per hashing thread).
    fn with_blocks<R>(&self, count: usize, keep: usize, job: impl FnOnce(&mut [Block]) -> R) -> R {
        let taken = {
            let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
            spare
                .iter()
                .position(|s| s.blocks.len() == count)
                .map(|i| spare.swap_remove(i).blocks)
        };
        let mut blocks = taken.unwrap_or_else(|| vec![Block::default(); count]);
        let result = job(&mut blocks);
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < keep {
            spare.push(Spare {
                blocks,
                used_since_release: true,
            });
        }
        result
    }

    /// Frees the sets no job used since the last call; returns the bytes freed.
    fn release_idle(&self) -> usize {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let mut freed = 0;
        spare.retain_mut(|s| {
            let used = std::mem::take(&mut s.used_since_release);
            if !used {
                freed += s.blocks.len() * Block::SIZE;
            }
            used
        });
        freed
    }
}

/// argon2id hasher. Hashes run on a fixed pool of one thread per core, off
/// the async executor (an inline hash would stall every other request on
/// that worker for its whole duration). Fixed threads matter: each hash
/// allocates its blocks (19 MiB then), and on tokio's elastic blocking pool every
/// new thread grew its own allocator arena and paid page faults to zero it
/// (measured: a quarter of the hashing threads' time in the kernel, 600 MB
/// resident). One thread per core also caps concurrent hashes at the cores.
#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    pool: Arc<rayon::ThreadPool>,
    scratch: Arc<Scratch>,
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
            scratch: Arc::default(),
            dummy,
        })
    }

    /// Frees the working memory of verifications that has not been used
    /// since the previous call (see `Scratch`); the server calls it on a
    /// schedule. Returns the bytes freed.
    pub fn release_idle_memory(&self) -> usize {
        self.scratch.release_idle()
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
        let ok = self.verify_phc(password.expose().as_bytes(), phc);
        ok && known
    }

    /// Verifies `password` against a PHC string as the library's
    /// `verify_password` does (the PHC parsing is the library's), over
    /// reused working memory. The parameters stored in the hash govern its
    /// verification, so old hashes keep working when the configured cost
    /// changes. The outputs are compared in constant time (`Output`'s
    /// equality).
    fn verify_phc(&self, password: &[u8], phc: &str) -> bool {
        let Ok(hash) = argon2::PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
            return false;
        };
        let version = match hash.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let Some(out) = buffer.get_mut(..expected.len()) else {
            return false;
        };
        let count = params.block_count();
        let engine = Argon2::new(algorithm, version, params);
        // One set kept per hashing thread: no more verifications run at once.
        let keep = self.pool.current_num_threads();
        let computed = self.scratch.with_blocks(count, keep, |blocks| {
            engine.hash_password_into_with_memory(password, salt, out, blocks)
        });
        computed.is_ok() && Output::new(out).is_ok_and(|o| &o == expected)
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
    fn verifies_as_the_library_does_over_reused_memory() {
        use argon2::PasswordVerifier as _;
        let h = Argon2Hasher::new(HashCost::TEST_ONLY).unwrap();
        // Hashes of other variants, versions' defaults and lanes than ours,
        // made by the library; each judged by it and by us alike.
        let made = |alg, m, t, p| {
            let params = Params::new(m, t, p, None).unwrap();
            Argon2::new(alg, Version::V0x13, params)
                .hash_password(b"pw")
                .unwrap()
                .to_string()
        };
        for phc in [
            made(Algorithm::Argon2id, 8, 1, 1),
            made(Algorithm::Argon2id, 32, 2, 4),
            made(Algorithm::Argon2i, 16, 3, 2),
            made(Algorithm::Argon2d, 8, 1, 1),
        ] {
            for (password, expected) in [("pw", true), ("pw ", false), ("", false)] {
                let library = Argon2::default()
                    .verify_password(password.as_bytes(), phc.as_str())
                    .is_ok();
                assert_eq!(library, expected, "{phc}");
                // Twice: the second run reuses the first one's blocks.
                for _ in 0..2 {
                    assert_eq!(h.verify_phc(password.as_bytes(), &phc), expected, "{phc}");
                }
            }
        }
        // A truncated output or salt is a failed verification, not a panic.
        let phc = made(Algorithm::Argon2id, 8, 1, 1);
        let cut = &phc[..phc.len() - 10];
        assert!(!h.verify_phc(b"pw", cut));
    }

    #[test]
    fn working_memory_unused_between_two_releases_is_freed() {
        let h = Argon2Hasher::new(HashCost::TEST_ONLY).unwrap();
        let pw = Password::parse("pw").unwrap();
        let hash = h.hash_blocking(&pw).unwrap();
        assert!(h.verify_blocking(&pw, Some(&hash)));
        // Used since the last release: kept.
        assert_eq!(h.release_idle_memory(), 0);
        // Not used since: freed (8 KiB at the test cost).
        assert_eq!(h.release_idle_memory(), 8 * 1024);
        assert_eq!(h.release_idle_memory(), 0);
        assert!(h.verify_blocking(&pw, Some(&hash)));
    }

    #[test]
    fn garbage_hash_is_a_failed_verification() {
        let h = Argon2Hasher::new(HashCost::TEST_ONLY).unwrap();
        let pw = Password::parse("pw").unwrap();
        assert!(!h.verify_blocking(&pw, Some(&PasswordHash::new("not-a-phc".into()))));
    }
}
