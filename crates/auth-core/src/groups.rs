//! Groups: the operator's operations on them (one rule for every door: the
//! CLI now, the admin API later), and the rule a client's allowed groups
//! make: a person in none of them gets no code, no token and no refresh
//! from it, and leaving the last such group ends the refresh tokens held
//! at it.
use chrono::{DateTime, Utc};

use crate::error::{FlowError, StoreError};
use crate::events::{GroupChange, SecurityEvent};
use crate::service::{Accounts, Core};
use crate::types::{Client, Group, GroupDescription, GroupId, GroupName, User, UserId, ValueError};

/// Why a group operation was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// A name or description breaks its rules.
    #[error(transparent)]
    Invalid(#[from] ValueError),
    /// Another group has that name.
    #[error("a group named {0} exists already")]
    Taken(GroupName),
    /// No group has that name.
    #[error("no group is named {0}")]
    NotFound(String),
    /// The group changed since the version the caller named: nothing was
    /// written.
    #[error("the group changed since it was read; read it again")]
    Stale,
    /// No account has that name or id.
    #[error("no account is named {0:?}")]
    NoSuchUser(String),
    /// Clients let in only this group's members (among others): deleting
    /// it would change who may use them. Named by id.
    #[error("clients admit members of this group: {}; change them first (client update --allowed-group)", .0.join(", "))]
    InUse(Vec<String>),
    /// A store failure; nothing was changed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<StoreError> for GroupError {
    fn from(e: StoreError) -> Self {
        Self::Flow(e.into())
    }
}

/// What [`Accounts::update_group`] changes: each field left `None` stays.
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupUpdate<'a> {
    /// A new name.
    pub name: Option<&'a str>,
    /// A new description.
    pub description: Option<&'a str>,
    /// The version the caller read (its `updated_at`), for a write
    /// conditional on it.
    pub seen: Option<DateTime<Utc>>,
}

/// A group and who is in it.
#[derive(Debug, Clone)]
pub struct GroupMembers {
    /// The group.
    pub group: Group,
    /// Its members, oldest membership first.
    pub members: Vec<User>,
}

impl Accounts {
    /// Creates a group.
    pub async fn create_group(
        &self,
        name: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<(Group, SecurityEvent), GroupError> {
        // Microseconds: what every backend keeps, so the version read back
        // is the version written.
        let now = chrono::SubsecRound::trunc_subsecs(now, 6);
        let group = Group {
            id: GroupId::new(uuid::Uuid::new_v4()),
            name: GroupName::parse(name)?,
            description: GroupDescription::parse(description)?,
            created_at: now,
            updated_at: now,
        };
        match self.ports.groups.create_group(&group).await {
            Err(StoreError::Conflict(_)) => return Err(GroupError::Taken(group.name)),
            other => other?,
        }
        let event = changed(&group, GroupChange::Created);
        Ok((group, event))
    }

    /// The group named `name` (in any form that normalises to it), or
    /// with the id `name` (the admin API's URLs name groups by id).
    pub async fn find_group(&self, name: &str) -> Result<Group, GroupError> {
        let missing = || GroupError::NotFound(name.to_owned());
        if let Some(id) = GroupId::parse(name)
            && let Some(group) = self.ports.groups.groups_by_id(&[id]).await?.pop()
        {
            return Ok(group);
        }
        let parsed = GroupName::parse(name).map_err(|_| missing())?;
        self.ports
            .groups
            .find_group(&parsed)
            .await?
            .ok_or_else(missing)
    }

    /// Every group, by name.
    pub async fn list_groups(&self) -> Result<Vec<Group>, GroupError> {
        Ok(self.ports.groups.list_groups().await?)
    }

    /// A group and its members.
    pub async fn group_members(&self, name: &str) -> Result<GroupMembers, GroupError> {
        let group = self.find_group(name).await?;
        let mut members = Vec::new();
        for id in self.ports.groups.members_of(group.id).await? {
            if let Some(user) = self.ports.users.find_by_id(id).await? {
                members.push(user);
            }
        }
        Ok(GroupMembers { group, members })
    }

    /// Renames a group and/or changes its description. Its id, and so its
    /// members and the clients that admit it, stay. With `seen` (the
    /// `updated_at` of the version the caller read), a group changed since
    /// is [`GroupError::Stale`], and so is one changed between this read and
    /// this write (the write is conditional on it).
    pub async fn update_group(
        &self,
        name: &str,
        change: GroupUpdate<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Group, SecurityEvent), GroupError> {
        let mut group = self.find_group(name).await?;
        let read = group.updated_at;
        if change.seen.is_some_and(|seen| seen != read) {
            return Err(GroupError::Stale);
        }
        if let Some(new_name) = change.name {
            group.name = GroupName::parse(new_name)?;
        }
        if let Some(description) = change.description {
            group.description = GroupDescription::parse(description)?;
        }
        // The version: strictly later than the last, whatever the clock says.
        group.updated_at = chrono::SubsecRound::trunc_subsecs(now, 6)
            .max(read + chrono::Duration::microseconds(1));
        match self.ports.groups.update_group(&group, read).await {
            Err(StoreError::Conflict(_)) => return Err(GroupError::Taken(group.name)),
            Ok(false) => return Err(self.gone_or_stale(group.id, name).await),
            other => other?,
        };
        let event = changed(&group, GroupChange::Updated);
        Ok((group, event))
    }

    /// Deletes a group and its memberships; refused while a client admits
    /// its members (removing it from the client's list could open the
    /// client to everyone, or shut out everyone). With `seen`, as
    /// [`Self::update_group`].
    pub async fn delete_group(
        &self,
        name: &str,
        seen: Option<DateTime<Utc>>,
    ) -> Result<SecurityEvent, GroupError> {
        let group = self.find_group(name).await?;
        if seen.is_some_and(|seen| seen != group.updated_at) {
            return Err(GroupError::Stale);
        }
        let users: Vec<String> = self
            .ports
            .clients
            .list()
            .await?
            .into_iter()
            .filter(|c| c.allowed_groups.contains(&group.id))
            .map(|c| c.id.as_str().to_owned())
            .collect();
        if !users.is_empty() {
            return Err(GroupError::InUse(users));
        }
        if !self.ports.groups.delete_group(group.id, seen).await? {
            return Err(self.gone_or_stale(group.id, name).await);
        }
        Ok(changed(&group, GroupChange::Deleted))
    }

    /// Why a conditional write to the group `id` changed nothing.
    async fn gone_or_stale(&self, id: GroupId, name: &str) -> GroupError {
        match self.ports.groups.groups_by_id(&[id]).await {
            Ok(found) if found.is_empty() => GroupError::NotFound(name.to_owned()),
            Ok(_) => GroupError::Stale,
            Err(e) => e.into(),
        }
    }

    /// Makes the account `who` (a username, an email or an id) a member of
    /// the group `name`; `false` in the event when it was one already.
    pub async fn add_to_group(
        &self,
        name: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<SecurityEvent, GroupError> {
        let group = self.find_group(name).await?;
        let user = self.account(who).await?;
        self.ports.groups.add_member(group.id, user.id, now).await?;
        Ok(SecurityEvent::GroupMembershipChanged {
            group: group.id,
            user: user.id,
            added: true,
            revoked: 0,
        })
    }

    /// Ends the membership of `who` in the group `name`, and with it the
    /// refresh tokens `who` holds at clients it no longer admits to.
    pub async fn remove_from_group(
        &self,
        name: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<SecurityEvent, GroupError> {
        let group = self.find_group(name).await?;
        let user = self.account(who).await?;
        self.ports.groups.remove_member(group.id, user.id).await?;
        let revoked = self.revoke_where_not_admitted(user.id, now).await?;
        Ok(SecurityEvent::GroupMembershipChanged {
            group: group.id,
            user: user.id,
            added: false,
            revoked,
        })
    }

    /// The ids of the groups `names`, for a client's allowed groups.
    pub async fn group_ids(&self, names: &[String]) -> Result<Vec<GroupId>, GroupError> {
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            let id = self.find_group(name).await?.id;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The names of a client's allowed groups, by name (a group deleted
    /// behind its back is left out).
    pub async fn allowed_group_names(&self, client: &Client) -> Result<Vec<GroupName>, GroupError> {
        let mut names: Vec<GroupName> = self
            .ports
            .groups
            .groups_by_id(&client.allowed_groups)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        names.sort();
        Ok(names)
    }

    async fn account(&self, who: &str) -> Result<User, GroupError> {
        crate::accounts::find_user(self, who)
            .await?
            .ok_or_else(|| GroupError::NoSuchUser(who.to_owned()))
    }

    /// Revokes the grants `user` holds at clients that no longer admit
    /// them: how many refresh tokens that ended.
    async fn revoke_where_not_admitted(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<u64, FlowError> {
        let mut revoked = 0;
        for token in self.ports.tokens.live_refresh_of(user, now).await? {
            let Some(client) = self.ports.clients.find(&token.client_id).await? else {
                continue;
            };
            if !self.admits(&client, user).await? {
                revoked += self.revoke_grant(token.family, &client, now).await?;
            }
        }
        Ok(revoked)
    }
}

/// The scope that releases the `groups` claim.
pub const GROUPS_SCOPE: &str = "groups";

impl Core {
    /// The `groups` claim of `user` where `scope` releases it: the names
    /// of the account's groups, sorted; `None` without the scope.
    pub async fn groups_claim(
        &self,
        user: UserId,
        scope: &crate::types::Scope,
    ) -> Result<Option<Vec<String>>, FlowError> {
        if !scope.contains(GROUPS_SCOPE) {
            return Ok(None);
        }
        let mut names: Vec<String> = self
            .ports
            .groups
            .groups_of(user)
            .await?
            .into_iter()
            .map(|g| g.name.as_str().to_owned())
            .collect();
        names.sort();
        Ok(Some(names))
    }

    /// Whether `client` lets `user` in as far as groups go: always, unless
    /// it names allowed groups and `user` is in none of them.
    pub(crate) async fn admits(&self, client: &Client, user: UserId) -> Result<bool, FlowError> {
        if client.allowed_groups.is_empty() {
            return Ok(true);
        }
        Ok(self
            .ports
            .groups
            .in_any_group(user, &client.allowed_groups)
            .await?)
    }
}

fn changed(group: &Group, change: GroupChange) -> SecurityEvent {
    SecurityEvent::GroupChanged {
        group: group.id,
        change,
    }
}

const NOT_ADMITTED: &str =
    "this application admits only members of certain groups, and the account is in none of them";

/// The refusal of a person the client's allowed groups leave out, at
/// `/authorize` and the device poll.
pub(crate) fn not_admitted() -> crate::OAuthError {
    crate::OAuthError::new(crate::ErrorCode::AccessDenied, NOT_ADMITTED)
}

/// The same refusal at the grants that name the account (password,
/// refresh): `invalid_grant`.
pub(crate) fn not_admitted_to_grant() -> crate::OAuthError {
    crate::OAuthError::invalid_grant(NOT_ADMITTED)
}
