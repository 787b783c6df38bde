//! Every storage port of [`auth_core`] kept in process memory.
//!
//! [`MemoryStore`] implements the repositories (users, clients, tokens,
//! codes, sessions, device authorizations, throttle counters, signing keys,
//! federated identities), the sweeper and the readiness probe, with the
//! same contract the SQLite and PostgreSQL adapters pass: every step that
//! must not race is atomic (one lock over all tables), conflicts are
//! [`StoreError::Conflict`], and a multi-table step (a code's redemption
//! with its tokens, disabling an account) happens whole.
//!
//! It is meant for two uses: an embedding service's tests, and a
//! single-process service that may forget everything on restart (every
//! token, session and account goes with the process). It does no I/O.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::ports::UserRepository;
//! use auth_memory::MemoryStore;
//!
//! let store = MemoryStore::new();
//! let users: Arc<dyn UserRepository> = Arc::new(store.clone());
//! # let _ = users;
//! ```
#![deny(missing_docs)]

mod factors;
mod federation;
mod grants;
mod groups;
mod inspect;
mod mail;
mod tables;
mod tokens;
mod user_records;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{
    ClientRepository, KeyRepository, LoginReservation, Readiness, SweepReport, Sweeper,
    ThrottleRepository, UserRepository,
};
use auth_core::throttle::{AttemptSource, ThrottleKey, reserve_login_stepwise};
use auth_core::types::{
    AccountChange, Client, ClientId, ClientRecord, LoginName, NewClient, NewUser, PasswordHash,
    SigningKey, User, UserId, UserListing, UserRecord, Version, Written,
};
use chrono::{DateTime, Duration, Utc};

use tables::Tables;

/// Every repository in memory. Clones share the same tables, so one store
/// can be handed to [`auth_core::ports::Ports`] as each of its ports.
#[derive(Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tables, locked. A panic while the lock was held cannot leave
    /// them half-changed (every step validates before it writes), so a
    /// poisoned lock is taken over rather than propagated.
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl UserRepository for MemoryStore {
    async fn create(&self, user: &NewUser) -> Result<(), StoreError> {
        self.tables().insert_user(user)
    }

    async fn find_by_login(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        Ok(self.tables().user_by_login(login.as_str()).cloned())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.tables().users.get(&id).cloned())
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut users: Vec<User> = self.tables().users.values().cloned().collect();
        users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        Ok(users)
    }

    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(user) = t.users.get_mut(&id) else {
            return Ok(false);
        };
        user.disabled = disabled;
        if disabled {
            t.sign_out_everywhere(id, now);
        }
        Ok(true)
    }

    async fn set_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(user) = t.users.get_mut(&id) else {
            return Ok(false);
        };
        user.password_hash = Some(hash.clone());
        t.sign_out_everywhere(id, now);
        Ok(true)
    }

    async fn sign_out_everywhere(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let mut t = self.tables();
        if !t.users.contains_key(&id) {
            return Ok(None);
        }
        Ok(Some(t.sign_out_everywhere(id, now)))
    }

    async fn delete(&self, id: UserId) -> Result<bool, StoreError> {
        Ok(delete_account(&mut self.tables(), id))
    }

    async fn release_unverified_email(
        &self,
        id: UserId,
        email: &auth_core::types::Email,
    ) -> Result<bool, StoreError> {
        Ok(self.tables().release_unverified_email(id, email))
    }

    async fn set_email_verified(&self, id: UserId, verified: bool) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(user) = t.users.get_mut(&id) else {
            return Ok(false);
        };
        user.email_verified = verified;
        Ok(true)
    }

    async fn record(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.tables().record(id))
    }

    async fn page(&self, listing: &UserListing) -> Result<Vec<UserRecord>, StoreError> {
        Ok(self.tables().page(listing))
    }

    async fn change(
        &self,
        id: UserId,
        expected: Version,
        change: &AccountChange,
        now: DateTime<Utc>,
    ) -> Result<Written<UserRecord>, StoreError> {
        Ok(self.tables().change(id, expected, change, now))
    }

    async fn delete_version(
        &self,
        id: UserId,
        expected: Version,
    ) -> Result<Written<()>, StoreError> {
        // Checked and deleted under one lock.
        let mut t = self.tables();
        let holds = t.version_holds(id, expected);
        if holds == Written::Done(()) {
            delete_account(&mut t, id);
        }
        Ok(holds)
    }
}

/// Deletes a client and everything issued to it (the databases' foreign
/// keys cascade); `false` when there is none.
fn delete_client(t: &mut Tables, id: &ClientId) -> bool {
    let before = t.clients.len();
    t.clients.retain(|c| &c.id != id);
    if t.clients.len() == before {
        return false;
    }
    t.refresh.retain(|_, r| &r.client_id != id);
    t.access.retain(|_, a| &a.client_id != id);
    t.codes.retain(|_, c| &c.client_id != id);
    t.devices.retain(|_, d| &d.client_id != id);
    t.consents.retain(|(_, c), _| c != id);
    true
}

/// Deletes an account and everything that is its (the databases' foreign
/// keys cascade); `false` when there is none.
fn delete_account(t: &mut Tables, id: UserId) -> bool {
    if t.remove_user(id).is_none() {
        return false;
    }
    t.sessions.retain(|_, s| s.user_id != id);
    t.refresh.retain(|_, r| r.user_id != Some(id));
    t.codes.retain(|_, c| c.user_id != id);
    t.devices
        .retain(|_, d| d.status != auth_core::types::DeviceStatus::Approved(id));
    t.links.retain(|l| l.user_id != id);
    t.flows.retain(|_, f| f.user_id != Some(id));
    t.members.retain(|(_, user, _)| *user != id);
    t.updated.remove(&id);
    true
}

#[async_trait]
impl ClientRepository for MemoryStore {
    async fn create(&self, client: &NewClient) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.clients.iter().any(|c| c.id == client.id) {
            return Err(StoreError::Conflict("client"));
        }
        t.clients.push(client.clone());
        Ok(())
    }

    async fn find(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        Ok(self.tables().clients.iter().find(|c| &c.id == id).cloned())
    }

    async fn list(&self) -> Result<Vec<Client>, StoreError> {
        Ok(self.tables().clients.clone())
    }

    async fn update(&self, client: &Client) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(stored) = t.clients.iter_mut().find(|c| c.id == client.id) else {
            return Ok(false);
        };
        *stored = Client {
            created_at: stored.created_at,
            ..client.clone()
        };
        Ok(true)
    }

    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        Ok(delete_client(&mut self.tables(), id))
    }

    async fn any_admin(&self) -> Result<bool, StoreError> {
        Ok(self.tables().clients.iter().any(|c| c.admin))
    }

    async fn client_records(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let mut records: Vec<ClientRecord> = self
            .tables()
            .clients
            .iter()
            .map(user_records::client_record)
            .collect();
        records.sort_by(|a, b| {
            (a.client.created_at, &a.client.id).cmp(&(b.client.created_at, &b.client.id))
        });
        Ok(records)
    }

    async fn client_record(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self
            .tables()
            .clients
            .iter()
            .find(|c| &c.id == id)
            .map(user_records::client_record))
    }

    async fn update_client_version(
        &self,
        client: &Client,
        expected: Version,
    ) -> Result<Written<()>, StoreError> {
        let mut t = self.tables();
        let Some(stored) = t.clients.iter_mut().find(|c| c.id == client.id) else {
            return Ok(Written::Missing);
        };
        if user_records::client_record(stored).version != expected {
            return Ok(Written::Stale);
        }
        *stored = Client {
            created_at: stored.created_at,
            ..client.clone()
        };
        Ok(Written::Done(()))
    }

    async fn delete_client_version(
        &self,
        id: &ClientId,
        expected: Version,
    ) -> Result<Written<()>, StoreError> {
        // Checked and deleted under one lock.
        let mut t = self.tables();
        let holds = match t.clients.iter().find(|c| &c.id == id) {
            None => Written::Missing,
            Some(c) if user_records::client_record(c).version != expected => Written::Stale,
            Some(_) => Written::Done(()),
        };
        if holds == Written::Done(()) {
            delete_client(&mut t, id);
        }
        Ok(holds)
    }
}

#[async_trait]
impl ThrottleRepository for MemoryStore {
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let counter = t.throttles.entry(key.clone()).or_insert((0, now + window));
        // A window that has passed, or a count cleared or given back to
        // zero, starts a new window with this attempt (as the databases'
        // `ReserveAttempt` does).
        if counter.1 <= now || counter.0 == 0 {
            *counter = (0, now + window);
        }
        if counter.0 >= limit {
            return Ok(false);
        }
        counter.0 += 1;
        Ok(true)
    }

    async fn reserve_login(
        &self,
        login: &LoginName,
        source: AttemptSource,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<LoginReservation, StoreError> {
        reserve_login_stepwise(self, login, source, limit, window, now).await
    }

    async fn release(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        if let Some(counter) = self.tables().throttles.get_mut(key) {
            counter.0 = counter.0.saturating_sub(1);
        }
        Ok(())
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        self.tables().throttles.remove(key);
        Ok(())
    }
}

#[async_trait]
impl KeyRepository for MemoryStore {
    async fn list(&self) -> Result<Vec<SigningKey>, StoreError> {
        let mut keys = self.tables().keys.clone();
        keys.sort_by_key(|k| std::cmp::Reverse(k.activates_at));
        Ok(keys)
    }

    async fn insert(&self, key: &SigningKey) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.keys.iter().any(|k| k.key_id == key.key_id) {
            return Err(StoreError::Conflict("signing key"));
        }
        t.keys.push(key.clone());
        Ok(())
    }

    async fn delete(&self, key_id: &str) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let before = t.keys.len();
        t.keys.retain(|k| k.key_id != key_id);
        Ok(t.keys.len() < before)
    }
}

/// Memory is always there.
#[async_trait]
impl Readiness for MemoryStore {
    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl Sweeper for MemoryStore {
    /// Deletes everything expired at `now` in one step; `batch` bounds a
    /// database statement's lock and means nothing here.
    async fn sweep_expired(
        &self,
        now: DateTime<Utc>,
        _batch: i64,
    ) -> Result<SweepReport, StoreError> {
        Ok(self.tables().sweep(now))
    }
}
