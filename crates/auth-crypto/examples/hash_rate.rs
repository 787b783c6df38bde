//! Measures how many argon2id verifications per second this machine can do
//! at the given cost on every core: the ceiling of the password grant. It
//! goes through the same `PasswordHasher` path the server uses (the hashing
//! pool), with more verifications in flight than cores, so the figure is
//! the hasher's, not the harness's.
//!
//! `cargo run --release -p auth-crypto --example hash_rate -- [MEMORY_KIB ITERATIONS PARALLELISM]`
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::ports::PasswordHasher as _;
use auth_core::types::Password;
use auth_crypto::{Argon2Hasher, HashCost};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let cost = match args.as_slice() {
        [m, t, p] => HashCost {
            memory_kib: *m,
            iterations: *t,
            parallelism: *p,
        },
        _ => HashCost::OWASP,
    };
    let hasher = Arc::new(Argon2Hasher::new(cost)?);
    let password = Password::parse("correct horse battery staple")?;
    let hash = hasher.hash_blocking(&password)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let window = Duration::from_secs(5);
    let start = Instant::now();
    let tasks: Vec<_> = (0..cores * 4)
        .map(|_| {
            let (hasher, password, hash) = (hasher.clone(), password.clone(), hash.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < window {
                    let _ = hasher.verify(&password, Some(&hash)).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    println!("{rate:.1}");
    eprintln!(
        "argon2id m={} t={} p={}: {rate:.1} verifications/s on {cores} cores",
        cost.memory_kib, cost.iterations, cost.parallelism
    );
    Ok(())
}
