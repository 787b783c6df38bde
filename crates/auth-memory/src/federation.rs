//! Upstream identities linked to accounts, and the sign-ins under way.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{FederationRepository, PollSchedule, Unlinked, UpstreamFlow};
use auth_core::types::{FederatedLink, NewUser, ProviderName, UpstreamSubject, User, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::MemoryStore;
use crate::tables::Tables;

impl Tables {
    fn is_linked(&self, link: &FederatedLink) -> bool {
        self.links
            .iter()
            .any(|l| l.provider == link.provider && l.subject == link.subject)
    }

    /// An open flow: known and unexpired at `now`.
    fn open_flow(&self, id: Uuid, now: DateTime<Utc>) -> Option<&UpstreamFlow> {
        self.flows.get(&id).filter(|f| f.expires_at > now)
    }
}

#[async_trait]
impl FederationRepository for MemoryStore {
    async fn find_linked_user(
        &self,
        provider: &ProviderName,
        subject: &UpstreamSubject,
    ) -> Result<Option<User>, StoreError> {
        let t = self.tables();
        let linked = t
            .links
            .iter()
            .find(|l| &l.provider == provider && &l.subject == subject);
        Ok(linked.and_then(|l| t.users.get(&l.user_id)).cloned())
    }

    async fn create_linked_user(
        &self,
        user: &NewUser,
        link: &FederatedLink,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.is_linked(link) {
            return Err(StoreError::Conflict("federated identity"));
        }
        t.insert_user(user)?;
        t.links.push(link.clone());
        Ok(())
    }

    async fn link(&self, link: &FederatedLink) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.is_linked(link) {
            return Err(StoreError::Conflict("federated identity"));
        }
        if !t.users.contains_key(&link.user_id) {
            return Err(StoreError::Conflict("user"));
        }
        t.links.push(link.clone());
        Ok(())
    }

    async fn links_of(&self, user: UserId) -> Result<Vec<FederatedLink>, StoreError> {
        let t = self.tables();
        Ok(t.links
            .iter()
            .filter(|l| l.user_id == user)
            .cloned()
            .collect())
    }

    async fn unlink(&self, user: UserId, provider: &ProviderName) -> Result<Unlinked, StoreError> {
        let mut t = self.tables();
        let has_password = t.users.get(&user).map(|u| u.password_hash.is_some());
        let mine = |l: &FederatedLink| l.user_id == user;
        let count = |same: bool| {
            t.links
                .iter()
                .filter(|l| mine(l) && (&l.provider == provider) == same)
                .count() as u64
        };
        let decision = Unlinked::decide(has_password, count(true), count(false));
        if decision == Unlinked::Removed {
            t.links.retain(|l| !(mine(l) && &l.provider == provider));
        }
        Ok(decision)
    }

    async fn insert_flow(&self, flow: &UpstreamFlow) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.flows.contains_key(&flow.id) {
            return Err(StoreError::Conflict("upstream flow"));
        }
        t.flows.insert(flow.id, flow.clone());
        Ok(())
    }

    async fn finish_flow(
        &self,
        id: Uuid,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let open = t
            .flows
            .get_mut(&id)
            .filter(|f| f.expires_at > now && f.user_id.is_none());
        Ok(open.map(|f| f.user_id = Some(user)).is_some())
    }

    async fn take_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let mut t = self.tables();
        if t.open_flow(id, now).is_none() {
            return Ok(None);
        }
        Ok(t.flows.remove(&id))
    }

    async fn take_finished_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let mut t = self.tables();
        let finished = t.open_flow(id, now).is_some_and(|f| f.user_id.is_some());
        if !finished {
            return Ok(None);
        }
        Ok(t.flows.remove(&id))
    }

    async fn schedule_poll(&self, id: Uuid, schedule: PollSchedule) -> Result<(), StoreError> {
        if let Some(f) = self.tables().flows.get_mut(&id) {
            f.polling = Some(schedule);
        }
        Ok(())
    }

    async fn find_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        Ok(self.tables().open_flow(id, now).cloned())
    }
}
