//! Second factors, recovery codes and WebAuthn ceremonies in memory. The
//! tables' one lock makes each conditional step atomic, as the databases'
//! statements are.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::FactorRepository;
use auth_core::types::{Ceremony, Digest, Factor, FactorId, PasskeyRecord, TotpRecord, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::MemoryStore;
use crate::tables::Tables;

fn store_codes(t: &mut Tables, user: UserId, codes: &[Digest]) {
    if codes.is_empty() {
        return;
    }
    t.recovery_codes.retain(|_, u| *u != user);
    t.recovery_codes.extend(codes.iter().map(|d| (*d, user)));
}

fn confirmed(t: &Tables, user: UserId) -> Vec<Factor> {
    let mut all: Vec<Factor> = t
        .totps
        .iter()
        .filter(|r| r.confirmed)
        .map(|r| r.factor.clone())
        .chain(t.passkeys.iter().map(|p| p.factor.clone()))
        .filter(|f| f.user_id == user)
        .collect();
    all.sort_by_key(|f| (f.created_at, f.id));
    all
}

#[async_trait]
impl FactorRepository for MemoryStore {
    async fn factors_of(&self, user: UserId) -> Result<Vec<Factor>, StoreError> {
        Ok(confirmed(&self.tables(), user))
    }

    async fn has_factors(&self, user: UserId) -> Result<bool, StoreError> {
        Ok(!confirmed(&self.tables(), user).is_empty())
    }

    async fn totp_of(&self, user: UserId) -> Result<Vec<TotpRecord>, StoreError> {
        Ok(self
            .tables()
            .totps
            .iter()
            .filter(|r| r.factor.user_id == user)
            .cloned()
            .collect())
    }

    async fn add_totp(&self, record: &TotpRecord) -> Result<(), StoreError> {
        let mut t = self.tables();
        t.totps
            .retain(|r| r.factor.user_id != record.factor.user_id || r.confirmed);
        t.totps.push(record.clone());
        Ok(())
    }

    async fn accept_totp_step<'a>(
        &self,
        user: UserId,
        id: FactorId,
        step: i64,
        recovery: &[Digest],
        cleared: Option<&'a auth_core::throttle::ThrottleKey>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(record) = t
            .totps
            .iter_mut()
            .find(|r| r.factor.id == id && r.factor.user_id == user)
        else {
            return Ok(false);
        };
        if record.last_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        record.last_step = Some(step);
        record.confirmed = true;
        record.factor.last_used_at = Some(now);
        store_codes(&mut t, user, recovery);
        if let Some(key) = cleared {
            t.throttles.remove(key);
        }
        Ok(true)
    }

    async fn add_passkey(
        &self,
        record: &PasskeyRecord,
        recovery: &[Digest],
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        if t.passkeys
            .iter()
            .any(|p| p.credential_id == record.credential_id)
        {
            return Err(StoreError::Conflict("security key"));
        }
        t.passkeys.push(record.clone());
        store_codes(&mut t, record.factor.user_id, recovery);
        Ok(())
    }

    async fn passkeys_of(&self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError> {
        Ok(self
            .tables()
            .passkeys
            .iter()
            .filter(|p| p.factor.user_id == user)
            .cloned()
            .collect())
    }

    async fn find_passkey(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
        Ok(self
            .tables()
            .passkeys
            .iter()
            .find(|p| p.credential_id == credential_id)
            .cloned())
    }

    async fn record_passkey_use(
        &self,
        id: FactorId,
        seen: u32,
        counter: u32,
        record: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        match t
            .passkeys
            .iter_mut()
            .find(|p| p.factor.id == id && p.counter == seen)
        {
            Some(p) => {
                p.counter = counter;
                record.clone_into(&mut p.record);
                p.factor.last_used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn remove_factor(
        &self,
        user: UserId,
        id: FactorId,
    ) -> Result<Option<Factor>, StoreError> {
        let mut t = self.tables();
        let mut removed = None;
        if let Some(i) = t
            .totps
            .iter()
            .position(|r| r.factor.id == id && r.factor.user_id == user && r.confirmed)
        {
            removed = Some(t.totps.remove(i).factor);
        } else if let Some(i) = t
            .passkeys
            .iter()
            .position(|p| p.factor.id == id && p.factor.user_id == user)
        {
            removed = Some(t.passkeys.remove(i).factor);
        }
        if removed.is_some() && confirmed(&t, user).is_empty() {
            t.recovery_codes.retain(|_, u| *u != user);
        }
        Ok(removed)
    }

    async fn remove_all_factors(&self, user: UserId) -> Result<u64, StoreError> {
        let mut t = self.tables();
        let n = confirmed(&t, user).len();
        t.totps.retain(|r| r.factor.user_id != user);
        t.passkeys.retain(|p| p.factor.user_id != user);
        t.recovery_codes.retain(|_, u| *u != user);
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes: &[Digest],
    ) -> Result<(), StoreError> {
        store_codes(&mut self.tables(), user, codes);
        Ok(())
    }

    async fn use_recovery_code(&self, user: UserId, digest: &Digest) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.recovery_codes.get(digest) == Some(&user) {
            t.recovery_codes.remove(digest);
            return Ok(true);
        }
        Ok(false)
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<u64, StoreError> {
        let n = self
            .tables()
            .recovery_codes
            .values()
            .filter(|u| **u == user)
            .count();
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    async fn user_handle(&self, user: UserId, fresh: Uuid) -> Result<Uuid, StoreError> {
        Ok(*self.tables().handles.entry(user).or_insert(fresh))
    }

    async fn user_of_handle(&self, handle: Uuid) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .tables()
            .handles
            .iter()
            .find(|(_, h)| **h == handle)
            .map(|(u, _)| *u))
    }

    async fn store_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError> {
        self.tables()
            .ceremonies
            .insert(ceremony.digest, ceremony.clone());
        Ok(())
    }

    async fn take_ceremony(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<Option<Ceremony>, StoreError> {
        Ok(self
            .tables()
            .ceremonies
            .remove(digest)
            .filter(|c| c.expires_at > now))
    }
}
