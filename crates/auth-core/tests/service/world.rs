//! The core's role services wired over the in-memory store and the test doubles,
//! with handles for assertions.
use std::sync::Arc;

use auth_core::policy::TokenPolicy;
use auth_core::ports::Ports;
use auth_core::ports::{
    AuthorizationCodeRepository, ClientRepository, SecretDigest as _, TokenRepository,
    UserRepository,
};
use auth_core::service::{Accounts, BrowserSignIn, Core, Grants, Roles};
use auth_core::types::*;
use auth_memory::MemoryStore;
use uuid::Uuid;

use crate::doubles::{Codec, Counter, Digests, Hasher, IdTokens, Sealed, StepCodes, t0};

const ISSUER: &str = "http://issuer.test";

pub struct World {
    pub store: MemoryStore,
    pub hasher: Arc<Hasher>,
    pub grants: Grants,
    pub sign_in: BrowserSignIn,
    pub accounts: Accounts,
    ports: Ports,
    policy: TokenPolicy,
}

impl World {
    pub fn new(policy: TokenPolicy) -> Self {
        let store = MemoryStore::new();
        let hasher = Arc::new(Hasher::default());
        let shared = Arc::new(store.clone());
        let ports = Ports {
            users: shared.clone(),
            clients: shared.clone(),
            tokens: shared.clone(),
            codes: shared.clone(),
            sessions: shared.clone(),
            mail: shared.clone(),
            devices: shared.clone(),
            factors: shared.clone(),
            groups: shared.clone(),
            otp: Arc::new(StepCodes),
            throttles: shared,
            hasher: hasher.clone(),
            codec: Arc::new(Codec),
            id_tokens: Arc::new(IdTokens),
            jwt: Arc::new(Codec),
            digest: Arc::new(Digests),
            random: Arc::new(Counter::default()),
        };
        let Roles {
            grants,
            sign_in,
            accounts,
        } = core(ports.clone(), policy.clone()).into_roles();
        Self {
            store,
            hasher,
            grants,
            sign_in,
            accounts,
            ports,
            policy,
        }
    }

    /// The same world, its tokens reached through `tokens` instead.
    pub fn replacing_tokens(self, tokens: impl TokenRepository + 'static) -> Self {
        self.replacing(|ports| ports.tokens = Arc::new(tokens))
    }

    /// The same world, its codes reached through `codes` instead.
    pub fn replacing_codes(self, codes: impl AuthorizationCodeRepository + 'static) -> Self {
        self.replacing(|ports| ports.codes = Arc::new(codes))
    }

    fn replacing(mut self, adjust: impl FnOnce(&mut Ports)) -> Self {
        adjust(&mut self.ports);
        let roles = core(self.ports.clone(), self.policy.clone()).into_roles();
        (self.grants, self.sign_in, self.accounts) = (roles.grants, roles.sign_in, roles.accounts);
        self
    }

    pub async fn add_client(
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
            id_token_algorithm: KeyAlgorithm::Rs256,
            token_format: TokenFormat::Paseto,
            audiences: vec![],
            require_verified_email: false,
            allowed_groups: Vec::new(),
            admin: false,
            mfa: auth_core::types::ClientMfa::Optional,
            allowed_origins: None,
            created_at: t0(),
        };
        ClientRepository::create(&self.store, &client)
            .await
            .unwrap();
        client
    }

    /// Replaces a stored client (as an operator's update would).
    pub async fn set_client(&self, client: &Client) {
        assert!(ClientRepository::update(&self.store, client).await.unwrap());
    }

    /// A browser session for `user`, signed in with a password at `now`;
    /// `None` where the account's second factor is due first.
    pub async fn session_for(
        &self,
        user: UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<OpaqueToken> {
        let password = AuthMethods::of(&[AuthMethod::Password]);
        match self
            .sign_in
            .begin_browser_session(user, SessionOrigin::default(), password, now)
            .await
            .unwrap()
        {
            auth_core::sessions::BrowserStart::Session(id) => Some(id),
            auth_core::sessions::BrowserStart::SecondStep { .. } => None,
        }
    }

    pub async fn add_user(&self, username: &str, email: Option<&str>, password: &str) -> User {
        let user = User {
            id: UserId::new(Uuid::new_v4()),
            username: Username::parse(username).unwrap(),
            email: email.map(|e| Email::parse(e).unwrap()),
            password_hash: Some(PasswordHash::new(format!("plain:{password}"))),
            given_name: None,
            family_name: None,
            disabled: false,
            created_at: t0(),
            token_generation: Default::default(),
            email_verified: false,
        };
        UserRepository::create(&self.store, &user).await.unwrap();
        user
    }

    pub async fn disable(&self, user: UserId) {
        assert!(self.store.set_disabled(user, true, t0()).await.unwrap());
    }

    /// Refresh tokens neither rotated nor revoked.
    pub fn live(&self) -> usize {
        self.store
            .refresh_tokens()
            .iter()
            .filter(|r| r.revoked_at.is_none() && r.rotated_at.is_none())
            .count()
    }
}

/// The core the worlds run: second factors on (TOTP; no passkeys, whose
/// ceremonies need a browser and are tested end to end).
fn core(ports: Ports, policy: TokenPolicy) -> Core {
    Core::new(ports, policy, ISSUER).with_second_factors(auth_core::factors::SecondFactors {
        sealer: Arc::new(Sealed::default()),
        passkeys: None,
        policy: auth_core::factors::MfaPolicy::Optional,
    })
}
