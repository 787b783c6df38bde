//! `ThrottleRepository` over Diesel: one conditional upsert per attempt
//! (`statements::ReserveAttempt`); on PostgreSQL a sign-in's account lookup
//! rides in the same statement (`statements::ReserveLoginPg`).
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{LoginReservation, ThrottleRepository};
use auth_core::throttle::{
    ADDRESS_SEPARATOR, LOGIN_ACCOUNT_PREFIX, login_key, reserve_login_stepwise,
};
use auth_core::types::{LoginName, User};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error};
use crate::rows::{UserRow, naive};
use crate::schema::throttle_counters as tc;
use crate::statements::{ClearAttempts, ReserveAttempt, ReserveLoginPg};

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

    async fn reserve_login(
        &self,
        login: &LoginName,
        from: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<LoginReservation, StoreError> {
        let pool = match self {
            // The lookup reads from a reader while the reservation queues
            // for the one writer: two steps, as in the memory store.
            Database::Sqlite { .. } => {
                return reserve_login_stepwise(self, login, from, limit, window, now).await;
            }
            Database::Postgres(pool) => pool,
        };
        let name_key = login_key(None, login.as_str(), from);
        let address_suffix = format!("{ADDRESS_SEPARATOR}{from}");
        let (window_end, now) = (naive(now + window), naive(now));
        let (allowed, row): (bool, Option<UserRow>) = with_conn!(@pooled pool, |conn| {
            ReserveLoginPg {
                login: login.as_str(),
                account_prefix: LOGIN_ACCOUNT_PREFIX,
                address_suffix: &address_suffix,
                name_key: &name_key,
                window_end,
                now,
                limit: i64::from(limit),
            }
            .get_result(conn)
            .await
            .map_err(query_error)
        })?;
        let user = row.map(User::try_from).transpose()?;
        Ok(LoginReservation { user, allowed })
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
