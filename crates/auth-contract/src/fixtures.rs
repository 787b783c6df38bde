//! The rows the scenarios store: a fixed instant, an account, a client, a
//! refresh token; public so a backend's own tests can store them too.
#![allow(clippy::unwrap_used, reason = "the fixtures' literals parse")]
use auth_core::types::*;
use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

pub fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap()
}

pub fn user(name: &str, email: Option<&str>) -> User {
    User {
        id: UserId::new(Uuid::new_v4()),
        username: Username::parse(name).unwrap(),
        email: email.map(|e| Email::parse(e).unwrap()),
        password_hash: Some(PasswordHash::new("$argon2id$v=19$m=8,t=1,p=1$x$y".into())),
        given_name: Some("Given".into()),
        family_name: None,
        disabled: false,
        created_at: t0(),
        token_generation: Default::default(),
        email_verified: false,
    }
}

pub fn client(id: &str) -> Client {
    Client {
        id: ClientId::parse(id).unwrap(),
        name: id.into(),
        auth: ClientAuth::Confidential {
            secret_digest: Digest::from_bytes([9; 32]),
        },
        redirect_uris: vec![
            RedirectUri::parse("myapp://callback").unwrap(),
            RedirectUri::parse("https://a.example/cb?x=1").unwrap(),
        ],
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        scope: Scope::parse("read write").unwrap(),
        access_token_ttl: Some(Duration::seconds(42961)),
        refresh_mode: Some(auth_core::RefreshMode::Reuse),
        first_party: true,
        dialects: vec![Dialect::RedirectLogin, Dialect::SpringOauth],
        allow_plain_pkce: false,
        post_logout_redirect_uris: vec![],
        id_token_algorithm: auth_core::types::KeyAlgorithm::EdDsa,
        token_format: TokenFormat::Reference,
        audiences: vec![],
        require_verified_email: false,
        allowed_groups: Vec::new(),
        admin: false,
        mfa: auth_core::types::ClientMfa::Optional,
        allowed_origins: None,
        created_at: t0(),
    }
}

pub fn refresh(
    byte: u8,
    family: FamilyId,
    client: &str,
    user: Option<UserId>,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        digest: Digest::from_bytes([byte; 32]),
        family,
        client_id: ClientId::parse(client).unwrap(),
        user_id: user,
        scope: Scope::parse("read").unwrap(),
        issued_at: t0(),
        expires_at: t0() + Duration::days(1),
        family_expires_at: t0() + Duration::days(30),
        rotated_at: None,
        revoked_at: None,
        parent: None,
        superseded_at: None,
        issued_with: None,
    }
}

/// How many of `n` calls of `attempt`, all in flight at once, were allowed.
pub async fn allowed_in_burst<F, Fut>(n: usize, attempt: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(attempt())).collect();
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    allowed
}

/// A signing key as a store sees it: strings it keeps as they are (a store
/// neither makes nor reads keys).
pub fn signing_key(n: u8, activates_at: chrono::DateTime<Utc>) -> SigningKey {
    SigningKey {
        key_id: format!("k4.pid.test-{n}"),
        algorithm: KeyAlgorithm::PasetoV4Public,
        public_key: format!("k4.public.test-{n}"),
        secret_key: OpaqueToken::new(format!("sealed-{n}")),
        created_at: t0(),
        activates_at,
    }
}

/// A throttle key for a scenario that needs distinct keys and cares not
/// which kind.
pub fn throttle(label: &str) -> auth_core::throttle::ThrottleKey {
    auth_core::throttle::ThrottleKey::Upstream(label.to_owned())
}

/// The address the scenarios' sign-ins come from.
pub fn from_address() -> auth_core::throttle::AttemptSource {
    auth_core::throttle::AttemptSource::Address("203.0.113.7".to_owned())
}
