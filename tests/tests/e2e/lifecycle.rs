//! Introspection (RFC 7662) and revocation (RFC 7009) for every token kind,
//! and reference access tokens.
use chrono::Duration;
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, scenarios};

struct World {
    app: TestApp,
    id: String,
    secret: String,
    other: (String, String),
}

async fn world(db: ScratchDb, reference: bool) -> World {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app
        .client(ClientSetup {
            reference_tokens: reference,
            ..Default::default()
        })
        .await;
    // A resource server registered to serve the first client's tokens.
    let (oid, osecret) = app
        .client(ClientSetup {
            audiences: &[id.as_str()],
            ..Default::default()
        })
        .await;
    app.user("alice", Some("alice@example.org"), "pw").await;
    World {
        app,
        id,
        secret: secret.unwrap(),
        other: (oid, osecret.unwrap()),
    }
}

impl World {
    /// Whether `app` (this node or another on the same database) reports
    /// `token` active to this world's client.
    async fn active_at(&self, app: &TestApp, token: &str) -> bool {
        let r = app
            .http
            .post(app.url("/introspect"))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        portcullis_tests::Reply::from(r).await.body["active"]
            .as_bool()
            .unwrap()
    }

    async fn login(&self) -> portcullis_tests::Reply {
        self.app
            .post_form(
                "/token",
                Some((&self.id, &self.secret)),
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "pw"),
                ],
            )
            .await
    }

    async fn introspect(&self, token: &str, hint: Option<&str>) -> portcullis_tests::Reply {
        let mut form = vec![("token", token)];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        self.app
            .post_form("/introspect", Some((&self.other.0, &self.other.1)), &form)
            .await
    }

    async fn refresh(&self, token: &str) -> portcullis_tests::Reply {
        self.app
            .post_form(
                "/token",
                Some((&self.id, &self.secret)),
                &[("grant_type", "refresh_token"), ("refresh_token", token)],
            )
            .await
    }

    async fn revoke(&self, by: (&str, &str), token: &str) -> portcullis_tests::Reply {
        self.app
            .post_form("/revoke", Some(by), &[("token", token)])
            .await
    }
}

async fn introspection_and_revocation(db: ScratchDb, reference: bool) {
    let w = world(db, reference).await;
    let t = w.login().await;
    let (at, rt) = (
        t.str("access_token").to_owned(),
        t.str("refresh_token").to_owned(),
    );
    assert_eq!(at.starts_with("v4.public."), !reference, "{at}");

    let i = w.introspect(&at, None).await;
    assert_eq!(i.status, 200, "{}", i.text);
    assert_eq!(i.body["active"], true);
    assert_eq!(
        (
            i.str("client_id"),
            i.str("username"),
            i.str("token_type"),
            i.str("scope")
        ),
        (w.id.as_str(), "alice", "Bearer", "read write")
    );
    assert_eq!(
        i.body["exp"].as_i64().unwrap() - i.body["iat"].as_i64().unwrap(),
        3600
    );
    // A refresh token is its client's alone: the resource server that
    // serves the client's access tokens learns nothing of it.
    let r = w.introspect(&rt, Some("refresh_token")).await;
    assert_eq!(r.body, serde_json::json!({"active": false}));
    let r = w
        .app
        .post_form(
            "/introspect",
            Some((&w.id, &w.secret)),
            &[("token", rt.as_str()), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(
        (r.body["active"].as_bool(), r.str("token_type")),
        (Some(true), "refresh_token")
    );
    assert_eq!(w.app.get_bearer("/me", &at).await.status, 200);

    // Only the owner may revoke; unknown tokens answer 200.
    let r = w.revoke((&w.other.0, &w.other.1), &at).await;
    assert_eq!((r.status, r.error()), (400, "unauthorized_client"));
    assert_eq!(w.introspect(&at, None).await.body["active"], true);
    assert_eq!(
        w.revoke((&w.id, &w.secret), "no-such-token").await.status,
        200
    );

    // Revoking the access token: introspection and /me refuse it at once.
    assert_eq!(w.revoke((&w.id, &w.secret), &at).await.status, 200);
    assert_eq!(
        w.introspect(&at, None).await.body,
        serde_json::json!({"active": false})
    );
    assert_eq!(w.app.get_bearer("/me", &at).await.status, 401);

    // Revoking the refresh token takes its family: a rotated successor too.
    let refreshed = w
        .app
        .post_form(
            "/token",
            Some((&w.id, &w.secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    let successor = refreshed.str("refresh_token").to_owned();
    assert_eq!(w.revoke((&w.id, &w.secret), &successor).await.status, 200);
    assert!(!w.active_at(&w.app, &successor).await);
    let r = w
        .app
        .post_form(
            "/token",
            Some((&w.id, &w.secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &successor),
            ],
        )
        .await;
    assert_eq!(r.error(), "invalid_grant");

    // Expired, malformed and foreign tokens are simply inactive.
    let fresh = w.login().await.str("access_token").to_owned();
    w.app.clock.advance(Duration::hours(1));
    for token in [fresh.as_str(), "garbage", "v4.public.eyJmb28iOiJiYXIifQ"] {
        let i = w.introspect(token, None).await;
        assert_eq!(i.body, serde_json::json!({"active": false}), "{token}");
    }
    // Introspection needs client authentication.
    let r = w
        .app
        .post_form("/introspect", None, &[("token", &at)])
        .await;
    assert_eq!(r.status, 401);
}

/// RFC 7662 section 2.1 and 4: only a confidential client introspects, and
/// it learns only about tokens issued to it or to audiences it serves.
async fn introspection_needs_a_resource_server_that_serves_the_token(db: ScratchDb) {
    let w = world(db, false).await;
    let (stranger, stranger_secret) = w.app.client(ClientSetup::default()).await;
    let stranger_secret = stranger_secret.unwrap();
    let (public, _) = w
        .app
        .client(ClientSetup {
            id: Some("public-app"),
            public: true,
            grants: &["authorization_code", "refresh_token"],
            ..Default::default()
        })
        .await;
    let t = w.login().await;
    for (token, refresh) in [
        (t.str("access_token"), false),
        (t.str("refresh_token"), true),
    ] {
        // A public client: 401, and nothing about the token.
        let r = w
            .app
            .post_form(
                "/introspect",
                None,
                &[("client_id", public.as_str()), ("token", token)],
            )
            .await;
        assert_eq!((r.status, r.error()), (401, "invalid_client"), "{}", r.text);
        assert!(!r.text.contains("alice"));
        assert!(r.header("www-authenticate").is_some());
        // A confidential client that does not serve the token's client.
        let r = w
            .app
            .post_form(
                "/introspect",
                Some((&stranger, &stranger_secret)),
                &[("token", token)],
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, serde_json::json!({"active": false}), "{}", r.text);
        // The token's own client; the resource server serving it, for an
        // access token only (a refresh token is its client's alone).
        assert!(w.active_at(&w.app, token).await);
        assert_eq!(w.introspect(token, None).await.body["active"], !refresh);
    }
    // Wrong secret: 401 as for any client authentication failure.
    let r = w
        .app
        .post_form(
            "/introspect",
            Some((&stranger, "wrong")),
            &[("token", t.str("access_token"))],
        )
        .await;
    assert_eq!(r.status, 401);
}

async fn paseto_tokens(db: ScratchDb) {
    introspection_and_revocation(db, false).await
}

async fn reference_tokens(db: ScratchDb) {
    introspection_and_revocation(db, true).await
}

async fn introspection_is_for_resource_servers(db: ScratchDb) {
    introspection_needs_a_resource_server_that_serves_the_token(db).await
}

/// Two nodes on one PostgreSQL database: a reference token node A has
/// looked up (and remembers) stops working there once node B revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PORTCULLIS_TEST_POSTGRES was not set when the tests were built"
)]
async fn a_revocation_on_one_node_reaches_the_cache_of_another() {
    let db = ScratchDb::new(portcullis_tests::Backend::Postgres)
        .await
        .expect("PORTCULLIS_TEST_POSTGRES is not set");
    let a = world(db, true).await;
    let b = TestApp::spawn(a.app.db.share()).await;
    let token = a.login().await.str("access_token").to_owned();
    // Node A's listener must be up for it to remember tokens at all.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !a.app.services.access_tokens.is_listening() {
        assert!(
            std::time::Instant::now() < deadline,
            "node A never started listening"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(a.active_at(&a.app, &token).await);
    // The row deleted behind the caches' backs (no announcement): node A
    // still answers from memory, node B looks it up. This shows the cache
    // at work; what follows shows that a real revocation reaches it.
    let remembered = a.login().await.str("access_token").to_owned();
    assert!(a.active_at(&a.app, &remembered).await);
    if let auth_store::Database::Postgres(pool) = &a.app.database {
        use diesel_async::RunQueryDsl;
        let digest = auth_core::ports::SecretDigest::digest(
            a.app.services.ports.digest.as_ref(),
            &remembered,
        );
        diesel::sql_query("DELETE FROM access_tokens WHERE digest = $1")
            .bind::<diesel::sql_types::Binary, _>(digest.as_bytes().to_vec())
            .execute(&mut *pool.get().await.unwrap())
            .await
            .unwrap();
    }
    assert!(
        a.active_at(&a.app, &remembered).await,
        "node A answers from memory"
    );
    assert!(
        !a.active_at(&b, &remembered).await,
        "node B looks the row up"
    );

    let r = b
        .post_form(
            "/revoke",
            Some((&a.id, &a.secret)),
            &[("token", token.as_str())],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while a.active_at(&a.app, &token).await {
        assert!(
            std::time::Instant::now() < deadline,
            "node A still accepts the revoked token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!a.active_at(&b, &token).await);
}

/// Waits until `token` reads inactive at `app` (a cache hears of a
/// revocation made elsewhere within milliseconds), or fails.
async fn becomes_inactive(w: &World, app: &TestApp, token: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while w.active_at(app, token).await {
        assert!(
            std::time::Instant::now() < deadline,
            "still active at {}",
            app.base
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// RFC 7009 section 2.1: revoking a refresh token, or a replay revoking its
/// family, revokes the access tokens of the same grant too, PASETO and
/// reference alike; on PostgreSQL every node hears of it.
async fn revoking_a_grant_reaches_its_access_tokens(db: ScratchDb, reference: bool) {
    let postgres = matches!(db, ScratchDb::Postgres { .. });
    let w = world(db, reference).await;
    let other = TestApp::spawn(w.app.db.share()).await;
    // On SQLite one process serves the file (documented): check this node.
    let nodes: Vec<&TestApp> = if postgres {
        vec![&w.app, &other]
    } else {
        vec![&w.app]
    };
    // By /revoke of the refresh token.
    let t = w.login().await;
    let (at, rt) = (
        t.str("access_token").to_owned(),
        t.str("refresh_token").to_owned(),
    );
    let r = w.refresh(&rt).await;
    let (at2, rt2) = (
        r.str("access_token").to_owned(),
        r.str("refresh_token").to_owned(),
    );
    for node in &nodes {
        assert!(w.active_at(node, &at).await && w.active_at(node, &at2).await);
    }
    assert_eq!(w.revoke((&w.id, &w.secret), &rt2).await.status, 200);
    for node in &nodes {
        for token in [&at, &at2] {
            becomes_inactive(&w, node, token).await;
            let me = node.get_bearer("/userinfo", token).await;
            assert_eq!(me.status, 401);
        }
    }
    // By a replay: the family goes, with the access tokens it issued.
    let t = w.login().await;
    let (at, rt) = (
        t.str("access_token").to_owned(),
        t.str("refresh_token").to_owned(),
    );
    let r = w.refresh(&rt).await;
    let at2 = r.str("access_token").to_owned();
    // After the retry window, presenting the rotated token is a replay.
    w.app.clock.advance(chrono::Duration::seconds(61));
    other.clock.advance(chrono::Duration::seconds(61));
    let replay = w.refresh(&rt).await;
    assert_eq!(replay.error(), "invalid_grant");
    for node in &nodes {
        for token in [&at, &at2] {
            becomes_inactive(&w, node, token).await;
            assert_eq!(node.get_bearer("/userinfo", token).await.status, 401);
        }
    }
    // Another grant of the same user is untouched.
    let fresh = w.login().await;
    assert!(w.active_at(&w.app, fresh.str("access_token")).await);
}

async fn revoking_a_paseto_grant_reaches_its_access_tokens(db: ScratchDb) {
    revoking_a_grant_reaches_its_access_tokens(db, false).await
}

async fn revoking_a_reference_grant_reaches_its_access_tokens(db: ScratchDb) {
    revoking_a_grant_reaches_its_access_tokens(db, true).await
}

async fn the_sweep_waits_a_round_then_deletes_and_reports(db: ScratchDb) {
    use auth_core::ports::{Clock as _, SessionRepository as _};
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            sweep_interval_secs: Some(3),
            ..Default::default()
        },
    )
    .await;
    let user =
        auth_core::types::UserId::new(app.user("alice", None, "pw-alice-1").await.parse().unwrap());
    let started = app
        .services
        .roles
        .sign_in
        .begin_browser_session(
            user,
            auth_core::types::SessionOrigin::default(),
            auth_core::types::AuthMethods::of(&[auth_core::types::AuthMethod::Password]),
            app.clock.now(),
        )
        .await
        .unwrap();
    assert!(matches!(
        started,
        auth_core::sessions::BrowserStart::Session(_)
    ));
    app.clock.advance(Duration::days(2));
    // Not at start-up: the first sweep is a round away.
    assert_eq!(
        app.services.database.sessions_of(user).await.unwrap().len(),
        1
    );
    // The sweep reports when it has gone through every table.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = app
            .http
            .get(app.ops_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("portcullis_swept_rows_total{table=\"sessions\"} 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains("portcullis_swept_rows_total{table=\"sessions\"} 1"),
        "{metrics}"
    );
    assert!(
        app.services
            .database
            .sessions_of(user)
            .await
            .unwrap()
            .is_empty(),
        "the expired session was swept"
    );
    assert!(metrics.contains("portcullis_sweeps_total"), "{metrics}");
    assert!(
        metrics.contains("portcullis_sweep_seconds_total"),
        "{metrics}"
    );
}

scenarios! {
    paseto_tokens,
    reference_tokens,
    introspection_is_for_resource_servers,
    revoking_a_paseto_grant_reaches_its_access_tokens,
    revoking_a_reference_grant_reaches_its_access_tokens,
    the_sweep_waits_a_round_then_deletes_and_reports,
}
