//! Signing key rotation: a new key is published before it signs, old
//! tokens keep verifying until pruned, unknown keys are refused, and keys
//! are sealed at rest.
use auth_core::ports::{Clock, KeyRepository, TokenCodec};
use base64::Engine as _;
use chrono::Duration;
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, scenarios};

fn kid_of(token: &str) -> String {
    let footer = token.rsplit('.').next().unwrap();
    let footer = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(footer)
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&footer).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn published(app: &TestApp) -> Vec<String> {
    let r = app.get_with(&app.http, "/.well-known/paserk").await;
    r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn token(app: &TestApp, id: &str, secret: &str) -> String {
    app.post_form(
        "/token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .str("access_token")
    .to_owned()
}

async fn rotate_publish_sign_prune(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let old_token = token(&app, &id, &secret).await;
    let old_kid = kid_of(&old_token);

    // Rotate: the new key is published at once but does not sign yet.
    let new_key = app
        .services
        .rotate_key(
            auth_core::types::KeyAlgorithm::PasetoV4Public,
            app.clock.now(),
            Duration::minutes(6),
        )
        .await
        .unwrap();
    let logged = portcullis_tests::log_lines_with(&new_key.key_id);
    assert!(
        logged.iter().any(|l| l.contains("key_rotated")),
        "{logged:#?}"
    );
    app.services.reload_keys().await.unwrap();
    let keys = published(&app).await;
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&new_key.key_id) && keys.contains(&old_kid));
    assert_eq!(
        kid_of(&token(&app, &id, &secret).await),
        old_kid,
        "a pending key does not sign"
    );

    // After the activation delay it signs; the old key's tokens still verify.
    app.clock.advance(Duration::minutes(6));
    let new_token = token(&app, &id, &secret).await;
    assert_eq!(kid_of(&new_token), new_key.key_id);
    assert_eq!(
        app.get_bearer("/userinfo", &old_token).await.error(),
        "invalid_token",
        "client tokens name no user"
    );
    let codec = app.services.ports.codec.clone();
    assert!(codec.verify(&old_token, app.clock.now()).is_ok());
    assert!(codec.verify(&new_token, app.clock.now()).is_ok());
    let i = app
        .post_form(
            "/introspect",
            Some((&id, &secret)),
            &[("token", &old_token)],
        )
        .await;
    assert_eq!(i.body["active"], true);

    // A token from a key this server never had is refused.
    let stranger = auth_crypto::generate_signing_key(app.clock.now(), app.clock.now()).unwrap();
    let foreign = auth_crypto::PasetoCodec::new(
        auth_crypto::KeyRing::load(&[stranger]).unwrap(),
        "http://issuer.test",
    );
    let claims = codec.verify(&new_token, app.clock.now()).unwrap();
    let forged = foreign.issue(&claims).unwrap();
    let i = app
        .post_form("/introspect", Some((&id, &secret)), &[("token", &forged)])
        .await;
    assert_eq!(i.body, serde_json::json!({"active": false}));

    // Pruning waits until every token of the old key has expired.
    assert!(
        app.services
            .prune_keys(app.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    app.clock.advance(Duration::hours(1));
    assert_eq!(
        app.services.prune_keys(app.clock.now()).await.unwrap(),
        std::slice::from_ref(&old_kid)
    );
    app.services.reload_keys().await.unwrap();
    assert_eq!(published(&app).await, std::slice::from_ref(&new_key.key_id));

    // At rest the secrets are sealed.
    for k in KeyRepository::list(&app.database).await.unwrap() {
        assert!(
            k.secret_key.expose().starts_with("v4.local."),
            "{:?}",
            k.key_id
        );
    }
}

scenarios! {
    rotate_publish_sign_prune,
}
