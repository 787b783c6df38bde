//! A cache of reference access tokens in front of the token repository,
//! kept exact by invalidation rather than by a time to live.
//!
//! A reference token's row never changes: it exists until the token is
//! revoked (the row is deleted) or expires (callers compare `expires_at`).
//! So a looked-up row can be answered from memory for as long as this node
//! hears of every revocation:
//!
//! - a revocation made through this node evicts the token at once;
//! - on PostgreSQL, a revocation made on any node is announced with
//!   `NOTIFY` in the same statement that deletes the row, and every node's
//!   [`CachedAccessTokens::follow_revocations`] task evicts it; while that
//!   task is not listening (starting, reconnecting), nothing is answered
//!   from memory;
//! - SQLite serves one node, so the first point is the whole story.
//!
//! A lookup that raced with a revocation must not put the revoked row back:
//! every eviction advances an epoch, and a lookup remembers its row only if
//! the epoch has not moved since it started.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{RotateOutcome, Superseded, TokenRepository};
use auth_core::types::{AccessTokenRecord, Digest, FamilyId, RefreshTokenRecord, UserId};
use chrono::{DateTime, Utc};
use diesel_async::SimpleAsyncConnection;
use uuid::Uuid;

use crate::database::{Backend, Database};

/// The PostgreSQL channel revocations are announced on.
pub(crate) const REVOCATION_CHANNEL: &str = "portcullis_revoked_access";

/// Past this many tokens the cache starts over, so memory stays bounded.
const MAX_ENTRIES: usize = 20_000;

/// How often the listener proves its connection alive, and how long it
/// waits for the proof.
const LISTENER_PING: Duration = Duration::from_secs(20);
const LISTENER_PING_TIMEOUT: Duration = Duration::from_secs(5);

pub struct CachedAccessTokens {
    inner: Arc<Database>,
    /// Whether remembered rows may be answered: on SQLite always, on
    /// PostgreSQL only while the revocation listener is listening.
    trusted: AtomicBool,
    epoch: AtomicU64,
    entries: RwLock<HashMap<Digest, AccessTokenRecord>>,
}

impl CachedAccessTokens {
    pub fn new(inner: Arc<Database>) -> Self {
        let trusted = inner.backend() == Backend::Sqlite;
        Self {
            inner,
            trusted: AtomicBool::new(trusted),
            epoch: AtomicU64::new(0),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// Whether answers from memory are in use (on PostgreSQL: whether the
    /// revocation listener is listening).
    pub fn is_listening(&self) -> bool {
        self.trusted.load(Ordering::Acquire)
    }

    fn cached(&self, digest: &Digest) -> Option<AccessTokenRecord> {
        if !self.trusted.load(Ordering::Acquire) {
            return None;
        }
        self.entries.read().ok()?.get(digest).cloned()
    }

    fn remember(&self, digest: &Digest, record: &AccessTokenRecord, epoch: u64) {
        if let Ok(mut entries) = self.entries.write() {
            // Checked under the lock every eviction takes.
            if self.epoch.load(Ordering::Acquire) != epoch || !self.trusted.load(Ordering::Acquire)
            {
                return;
            }
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(*digest, record.clone());
        }
    }

    /// Forgets the token with the id `id`, or every token of the grant
    /// (family) with that id: revocations announce either, and the two
    /// kinds of id are distinct UUIDs.
    fn evict(&self, id: Uuid) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|_, r| r.token_id != id && r.family.map(|f| f.as_uuid()) != Some(id));
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Forgets everything, and says whether answers from memory may be used
    /// from now on.
    fn reset(&self, trusted: bool) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.trusted.store(trusted, Ordering::Release);
        }
    }

    /// On PostgreSQL, listens for revocations made on any node and evicts
    /// them, reconnecting after a failure; returns at once on SQLite. Run it
    /// for the life of the process.
    pub async fn follow_revocations(&self) {
        if self.inner.backend() != Backend::Postgres {
            return;
        }
        loop {
            if let Err(e) = self.listen().await {
                tracing::warn!(error = %e, "revocation listener stopped; reference tokens are looked up until it is back");
            }
            self.reset(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// One listening session: connect, `LISTEN`, trust the cache, evict on
    /// every notification; returns when the connection fails.
    async fn listen(&self) -> Result<(), StoreError> {
        use futures_util::StreamExt as _;
        let Database::Postgres(pool) = self.inner.as_ref() else {
            return Ok(());
        };
        let object = pool.get().await.map_err(StoreError::unavailable)?;
        // The listening connection leaves the pool for good.
        let mut conn = deadpool::managed::Object::take(object);
        conn.batch_execute(&format!("LISTEN {REVOCATION_CHANNEL}"))
            .await
            .map_err(StoreError::backend)?;
        // Revocations made before LISTEN took effect went unheard: start
        // from nothing.
        self.reset(true);
        tracing::info!("listening for revocations; reference tokens are cached");
        loop {
            let next = {
                let mut notifications = std::pin::pin!(conn.notifications_stream());
                tokio::time::timeout(LISTENER_PING, notifications.next()).await
            };
            match next {
                Ok(Some(Ok(notification))) => match Uuid::parse_str(&notification.payload) {
                    Ok(token_id) => self.evict(token_id),
                    Err(_) => self.reset(true),
                },
                Ok(Some(Err(e))) => return Err(StoreError::backend(e)),
                Ok(None) => return Ok(()),
                Err(_quiet) => {
                    tokio::time::timeout(LISTENER_PING_TIMEOUT, conn.batch_execute("SELECT 1"))
                        .await
                        .map_err(StoreError::backend)?
                        .map_err(StoreError::backend)?;
                }
            }
        }
    }
}

#[async_trait]
impl TokenRepository for CachedAccessTokens {
    async fn find_access(&self, digest: &Digest) -> Result<Option<AccessTokenRecord>, StoreError> {
        if let Some(hit) = self.cached(digest) {
            return Ok(Some(hit));
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let found = self.inner.find_access(digest).await?;
        if let Some(record) = &found {
            self.remember(digest, record, epoch);
        }
        Ok(found)
    }

    async fn revoke_access(
        &self,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self.inner.revoke_access(token_id, expires_at).await;
        // Evicted even if the call failed: it may have committed.
        self.evict(token_id);
        result
    }

    async fn insert_grant<'a>(
        &self,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
        cleared: Option<&'a auth_core::throttle::ThrottleKey>,
    ) -> Result<(), StoreError> {
        self.inner.insert_grant(refresh, access, cleared).await
    }

    async fn insert_access(&self, token: &AccessTokenRecord) -> Result<(), StoreError> {
        self.inner.insert_access(token).await
    }

    async fn is_access_revoked(
        &self,
        token_id: Uuid,
        family: Option<FamilyId>,
    ) -> Result<bool, StoreError> {
        self.inner.is_access_revoked(token_id, family).await
    }

    async fn live_refresh_of(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<RefreshTokenRecord>, StoreError> {
        self.inner.live_refresh_of(user, now).await
    }

    async fn insert_refresh(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        self.inner.insert_refresh(token).await
    }

    async fn find_refresh(
        &self,
        digest: &Digest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        self.inner.find_refresh(digest).await
    }

    async fn find_refresh_with_owner(
        &self,
        digest: &Digest,
    ) -> Result<Option<(RefreshTokenRecord, auth_core::ports::RefreshOwner)>, StoreError> {
        self.inner.find_refresh_with_owner(digest).await
    }

    async fn rotate_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        self.inner.rotate_refresh(old, new, access, now).await
    }

    async fn supersede_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Superseded, StoreError> {
        let outcome = self.inner.supersede_refresh(old, new, access, now).await?;
        if let Superseded::Replaced {
            revoked_access: Some(id),
        } = outcome
        {
            self.evict(id);
        }
        Ok(outcome)
    }

    async fn revoke_family(
        &self,
        family: FamilyId,
        now: DateTime<Utc>,
        listed_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = self.inner.revoke_family(family, now, listed_until).await;
        // Evicted whatever the outcome, as for a single token.
        self.evict(family.as_uuid());
        result
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use auth_core::types::{ClientId, Scope};

    fn record(byte: u8) -> AccessTokenRecord {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        AccessTokenRecord {
            digest: Digest::from_bytes([byte; 32]),
            token_id: Uuid::from_u128(u128::from(byte)),
            client_id: ClientId::parse("app").unwrap(),
            subject: auth_core::types::Subject::Client(ClientId::parse("app").unwrap()),
            scope: Scope::parse("read").unwrap(),
            issued_at: at,
            expires_at: at + chrono::Duration::hours(1),
            family: None,
            generation: Default::default(),
        }
    }

    async fn cache() -> (tempfile::TempDir, CachedAccessTokens) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let db = Database::open(&url, 2).await.unwrap();
        (dir, CachedAccessTokens::new(Arc::new(db)))
    }

    #[tokio::test]
    async fn revocation_evicts_and_a_lookup_that_raced_it_is_not_remembered() {
        let (_dir, cache) = cache().await;
        let (one, two) = (record(1), record(2));
        cache.remember(&one.digest, &one, cache.epoch.load(Ordering::Acquire));
        cache.remember(&two.digest, &two, cache.epoch.load(Ordering::Acquire));
        assert_eq!(cache.cached(&one.digest), Some(one.clone()));

        // A lookup starts, a revocation lands, the lookup's (now stale) row
        // arrives: it must not be remembered.
        let started = cache.epoch.load(Ordering::Acquire);
        cache
            .revoke_access(one.token_id, one.expires_at)
            .await
            .unwrap();
        assert_eq!(cache.cached(&one.digest), None, "evicted");
        cache.remember(&one.digest, &one, started);
        assert_eq!(cache.cached(&one.digest), None, "not put back");
        assert_eq!(cache.cached(&two.digest), Some(two), "others stay");
    }

    #[tokio::test]
    async fn an_untrusted_cache_answers_nothing_from_memory() {
        let (_dir, cache) = cache().await;
        let one = record(1);
        cache.remember(&one.digest, &one, cache.epoch.load(Ordering::Acquire));
        cache.reset(false);
        cache.remember(&one.digest, &one, cache.epoch.load(Ordering::Acquire));
        assert_eq!(cache.cached(&one.digest), None);
        assert!(!cache.is_listening());
    }
}
