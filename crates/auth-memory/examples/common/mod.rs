//! What an embedding service writes once: the core's role services over
//! the in-memory store and the crypto adapters, with one client and one
//! user registered.
use std::sync::Arc;

use auth_core::accounts::{ClientSpec, UserSpec, register_client, register_user};
use auth_core::policy::TokenPolicy;
use auth_core::ports::Ports;
use auth_core::service::{Core, Grants};
use auth_core::types::{
    Client, GrantType, KeyAlgorithm, OpaqueToken, Password, Scope, TokenFormat, Username,
};
use auth_crypto::{
    Argon2Hasher, HashCost, JwsRing, JwtCodec, KeyRing, OsRandom, PasetoCodec, Sha256Digest,
    generate_jws_key, generate_signing_key,
};
use auth_memory::MemoryStore;
use chrono::Utc;

pub const ISSUER: &str = "https://auth.example.com";

/// The service, and the client and user it knows.
pub struct Embedded {
    pub grants: Grants,
    pub client: Client,
    pub client_secret: OpaqueToken,
}

/// Builds the core: storage in memory, PASETO access tokens and EdDSA ID
/// tokens under keys made now, argon2id password hashing.
pub async fn embed() -> Result<Embedded, Box<dyn std::error::Error>> {
    let now = Utc::now();
    let store = Arc::new(MemoryStore::new());
    let paseto = KeyRing::load(&[generate_signing_key(now, now)?])?;
    let jws = JwsRing::load(&[generate_jws_key(KeyAlgorithm::EdDsa, now, now)?])?;
    let ports = Ports {
        users: store.clone(),
        clients: store.clone(),
        tokens: store.clone(),
        codes: store.clone(),
        sessions: store.clone(),
        mail: store.clone(),
        devices: store.clone(),
        factors: store.clone(),
        groups: store.clone(),
        otp: Arc::new(auth_crypto::RfcTotp),
        throttles: store,
        hasher: Arc::new(Argon2Hasher::new(HashCost::OWASP)?),
        codec: Arc::new(PasetoCodec::new(paseto, ISSUER)),
        id_tokens: Arc::new(jws.clone()),
        jwt: Arc::new(JwtCodec::new(jws, ISSUER)),
        digest: Arc::new(Sha256Digest),
        random: Arc::new(OsRandom),
    };
    let roles = Core::new(ports, TokenPolicy::default(), ISSUER).into_roles();

    let (client, secret) = register_client(
        &roles.accounts,
        ClientSpec {
            id: None,
            name: "reports".into(),
            public: false,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![
                GrantType::ClientCredentials,
                GrantType::Password,
                GrantType::RefreshToken,
            ],
            scope: Scope::parse("reports:read reports:write")?,
            access_token_ttl: None,
            refresh_mode: None,
            first_party: true,
            dialects: vec![],
            allow_plain_pkce: false,
            id_token_algorithm: KeyAlgorithm::EdDsa,
            token_format: TokenFormat::Paseto,
            audiences: vec![],
            require_verified_email: false,
            allowed_groups: Vec::new(),
            admin: false,
            mfa: auth_core::types::ClientMfa::Optional,
            allowed_origins: None,
            bare_native_schemes: false,
        },
        now,
    )
    .await?;
    register_user(
        &roles.accounts,
        UserSpec {
            username: Username::parse("ada")?,
            email: None,
            password: Password::parse("correct horse battery staple")?,
            given_name: Some("Ada".into()),
            family_name: None,
        },
        now,
    )
    .await?;
    let client_secret = secret.ok_or("a confidential client gets a secret")?;
    Ok(Embedded {
        grants: roles.grants,
        client,
        client_secret,
    })
}
