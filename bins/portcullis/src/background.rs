//! Work each node does on a schedule, beside serving requests.
use std::sync::Arc;
use std::time::Duration;

use auth_core::ports::{Clock, Sweeper};

use crate::startup::Services;

/// Runs `job` every `interval` until the process ends; a failure is logged
/// and the next tick tries again.
fn every<F, Fut>(interval: Duration, what: &'static str, mut job: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
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
pub fn sweep(services: Arc<Services>, clock: Arc<dyn Clock>, interval: Duration, batch: i64) {
    every(interval, "sweeping expired rows", move || {
        let (services, clock) = (services.clone(), clock.clone());
        async move {
            let report = services.database.sweep_expired(clock.now(), batch).await?;
            if report.total() > 0 {
                tracing::info!(?report, "swept expired rows");
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
