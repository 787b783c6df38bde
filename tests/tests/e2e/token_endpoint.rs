//! The token endpoint's happy paths over HTTP, including seed 004 exactly as
//! its document shows it.
use std::collections::BTreeSet;

use chrono::Duration;
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, scenarios};

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// A server, a confidential client, and Alice's first token answer.
async fn signed_in_alice(db: ScratchDb) -> (TestApp, String, String, portcullis_tests::Reply) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    app.user("alice", None, "pw").await;
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "pw"),
            ],
        )
        .await;
    (app, id, secret, r)
}

async fn seed_004_password_refresh_and_me(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let setup = ClientSetup {
        id: Some("breakout_app"),
        grants: &["password", "refresh_token"],
        access_ttl: Some(42961),
        dialects: &["spring-oauth"],
        ..Default::default()
    };
    let (id, secret) = app.client(setup).await;
    let secret = secret.unwrap();
    let user_id = app
        .user("admin", Some("admin@break-out.org"), "password")
        .await;

    // POST /oauth/token, Basic client credentials, the document's exact body.
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .header("Accept", "application/json")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            "username=admin%40break-out.org&password=password&grant_type=password&scope=read+write",
        )
        .send()
        .await
        .unwrap();
    let r = portcullis_tests::Reply::from(resp).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(r.str("token_type"), "bearer");
    assert_eq!(r.body["expires_in"], 42961);
    assert_eq!(r.str("scope"), "read write");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.str("access_token").starts_with("v4.public."));
    let refresh = r.str("refresh_token").to_owned();

    // GET /me/ with the bearer token.
    let me = app.get_bearer("/me/", r.str("access_token")).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.str("sub"), user_id);
    assert_eq!(me.str("email"), "admin@break-out.org");
    assert_eq!(me.str("username"), "admin");

    // Refresh with the document's body.
    app.clock.advance(Duration::minutes(1));
    let resp = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("refresh_token={refresh}&grant_type=refresh_token"))
        .send()
        .await
        .unwrap();
    let r2 = portcullis_tests::Reply::from(resp).await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    assert_eq!(keys(&r2.body), keys(&r.body));
    assert_ne!(r2.str("refresh_token"), refresh, "rotated");
    assert_eq!(r2.str("scope"), "read write");
    let me = app.get_bearer("/me", r2.str("access_token")).await;
    assert_eq!(me.status, 200);
    let info = app.get_bearer("/userinfo", r2.str("access_token")).await;
    assert_eq!(info.str("preferred_username"), "admin");
}

async fn client_credentials_with_secret_in_body(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let r = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.str("token_type"), "Bearer");
    assert_eq!(r.str("scope"), "read");
    assert_eq!(r.body["expires_in"], 3600);
    assert!(r.body.get("refresh_token").is_none());
    // A client token names no user: /userinfo refuses it.
    let me = app.get_bearer("/userinfo", r.str("access_token")).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.error(), "invalid_token");
}

async fn public_client_authenticates_with_its_id_alone(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app
        .client(ClientSetup {
            public: true,
            grants: &["password", "refresh_token"],
            ..Default::default()
        })
        .await;
    assert!(secret.is_none());
    app.user("alice", None, "s3cret-pass").await;
    let r = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("username", "alice"),
                ("password", "s3cret-pass"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt = r.str("refresh_token").to_owned();
    let r = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &id),
                ("refresh_token", &rt),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn replaying_a_rotated_token_revokes_the_family(db: ScratchDb) {
    let (app, id, secret, r) = signed_in_alice(db).await;
    let basic = Some((id.as_str(), secret.as_str()));
    let rt1 = r.str("refresh_token").to_owned();
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
        )
        .await;
    assert_eq!(r.status, 200);
    let rt2 = r.str("refresh_token").to_owned();
    // The old token comes back after the retry window: refused, and its
    // successor dies with it.
    app.clock.advance(Duration::seconds(11));
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
}

async fn a_narrower_refresh_scope_is_for_that_access_token_and_families_end(db: ScratchDb) {
    let (app, id, secret, r) = signed_in_alice(db).await;
    let basic = Some((id.as_str(), secret.as_str()));
    let mut rt = r.str("refresh_token").to_owned();
    // RFC 6749 section 6: narrowing applies to the access token only.
    let r = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!((r.status, r.str("scope")), (200, "read"), "{}", r.text);
    rt = r.str("refresh_token").to_owned();
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(r.str("scope"), "read write", "the grant's scope is back");
    rt = r.str("refresh_token").to_owned();
    // Rotating every 80 days keeps each 90-day token alive, but the
    // family ends 365 days after the sign-in however often it rotates.
    for _ in 0..4 {
        app.clock.advance(Duration::days(80));
        let r = app
            .post_form(
                "/token",
                basic,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        rt = r.str("refresh_token").to_owned();
    }
    app.clock.advance(Duration::days(45));
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "day 365: the family has ended"
    );
}

async fn a_lost_answer_is_retried_not_replayed(db: ScratchDb) {
    let (app, id, secret, r) = signed_in_alice(db).await;
    let basic = Some((id.as_str(), secret.as_str()));
    let held = r.str("refresh_token").to_owned();
    // The rotation commits, but its answer never reaches the client.
    let lost = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &held)],
        )
        .await;
    let lost_rt = lost.str("refresh_token").to_owned();
    let lost_at = lost.str("access_token").to_owned();
    // The client retries with the token it holds: a fresh pair.
    app.clock.advance(Duration::seconds(5));
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &held)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The lost answer's access token was never seen either: revoked.
    assert_eq!(app.get_bearer("/userinfo", &lost_at).await.status, 401);
    let mut rt = r.str("refresh_token").to_owned();
    for _ in 0..3 {
        let r = app
            .post_form(
                "/token",
                basic,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await;
        assert_eq!(r.status, 200, "the family lives on: {}", r.text);
        rt = r.str("refresh_token").to_owned();
    }
    // The lost successor turns up later: someone else held it.
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &lost_rt)],
        )
        .await;
    assert_eq!(r.error(), "invalid_grant");
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(r.error(), "invalid_grant", "the family is revoked");
    assert_eq!(app.get_bearer("/userinfo", &lost_at).await.status, 401);
}

async fn expired_and_tampered_access_tokens_are_refused(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    app.user("alice", None, "pw").await;
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret.unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "pw"),
            ],
        )
        .await;
    let at = r.str("access_token").to_owned();
    assert_eq!(app.get_bearer("/me", &at).await.status, 200);
    let tampered = format!("{}A", &at[..at.len() - 1]);
    let r = app.get_bearer("/me", &tampered).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    app.clock.advance(Duration::hours(1));
    assert_eq!(app.get_bearer("/me", &at).await.status, 401);
    let none = app.http.get(app.url("/me")).send().await.unwrap();
    assert_eq!(none.status(), 401);
}

scenarios! {
    seed_004_password_refresh_and_me,
    client_credentials_with_secret_in_body,
    public_client_authenticates_with_its_id_alone,
    replaying_a_rotated_token_revokes_the_family,
    a_narrower_refresh_scope_is_for_that_access_token_and_families_end,
    a_lost_answer_is_retried_not_replayed,
    expired_and_tampered_access_tokens_are_refused,
}
