//! Groups and memberships in memory: a name unique as the databases' index
//! makes it, memberships gone with their group or account.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::GroupRepository;
use auth_core::types::{Group, GroupId, GroupName, UserId};
use chrono::{DateTime, Utc};

use crate::MemoryStore;

#[async_trait]
impl GroupRepository for MemoryStore {
    async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.groups
            .iter()
            .any(|g| g.name == group.name || g.id == group.id)
        {
            return Err(StoreError::Conflict("group"));
        }
        t.groups.push(group.clone());
        Ok(())
    }

    async fn find_group(&self, name: &GroupName) -> Result<Option<Group>, StoreError> {
        Ok(self
            .tables()
            .groups
            .iter()
            .find(|g| &g.name == name)
            .cloned())
    }

    async fn groups_by_id(&self, ids: &[GroupId]) -> Result<Vec<Group>, StoreError> {
        let t = self.tables();
        Ok(t.groups
            .iter()
            .filter(|g| ids.contains(&g.id))
            .cloned()
            .collect())
    }

    async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
        let mut all = self.tables().groups.clone();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn update_group(&self, group: &Group, seen: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.groups
            .iter()
            .any(|g| g.name == group.name && g.id != group.id)
        {
            return Err(StoreError::Conflict("group"));
        }
        let Some(stored) = t
            .groups
            .iter_mut()
            .find(|g| g.id == group.id && g.updated_at == seen)
        else {
            return Ok(false);
        };
        stored.name = group.name.clone();
        stored.description = group.description.clone();
        stored.updated_at = group.updated_at;
        Ok(true)
    }

    async fn delete_group(
        &self,
        id: GroupId,
        seen: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let before = t.groups.len();
        t.groups
            .retain(|g| g.id != id || seen.is_some_and(|seen| g.updated_at != seen));
        if t.groups.len() == before {
            return Ok(false);
        }
        t.members.retain(|(group, _, _)| *group != id);
        Ok(true)
    }

    async fn add_member(
        &self,
        group: GroupId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        // The databases' foreign keys refuse a member of nothing.
        if !t.groups.iter().any(|g| g.id == group) || !t.users.contains_key(&user) {
            return Err(StoreError::Conflict("group member"));
        }
        if t.members.iter().any(|(g, u, _)| *g == group && *u == user) {
            return Ok(false);
        }
        t.members.push((group, user, now));
        Ok(true)
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let before = t.members.len();
        t.members.retain(|(g, u, _)| !(*g == group && *u == user));
        Ok(t.members.len() < before)
    }

    async fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, StoreError> {
        Ok(self
            .tables()
            .members
            .iter()
            .filter(|(g, _, _)| *g == group)
            .map(|(_, u, _)| *u)
            .collect())
    }

    async fn groups_of(&self, user: UserId) -> Result<Vec<Group>, StoreError> {
        let t = self.tables();
        let mut mine: Vec<Group> = t
            .groups
            .iter()
            .filter(|g| t.members.iter().any(|(id, u, _)| *id == g.id && *u == user))
            .cloned()
            .collect();
        mine.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(mine)
    }

    async fn in_any_group(&self, user: UserId, groups: &[GroupId]) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .members
            .iter()
            .any(|(g, u, _)| *u == user && groups.contains(g)))
    }
}
