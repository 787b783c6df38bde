use auth_core::accounts::*;
use auth_core::policy::TokenPolicy;
use auth_core::ports::ClientRepository as _;
use auth_core::types::*;

use auth_core::ports::SecretDigest as _;

use crate::doubles::{Digests, t0};
use crate::world::World;

fn spec(public: bool, grants: Vec<GrantType>) -> ClientSpec {
    ClientSpec {
        id: None,
        name: "app".into(),
        public,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: grants,
        scope: Scope::parse("read").unwrap(),
        access_token_ttl: None,
        refresh_mode: None,
        first_party: false,
        dialects: vec![],
        allow_plain_pkce: false,
        id_token_algorithm: KeyAlgorithm::Rs256,
        token_format: TokenFormat::Paseto,
        audiences: vec![],
        bare_native_schemes: false,
        require_verified_email: false,
        allowed_groups: Vec::new(),
        admin: false,
        mfa: auth_core::types::ClientMfa::Optional,
        allowed_origins: None,
    }
}

#[tokio::test]
async fn confidential_clients_get_a_secret_stored_as_digest() {
    let w = World::new(TokenPolicy::default());
    let (c, secret) = register_client(&w.accounts, spec(false, vec![]), t0())
        .await
        .unwrap();
    let secret = secret.unwrap();
    match &c.auth {
        ClientAuth::Confidential { secret_digest } => {
            assert!(Digests.verify(secret.expose(), secret_digest))
        }
        ClientAuth::Public => panic!("expected confidential"),
    }
    assert!(c.allows(GrantType::ClientCredentials));
    assert_eq!(w.store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn public_clients_get_no_secret_and_no_client_credentials() {
    let w = World::new(TokenPolicy::default());
    let (c, secret) = register_client(&w.accounts, spec(true, vec![]), t0())
        .await
        .unwrap();
    assert!(secret.is_none() && c.is_public() && !c.allows(GrantType::ClientCredentials));
    let r = register_client(
        &w.accounts,
        spec(true, vec![GrantType::ClientCredentials]),
        t0(),
    )
    .await;
    assert!(matches!(r, Err(RegistrationError::Invalid(_))));
    assert_eq!(
        w.store.list().await.unwrap().len(),
        1,
        "the refused client was not stored"
    );
}

#[tokio::test]
async fn users_are_stored_hashed_and_unique() {
    let w = World::new(TokenPolicy::default());
    let s = UserSpec {
        username: Username::parse("john").unwrap(),
        email: None,
        password: Password::parse("1234").unwrap(),
        given_name: None,
        family_name: None,
    };
    let u = register_user(&w.accounts, s.clone(), t0()).await.unwrap();
    assert_eq!(u.password_hash.unwrap().as_str(), "plain:1234");
    assert!(matches!(
        register_user(&w.accounts, s, t0()).await,
        Err(RegistrationError::Conflict("user"))
    ));
}
