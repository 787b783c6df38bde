//! Authorization codes, browser sessions and device authorizations.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{
    AuthorizationCodeRepository, DeviceAuthorizationRepository, SessionRepository,
};
use auth_core::types::{
    AccessTokenRecord, AuthorizationCode, BrowserSession, DeviceAuthorization, DeviceStatus,
    Digest, IssuedFromCode, RefreshTokenRecord, UserId,
};
use chrono::{DateTime, Utc};

use crate::MemoryStore;

#[async_trait]
impl AuthorizationCodeRepository for MemoryStore {
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.codes.contains_key(&code.digest) {
            return Err(StoreError::Conflict("authorization code"));
        }
        t.codes.insert(code.digest, code.clone());
        Ok(())
    }

    async fn find_code(&self, digest: &Digest) -> Result<Option<AuthorizationCode>, StoreError> {
        Ok(self.tables().codes.get(digest).cloned())
    }

    async fn consume_code<'a>(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
        issued: &IssuedFromCode,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let unused = t.codes.get(digest).is_some_and(|c| c.consumed_at.is_none());
        if !unused {
            return Ok(false);
        }
        t.insert_grant(refresh, access)?;
        if let Some(code) = t.codes.get_mut(digest) {
            code.consumed_at = Some(now);
            code.issued = Some(*issued);
        }
        Ok(true)
    }
}

#[async_trait]
impl SessionRepository for MemoryStore {
    async fn create_session(&self, session: &BrowserSession) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.sessions.contains_key(&session.digest) {
            return Err(StoreError::Conflict("session"));
        }
        t.sessions.insert(session.digest, session.clone());
        Ok(())
    }

    async fn find_session(&self, digest: &Digest) -> Result<Option<BrowserSession>, StoreError> {
        Ok(self.tables().sessions.get(digest).cloned())
    }

    async fn touch_session(&self, digest: &Digest, now: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(s) = self.tables().sessions.get_mut(digest) {
            s.last_seen_at = now;
        }
        Ok(())
    }

    async fn delete_session(&self, digest: &Digest) -> Result<(), StoreError> {
        self.tables().sessions.remove(digest);
        Ok(())
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let before = t.sessions.len();
        t.sessions.retain(|_, s| s.user_id != user);
        Ok((before - t.sessions.len()) as u64)
    }

    async fn sessions_of(&self, user: UserId) -> Result<Vec<BrowserSession>, StoreError> {
        let t = self.tables();
        let mut found: Vec<BrowserSession> = t
            .sessions
            .values()
            .filter(|s| s.user_id == user)
            .cloned()
            .collect();
        found.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(found)
    }

    async fn delete_session_of(&self, user: UserId, digest: &Digest) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.sessions.get(digest).is_some_and(|s| s.user_id == user) {
            t.sessions.remove(digest);
            return Ok(true);
        }
        Ok(false)
    }

    async fn find_consent(
        &self,
        user: UserId,
        client: &auth_core::types::ClientId,
    ) -> Result<Option<auth_core::types::Scope>, StoreError> {
        Ok(self.tables().consents.get(&(user, client.clone())).cloned())
    }

    async fn remember_consent(
        &self,
        user: UserId,
        client: &auth_core::types::ClientId,
        scope: &auth_core::types::Scope,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        // The databases' foreign keys: both must exist.
        if !t.users.contains_key(&user) || !t.clients.iter().any(|c| &c.id == client) {
            return Err(StoreError::Conflict("consent"));
        }
        t.consents.insert((user, client.clone()), scope.clone());
        Ok(())
    }

    async fn remember_device(
        &self,
        digest: &Digest,
        user: UserId,
        _now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        if !t.users.contains_key(&user) {
            return Err(StoreError::Conflict("known device"));
        }
        t.devices_known.insert((*digest, user), expires_at);
        Ok(())
    }

    async fn is_known_device(
        &self,
        digest: &Digest,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .devices_known
            .get(&(*digest, user))
            .is_some_and(|expires| *expires > now))
    }

    async fn forget_consent(
        &self,
        user: UserId,
        client: &auth_core::types::ClientId,
    ) -> Result<(), StoreError> {
        self.tables().consents.remove(&(user, client.clone()));
        Ok(())
    }
}

#[async_trait]
impl DeviceAuthorizationRepository for MemoryStore {
    async fn insert_device(&self, d: &DeviceAuthorization) -> Result<(), StoreError> {
        let mut t = self.tables();
        let taken = t.devices.contains_key(&d.device_digest)
            || t.devices
                .values()
                .any(|other| other.user_code_digest == d.user_code_digest);
        if taken {
            return Err(StoreError::Conflict("device authorization"));
        }
        t.devices.insert(d.device_digest, d.clone());
        Ok(())
    }

    async fn find_device(
        &self,
        device_digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        Ok(self.tables().devices.get(device_digest).cloned())
    }

    async fn find_by_user_code(
        &self,
        user_code_digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let t = self.tables();
        let found = t
            .devices
            .values()
            .find(|d| &d.user_code_digest == user_code_digest);
        Ok(found.cloned())
    }

    async fn decide_device(
        &self,
        user_code_digest: &Digest,
        decision: DeviceStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let pending = t.devices.values_mut().find(|d| {
            &d.user_code_digest == user_code_digest
                && d.status == DeviceStatus::Pending
                && d.expires_at > now
        });
        Ok(pending.map(|d| d.status = decision).is_some())
    }

    async fn record_poll(
        &self,
        device_digest: &Digest,
        now: DateTime<Utc>,
        interval: chrono::Duration,
    ) -> Result<(), StoreError> {
        if let Some(d) = self.tables().devices.get_mut(device_digest) {
            d.last_polled_at = Some(now);
            d.interval = interval;
        }
        Ok(())
    }

    async fn redeem_device<'a>(
        &self,
        device_digest: &Digest,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let approved = t
            .devices
            .get(device_digest)
            .is_some_and(|d| matches!(d.status, DeviceStatus::Approved(_)));
        if !approved {
            return Ok(false);
        }
        t.insert_grant(refresh, access)?;
        if let Some(d) = t.devices.get_mut(device_digest) {
            d.status = DeviceStatus::Redeemed;
        }
        Ok(true)
    }
}
