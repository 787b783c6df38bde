//! `FactorRepository` over Diesel: TOTP authenticators and WebAuthn
//! credentials (`second_factors`), recovery codes (digests only), WebAuthn
//! user handles and ceremonies. What must not race is one conditional
//! statement: a TOTP step only grows, a signature counter is compared
//! with the one read, a recovery code and a ceremony are deleted as they
//! are used.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::FactorRepository;
use auth_core::types::{
    Ceremony, CeremonyPurpose, Digest, Factor, FactorId, FactorKind, FactorLabel, PasskeyRecord,
    TotpRecord, UserId,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use auth_core::throttle::ThrottleKey;

use crate::database::{Database, query_error};
use crate::rows::{corrupt, naive};
use crate::schema::{recovery_codes, second_factors, webauthn_ceremonies, webauthn_handles};
use crate::statements::{ClearAttempts, KeyColumns};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = second_factors)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct FactorRow {
    id: String,
    user_id: String,
    kind: String,
    label: String,
    secret: Option<String>,
    credential_id: Option<String>,
    record: Option<String>,
    counter: i64,
    confirmed: bool,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
}

impl FactorRow {
    fn new(factor: &Factor, confirmed: bool) -> Self {
        Self {
            id: factor.id.to_string(),
            user_id: factor.user_id.to_string(),
            kind: factor.kind.as_str().to_owned(),
            label: factor.label.as_str().to_owned(),
            secret: None,
            credential_id: None,
            record: None,
            counter: 0,
            confirmed,
            created_at: naive(factor.created_at),
            last_used_at: factor.last_used_at.map(naive),
        }
    }

    fn factor(&self) -> Result<Factor, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("second_factors", e);
        Ok(Factor {
            id: FactorId::new(Uuid::parse_str(&self.id).map_err(|e| bad(&e))?),
            user_id: UserId::new(Uuid::parse_str(&self.user_id).map_err(|e| bad(&e))?),
            kind: FactorKind::parse(&self.kind).ok_or_else(|| bad(&self.kind))?,
            label: FactorLabel::parse(&self.label).map_err(|e| bad(&e))?,
            created_at: self.created_at.and_utc(),
            last_used_at: self.last_used_at.map(|t| t.and_utc()),
        })
    }

    fn totp(self) -> Result<TotpRecord, StoreError> {
        let factor = self.factor()?;
        Ok(TotpRecord {
            factor,
            sealed_secret: self
                .secret
                .ok_or_else(|| corrupt("second_factors", "a TOTP without its secret"))?,
            // The column starts at 0 for "none yet"; steps are far above it.
            last_step: (self.counter > 0).then_some(self.counter),
            confirmed: self.confirmed,
        })
    }

    fn passkey(self) -> Result<PasskeyRecord, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("second_factors", e);
        let factor = self.factor()?;
        Ok(PasskeyRecord {
            factor,
            credential_id: self
                .credential_id
                .ok_or_else(|| bad(&"a passkey without its id"))?,
            record: self
                .record
                .ok_or_else(|| bad(&"a passkey without its record"))?,
            counter: u32::try_from(self.counter).map_err(|e| bad(&e))?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_ceremonies)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct CeremonyRow {
    digest: Vec<u8>,
    purpose: String,
    user_id: Option<String>,
    state: String,
    expires_at: NaiveDateTime,
}

fn user_of(id: &str) -> Result<UserId, StoreError> {
    Uuid::parse_str(id)
        .map(UserId::new)
        .map_err(|e| corrupt("second_factors", &e))
}

/// Inserts `codes` as `user`'s recovery codes on `$conn`, in the caller's
/// atomic write, replacing any they had.
macro_rules! store_codes {
    ($conn:ident, $user:expr, $codes:expr) => {{
        let (user, codes): (&String, &[Vec<u8>]) = ($user, $codes);
        if !codes.is_empty() {
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user)))
                .execute($conn)
                .await?;
            for digest in codes {
                diesel::insert_into(recovery_codes::table)
                    .values((
                        recovery_codes::digest.eq(digest),
                        recovery_codes::user_id.eq(user),
                    ))
                    .execute($conn)
                    .await?;
            }
        }
        diesel::QueryResult::Ok(())
    }};
}

impl Database {
    async fn factor_rows(
        &self,
        user: UserId,
        kind: Option<FactorKind>,
    ) -> Result<Vec<FactorRow>, StoreError> {
        let user = user.to_string();
        let kind = kind.map(|k| k.as_str());
        with_conn!(self, |conn| {
            let mut query = second_factors::table
                .filter(second_factors::user_id.eq(&user))
                .order((second_factors::created_at.asc(), second_factors::id.asc()))
                .select(FactorRow::as_select())
                .into_boxed();
            if let Some(kind) = kind {
                query = query.filter(second_factors::kind.eq(kind));
            }
            query.load(conn).await.map_err(query_error)
        })
    }
}

#[async_trait]
impl FactorRepository for Database {
    async fn factors_of(&self, user: UserId) -> Result<Vec<Factor>, StoreError> {
        self.factor_rows(user, None)
            .await?
            .iter()
            .filter(|r| r.confirmed)
            .map(FactorRow::factor)
            .collect()
    }

    async fn has_factors(&self, user: UserId) -> Result<bool, StoreError> {
        let user = user.to_string();
        let found: Option<String> = with_conn!(self, |conn| second_factors::table
            .filter(second_factors::user_id.eq(&user))
            .filter(second_factors::confirmed.eq(true))
            .select(second_factors::id)
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        Ok(found.is_some())
    }

    async fn totp_of(&self, user: UserId) -> Result<Vec<TotpRecord>, StoreError> {
        self.factor_rows(user, Some(FactorKind::Totp))
            .await?
            .into_iter()
            .map(FactorRow::totp)
            .collect()
    }

    async fn add_totp(&self, record: &TotpRecord) -> Result<(), StoreError> {
        let mut row = FactorRow::new(&record.factor, record.confirmed);
        row.secret = Some(record.sealed_secret.clone());
        atomically!(self, "second factor", |conn| {
            diesel::delete(
                second_factors::table
                    .filter(second_factors::user_id.eq(&row.user_id))
                    .filter(second_factors::confirmed.eq(false)),
            )
            .execute(conn)
            .await?;
            diesel::insert_into(second_factors::table)
                .values(&row)
                .execute(conn)
                .await?;
            diesel::QueryResult::Ok(())
        })
    }

    async fn accept_totp_step<'a>(
        &self,
        user: UserId,
        id: FactorId,
        step: i64,
        recovery: &[Digest],
        cleared: Option<&'a ThrottleKey>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (user, id, now) = (user.to_string(), id.to_string(), naive(now));
        let cleared = cleared.map(KeyColumns::from);
        let codes: Vec<Vec<u8>> = recovery.iter().map(|d| d.as_bytes().to_vec()).collect();
        atomically!(self, "second factor", |conn| {
            let n = diesel::update(
                second_factors::table
                    .filter(second_factors::id.eq(&id))
                    .filter(second_factors::user_id.eq(&user))
                    .filter(second_factors::kind.eq(FactorKind::Totp.as_str()))
                    .filter(second_factors::counter.lt(step)),
            )
            .set((
                second_factors::counter.eq(step),
                second_factors::confirmed.eq(true),
                second_factors::last_used_at.eq(now),
            ))
            .execute(conn)
            .await?;
            if n != 1 {
                return Ok(false);
            }
            store_codes!(conn, &user, &codes)?;
            if let Some(key) = &cleared {
                ClearAttempts { key }.execute(conn).await?;
            }
            Ok(true)
        })
    }

    async fn add_passkey(
        &self,
        record: &PasskeyRecord,
        recovery: &[Digest],
    ) -> Result<(), StoreError> {
        let mut row = FactorRow::new(&record.factor, true);
        row.credential_id = Some(record.credential_id.clone());
        row.record = Some(record.record.clone());
        row.counter = i64::from(record.counter);
        let codes: Vec<Vec<u8>> = recovery.iter().map(|d| d.as_bytes().to_vec()).collect();
        atomically!(self, "security key", |conn| {
            diesel::insert_into(second_factors::table)
                .values(&row)
                .execute(conn)
                .await?;
            store_codes!(conn, &row.user_id, &codes)
        })
    }

    async fn passkeys_of(&self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError> {
        self.factor_rows(user, Some(FactorKind::Passkey))
            .await?
            .into_iter()
            .map(FactorRow::passkey)
            .collect()
    }

    async fn find_passkey(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
        let id = credential_id.to_owned();
        let row: Option<FactorRow> = with_conn!(self, |conn| second_factors::table
            .filter(second_factors::credential_id.eq(&id))
            .select(FactorRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(FactorRow::passkey).transpose()
    }

    async fn record_passkey_use(
        &self,
        id: FactorId,
        seen: u32,
        counter: u32,
        record: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, record, now) = (id.to_string(), record.to_owned(), naive(now));
        let n = with_conn!(writer self, |conn| diesel::update(
            second_factors::table
                .filter(second_factors::id.eq(&id))
                .filter(second_factors::counter.eq(i64::from(seen)))
        )
        .set((
            second_factors::counter.eq(i64::from(counter)),
            second_factors::record.eq(&record),
            second_factors::last_used_at.eq(now),
        ))
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(n == 1)
    }

    async fn remove_factor(
        &self,
        user: UserId,
        id: FactorId,
    ) -> Result<Option<Factor>, StoreError> {
        let (user, id) = (user.to_string(), id.to_string());
        let removed: Option<FactorRow> = atomically!(self, "second factor", |conn| {
            let Some(row) = second_factors::table
                .filter(second_factors::id.eq(&id))
                .filter(second_factors::user_id.eq(&user))
                .filter(second_factors::confirmed.eq(true))
                .select(FactorRow::as_select())
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            diesel::delete(second_factors::table.find(&id))
                .execute(conn)
                .await?;
            let left: i64 = second_factors::table
                .filter(second_factors::user_id.eq(&user))
                .filter(second_factors::confirmed.eq(true))
                .count()
                .get_result(conn)
                .await?;
            if left == 0 {
                diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(&user)))
                    .execute(conn)
                    .await?;
            }
            Ok(Some(row))
        })?;
        removed.as_ref().map(FactorRow::factor).transpose()
    }

    async fn remove_all_factors(&self, user: UserId) -> Result<u64, StoreError> {
        let user = user.to_string();
        atomically!(self, "second factor", |conn| {
            let n = diesel::delete(
                second_factors::table
                    .filter(second_factors::user_id.eq(&user))
                    .filter(second_factors::confirmed.eq(true)),
            )
            .execute(conn)
            .await?;
            diesel::delete(second_factors::table.filter(second_factors::user_id.eq(&user)))
                .execute(conn)
                .await?;
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(&user)))
                .execute(conn)
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes: &[Digest],
    ) -> Result<(), StoreError> {
        let user = user.to_string();
        let codes: Vec<Vec<u8>> = codes.iter().map(|d| d.as_bytes().to_vec()).collect();
        atomically!(self, "recovery code", |conn| store_codes!(
            conn, &user, &codes
        ))
    }

    async fn use_recovery_code(&self, user: UserId, digest: &Digest) -> Result<bool, StoreError> {
        let (user, digest) = (user.to_string(), digest.as_bytes().to_vec());
        let n = with_conn!(writer self, |conn| diesel::delete(
            recovery_codes::table
                .filter(recovery_codes::digest.eq(&digest))
                .filter(recovery_codes::user_id.eq(&user))
        )
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(n == 1)
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<u64, StoreError> {
        let user = user.to_string();
        let n: i64 = with_conn!(self, |conn| recovery_codes::table
            .filter(recovery_codes::user_id.eq(&user))
            .count()
            .get_result(conn)
            .await
            .map_err(query_error))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn user_handle(&self, user: UserId, fresh: Uuid) -> Result<Uuid, StoreError> {
        let (user, fresh) = (user.to_string(), fresh.to_string());
        let handle: String = atomically!(self, "webauthn handle", |conn| {
            let existing: Option<String> = webauthn_handles::table
                .find(&user)
                .select(webauthn_handles::handle)
                .first(conn)
                .await
                .optional()?;
            if let Some(handle) = existing {
                return Ok(handle);
            }
            diesel::insert_into(webauthn_handles::table)
                .values((
                    webauthn_handles::user_id.eq(&user),
                    webauthn_handles::handle.eq(&fresh),
                ))
                .execute(conn)
                .await?;
            Ok(fresh.clone())
        })?;
        Uuid::parse_str(&handle).map_err(|e| corrupt("webauthn_handles", &e))
    }

    async fn user_of_handle(&self, handle: Uuid) -> Result<Option<UserId>, StoreError> {
        let handle = handle.to_string();
        let user: Option<String> = with_conn!(self, |conn| webauthn_handles::table
            .filter(webauthn_handles::handle.eq(&handle))
            .select(webauthn_handles::user_id)
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        user.as_deref().map(user_of).transpose()
    }

    async fn store_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError> {
        let row = CeremonyRow {
            digest: ceremony.digest.as_bytes().to_vec(),
            purpose: ceremony.purpose.as_str().to_owned(),
            user_id: ceremony.user_id.map(|u| u.to_string()),
            state: ceremony.state.clone(),
            expires_at: naive(ceremony.expires_at),
        };
        with_conn!(writer self, |conn| diesel::insert_into(webauthn_ceremonies::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<Option<Ceremony>, StoreError> {
        let (key, now) = (digest.as_bytes().to_vec(), naive(now));
        let row: Option<CeremonyRow> = atomically!(self, "webauthn ceremony", |conn| {
            let row: Option<CeremonyRow> = webauthn_ceremonies::table
                .find(&key)
                .select(CeremonyRow::as_select())
                .first(conn)
                .await
                .optional()?;
            if row.is_none() {
                return Ok(None);
            }
            // The delete must take the row: of two takers, one gets it.
            let taken = diesel::delete(webauthn_ceremonies::table.find(&key))
                .execute(conn)
                .await?;
            Ok(row.filter(|r| taken == 1 && r.expires_at > now))
        })?;
        let Some(r) = row else { return Ok(None) };
        let bad = |e: &dyn std::fmt::Display| corrupt("webauthn_ceremonies", e);
        Ok(Some(Ceremony {
            digest: Digest::from_slice(&r.digest).ok_or_else(|| bad(&"digest length"))?,
            purpose: CeremonyPurpose::parse(&r.purpose).ok_or_else(|| bad(&r.purpose))?,
            user_id: r.user_id.as_deref().map(user_of).transpose()?,
            state: r.state,
            expires_at: r.expires_at.and_utc(),
        }))
    }
}
