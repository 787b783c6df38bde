//! Refresh and access tokens and the revocation list.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{RefreshOwner, RotateOutcome, Superseded, TokenRepository};
use auth_core::types::{AccessTokenRecord, Digest, FamilyId, RefreshTokenRecord, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::MemoryStore;

#[async_trait]
impl TokenRepository for MemoryStore {
    async fn insert_refresh(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        self.tables().insert_grant(Some(token), None)
    }

    async fn find_refresh(
        &self,
        digest: &Digest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(self.tables().refresh.get(digest).cloned())
    }

    async fn find_refresh_with_owner(
        &self,
        digest: &Digest,
    ) -> Result<Option<(RefreshTokenRecord, RefreshOwner)>, StoreError> {
        let t = self.tables();
        Ok(t.refresh.get(digest).map(|r| {
            let owner = match r.user_id {
                None => RefreshOwner::Client,
                Some(id) => match t.users.get(&id) {
                    Some(u) if !u.disabled => RefreshOwner::User(u.token_generation),
                    _ => RefreshOwner::Unusable,
                },
            };
            (r.clone(), owner)
        }))
    }

    async fn rotate_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        let mut t = self.tables();
        let active = t.refresh.get(old).is_some_and(|r| {
            r.rotated_at.is_none() && r.revoked_at.is_none() && r.expires_at > now
        });
        if !active {
            return Ok(RotateOutcome::NotActive);
        }
        t.insert_grant(Some(new), access)?;
        if let Some(r) = t.refresh.get_mut(old) {
            r.rotated_at = Some(now);
        }
        t.successors.insert(*old, new.digest);
        Ok(RotateOutcome::Rotated)
    }

    async fn insert_grant<'a>(
        &self,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
        cleared: Option<&'a auth_core::throttle::ThrottleKey>,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        t.insert_grant(refresh, access)?;
        if let Some(key) = cleared {
            t.throttles.remove(key);
        }
        Ok(())
    }

    async fn supersede_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Superseded, StoreError> {
        let mut t = self.tables();
        let Some(successor) = t.successors.get(old).copied() else {
            return Ok(Superseded::NotActive);
        };
        let unseen = t
            .refresh
            .get(&successor)
            .is_some_and(|r| r.rotated_at.is_none() && r.revoked_at.is_none());
        if !unseen {
            return Ok(Superseded::NotActive);
        }
        t.insert_grant(Some(new), access)?;
        let mut revoked_access = None;
        if let Some(r) = t.refresh.get_mut(&successor) {
            r.revoked_at = Some(now);
            r.superseded_at = Some(now);
            revoked_access = r.issued_with;
        }
        if let Some(issued) = revoked_access {
            t.revoke_access(issued.token_id, issued.expires_at);
        }
        t.successors.insert(*old, new.digest);
        Ok(Superseded::Replaced {
            revoked_access: revoked_access.map(|a| a.token_id),
        })
    }

    async fn revoke_family(
        &self,
        family: FamilyId,
        now: DateTime<Utc>,
        listed_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let mut revoked = 0;
        for r in t.refresh.values_mut() {
            if r.family == family && r.revoked_at.is_none() {
                r.revoked_at = Some(now);
                revoked += 1;
            }
        }
        t.revoked.entry(family.as_uuid()).or_insert(listed_until);
        t.access.retain(|_, a| a.family != Some(family));
        Ok(revoked)
    }

    async fn revoke_access(
        &self,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tables().revoke_access(token_id, expires_at);
        Ok(())
    }

    async fn is_access_revoked(
        &self,
        token_id: Uuid,
        family: Option<FamilyId>,
    ) -> Result<bool, StoreError> {
        let t = self.tables();
        Ok(t.revoked.contains_key(&token_id)
            || family.is_some_and(|f| t.revoked.contains_key(&f.as_uuid())))
    }

    async fn insert_access(&self, token: &AccessTokenRecord) -> Result<(), StoreError> {
        self.tables().insert_grant(None, Some(token))
    }

    async fn find_access(&self, digest: &Digest) -> Result<Option<AccessTokenRecord>, StoreError> {
        Ok(self.tables().access.get(digest).cloned())
    }

    async fn live_refresh_of(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<RefreshTokenRecord>, StoreError> {
        let t = self.tables();
        let mut live: Vec<RefreshTokenRecord> = t
            .refresh
            .values()
            .filter(|r| {
                r.user_id == Some(user)
                    && r.rotated_at.is_none()
                    && r.revoked_at.is_none()
                    && r.expires_at > now
            })
            .cloned()
            .collect();
        live.sort_by_key(|t| std::cmp::Reverse(t.issued_at));
        Ok(live)
    }
}
