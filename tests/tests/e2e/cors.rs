//! Browser apps on their own origin (CORS): the metadata documents and key
//! sets are anyone's to read; a client's answers at the token, revocation,
//! userinfo and introspection endpoints only for the origins it allows.
//! Never in credentials mode. The real-Chromium single-page app is in
//! `real_browser`.
use portcullis_tests::{ClientSetup, Reply, ScratchDb, TestApp, scenarios};

const SPA: &str = "https://spa.example";

fn with_origin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    origin: &str,
) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .header("origin", origin)
}

fn acao(r: &Reply) -> Option<&str> {
    r.header("access-control-allow-origin")
}

async fn browser_apps_read_what_their_client_allows(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (spa, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token", "password"],
            redirect_uris: &["https://spa.example/callback"],
            ..Default::default()
        })
        .await;
    app.user("alice", None, "correct-horse").await;

    // A preflight is answered for the endpoints browser apps call.
    for path in ["/token", "/revoke", "/userinfo", "/introspect"] {
        let r = Reply::from(
            with_origin(&app, reqwest::Method::OPTIONS, path, SPA)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type, authorization",
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 204, "{path}: {}", r.text);
        assert_eq!(acao(&r), Some(SPA), "{path}");
        assert!(
            r.header("access-control-allow-methods")
                .unwrap()
                .contains("POST")
        );
        assert!(
            r.header("access-control-allow-headers")
                .unwrap()
                .contains("authorization")
        );
        assert_eq!(r.header("vary"), Some("Origin"));
        assert!(r.header("access-control-allow-credentials").is_none());
    }
    // Metadata and key sets: anyone.
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/jwks",
        "/.well-known/paserk",
    ] {
        let r = Reply::from(
            with_origin(&app, reqwest::Method::GET, path, "https://anyone.example")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((r.status, acao(&r)), (200, Some("*")), "{path}");
    }

    // The client's own origin (from its https redirect URI) reads its
    // answers, errors included; another origin does not.
    let grant = |origin: &'static str, password: &'static str| {
        let app = &app;
        let spa = spa.clone();
        async move {
            Reply::from(
                with_origin(app, reqwest::Method::POST, "/token", origin)
                    .form(&[
                        ("grant_type", "password"),
                        ("client_id", spa.as_str()),
                        ("username", "alice"),
                        ("password", password),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let ok = grant(SPA, "correct-horse").await;
    assert_eq!((ok.status, acao(&ok)), (200, Some(SPA)), "{}", ok.text);
    assert_eq!(ok.header("vary"), Some("Origin"));
    let wrong = grant(SPA, "wrong-horse").await;
    assert_eq!(
        (wrong.status, acao(&wrong)),
        (400, Some(SPA)),
        "the app reads its error too"
    );
    let evil = grant("https://evil.example", "correct-horse").await;
    assert_eq!(evil.status, 200);
    assert_eq!(acao(&evil), None, "another origin cannot read the answer");
    assert_eq!(evil.header("vary"), Some("Origin"));
    let token = ok.str("access_token").to_owned();
    let me = Reply::from(
        with_origin(&app, reqwest::Method::GET, "/userinfo", SPA)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((me.status, acao(&me)), (200, Some(SPA)));
    let me = Reply::from(
        with_origin(
            &app,
            reqwest::Method::GET,
            "/userinfo",
            "https://evil.example",
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((me.status, acao(&me)), (200, None));
    let revoked = Reply::from(
        with_origin(&app, reqwest::Method::POST, "/revoke", SPA)
            .form(&[
                ("client_id", spa.as_str()),
                ("token", ok.str("refresh_token")),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((revoked.status, acao(&revoked)), (200, Some(SPA)));
}

async fn origins_named_by_the_operator_replace_the_derived_ones(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    // A resource server: its redirect URI's origin does not make it
    // readable at introspection; an origin named for it does.
    let (rs, secret) = app
        .client(ClientSetup {
            redirect_uris: &["https://rs.example/cb"],
            ..Default::default()
        })
        .await;
    let secret = secret.unwrap();
    let introspect = |origin: &'static str, id: String, secret: String| {
        let app = &app;
        async move {
            Reply::from(
                with_origin(app, reqwest::Method::POST, "/introspect", origin)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("token", "x")])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let r = introspect("https://rs.example", rs.clone(), secret.clone()).await;
    assert_eq!((r.status, acao(&r)), (200, None));
    let (named, named_secret) = app
        .client(ClientSetup {
            redirect_uris: &["https://rs.example/cb"],
            allowed_origins: &["https://console.example"],
            ..Default::default()
        })
        .await;
    let named_secret = named_secret.unwrap();
    let r = introspect(
        "https://console.example",
        named.clone(),
        named_secret.clone(),
    )
    .await;
    assert_eq!((r.status, acao(&r)), (200, Some("https://console.example")));
    // Named origins replace the derived: the redirect URI's is no longer one.
    let t = Reply::from(
        with_origin(&app, reqwest::Method::POST, "/token", "https://rs.example")
            .basic_auth(&named, Some(&named_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((t.status, acao(&t)), (200, None));
    // A loopback redirect URI allows its loopback origin on any port.
    let (native, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["http://127.0.0.1/callback"],
            ..Default::default()
        })
        .await;
    let r = Reply::from(
        with_origin(
            &app,
            reqwest::Method::POST,
            "/token",
            "http://127.0.0.1:5173",
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", native.as_str()),
            ("code", "x"),
            ("code_verifier", "x".repeat(43).as_str()),
        ])
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, acao(&r)),
        (400, Some("http://127.0.0.1:5173")),
        "{}",
        r.text
    );
}

scenarios! {
    browser_apps_read_what_their_client_allows,
    origins_named_by_the_operator_replace_the_derived_ones,
}
