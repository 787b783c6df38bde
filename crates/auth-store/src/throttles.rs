//! `ThrottleRepository` over Diesel: one conditional upsert per attempt
//! (`statements::ReserveAttempt`).
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::ThrottleRepository;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error};
use crate::rows::naive;
use crate::schema::throttle_counters as tc;
use crate::statements::{ClearAttempts, ReserveAttempt};

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
        let (window_end, now) = (naive(now + window), naive(now));
        let limit = i64::from(limit);
        let counted: Vec<i64> = with_conn!(writer self, |conn| ReserveAttempt {
            key: &key,
            window_end,
            now,
            limit,
        }
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
        with_conn!(writer self, |conn| ClearAttempts { key: &key }
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }
}
