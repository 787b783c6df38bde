//! `ThrottleRepository` over Diesel: one conditional upsert per attempt
//! (`statements::ReserveAttempt`); on PostgreSQL a sign-in's account lookup
//! rides in the same statement (`statements::ReserveLoginPg`). A key is
//! kept as columns, mapped from the core's `ThrottleKey` here and only here.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{LoginReservation, ThrottleRepository};
use auth_core::throttle::{
    AttemptSource, LoginTarget, ThrottleKey, login_key, reserve_login_stepwise,
};
use auth_core::types::{LoginName, User};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error};
use crate::rows::{UserRow, naive};
use crate::schema::throttle_counters as tc;
use crate::statements::{ClearAttempts, KeyColumns, ReserveAttempt, ReserveLoginPg};

impl From<&ThrottleKey> for KeyColumns {
    fn from(key: &ThrottleKey) -> Self {
        let columns = |kind, subject_kind, subject: String| KeyColumns {
            kind,
            subject_kind,
            subject,
            address: String::new(),
            device: String::new(),
        };
        match key {
            ThrottleKey::Login { account, source } => {
                let mut c = match account {
                    LoginTarget::Account(id) => columns("login", "account", id.to_string()),
                    LoginTarget::Name(name) => columns("login", "name", name.as_str().to_owned()),
                };
                c.source(source.as_ref());
                c
            }
            ThrottleKey::DeviceCode(user) => columns("device-code", "account", user.to_string()),
            ThrottleKey::SecondFactor(user) => {
                columns("second-factor", "account", user.to_string())
            }
            ThrottleKey::Upstream(address) => KeyColumns {
                address: address.clone(),
                ..columns("upstream", "", String::new())
            },
            ThrottleKey::Registration(address) => KeyColumns {
                address: address.clone().unwrap_or_default(),
                ..columns("registration", "", String::new())
            },
            ThrottleKey::RecoveryFrom(address) => KeyColumns {
                address: address.clone(),
                ..columns("recovery", "", String::new())
            },
            ThrottleKey::RecoveryOf(name) => columns("recovery", "name", name.as_str().to_owned()),
        }
    }
}

impl KeyColumns {
    /// Where a sign-in's attempts came from: an address, a device
    /// cookie's digest (in hex), or, for the account-wide count, neither.
    fn source(&mut self, source: Option<&AttemptSource>) {
        match source {
            Some(AttemptSource::Address(address)) => self.address = address.clone(),
            Some(AttemptSource::Device(digest)) => {
                self.device = digest
                    .as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
            }
            None => {}
        }
    }
}

#[async_trait]
impl ThrottleRepository for Database {
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = KeyColumns::from(key);
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
        source: AttemptSource,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<LoginReservation, StoreError> {
        let pool = match self {
            // The lookup reads from a reader while the reservation queues
            // for the one writer: two steps, as in the memory store.
            Database::Sqlite { .. } => {
                return reserve_login_stepwise(self, login, source, limit, window, now).await;
            }
            Database::Postgres(pool) => pool,
        };
        // The name's key; the statement counts against the account's
        // instead when the name has one.
        let name_key = KeyColumns::from(&login_key(None, login, source));
        let (window_end, now) = (naive(now + window), naive(now));
        let (allowed, row): (bool, Option<UserRow>) = with_conn!(@pooled pool, |conn| {
            ReserveLoginPg {
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

    async fn release(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        let key = KeyColumns::from(key);
        with_conn!(writer self, |conn| diesel::update(
            tc::table
                .filter(tc::kind.eq(key.kind))
                .filter(tc::subject_kind.eq(key.subject_kind))
                .filter(tc::subject.eq(&key.subject))
                .filter(tc::address.eq(&key.address))
                .filter(tc::device.eq(&key.device))
                .filter(tc::attempts.gt(0))
        )
        .set(tc::attempts.eq(tc::attempts - 1))
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(())
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        let key = KeyColumns::from(key);
        with_conn!(writer self, |conn| ClearAttempts { key: &key }
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use auth_core::types::{Digest, UserId};

    use super::*;

    #[test]
    fn every_key_has_columns_of_its_own() {
        let id = UserId::new(uuid::Uuid::nil());
        let name = LoginName::lookup(&id.to_string());
        let keys = [
            auth_core::throttle::login_key(Some(id), &name, AttemptSource::Address("a".into())),
            // A login name that spells an account's id is still a name.
            auth_core::throttle::login_key(None, &name, AttemptSource::Address("a".into())),
            auth_core::throttle::login_key(
                Some(id),
                &name,
                AttemptSource::Device(Digest::from_bytes([7; 32])),
            ),
            LoginTarget::Account(id).key(None),
            ThrottleKey::DeviceCode(id),
            ThrottleKey::SecondFactor(id),
            ThrottleKey::Upstream("a".into()),
            ThrottleKey::Registration(Some("a".into())),
            ThrottleKey::Registration(None),
        ];
        let columns: Vec<KeyColumns> = keys.iter().map(KeyColumns::from).collect();
        for (i, a) in columns.iter().enumerate() {
            for b in &columns[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
