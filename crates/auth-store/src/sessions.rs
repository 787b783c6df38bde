//! `SessionRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::SessionRepository;
use auth_core::types::{BrowserSession, ClientId, Digest, Scope, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error, store_error};
use crate::rows::corrupt;
use crate::rows::{SessionRow, naive};
use crate::schema::{consents, known_devices, sessions};
use crate::statements::TouchSession;

#[async_trait]
impl SessionRepository for Database {
    async fn create_session(&self, session: &BrowserSession) -> Result<(), StoreError> {
        let row = SessionRow::from(session);
        with_conn!(writer self, |conn| diesel::insert_into(sessions::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("session")))?;
        Ok(())
    }

    async fn find_session(&self, digest: &Digest) -> Result<Option<BrowserSession>, StoreError> {
        let key = digest.as_bytes().to_vec();
        let row: Option<SessionRow> = with_conn!(self, |conn| sessions::table
            .find(&key)
            .select(SessionRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(BrowserSession::try_from).transpose()
    }

    async fn touch_session(&self, digest: &Digest, now: DateTime<Utc>) -> Result<(), StoreError> {
        let key = digest.as_bytes().to_vec();
        let now = naive(now);
        with_conn!(writer self, |conn| TouchSession { digest: &key, now }
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }

    async fn delete_session(&self, digest: &Digest) -> Result<(), StoreError> {
        let key = digest.as_bytes().to_vec();
        with_conn!(writer self, |conn| diesel::delete(sessions::table.find(&key))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        let user = user.to_string();
        let n = with_conn!(writer self, |conn| diesel::delete(
            sessions::table.filter(sessions::user_id.eq(&user))
        )
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(n as u64)
    }

    async fn sessions_of(&self, user: UserId) -> Result<Vec<BrowserSession>, StoreError> {
        let user = user.to_string();
        let rows: Vec<SessionRow> = with_conn!(self, |conn| sessions::table
            .filter(sessions::user_id.eq(&user))
            .order(sessions::created_at.desc())
            .select(SessionRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        rows.into_iter().map(BrowserSession::try_from).collect()
    }

    async fn delete_session_of(&self, user: UserId, digest: &Digest) -> Result<bool, StoreError> {
        let (user, key) = (user.to_string(), digest.as_bytes().to_vec());
        let n = with_conn!(writer self, |conn| diesel::delete(
            sessions::table
                .filter(sessions::digest.eq(&key))
                .filter(sessions::user_id.eq(&user))
        )
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(n == 1)
    }

    async fn find_consent(
        &self,
        user: UserId,
        client: &ClientId,
    ) -> Result<Option<Scope>, StoreError> {
        let (user, client) = (user.to_string(), client.as_str().to_owned());
        let scope: Option<String> = with_conn!(self, |conn| consents::table
            .find((&user, &client))
            .select(consents::scope)
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        scope
            .map(|s| Scope::parse(&s).map_err(|e| corrupt("consents", e)))
            .transpose()
    }

    async fn remember_consent(
        &self,
        user: UserId,
        client: &ClientId,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = (
            consents::user_id.eq(user.to_string()),
            consents::client_id.eq(client.as_str().to_owned()),
            consents::scope.eq(scope.to_string()),
            consents::granted_at.eq(naive(now)),
        );
        let (scope, at) = (scope.to_string(), naive(now));
        with_conn!(writer self, |conn| diesel::insert_into(consents::table)
            .values(row)
            .on_conflict((consents::user_id, consents::client_id))
            .do_update()
            .set((consents::scope.eq(&scope), consents::granted_at.eq(at)))
            .execute(conn)
            .await
            .map_err(store_error("consent")))?;
        Ok(())
    }

    async fn remember_device(
        &self,
        digest: &Digest,
        user: UserId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = (
            known_devices::digest.eq(digest.as_bytes().to_vec()),
            known_devices::user_id.eq(user.to_string()),
            known_devices::created_at.eq(naive(now)),
            known_devices::expires_at.eq(naive(expires_at)),
        );
        // Every device cookie is a new random value: a plain insert (which
        // Diesel keeps prepared; an upsert it would parse on every login).
        with_conn!(writer self, |conn| diesel::insert_into(known_devices::table)
            .values(row)
            .execute(conn)
            .await
            .map_err(store_error("known device")))?;
        Ok(())
    }

    async fn is_known_device(
        &self,
        digest: &Digest,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (key, user, now) = (digest.as_bytes().to_vec(), user.to_string(), naive(now));
        let found: i64 = with_conn!(self, |conn| known_devices::table
            .filter(known_devices::digest.eq(&key))
            .filter(known_devices::user_id.eq(&user))
            .filter(known_devices::expires_at.gt(now))
            .count()
            .get_result(conn)
            .await
            .map_err(query_error))?;
        Ok(found > 0)
    }

    async fn forget_consent(&self, user: UserId, client: &ClientId) -> Result<(), StoreError> {
        let (user, client) = (user.to_string(), client.as_str().to_owned());
        with_conn!(writer self, |conn| diesel::delete(consents::table.find((&user, &client)))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }
}
