//! The operator's commands' operations (`client update/delete/rotate-secret`,
//! `user set-password/delete`), each checked by what a client sees
//! afterwards, and each refused where it must be.
use auth_core::accounts::{
    ClientSpec, RegistrationError, delete_client, delete_user, end_user_sessions,
    rotate_client_secret, set_user_password, update_client,
};
use auth_core::ports::Clock as _;
use auth_core::types::{ClientId, Password, RedirectUri, Scope};
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, scenarios};

use crate::browser::{authorize_path, log_in};

const GRANTS: &[&str] = &["client_credentials", "password", "refresh_token"];

async fn app_with_client(db: ScratchDb, reference: bool) -> (TestApp, String, String) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app
        .client(ClientSetup {
            grants: GRANTS,
            scope: "read write",
            reference_tokens: reference,
            ..Default::default()
        })
        .await;
    (app, id, secret.unwrap())
}

async fn sign_in(app: &TestApp, id: &str, secret: &str, password: &str) -> portcullis_tests::Reply {
    app.post_form(
        "/token",
        Some((id, secret)),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", password),
        ],
    )
    .await
}

async fn deleting_a_client_stops_its_tokens(db: ScratchDb, reference: bool) {
    let (app, id, secret) = app_with_client(db, reference).await;
    app.user("alice", None, "correct horse").await;
    let signed_in = sign_in(&app, &id, &secret, "correct horse").await;
    assert_eq!(signed_in.status, 200);
    let access = signed_in.str("access_token").to_owned();
    let refresh = signed_in.str("refresh_token").to_owned();
    let now = app.clock.now();
    assert!(
        app.services
            .roles
            .grants
            .verify_access(&access, now)
            .await
            .is_ok()
    );

    let client = ClientId::parse(&id).unwrap();
    assert!(
        delete_client(&app.services.roles.accounts, &client)
            .await
            .unwrap()
    );
    assert!(
        !delete_client(&app.services.roles.accounts, &client)
            .await
            .unwrap(),
        "deleted once"
    );
    assert!(
        app.services
            .roles
            .grants
            .verify_access(&access, now)
            .await
            .is_err(),
        "a deleted client's access token is refused"
    );
    let userinfo = app.get_bearer("/userinfo", &access).await;
    assert_eq!(userinfo.status, 401);
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "invalid_client"));
    let stored = app.fingerprint().await.join("\n");
    assert!(
        !stored.contains(&id),
        "nothing of the client is left: {stored}"
    );
}

async fn a_rotated_secret_replaces_the_old_one(db: ScratchDb) {
    let (app, id, old) = app_with_client(db, false).await;
    let client = ClientId::parse(&id).unwrap();
    let new = rotate_client_secret(&app.services.roles.accounts, &client)
        .await
        .unwrap()
        .unwrap();
    let cc = |secret: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.post_form(
                "/token",
                Some((&id, &secret)),
                &[("grant_type", "client_credentials")],
            )
            .await
            .status
        }
    };
    assert_eq!(cc(old).await, 401);
    assert_eq!(cc(new.expose().to_owned()).await, 200);
    // A public client has no secret to rotate; an unknown one, nothing.
    let (public, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["https://app.example/cb"],
            ..Default::default()
        })
        .await;
    let refused = rotate_client_secret(
        &app.services.roles.accounts,
        &ClientId::parse(&public).unwrap(),
    )
    .await;
    assert!(matches!(refused, Err(RegistrationError::Invalid(_))));
    let unknown = rotate_client_secret(
        &app.services.roles.accounts,
        &ClientId::parse("nobody").unwrap(),
    )
    .await;
    assert!(matches!(unknown, Ok(None)));
}

async fn an_update_follows_the_registration_rules(db: ScratchDb) {
    let (app, id, secret) = app_with_client(db, false).await;
    let client = ClientId::parse(&id).unwrap();
    let current = app
        .services
        .roles
        .grants
        .client(&client)
        .await
        .unwrap()
        .unwrap();
    let before = app.fingerprint().await;

    // Refused changes change nothing.
    let refusals = [
        ClientSpec {
            public: true,
            ..ClientSpec::of(&current)
        },
        ClientSpec {
            name: " ".into(),
            ..ClientSpec::of(&current)
        },
        ClientSpec {
            redirect_uris: vec![RedirectUri::parse("myapp://callback").unwrap()],
            ..ClientSpec::of(&current)
        },
    ];
    for spec in refusals {
        let r = update_client(&app.services.roles.accounts, &client, spec).await;
        assert!(matches!(r, Err(RegistrationError::Invalid(_))), "{r:?}");
    }
    assert_eq!(app.fingerprint().await, before);

    // A narrower scope is what the client may ask for from then on.
    let narrower = ClientSpec {
        scope: Scope::parse("read").unwrap(),
        ..ClientSpec::of(&current)
    };
    let changed = update_client(&app.services.roles.accounts, &client, narrower)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.created_at, current.created_at);
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials"), ("scope", "write")],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_scope"));
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials"), ("scope", "read")],
        )
        .await;
    assert_eq!(r.status, 200, "the secret still works");
}

async fn a_new_password_ends_the_old_ones_grants(db: ScratchDb) {
    let (app, id, secret) = app_with_client(db, false).await;
    app.user("alice", None, "correct horse").await;
    let first = sign_in(&app, &id, &secret, "correct horse").await;
    let refresh = first.str("refresh_token").to_owned();
    let new = Password::parse("battery staple").unwrap();
    let now = app.clock.now();
    assert!(
        set_user_password(&app.services.roles.accounts, "alice", &new, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        set_user_password(&app.services.roles.accounts, "nobody", &new, now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        sign_in(&app, &id, &secret, "correct horse").await.status,
        400
    );
    assert_eq!(
        sign_in(&app, &id, &secret, "battery staple").await.status,
        200
    );
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "the old refresh token ended"
    );
}

async fn a_deleted_account_holds_nothing(db: ScratchDb) {
    let (app, id, secret) = app_with_client(db, true).await;
    let user_id = app
        .user("alice", Some("alice@example.org"), "correct horse")
        .await;
    let signed_in = sign_in(&app, &id, &secret, "correct horse").await;
    let (access, refresh) = (
        signed_in.str("access_token").to_owned(),
        signed_in.str("refresh_token").to_owned(),
    );
    let deleted = delete_user(&app.services.roles.accounts, "alice@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.id.to_string(), user_id);
    assert!(
        delete_user(&app.services.roles.accounts, &user_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.get_bearer("/userinfo", &access).await.status, 401);
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        sign_in(&app, &id, &secret, "correct horse").await.status,
        400
    );
    let stored = app.fingerprint().await;
    assert!(
        stored
            .iter()
            .all(|line| !line.starts_with("users ") && !line.starts_with("refresh_tokens ")),
        "nothing of the account is left: {stored:?}"
    );
}

/// A browser signed in through the hosted login page (user michael).
async fn signed_in_browser(app: &TestApp) -> (reqwest::Client, String) {
    let (client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["myapp://callback"],
            first_party: true,
            ..Default::default()
        })
        .await;
    app.user("michael", None, "correct-horse").await;
    let b = portcullis_tests::browser();
    let r = log_in(app, &b, &authorize_path(&client, "myapp://callback", "s1")).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(signed_in(app, &b, &client).await, "the session signs in");
    (b, client)
}

/// Whether the browser's session still stands: `/authorize` answers with
/// a code at once instead of the login page.
async fn signed_in(app: &TestApp, b: &reqwest::Client, client: &str) -> bool {
    let r = app
        .get_with(b, &authorize_path(client, "myapp://callback", "s2"))
        .await;
    match r.status {
        302 => true,
        200 if r.text.contains("current-password") => false,
        other => panic!("unexpected answer {other}: {}", r.text),
    }
}

async fn revoking_sessions_signs_the_browser_out(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (b, client) = signed_in_browser(&app).await;
    // Another account's sessions are not this one's.
    app.user("alice", None, "correct horse").await;
    let (_, ended) = end_user_sessions(&app.services.roles.accounts, "alice", app.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended, 0);
    assert!(signed_in(&app, &b, &client).await);
    let (_, ended) = end_user_sessions(&app.services.roles.accounts, "michael", app.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended, 1);
    assert!(!signed_in(&app, &b, &client).await, "the session ended");
    assert!(
        end_user_sessions(&app.services.roles.accounts, "nobody", app.clock.now())
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_new_password_signs_the_browser_out(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (b, client) = signed_in_browser(&app).await;
    let new = Password::parse("battery staple").unwrap();
    set_user_password(
        &app.services.roles.accounts,
        "michael",
        &new,
        app.clock.now(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!signed_in(&app, &b, &client).await);
}

async fn deleting_a_client_stops_its_paseto_tokens(db: ScratchDb) {
    deleting_a_client_stops_its_tokens(db, false).await
}

async fn deleting_a_client_stops_its_reference_tokens(db: ScratchDb) {
    deleting_a_client_stops_its_tokens(db, true).await
}

scenarios! {
    deleting_a_client_stops_its_paseto_tokens,
    deleting_a_client_stops_its_reference_tokens,
    a_rotated_secret_replaces_the_old_one,
    an_update_follows_the_registration_rules,
    a_new_password_ends_the_old_ones_grants,
    a_deleted_account_holds_nothing,
    revoking_sessions_signs_the_browser_out,
    a_new_password_signs_the_browser_out,
}
