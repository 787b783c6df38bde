//! The admin API's view of accounts in memory. An account's version is a
//! digest of everything it holds, so any change however made is a new
//! version (the databases keep a counter that a trigger raises); the time
//! of the last change is known for the admin API's own writes.
use std::hash::{DefaultHasher, Hash, Hasher};

use auth_core::types::{AccountChange, User, UserId, UserListing, UserRecord, Version, Written};
use chrono::{DateTime, Utc};

use crate::tables::Tables;

/// A client with its version: a digest of its registration, as an
/// account's.
pub(crate) fn client_record(client: &auth_core::types::Client) -> auth_core::types::ClientRecord {
    let mut hasher = DefaultHasher::new();
    format!("{client:?}").hash(&mut hasher);
    auth_core::types::ClientRecord {
        client: client.clone(),
        version: Version::new(hasher.finish()),
    }
}

/// The version of `user` as it is now.
fn version_of(user: &User) -> Version {
    let mut hasher = DefaultHasher::new();
    format!("{user:?}").hash(&mut hasher);
    Version::new(hasher.finish())
}

impl Tables {
    pub(crate) fn record(&self, id: UserId) -> Option<UserRecord> {
        let user = self.users.get(&id)?;
        Some(UserRecord {
            user: user.clone(),
            version: version_of(user),
            updated_at: self.updated.get(&id).copied(),
        })
    }

    pub(crate) fn page(&self, listing: &UserListing) -> Vec<UserRecord> {
        let mut users: Vec<&User> = self
            .users
            .values()
            .filter(|u| {
                listing
                    .after
                    .is_none_or(|after| (u.created_at, u.id) > after)
            })
            .filter(|u| {
                listing.search.as_deref().is_none_or(|prefix| {
                    self.login_names_of(u.id)
                        .iter()
                        .any(|name| name.starts_with(prefix))
                })
            })
            .collect();
        users.sort_by_key(|u| (u.created_at, u.id));
        users
            .into_iter()
            .take(listing.limit as usize)
            .filter_map(|u| self.record(u.id))
            .collect()
    }

    pub(crate) fn change(
        &mut self,
        id: UserId,
        expected: Version,
        change: &AccountChange,
        now: DateTime<Utc>,
    ) -> Written<UserRecord> {
        let Some(user) = self.users.get_mut(&id) else {
            return Written::Missing;
        };
        if version_of(user) != expected {
            return Written::Stale;
        }
        if let Some(name) = &change.given_name {
            user.given_name.clone_from(name);
        }
        if let Some(name) = &change.family_name {
            user.family_name.clone_from(name);
        }
        if let Some(verified) = change.email_verified {
            user.email_verified = verified;
        }
        if let Some(disabled) = change.disabled {
            user.disabled = disabled;
            if disabled {
                self.sign_out_everywhere(id, now);
            }
        }
        self.updated.insert(id, now);
        self.record(id).map_or(Written::Missing, Written::Done)
    }

    pub(crate) fn version_holds(&self, id: UserId, expected: Version) -> Written<()> {
        match self.users.get(&id) {
            None => Written::Missing,
            Some(user) if version_of(user) != expected => Written::Stale,
            Some(_) => Written::Done(()),
        }
    }
}
