//! The tables behind one lock, and the steps several ports share.
use std::collections::HashMap;

use auth_core::error::StoreError;
use auth_core::ports::{SweepReport, UpstreamFlow};
use auth_core::types::{
    AccessTokenRecord, AuthorizationCode, BrowserSession, Client, DeviceAuthorization, Digest,
    FederatedLink, RefreshTokenRecord, SigningKey, TokenGeneration, User, UserId,
    confusable_skeleton,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a database would hold, keyed as its unique indexes are.
#[derive(Default)]
pub(crate) struct Tables {
    pub users: HashMap<UserId, User>,
    /// Every username and email, to its account: unique across both, as
    /// the databases' indexes make them, and found without a scan.
    logins: HashMap<String, UserId>,
    /// In creation order, as `list` returns them.
    pub clients: Vec<Client>,
    pub refresh: HashMap<Digest, RefreshTokenRecord>,
    /// A rotated token's successor: the one a retry of it supersedes.
    pub successors: HashMap<Digest, Digest>,
    pub access: HashMap<Digest, AccessTokenRecord>,
    /// Revoked access token ids and families, listed until the time given.
    pub revoked: HashMap<Uuid, DateTime<Utc>>,
    pub codes: HashMap<Digest, AuthorizationCode>,
    pub sessions: HashMap<Digest, BrowserSession>,
    pub devices: HashMap<Digest, DeviceAuthorization>,
    /// Attempts and the end of their window, per key.
    pub throttles: HashMap<auth_core::throttle::ThrottleKey, (u32, DateTime<Utc>)>,
    pub keys: Vec<SigningKey>,
    pub links: Vec<FederatedLink>,
    pub flows: HashMap<Uuid, UpstreamFlow>,
    /// The login names' confusable skeletons: no two alike.
    pub skeletons: std::collections::HashSet<String>,
    /// Browsers that signed in before (device cookies' digests), per account.
    pub devices_known: HashMap<(Digest, UserId), DateTime<Utc>>,
    /// Consents to third-party clients, by (user, client).
    pub consents: HashMap<(UserId, auth_core::types::ClientId), auth_core::types::Scope>,
    /// Mail links, by their token's digest.
    pub email_links: HashMap<Digest, auth_core::types::EmailLink>,
    /// Letters waiting to be sent, in the order written.
    pub outbox: Vec<auth_core::types::OutboxEntry>,
    /// TOTP authenticators, in the order enrolled.
    pub totps: Vec<auth_core::types::TotpRecord>,
    /// WebAuthn credentials, in the order registered.
    pub passkeys: Vec<auth_core::types::PasskeyRecord>,
    /// Recovery codes' digests, per account.
    pub recovery_codes: HashMap<Digest, UserId>,
    /// WebAuthn user handles.
    pub handles: HashMap<UserId, Uuid>,
    /// WebAuthn ceremonies, by digest.
    pub ceremonies: HashMap<Digest, auth_core::types::Ceremony>,
    /// Groups, in the order created.
    pub groups: Vec<auth_core::types::Group>,
    /// When the admin API last changed each account.
    pub updated: HashMap<UserId, DateTime<Utc>>,
    /// Memberships, in the order made.
    pub members: Vec<(auth_core::types::GroupId, UserId, DateTime<Utc>)>,
}

impl Tables {
    /// The login names of an account (its username and email).
    pub(crate) fn login_names_of(&self, id: UserId) -> Vec<&str> {
        self.logins
            .iter()
            .filter(|(_, holder)| **holder == id)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Stores a user whose id and login names are all free.
    pub fn insert_user(&mut self, user: &User) -> Result<(), StoreError> {
        let names = login_names(user);
        if self.users.contains_key(&user.id) || names.iter().any(|n| self.logins.contains_key(*n)) {
            return Err(StoreError::Conflict("user"));
        }
        // The databases' unique index on the names' confusable skeletons.
        let skeletons: Vec<String> = names.iter().map(|n| confusable_skeleton(n)).collect();
        if skeletons.iter().any(|s| self.skeletons.contains(s)) {
            return Err(StoreError::Conflict(auth_core::error::LOOK_ALIKE));
        }
        self.skeletons.extend(skeletons);
        for name in names {
            self.logins.insert(name.to_owned(), user.id);
        }
        self.users.insert(user.id, user.clone());
        Ok(())
    }

    /// Takes `email` from the account if it is still its unverified
    /// address and not its username too.
    pub fn release_unverified_email(
        &mut self,
        id: UserId,
        email: &auth_core::types::Email,
    ) -> bool {
        let Some(user) = self.users.get_mut(&id) else {
            return false;
        };
        if user.email.as_ref() != Some(email)
            || user.email_verified
            || user.username.as_str() == email.as_str()
        {
            return false;
        }
        user.email = None;
        self.logins.remove(email.as_str());
        self.skeletons.remove(&confusable_skeleton(email.as_str()));
        true
    }

    /// Makes `email` the account's address, verified, in place of its
    /// old one as a login name; `false` (nothing changed) when the new
    /// address names another account or looks like another's name.
    pub fn change_email(&mut self, id: UserId, email: &auth_core::types::Email) -> bool {
        let Some(user) = self.users.get(&id).cloned() else {
            return false;
        };
        let new = email.as_str();
        if self.logins.get(new).is_some_and(|holder| *holder != id) {
            return false;
        }
        let skeleton = confusable_skeleton(new);
        let own_skeletons: Vec<String> = login_names(&user)
            .iter()
            .map(|n| confusable_skeleton(n))
            .collect();
        if self.skeletons.contains(&skeleton) && !own_skeletons.contains(&skeleton) {
            return false;
        }
        if let Some(old) = user.email.as_ref().map(|e| e.as_str())
            && old != user.username.as_str()
        {
            self.logins.remove(old);
            self.skeletons.remove(&confusable_skeleton(old));
        }
        self.logins.insert(new.to_owned(), id);
        self.skeletons.insert(skeleton);
        if let Some(user) = self.users.get_mut(&id) {
            user.email = Some(email.clone());
            user.email_verified = true;
        }
        true
    }

    pub fn user_by_login(&self, login: &str) -> Option<&User> {
        self.logins.get(login).and_then(|id| self.users.get(id))
    }

    /// Removes a user and its login names.
    pub fn remove_user(&mut self, id: UserId) -> Option<User> {
        let user = self.users.remove(&id)?;
        self.consents.retain(|(u, _), _| *u != id);
        self.devices_known.retain(|(_, u), _| *u != id);
        self.email_links.retain(|_, l| l.user_id != id);
        self.totps.retain(|t| t.factor.user_id != id);
        self.passkeys.retain(|p| p.factor.user_id != id);
        self.recovery_codes.retain(|_, u| *u != id);
        self.handles.remove(&id);
        for name in login_names(&user) {
            self.logins.remove(name);
            self.skeletons.remove(&confusable_skeleton(name));
        }
        Some(user)
    }

    /// Checks a grant's rows against the unique digests before storing
    /// either, so a conflict stores neither.
    pub fn insert_grant(
        &mut self,
        refresh: Option<&RefreshTokenRecord>,
        access: Option<&AccessTokenRecord>,
    ) -> Result<(), StoreError> {
        if refresh.is_some_and(|r| self.refresh.contains_key(&r.digest)) {
            return Err(StoreError::Conflict("refresh token"));
        }
        if access.is_some_and(|a| self.access.contains_key(&a.digest)) {
            return Err(StoreError::Conflict("access token"));
        }
        if let Some(r) = refresh {
            self.refresh.insert(r.digest, r.clone());
        }
        if let Some(a) = access {
            self.access.insert(a.digest, a.clone());
        }
        Ok(())
    }

    /// Ends a user's browser sessions and revokes their refresh tokens.
    /// Ends what the account holds: sessions, refresh tokens, reference
    /// access tokens, and raises its token generation. How many sessions
    /// ended.
    pub fn sign_out_everywhere(&mut self, user: UserId, now: DateTime<Utc>) -> u64 {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| s.user_id != user);
        let ended = (before - self.sessions.len()) as u64;
        for r in self.refresh.values_mut() {
            if r.user_id == Some(user) && r.revoked_at.is_none() {
                r.revoked_at = Some(now);
            }
        }
        self.access.retain(|_, a| a.subject.user() != Some(user));
        if let Some(u) = self.users.get_mut(&user) {
            u.token_generation = TokenGeneration::new(u.token_generation.get().saturating_add(1));
        }
        ended
    }

    /// Lists an access token id as revoked until `until` and forgets a
    /// reference token with that id.
    pub fn revoke_access(&mut self, token_id: Uuid, until: DateTime<Utc>) {
        self.revoked.entry(token_id).or_insert(until);
        self.access.retain(|_, a| a.token_id != token_id);
    }

    pub fn sweep(&mut self, now: DateTime<Utc>) -> SweepReport {
        fn expired<K, V>(
            map: &mut HashMap<K, V>,
            expiry: impl Fn(&V) -> DateTime<Utc>,
            now: DateTime<Utc>,
        ) -> u64 {
            let before = map.len();
            map.retain(|_, v| expiry(v) > now);
            (before - map.len()) as u64
        }
        let refresh_tokens = expired(&mut self.refresh, |r| r.expires_at, now);
        let refresh = &self.refresh;
        // A successor matters only while its parent can be presented again.
        self.successors.retain(|old, _| refresh.contains_key(old));
        SweepReport {
            refresh_tokens,
            access_tokens: expired(&mut self.access, |a| a.expires_at, now),
            revoked_access_tokens: expired(&mut self.revoked, |until| *until, now),
            authorization_codes: expired(&mut self.codes, |c| c.expires_at, now),
            sessions: expired(&mut self.sessions, |s| s.expires_at, now),
            device_authorizations: expired(&mut self.devices, |d| d.expires_at, now),
            throttle_counters: expired(&mut self.throttles, |c| c.1, now),
            upstream_flows: expired(&mut self.flows, |f| f.expires_at, now),
            known_devices: expired(&mut self.devices_known, |until| *until, now),
            email_links: expired(&mut self.email_links, |l| l.expires_at, now),
            webauthn_ceremonies: expired(&mut self.ceremonies, |c| c.expires_at, now),
        }
    }
}

/// The names an account signs in with.
fn login_names(user: &User) -> Vec<&str> {
    let mut names = vec![user.username.as_str()];
    names.extend(
        user.email
            .as_ref()
            .map(|e| e.as_str())
            .filter(|e| *e != user.username.as_str()),
    );
    names
}
