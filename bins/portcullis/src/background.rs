//! Work each node does on a schedule, beside serving requests.
use std::sync::Arc;
use std::time::Duration;

use auth_core::ports::{Clock, Sweeper};

use crate::startup::Services;

/// Runs `job` every `interval` until the process ends; a failure is logged
/// and the next tick tries again.
fn every<F, Fut>(interval: Duration, what: &'static str, job: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    every_from(tokio::time::Instant::now(), interval, what, job);
}

/// As [`every`], the first run at `first`.
fn every_from<F, Fut>(
    first: tokio::time::Instant,
    interval: Duration,
    what: &'static str,
    mut job: F,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(first, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = job().await {
                tracing::warn!(error = %format!("{e:#}"), "{what} failed; trying again at the next tick");
            }
        }
    });
}

/// Keeps the reference-token cache told of revocations made on other nodes
/// (PostgreSQL; nothing to do on SQLite).
pub fn follow_revocations(services: Arc<Services>) {
    tokio::spawn(async move { services.access_tokens.follow_revocations().await });
}

/// Re-reads the signing keys, so a rotation made on any node reaches this one.
pub fn reload_keys(services: Arc<Services>, interval: Duration) {
    every(interval, "reloading the signing keys", move || {
        let services = services.clone();
        async move { services.reload_keys().await }
    });
}

/// Deletes expired tokens, codes, sessions and revocation entries, in
/// batches of `batch` rows.
///
/// The first sweep runs one interval after start-up, not at once: a node
/// that starts (or restarts under load, or joins a cluster) serves its
/// first requests without the sweep's writes beside them, and nodes
/// started together do not all sweep at the same moment. Each sweep paces
/// itself between batches (see `auth_store`), logs what it deleted, and is
/// counted in `/metrics`.
pub fn sweep(
    services: Arc<Services>,
    clock: Arc<dyn Clock>,
    metrics: Arc<auth_http::Metrics>,
    interval: Duration,
    batch: i64,
) {
    let first = tokio::time::Instant::now() + interval;
    every_from(first, interval, "sweeping expired rows", move || {
        let (services, clock, metrics) = (services.clone(), clock.clone(), metrics.clone());
        async move {
            let started = std::time::Instant::now();
            let report = services.database.sweep_expired(clock.now(), batch).await?;
            let took = started.elapsed();
            metrics.record_sweep(&report, took);
            if report.total() > 0 {
                tracing::info!(
                    ?report,
                    took_ms = took.as_millis() as u64,
                    "swept expired rows"
                );
            }
            Ok(())
        }
    });
}

/// Checkpoints the SQLite WAL off the request path (the writer does not).
pub fn checkpoint(services: Arc<Services>, interval: Duration) {
    every(interval, "checkpointing the database", move || {
        let services = services.clone();
        async move { Ok(services.database.checkpoint().await?) }
    });
}

/// Frees argon2id's working memory left unused for a whole `interval`
/// (12 MiB per hashing thread at the default cost): kept while logins keep
/// coming, given back when they stop.
pub fn release_hash_memory(services: Arc<Services>, interval: Duration) {
    let first = tokio::time::Instant::now() + interval;
    every_from(
        first,
        interval,
        "releasing idle hashing memory",
        move || {
            let freed = services.hasher.release_idle_memory();
            if freed > 0 {
                tracing::debug!(freed_bytes = freed, "released idle password hashing memory");
            }
            async { Ok(()) }
        },
    );
}

/// Delivers the outbox: every node does, each letter claimed by one of
/// them. A round takes what is due (at most a batch); letters that failed
/// wait out their backoff in the table, not here.
pub fn deliver_mail(
    postman: Arc<auth_core::mail::Postman>,
    clock: Arc<dyn Clock>,
    metrics: Arc<auth_http::Metrics>,
    interval: Duration,
) {
    every(interval, "delivering mail", move || {
        let (postman, clock, metrics) = (postman.clone(), clock.clone(), metrics.clone());
        async move {
            let report = postman.deliver_due(clock.now(), 50).await?;
            metrics.record_mail(report.sent, report.retried, report.given_up.len() as u32);
            for (id, why) in &report.given_up {
                tracing::error!(event = "mail_given_up", message_id = %id, reason = %why, "a letter was given up on: it was not delivered and will not be");
            }
            if report.retried > 0 {
                tracing::warn!(
                    retried = report.retried,
                    "the mail server did not take every letter; they wait for another try"
                );
            }
            Ok(())
        }
    });
}
