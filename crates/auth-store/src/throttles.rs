//! `ThrottleRepository` over Diesel: one conditional upsert per attempt.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::ThrottleRepository;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error};
use crate::rows::naive;
use crate::schema::throttle_counters as tc;

/// Counts the attempt if the key's window has ended (a new window starts)
/// or it is under the limit; returns a row only then. On PostgreSQL the
/// upsert locks the row, on SQLite the single writer runs one statement at
/// a time: either way parallel attempts are counted one by one. (`$n`
/// placeholders: SQLite numbers them in order of first appearance, which
/// here is their order.)
const RESERVE: &str = "INSERT INTO throttle_counters (key, expires_at, attempts) VALUES ($1, $2, 1) \
     ON CONFLICT (key) DO UPDATE SET \
       attempts = CASE WHEN throttle_counters.expires_at <= $3 THEN 1 ELSE throttle_counters.attempts + 1 END, \
       expires_at = CASE WHEN throttle_counters.expires_at <= $3 THEN excluded.expires_at ELSE throttle_counters.expires_at END \
     WHERE throttle_counters.expires_at <= $3 OR throttle_counters.attempts < $4 \
     RETURNING attempts";

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)]
    attempts: i64,
}

#[async_trait]
impl ThrottleRepository for Database {
    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let (end, now) = (naive(now + window), naive(now));
        let limit = i64::from(limit);
        let counted: Vec<Counted> = with_conn!(writer self, |conn| diesel::sql_query(RESERVE)
            .bind::<Text, _>(key)
            .bind::<Timestamp, _>(end)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await
            .map_err(query_error))?;
        Ok(!counted.is_empty())
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        with_conn!(writer self, |conn| diesel::update(
            tc::table.filter(tc::key.eq(key)).filter(tc::attempts.gt(0))
        )
        .set(tc::attempts.eq(tc::attempts - 1))
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(())
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        with_conn!(writer self, |conn| diesel::delete(tc::table.filter(tc::key.eq(key)))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }
}
