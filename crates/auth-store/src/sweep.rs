//! `Sweeper` over Diesel: batched deletion of expired rows.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{SweepReport, Sweeper};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::Database;
use crate::rows::naive;
use crate::schema::{
    access_tokens, authorization_codes, device_authorizations, email_links, known_devices,
    refresh_tokens, revoked_access_tokens, sessions, throttle_counters, upstream_flows,
    webauthn_ceremonies,
};

/// How much longer than a batch's delete took the sweep then rests: the
/// sweep holds the (SQLite: single) writer at most a fifth of the time, so
/// request writes keep their latency however much has expired.
const REST_PER_BATCH: u32 = 4;

/// Deletes expired rows of one table in batches: select a batch of keys
/// (through the table's `expires_at` index), delete them, rest, repeat
/// until none are left. Each statement is short, so requests are never
/// blocked behind a long delete.
macro_rules! sweep_table {
    ($db:expr, $table:ident, $key:ident, $key_ty:ty, $now:expr, $batch:expr) => {{
        let mut deleted = 0u64;
        loop {
            let keys: Vec<$key_ty> = with_conn!($db, |conn| $table::table
                .filter($table::expires_at.le($now))
                .select($table::$key)
                .limit($batch)
                .load(conn)
                .await
                .map_err(StoreError::backend))?;
            let found = keys.len() as i64;
            if found == 0 {
                break;
            }
            let started = std::time::Instant::now();
            let n = with_conn!(writer $db, |conn| diesel::delete(
                $table::table.filter($table::$key.eq_any(&keys))
            )
            .execute(conn)
            .await
            .map_err(StoreError::backend))?;
            deleted += n as u64;
            if found < $batch {
                break;
            }
            tokio::time::sleep(started.elapsed() * REST_PER_BATCH).await;
        }
        deleted
    }};
}

impl Database {
    /// [`sweep_table!`] for the throttle counters, whose key is five
    /// columns: a batch is cut at the latest expiry among the next `batch`
    /// rows instead (rows that share that expiry go with it, so a batch
    /// may run a little over).
    async fn sweep_throttle_counters(
        &self,
        now: chrono::NaiveDateTime,
        batch: i64,
    ) -> Result<u64, StoreError> {
        use throttle_counters as tc;
        let mut deleted = 0u64;
        loop {
            let ends: Vec<chrono::NaiveDateTime> = with_conn!(self, |conn| tc::table
                .filter(tc::expires_at.le(now))
                .select(tc::expires_at)
                .order(tc::expires_at.asc())
                .limit(batch)
                .load(conn)
                .await
                .map_err(StoreError::backend))?;
            let Some(&cutoff) = ends.last() else { break };
            let started = std::time::Instant::now();
            let n = with_conn!(writer self, |conn| diesel::delete(
                tc::table.filter(tc::expires_at.le(cutoff))
            )
            .execute(conn)
            .await
            .map_err(StoreError::backend))?;
            deleted += n as u64;
            if (ends.len() as i64) < batch {
                break;
            }
            tokio::time::sleep(started.elapsed() * REST_PER_BATCH).await;
        }
        Ok(deleted)
    }
}

#[async_trait]
impl Sweeper for Database {
    async fn sweep_expired(
        &self,
        now: DateTime<Utc>,
        batch: i64,
    ) -> Result<SweepReport, StoreError> {
        let now = naive(now);
        let batch = batch.max(1);
        Ok(SweepReport {
            refresh_tokens: sweep_table!(self, refresh_tokens, digest, Vec<u8>, now, batch),
            access_tokens: sweep_table!(self, access_tokens, digest, Vec<u8>, now, batch),
            revoked_access_tokens: sweep_table!(
                self,
                revoked_access_tokens,
                token_id,
                String,
                now,
                batch
            ),
            authorization_codes: sweep_table!(
                self,
                authorization_codes,
                digest,
                Vec<u8>,
                now,
                batch
            ),
            sessions: sweep_table!(self, sessions, digest, Vec<u8>, now, batch),
            device_authorizations: sweep_table!(
                self,
                device_authorizations,
                device_digest,
                Vec<u8>,
                now,
                batch
            ),
            throttle_counters: self.sweep_throttle_counters(now, batch).await?,
            upstream_flows: sweep_table!(self, upstream_flows, id, String, now, batch),
            email_links: sweep_table!(self, email_links, digest, Vec<u8>, now, batch),
            webauthn_ceremonies: sweep_table!(
                self,
                webauthn_ceremonies,
                digest,
                Vec<u8>,
                now,
                batch
            ),
            // Each device cookie is a new random value: its digest names
            // its rows.
            known_devices: sweep_table!(self, known_devices, digest, Vec<u8>, now, batch),
        })
    }
}
