//! The boundaries beside `/token`: what `GET /token` refuses, form posts
//! from other sites, redirect URIs on loopback ports, the headers of hosted
//! pages, `__Host-` cookies, and the security events in the log.
use portcullis::settings::FileSettings;
use portcullis_tests::{
    ClientSetup, Reply, ScratchDb, TestApp, browser, hidden_fields, location, log_lines_with,
    param, scenarios,
};

use crate::browser::{VERIFIER, authorize_path, log_in, with};

async fn get_token(app: &TestApp, query: &str, basic: Option<(&str, &str)>) -> Reply {
    let mut req = app.http.get(app.url(&format!("/token?{query}")));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    Reply::from(req.send().await.unwrap()).await
}

async fn get_token_serves_only_the_public_grants_of_seed_001(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (public, _) = app
        .client(ClientSetup {
            id: Some("spa"),
            public: true,
            grants: &["authorization_code", "refresh_token", "password"],
            redirect_uris: &["myapp://callback"],
            ..Default::default()
        })
        .await;
    let (confidential, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    app.user("alice", Some("alice@example.org"), "pw-alice-1")
        .await;
    let before = app.fingerprint().await;
    for (query, basic, status, error) in [
        // The review's reproduction: a password grant with the password in the URL.
        (
            format!("grant_type=password&client_id={public}&username=alice&password=pw-alice-1"),
            None,
            400,
            "invalid_request",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={confidential}&client_secret={secret}"
            ),
            None,
            400,
            "invalid_request",
        ),
        (
            format!("grant_type=client_credentials&client_id={public}"),
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            "grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=x&client_id=spa"
                .to_owned(),
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            "grant_type=client_credentials".to_owned(),
            Some((confidential.as_str(), secret.as_str())),
            401,
            "invalid_client",
        ),
        (
            format!("grant_type=authorization_code&code=x&client_id={confidential}"),
            None,
            401,
            "invalid_client",
        ),
    ] {
        let r = get_token(&app, &query, basic).await;
        assert_eq!(
            (r.status, r.error()),
            (status, error),
            "{query}: {}",
            r.text
        );
        assert!(r.body.get("access_token").is_none());
    }
    assert_eq!(
        app.fingerprint().await,
        before,
        "nothing was issued or changed"
    );
}

async fn form_posts_from_another_site_are_refused(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["http://127.0.0.1/cb"],
            ..Default::default()
        })
        .await;
    app.user("michael", None, "correct-horse").await;
    let b = browser();
    let page = app
        .get_with(&b, &authorize_path(&id, "http://127.0.0.1:4567/cb", "st"))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let form = with(
        hidden_fields(&page.text),
        &[("username", "michael"), ("password", "correct-horse")],
    );
    // A valid cookie and token pair, posted by another site's page.
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
    ] {
        let r = Reply::from(
            b.post(app.url("/login"))
                .header(header, value)
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 403, "{header}: {value}");
        assert!(
            r.header("set-cookie")
                .is_none_or(|c| !c.contains("portcullis_session"))
        );
    }
    assert!(!log_lines_with("event=\"origin_refused\"").is_empty());
    // The issuer's own origin, as a browser posting the form sends it.
    let r = Reply::from(
        b.post(app.url("/login"))
            .header("origin", "http://issuer.test")
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let callback = location(&r);
    assert_eq!(
        callback.as_str().split('?').next(),
        Some("http://127.0.0.1:4567/cb"),
        "the loopback port of the request"
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let code = param(&callback, "code").unwrap();
    let t = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:4567/cb"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
}

async fn hosted_pages_allow_the_redirect_they_answer_with_and_nothing_else(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (loopback, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["http://127.0.0.1/cb"],
            ..Default::default()
        })
        .await;
    let (native, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            first_party: false,
            redirect_uris: &["com.example.app:/oauth2redirect"],
            ..Default::default()
        })
        .await;
    let b = browser();
    let csp = |r: &Reply| r.header("content-security-policy").unwrap().to_owned();
    let page = app
        .get_with(
            &b,
            &authorize_path(&loopback, "http://127.0.0.1:9123/cb", "s"),
        )
        .await;
    assert!(
        csp(&page).contains("form-action 'self' http://127.0.0.1:9123;"),
        "{}",
        csp(&page)
    );
    assert!(
        csp(&page).contains("default-src 'none'") && csp(&page).contains("frame-ancestors 'none'")
    );
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    // A port-varied loopback URI must keep the registered path.
    let bad = app
        .get_with(
            &b,
            &authorize_path(&loopback, "http://127.0.0.1:9123/other", "s"),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.header("location").is_none());
    // The consent page of a native app allows its scheme.
    app.user("michael", None, "correct-horse").await;
    let r = log_in(
        &app,
        &b,
        &authorize_path(&native, "com.example.app:/oauth2redirect", "s"),
    )
    .await;
    assert_eq!(r.status, 200, "the consent page: {}", r.text);
    assert!(
        csp(&r).contains("form-action 'self' com.example.app:;"),
        "{}",
        csp(&r)
    );
    // A page with no pending request posts only to this server.
    let plain = app.get_with(&browser(), "/login").await;
    assert!(
        csp(&plain).contains("form-action 'self';"),
        "{}",
        csp(&plain)
    );
}

async fn security_events_are_logged_without_secrets(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let user = app.user("eve-target", None, "the-real-password").await;
    // Client authentication failure.
    let r = app
        .post_form(
            "/token",
            Some((&id, "not-the-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 401);
    // A wrong password for a known user.
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "eve-target"),
                ("password", "guess-one"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    // A refresh replay.
    let t = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "eve-target"),
                ("password", "the-real-password"),
            ],
        )
        .await;
    let rt = t.str("refresh_token").to_owned();
    let at = t.str("access_token").to_owned();
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(r.status, 200);
    let new_rt = r.str("refresh_token").to_owned();
    app.clock.advance(chrono::Duration::seconds(61));
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(r.status, 400);
    // A revocation.
    assert_eq!(
        app.post_form("/revoke", Some((&id, &secret)), &[("token", &at)])
            .await
            .status,
        200
    );
    // Throttle: five more failures trip it.
    for _ in 0..6 {
        app.post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "eve-target"),
                ("password", "guess-two"),
            ],
        )
        .await;
    }
    let mine = log_lines_with(&id);
    let has = |event: &str| {
        mine.iter().any(|l| {
            l.contains(&format!("event=\"{event}\"")) || l.contains(&format!("event={event}"))
        })
    };
    for event in ["client_auth_failed", "refresh_replayed", "token_revoked"] {
        assert!(has(event), "no {event} in {mine:#?}");
    }
    let user_lines = log_lines_with(&user);
    assert!(
        user_lines.iter().any(|l| l.contains("login_failed")),
        "{user_lines:#?}"
    );
    assert!(
        log_lines_with("login_throttled")
            .iter()
            .any(|l| l.contains("peer="))
    );
    assert!(
        mine.iter().all(|l| l.contains("peer=127.0.0.1")),
        "{mine:#?}"
    );
    let everything = portcullis_tests::captured_log();
    for secret_value in [
        secret.as_str(),
        "the-real-password",
        "guess-one",
        "not-the-secret",
        &rt,
        &new_rt,
        &at,
    ] {
        assert!(
            !everything.contains(secret_value),
            "a secret reached the log"
        );
    }
}

async fn https_issuers_use_host_prefixed_secure_cookies(db: ScratchDb) {
    let file = FileSettings {
        issuer: Some("https://sso.example".into()),
        ..Default::default()
    };
    let app = TestApp::spawn_with(db, file).await;
    let page = app.get_with(&browser(), "/login").await;
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-portcullis_csrf="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
}

const DOC_VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
const DOC_CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

fn sign_in_body(client: &str, email: &str, password: &str) -> serde_json::Value {
    serde_json::json!({
        "client_id": client, "response_type": "code", "redirect_uri": "myapp://callback",
        "code_challenge_method": "S256", "code_challenge": DOC_CHALLENGE, "state": "st",
        "email": email, "password": password,
    })
}

async fn each_dialect_refuses_a_client_that_may_not_use_it(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    app.user("alice", Some("alice@example.org"), "correct-horse")
        .await;
    // Seed 000's JSON /token: a confidential client flagged for the
    // dialect cannot authenticate without its secret; a public one
    // needs the password grant; a public one not registered is refused.
    let (confidential, _) = app
        .client(ClientSetup {
            legacy: true,
            redirect_uris: &["https://a.example/cb"],
            ..Default::default()
        })
        .await;
    let (no_password, _) = app
        .client(ClientSetup {
            public: true,
            legacy: true,
            grants: &["refresh_token"],
            redirect_uris: &["https://a.example/cb"],
            ..Default::default()
        })
        .await;
    let (unregistered, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["password", "refresh_token"],
            ..Default::default()
        })
        .await;
    let (registered, _) = app
        .client(ClientSetup {
            public: true,
            legacy: true,
            grants: &["password", "refresh_token"],
            redirect_uris: &["https://a.example/cb"],
            ..Default::default()
        })
        .await;
    let json_token = |client: &str| serde_json::json!({"username": "alice", "password": "correct-horse", "client_id": client, "scope": 0, "response_type": "code"});
    for (client, status) in [
        (&confidential, 401),
        (&no_password, 400),
        (&unregistered, 400),
    ] {
        let r = app.post_json("/token", &json_token(client)).await;
        assert_eq!(
            (r.status, r.body["success"].as_bool()),
            (status, Some(false)),
            "{client}: {}",
            r.text
        );
        assert!(r.body["access_token"].is_null());
    }
    let r = app.post_json("/token", &json_token(&registered)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Seed 001's JSON sign-in and registration: only a client registered
    // for pkce-json, and only a first-party one (no consent step).
    let (plain, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["myapp://callback"],
            ..Default::default()
        })
        .await;
    let (third, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["myapp://callback"],
            first_party: false,
            dialects: &["pkce-json"],
            ..Default::default()
        })
        .await;
    let r = app
        .post_json(
            "/sign-in",
            &sign_in_body(&plain, "alice@example.org", "correct-horse"),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unauthorized_client"),
        "{}",
        r.text
    );
    let r = app
        .post_json(
            "/sign-in",
            &sign_in_body(&third, "alice@example.org", "correct-horse"),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "access_denied"), "{}", r.text);
    let before = app.fingerprint().await;
    let mut register = sign_in_body(&third, "new@example.org", "a-long-passphrase");
    register["first_name"] = "New".into();
    register["last_name"] = "User".into();
    let r = app.post_json("/register", &register).await;
    assert_eq!((r.status, r.error()), (400, "access_denied"), "{}", r.text);
    register["client_id"] = plain.clone().into();
    let r = app.post_json("/register", &register).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unauthorized_client"),
        "{}",
        r.text
    );
    assert_eq!(app.fingerprint().await, before, "no half-created account");

    // GET /token (seed 001) and /oauth/token (seed 004) for a client
    // registered for neither.
    let (web, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token", "password"],
            redirect_uris: &["myapp://callback"],
            ..Default::default()
        })
        .await;
    let r = get_token(
        &app,
        &format!(
            "grant_type=authorization_code&client_id={web}&code=x&code_verifier={DOC_VERIFIER}"
        ),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unauthorized_client"),
        "{}",
        r.text
    );
    let (server, server_secret) = app.client(ClientSetup::default()).await;
    let server_secret = server_secret.unwrap();
    let r = app
        .post_form(
            "/oauth/token",
            Some((&server, &server_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unauthorized_client"),
        "{}",
        r.text
    );
    // The standard endpoint serves the same client.
    let r = app
        .post_form(
            "/token",
            Some((&server, &server_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 200);
    let refusals = log_lines_with("event=\"client_refused\"");
    assert!(
        refusals.iter().any(|l| l.contains(&server)),
        "{refusals:#?}"
    );
}

async fn the_key_secret_api_passes_the_same_gate(db: ScratchDb) {
    let shared = db.share();
    let app = TestApp::spawn(db).await;
    let r = app
        .post_json(
            "/register",
            &serde_json::json!({"user_id": "device-7", "user_secret": "s3cret-s3cret"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let key = r.str("user_key").to_owned();
    // The configured client no longer allowed the password grant: the
    // API refuses as /token would (a second node, with a cold cache).
    portcullis_tests::execute(
        &app.database,
        "UPDATE clients SET grant_types = 'refresh_token' WHERE id = 'key-secret-api'",
    )
    .await;
    let other = TestApp::spawn(shared).await;
    let r = other
        .post_json(
            "/authenticate",
            &serde_json::json!({"user_key": key, "user_secret": "s3cret-s3cret"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unauthorized_client"),
        "{}",
        r.text
    );
    assert!(r.body.get("access_token").is_none());
}

scenarios! {
    get_token_serves_only_the_public_grants_of_seed_001,
    form_posts_from_another_site_are_refused,
    hosted_pages_allow_the_redirect_they_answer_with_and_nothing_else,
    security_events_are_logged_without_secrets,
    https_issuers_use_host_prefixed_secure_cookies,
    each_dialect_refuses_a_client_that_may_not_use_it,
    the_key_secret_api_passes_the_same_gate,
}
