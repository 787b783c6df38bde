//! In-memory fakes of the ports, for the core's unit tests.
use std::collections::HashMap;
use std::hash::{Hash, Hasher as _};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::error::{CryptoError, StoreError};
use crate::policy::TokenPolicy;
use crate::ports::*;
use crate::types::*;

use super::{Ports, TokenService};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

#[derive(Default)]
pub struct Users(pub Mutex<Vec<User>>);

#[async_trait]
impl UserRepository for Users {
    async fn create(&self, user: &NewUser) -> Result<(), StoreError> {
        let mut v = self.0.lock().unwrap();
        // Login names are unique across both columns, as in the store.
        let names = |u: &User| {
            let mut n = vec![u.username.as_str().to_owned()];
            n.extend(u.email.as_ref().map(|e| e.as_str().to_owned()));
            n
        };
        let taken = names(user);
        if v.iter().any(|u| names(u).iter().any(|n| taken.contains(n))) {
            return Err(StoreError::Conflict("user"));
        }
        v.push(user.clone());
        Ok(())
    }
    async fn find_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|u| {
                u.username.as_str() == login
                    || u.email.as_ref().is_some_and(|e| e.as_str() == login)
            })
            .cloned())
    }
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.0.lock().unwrap().iter().find(|u| u.id == id).cloned())
    }
    async fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.0.lock().unwrap().clone())
    }
    /// Only the flag: sessions and tokens live in other fakes.
    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut users = self.0.lock().unwrap();
        let found = users.iter_mut().find(|u| u.id == id);
        Ok(found.map(|u| u.disabled = disabled).is_some())
    }
}

/// Attempt counters: (attempts, end of window) per key.
#[derive(Default)]
pub struct ThrottleCounters(Mutex<HashMap<String, (u32, DateTime<Utc>)>>);

#[async_trait]
impl ThrottleRepository for ThrottleCounters {
    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut m = self.0.lock().unwrap();
        let e = m.entry(key.to_owned()).or_insert((0, now + window));
        if e.1 <= now {
            *e = (0, now + window);
        }
        if e.0 >= limit {
            return Ok(false);
        }
        e.0 += 1;
        Ok(true)
    }
    async fn release(&self, key: &str) -> Result<(), StoreError> {
        if let Some(e) = self.0.lock().unwrap().get_mut(key) {
            e.0 = e.0.saturating_sub(1);
        }
        Ok(())
    }
    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
}

#[derive(Default)]
pub struct Clients(pub Mutex<Vec<Client>>);

#[async_trait]
impl ClientRepository for Clients {
    async fn create(&self, client: &NewClient) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(client.clone());
        Ok(())
    }
    async fn find(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        Ok(self.0.lock().unwrap().iter().find(|c| &c.id == id).cloned())
    }
    async fn list(&self) -> Result<Vec<Client>, StoreError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

#[derive(Default)]
pub struct Tokens {
    pub refresh: Mutex<Vec<RefreshTokenRecord>>,
    pub revoked_access: Mutex<Vec<Uuid>>,
    pub access: Mutex<Vec<AccessTokenRecord>>,
    /// The accounts the owner lookup consults, as the database joins them.
    pub users: Arc<Users>,
}

#[async_trait]
impl TokenRepository for Tokens {
    async fn insert_refresh(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        self.refresh.lock().unwrap().push(token.clone());
        Ok(())
    }
    async fn find_refresh(
        &self,
        digest: &Digest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(self
            .refresh
            .lock()
            .unwrap()
            .iter()
            .find(|r| &r.digest == digest)
            .cloned())
    }
    async fn find_refresh_with_owner(
        &self,
        digest: &Digest,
    ) -> Result<Option<(RefreshTokenRecord, bool)>, StoreError> {
        let Some(record) = self.find_refresh(digest).await? else {
            return Ok(None);
        };
        let usable = match record.user_id {
            None => true,
            Some(id) => self
                .users
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|u| u.id == id && !u.disabled),
        };
        Ok(Some((record, usable)))
    }
    async fn rotate_refresh(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        let mut v = self.refresh.lock().unwrap();
        let Some(r) = v.iter_mut().find(|r| {
            &r.digest == old
                && r.rotated_at.is_none()
                && r.revoked_at.is_none()
                && r.expires_at > now
        }) else {
            return Ok(RotateOutcome::NotActive);
        };
        r.rotated_at = Some(now);
        v.push(new.clone());
        if let Some(a) = access {
            self.access.lock().unwrap().push(a.clone());
        }
        Ok(RotateOutcome::Rotated)
    }
    async fn insert_grant(
        &self,
        refresh: Option<&RefreshTokenRecord>,
        access: Option<&AccessTokenRecord>,
    ) -> Result<(), StoreError> {
        if let Some(r) = refresh {
            self.refresh.lock().unwrap().push(r.clone());
        }
        if let Some(a) = access {
            self.access.lock().unwrap().push(a.clone());
        }
        Ok(())
    }
    async fn supersede_refresh(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Superseded, StoreError> {
        let mut v = self.refresh.lock().unwrap();
        let Some(unseen) = v.iter_mut().find(|r| {
            r.parent.as_ref() == Some(old) && r.rotated_at.is_none() && r.revoked_at.is_none()
        }) else {
            return Ok(Superseded::NotActive);
        };
        unseen.revoked_at = Some(now);
        unseen.superseded_at = Some(now);
        let revoked_access = unseen.issued_with.map(|a| a.token_id);
        v.push(new.clone());
        if let Some(a) = access {
            self.access.lock().unwrap().push(a.clone());
        }
        if let Some(id) = revoked_access {
            self.revoked_access.lock().unwrap().push(id);
            self.access.lock().unwrap().retain(|a| a.token_id != id);
        }
        Ok(Superseded::Replaced { revoked_access })
    }
    async fn revoke_family(
        &self,
        family: FamilyId,
        now: DateTime<Utc>,
        _listed_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        for r in self.refresh.lock().unwrap().iter_mut() {
            if r.family == family && r.revoked_at.is_none() {
                r.revoked_at = Some(now);
                n += 1;
            }
        }
        self.access
            .lock()
            .unwrap()
            .retain(|a| a.family != Some(family));
        self.revoked_access.lock().unwrap().push(family.as_uuid());
        Ok(n)
    }
    async fn revoke_access(&self, token_id: Uuid, _: DateTime<Utc>) -> Result<(), StoreError> {
        self.access
            .lock()
            .unwrap()
            .retain(|a| a.token_id != token_id);
        self.revoked_access.lock().unwrap().push(token_id);
        Ok(())
    }
    async fn is_access_revoked(
        &self,
        token_id: Uuid,
        family: Option<FamilyId>,
    ) -> Result<bool, StoreError> {
        let revoked = self.revoked_access.lock().unwrap();
        Ok(revoked.contains(&token_id) || family.is_some_and(|f| revoked.contains(&f.as_uuid())))
    }
    async fn insert_access(&self, token: &AccessTokenRecord) -> Result<(), StoreError> {
        self.access.lock().unwrap().push(token.clone());
        Ok(())
    }
    async fn find_access(&self, digest: &Digest) -> Result<Option<AccessTokenRecord>, StoreError> {
        Ok(self
            .access
            .lock()
            .unwrap()
            .iter()
            .find(|a| &a.digest == digest)
            .cloned())
    }
}

/// Codes, and the token store their redemption writes to.
pub struct Codes(pub Mutex<Vec<AuthorizationCode>>, pub Arc<Tokens>);

#[async_trait]
impl AuthorizationCodeRepository for Codes {
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(code.clone());
        Ok(())
    }
    async fn find_code(&self, digest: &Digest) -> Result<Option<AuthorizationCode>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|c| &c.digest == digest)
            .cloned())
    }
    async fn consume_code(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
        issued: &IssuedFromCode,
        refresh: Option<&RefreshTokenRecord>,
        access: Option<&AccessTokenRecord>,
    ) -> Result<bool, StoreError> {
        {
            let mut v = self.0.lock().unwrap();
            let Some(c) = v
                .iter_mut()
                .find(|c| &c.digest == digest && c.consumed_at.is_none())
            else {
                return Ok(false);
            };
            c.consumed_at = Some(now);
            c.issued = Some(*issued);
        }
        self.1.insert_grant(refresh, access).await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct Sessions(pub Mutex<Vec<BrowserSession>>);

#[async_trait]
impl SessionRepository for Sessions {
    async fn create_session(&self, s: &BrowserSession) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(s.clone());
        Ok(())
    }
    async fn find_session(&self, digest: &Digest) -> Result<Option<BrowserSession>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|s| &s.digest == digest)
            .cloned())
    }
    async fn touch_session(&self, digest: &Digest, now: DateTime<Utc>) -> Result<(), StoreError> {
        for s in self
            .0
            .lock()
            .unwrap()
            .iter_mut()
            .filter(|s| &s.digest == digest)
        {
            s.last_seen_at = now;
        }
        Ok(())
    }
    async fn delete_session(&self, digest: &Digest) -> Result<(), StoreError> {
        self.0.lock().unwrap().retain(|s| &s.digest != digest);
        Ok(())
    }
}

#[derive(Default)]
/// Device authorizations, and the token store their redemption writes to.
pub struct Devices(pub Mutex<Vec<DeviceAuthorization>>, pub Arc<Tokens>);

#[async_trait]
impl DeviceAuthorizationRepository for Devices {
    async fn insert_device(&self, d: &DeviceAuthorization) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(d.clone());
        Ok(())
    }
    async fn find_device(
        &self,
        digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|d| &d.device_digest == digest)
            .cloned())
    }
    async fn find_by_user_code(
        &self,
        digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .find(|d| &d.user_code_digest == digest)
            .cloned())
    }
    async fn decide_device(
        &self,
        digest: &Digest,
        decision: DeviceStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut v = self.0.lock().unwrap();
        match v.iter_mut().find(|d| {
            &d.user_code_digest == digest && d.status == DeviceStatus::Pending && d.expires_at > now
        }) {
            Some(d) => {
                d.status = decision;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn record_poll(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
        interval: i64,
    ) -> Result<(), StoreError> {
        for d in self
            .0
            .lock()
            .unwrap()
            .iter_mut()
            .filter(|d| &d.device_digest == digest)
        {
            d.last_polled_at = Some(now);
            d.interval = interval;
        }
        Ok(())
    }
    async fn redeem_device(
        &self,
        digest: &Digest,
        refresh: Option<&RefreshTokenRecord>,
        access: Option<&AccessTokenRecord>,
    ) -> Result<bool, StoreError> {
        {
            let mut v = self.0.lock().unwrap();
            let Some(d) = v.iter_mut().find(|d| {
                &d.device_digest == digest && matches!(d.status, DeviceStatus::Approved(_))
            }) else {
                return Ok(false);
            };
            d.status = DeviceStatus::Redeemed;
        }
        self.1.insert_grant(refresh, access).await?;
        Ok(true)
    }
}

/// Stores passwords as `plain:<pw>`; counts verifications, including the
/// dummy ones for unknown users.
#[derive(Default)]
pub struct Hasher {
    pub verifications: AtomicUsize,
}

#[async_trait]
impl PasswordHasher for Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, CryptoError> {
        Ok(PasswordHash::new(format!("plain:{}", password.expose())))
    }
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, CryptoError> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        Ok(hash.is_some_and(|h| h.as_str() == format!("plain:{}", password.expose())))
    }
}

/// Encodes claims in the clear as `sub|client|scope|exp`.
pub struct Codec;

impl TokenCodec for Codec {
    fn issue(&self, c: &AccessClaims) -> Result<String, CryptoError> {
        Ok(format!(
            "{}|{}|{}|{}",
            c.subject,
            c.client_id,
            c.scope,
            c.expires_at.timestamp()
        ))
    }
    fn verify(&self, _: &str, _: DateTime<Utc>) -> Result<AccessClaims, TokenRejection> {
        Err(TokenRejection::Malformed)
    }
    fn public_keys(&self) -> Vec<PublicKey> {
        Vec::new()
    }
}

/// Writes ID token claims in the clear as `id|sub|aud|nonce|alg`.
pub struct IdTokens;

impl crate::ports::IdTokenSigner for IdTokens {
    fn sign_id_token(
        &self,
        c: &crate::types::IdTokenClaims,
        algorithm: crate::types::KeyAlgorithm,
    ) -> Result<String, CryptoError> {
        Ok(format!(
            "id|{}|{}|{}|{algorithm}",
            c.subject,
            c.audience,
            c.nonce.as_deref().unwrap_or("-")
        ))
    }
    fn public_jwks(&self) -> Vec<String> {
        Vec::new()
    }
    fn algorithms(&self) -> Vec<crate::types::KeyAlgorithm> {
        vec![crate::types::KeyAlgorithm::Rs256]
    }
    fn read_hint(&self, token: &str) -> Result<crate::types::IdTokenHint, TokenRejection> {
        match token.split('|').collect::<Vec<_>>()[..] {
            ["id", subject, audience, ..] => Ok(crate::types::IdTokenHint {
                issuer: "http://issuer.test".into(),
                subject: subject.into(),
                audience: audience.into(),
            }),
            _ => Err(TokenRejection::Malformed),
        }
    }
}

pub struct Digests;

impl SecretDigest for Digests {
    fn digest(&self, secret: &str) -> Digest {
        let mut out = [0u8; 32];
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (i, secret).hash(&mut h);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
        Digest::from_bytes(out)
    }
    fn verify(&self, secret: &str, expected: &Digest) -> bool {
        &self.digest(secret) == expected
    }
}

#[derive(Default)]
pub struct Counter(AtomicU64);

impl RandomSource for Counter {
    fn token(&self) -> OpaqueToken {
        OpaqueToken::new(format!("rt-{}", self.0.fetch_add(1, Ordering::SeqCst)))
    }
    fn uuid(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::SeqCst)) + 1)
    }
}

/// A wired service over fakes, with handles on the fakes for assertions.
pub struct World {
    pub users: Arc<Users>,
    pub clients: Arc<Clients>,
    pub tokens: Arc<Tokens>,
    pub codes: Arc<Codes>,
    pub sessions: Arc<Sessions>,
    pub devices: Arc<Devices>,
    pub hasher: Arc<Hasher>,
    pub service: TokenService,
}

impl World {
    pub fn new(policy: TokenPolicy) -> Self {
        let users = Arc::new(Users::default());
        let clients = Arc::new(Clients::default());
        let tokens = Arc::new(Tokens {
            users: users.clone(),
            ..Tokens::default()
        });
        let hasher = Arc::new(Hasher::default());
        let codes = Arc::new(Codes(Mutex::default(), tokens.clone()));
        let sessions = Arc::new(Sessions::default());
        let devices = Arc::new(Devices(Mutex::default(), tokens.clone()));
        let ports = Ports {
            users: users.clone(),
            clients: clients.clone(),
            tokens: tokens.clone(),
            codes: codes.clone(),
            sessions: sessions.clone(),
            devices: devices.clone(),
            throttles: Arc::new(ThrottleCounters::default()),
            hasher: hasher.clone(),
            codec: Arc::new(Codec),
            id_tokens: Arc::new(IdTokens),
            jwt: Arc::new(Codec),
            digest: Arc::new(Digests),
            random: Arc::new(Counter::default()),
        };
        let service = TokenService::new(ports, policy, "http://issuer.test");
        Self {
            users,
            clients,
            tokens,
            codes,
            sessions,
            devices,
            hasher,
            service,
        }
    }

    pub fn add_client(
        &self,
        id: &str,
        secret: Option<&str>,
        grants: &[GrantType],
        scope: &str,
    ) -> Client {
        let client = Client {
            id: ClientId::parse(id).unwrap(),
            name: id.into(),
            auth: match secret {
                Some(s) => ClientAuth::Confidential {
                    secret_digest: Digests.digest(s),
                },
                None => ClientAuth::Public,
            },
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: grants.to_vec(),
            scope: Scope::parse(scope).unwrap(),
            access_token_ttl: None,
            refresh_mode: None,
            first_party: true,
            dialects: vec![],
            allow_plain_pkce: false,
            id_token_algorithm: crate::types::KeyAlgorithm::Rs256,
            token_format: TokenFormat::Paseto,
            audiences: vec![],
            created_at: t0(),
        };
        self.clients.0.lock().unwrap().push(client.clone());
        client
    }

    pub fn add_user(&self, username: &str, email: Option<&str>, password: &str) -> User {
        let user = User {
            id: UserId::new(Uuid::new_v4()),
            username: Username::parse(username).unwrap(),
            email: email.map(|e| Email::parse(e).unwrap()),
            password_hash: Some(PasswordHash::new(format!("plain:{password}"))),
            given_name: None,
            family_name: None,
            disabled: false,
            created_at: t0(),
        };
        self.users.0.lock().unwrap().push(user.clone());
        user
    }
}

/// Links and flows in memory, over the users of [`Users`]. With
/// `race_next_create` set, the next creation loses to a concurrent one
/// that linked the identity to another account first.
#[derive(Default)]
pub struct Federated {
    pub users: Arc<Users>,
    pub links: Mutex<Vec<FederatedLink>>,
    pub flows: Mutex<Vec<UpstreamFlow>>,
    pub race_next_create: Mutex<Option<User>>,
}

#[async_trait]
impl FederationRepository for Federated {
    async fn find_linked_user(
        &self,
        provider: &ProviderName,
        subject: &UpstreamSubject,
    ) -> Result<Option<User>, StoreError> {
        let user = self
            .links
            .lock()
            .unwrap()
            .iter()
            .find(|l| &l.provider == provider && &l.subject == subject)
            .map(|l| l.user_id);
        match user {
            Some(id) => self.users.find_by_id(id).await,
            None => Ok(None),
        }
    }
    async fn create_linked_user(
        &self,
        user: &NewUser,
        link: &FederatedLink,
    ) -> Result<(), StoreError> {
        if let Some(winner) = self.race_next_create.lock().unwrap().take() {
            self.users.0.lock().unwrap().push(winner.clone());
            self.links.lock().unwrap().push(FederatedLink {
                user_id: winner.id,
                ..link.clone()
            });
            return Err(StoreError::Conflict("user"));
        }
        if self
            .links
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.provider == link.provider && l.subject == link.subject)
        {
            return Err(StoreError::Conflict("federated identity"));
        }
        self.users.create(user).await?;
        self.links.lock().unwrap().push(link.clone());
        Ok(())
    }
    async fn link(&self, link: &FederatedLink) -> Result<(), StoreError> {
        let mut links = self.links.lock().unwrap();
        if links
            .iter()
            .any(|l| l.provider == link.provider && l.subject == link.subject)
        {
            return Err(StoreError::Conflict("federated identity"));
        }
        links.push(link.clone());
        Ok(())
    }
    async fn links_of(&self, user: UserId) -> Result<Vec<FederatedLink>, StoreError> {
        Ok(self
            .links
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.user_id == user)
            .cloned()
            .collect())
    }
    async fn insert_flow(&self, flow: &UpstreamFlow) -> Result<(), StoreError> {
        self.flows.lock().unwrap().push(flow.clone());
        Ok(())
    }
    async fn finish_flow(
        &self,
        id: Uuid,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut flows = self.flows.lock().unwrap();
        let open = flows
            .iter_mut()
            .find(|f| f.id == id && f.user_id.is_none() && f.expires_at > now);
        Ok(open.map(|f| f.user_id = Some(user)).is_some())
    }
    async fn take_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let mut flows = self.flows.lock().unwrap();
        let at = flows.iter().position(|f| f.id == id && f.expires_at > now);
        Ok(at.map(|i| flows.remove(i)))
    }
    async fn take_finished_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let mut flows = self.flows.lock().unwrap();
        let at = flows
            .iter()
            .position(|f| f.id == id && f.user_id.is_some() && f.expires_at > now);
        Ok(at.map(|i| flows.remove(i)))
    }
    async fn schedule_poll(&self, id: Uuid, schedule: PollSchedule) -> Result<(), StoreError> {
        if let Some(f) = self.flows.lock().unwrap().iter_mut().find(|f| f.id == id) {
            f.polling = Some(schedule);
        }
        Ok(())
    }
    async fn find_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        Ok(self
            .flows
            .lock()
            .unwrap()
            .iter()
            .find(|f| f.id == id && f.expires_at > now)
            .cloned())
    }
}

/// "Seals" by keeping the payload here and handing out its index with the
/// purpose: unforgeable within a test, and bound to its purpose.
#[derive(Default)]
pub struct Sealed(Mutex<Vec<(String, Vec<u8>)>>);

impl Sealer for Sealed {
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, CryptoError> {
        let mut all = self.0.lock().unwrap();
        all.push((purpose.to_owned(), plaintext.to_vec()));
        Ok(format!("sealed-{}", all.len() - 1))
    }
    fn unseal(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let index: usize = sealed
            .strip_prefix("sealed-")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| CryptoError::Failed("not sealed".into()))?;
        match self.0.lock().unwrap().get(index) {
            Some((p, plain)) if p == purpose => Ok(plain.clone()),
            _ => Err(CryptoError::Failed("not sealed for this".into())),
        }
    }
}

/// A provider whose answers the test scripts: the identity a web sign-in
/// or a token names, and the device polls' answers in order.
#[derive(Default)]
pub struct Upstream {
    pub identity: Mutex<Option<UpstreamIdentity>>,
    pub polls: Mutex<std::collections::VecDeque<DevicePoll>>,
    pub polled: AtomicUsize,
}

#[async_trait]
impl IdentityProvider for Upstream {
    fn display_name(&self) -> &str {
        "Upstream"
    }
    fn browser_origin(&self) -> String {
        "https://upstream.test".into()
    }
    fn authorization_url(
        &self,
        request: &UpstreamRequest<'_>,
    ) -> Result<String, crate::error::UpstreamError> {
        Ok(format!(
            "https://upstream.test/authorize?state={}",
            request.state
        ))
    }
    async fn finish(
        &self,
        _callback: &UpstreamCallback<'_>,
    ) -> Result<UpstreamIdentity, crate::error::UpstreamError> {
        self.identity
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| crate::error::UpstreamError::Refused("bad_verification_code".into()))
    }
    async fn start_device(
        &self,
        now: DateTime<Utc>,
    ) -> Result<UpstreamDevice, crate::error::UpstreamError> {
        Ok(UpstreamDevice {
            verification_uri: "https://upstream.test/device".into(),
            user_code: "WDJB-MJHT".into(),
            device_code: OpaqueToken::new("device-code".into()),
            expires_at: now + Duration::minutes(15),
            interval: Duration::seconds(5),
        })
    }
    async fn poll_device(
        &self,
        _device_code: &OpaqueToken,
    ) -> Result<DevicePoll, crate::error::UpstreamError> {
        self.polled.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .polls
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(DevicePoll::Expired))
    }
    async fn identity(
        &self,
        _access_token: &str,
    ) -> Result<UpstreamIdentity, crate::error::UpstreamError> {
        self.finish(&UpstreamCallback {
            code: "",
            code_verifier: "",
            nonce: "",
            redirect_uri: "",
            issuer: None,
            now: t0(),
        })
        .await
    }
}
