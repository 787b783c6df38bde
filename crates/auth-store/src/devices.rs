//! `DeviceAuthorizationRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::DeviceAuthorizationRepository;
use auth_core::types::{
    AccessTokenRecord, ClientId, DeviceAuthorization, DeviceStatus, Digest, RefreshTokenRecord,
    Scope, UserId,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::database::{Database, query_error, store_error};
use crate::rows::{AccessRow, RefreshRow, naive};
use crate::schema::device_authorizations as dev;

const PENDING: &str = "pending";
const APPROVED: &str = "approved";
const DENIED: &str = "denied";
const REDEEMED: &str = "redeemed";

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = dev)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct DeviceRow {
    device_digest: Vec<u8>,
    user_code_digest: Vec<u8>,
    client_id: String,
    scope: String,
    issued_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    poll_interval: i64,
    last_polled_at: Option<NaiveDateTime>,
    status: String,
    user_id: Option<String>,
}

fn status_columns(s: DeviceStatus) -> (&'static str, Option<String>) {
    match s {
        DeviceStatus::Pending => (PENDING, None),
        DeviceStatus::Approved(u) => (APPROVED, Some(u.to_string())),
        DeviceStatus::Denied => (DENIED, None),
        DeviceStatus::Redeemed => (REDEEMED, None),
    }
}

impl From<&DeviceAuthorization> for DeviceRow {
    fn from(d: &DeviceAuthorization) -> Self {
        let (status, user_id) = status_columns(d.status);
        Self {
            device_digest: d.device_digest.as_bytes().to_vec(),
            user_code_digest: d.user_code_digest.as_bytes().to_vec(),
            client_id: d.client_id.as_str().to_owned(),
            scope: d.scope.to_string(),
            issued_at: naive(d.issued_at),
            expires_at: naive(d.expires_at),
            poll_interval: d.interval.num_seconds(),
            last_polled_at: d.last_polled_at.map(naive),
            status: status.to_owned(),
            user_id,
        }
    }
}

fn corrupt(detail: impl std::fmt::Display) -> StoreError {
    StoreError::backend(std::io::Error::other(format!(
        "corrupt device_authorizations row: {detail}"
    )))
}

impl TryFrom<DeviceRow> for DeviceAuthorization {
    type Error = StoreError;

    fn try_from(r: DeviceRow) -> Result<Self, StoreError> {
        let digest = |b: &[u8]| Digest::from_slice(b).ok_or_else(|| corrupt("digest length"));
        let status = match (r.status.as_str(), r.user_id.as_deref()) {
            (PENDING, _) => DeviceStatus::Pending,
            (APPROVED, Some(u)) => {
                DeviceStatus::Approved(UserId::new(Uuid::parse_str(u).map_err(corrupt)?))
            }
            (DENIED, _) => DeviceStatus::Denied,
            (REDEEMED, _) => DeviceStatus::Redeemed,
            (other, _) => return Err(corrupt(other)),
        };
        Ok(DeviceAuthorization {
            device_digest: digest(&r.device_digest)?,
            user_code_digest: digest(&r.user_code_digest)?,
            client_id: ClientId::parse(&r.client_id).map_err(corrupt)?,
            scope: Scope::parse(&r.scope).map_err(corrupt)?,
            issued_at: r.issued_at.and_utc(),
            expires_at: r.expires_at.and_utc(),
            interval: chrono::Duration::seconds(r.poll_interval),
            last_polled_at: r.last_polled_at.map(|t| t.and_utc()),
            status,
        })
    }
}

/// The conditional UPDATE that redeems an approved device authorization.
macro_rules! redeem {
    ($key:expr) => {
        diesel::update(
            dev::table
                .filter(dev::device_digest.eq(&$key))
                .filter(dev::status.eq(APPROVED)),
        )
        .set(dev::status.eq(REDEEMED))
    };
}

#[async_trait]
impl DeviceAuthorizationRepository for Database {
    async fn insert_device(&self, d: &DeviceAuthorization) -> Result<(), StoreError> {
        let row = DeviceRow::from(d);
        with_conn!(writer self, |conn| diesel::insert_into(dev::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("device authorization")))?;
        Ok(())
    }

    async fn find_device(
        &self,
        device_digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let key = device_digest.as_bytes().to_vec();
        let row: Option<DeviceRow> = with_conn!(self, |conn| dev::table
            .find(&key)
            .select(DeviceRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(DeviceAuthorization::try_from).transpose()
    }

    async fn find_by_user_code(
        &self,
        user_code_digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let key = user_code_digest.as_bytes().to_vec();
        let row: Option<DeviceRow> = with_conn!(self, |conn| dev::table
            .filter(dev::user_code_digest.eq(&key))
            .select(DeviceRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(DeviceAuthorization::try_from).transpose()
    }

    async fn decide_device(
        &self,
        user_code_digest: &Digest,
        decision: DeviceStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = user_code_digest.as_bytes().to_vec();
        let (status, user_id) = status_columns(decision);
        let now = naive(now);
        let n = with_conn!(writer self, |conn| diesel::update(
            dev::table
                .filter(dev::user_code_digest.eq(&key))
                .filter(dev::status.eq(PENDING))
                .filter(dev::expires_at.gt(now))
        )
        .set((dev::status.eq(status), dev::user_id.eq(&user_id)))
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(n == 1)
    }

    async fn record_poll(
        &self,
        device_digest: &Digest,
        now: DateTime<Utc>,
        interval: chrono::Duration,
    ) -> Result<(), StoreError> {
        let key = device_digest.as_bytes().to_vec();
        // Stored in whole seconds, as RFC 8628 counts the interval.
        let interval = interval.num_seconds();
        let now = naive(now);
        with_conn!(writer self, |conn| diesel::update(dev::table.find(&key))
            .set((dev::last_polled_at.eq(Some(now)), dev::poll_interval.eq(interval)))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }

    async fn redeem_device<'a>(
        &self,
        device_digest: &Digest,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
    ) -> Result<bool, StoreError> {
        let key = device_digest.as_bytes().to_vec();
        // The conditional UPDATE decides the one poll that wins; its tokens
        // are stored in the same step.
        decide_then_store!(
            self,
            "device authorization",
            redeem!(key),
            refresh.map(RefreshRow::from),
            access.map(AccessRow::from)
        )
    }
}
