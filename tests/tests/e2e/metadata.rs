//! Server metadata, the key set and the health probes.
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, scenarios};

async fn metadata_lists_what_is_implemented(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let r = portcullis_tests::Reply::from(
        app.http
            .get(app.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.str("issuer"), "http://issuer.test");
    assert_eq!(r.str("token_endpoint"), "http://issuer.test/token");
    let grants: Vec<&str> = r.body["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        grants,
        [
            "authorization_code",
            "password",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ]
    );
    for endpoint in [
        "introspection_endpoint",
        "revocation_endpoint",
        "device_authorization_endpoint",
        "paserk_uri",
    ] {
        assert!(
            r.str(endpoint).starts_with("http://issuer.test/"),
            "{endpoint}"
        );
    }
    assert_eq!(
        r.body["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        r.str("authorization_endpoint"),
        "http://issuer.test/authorize"
    );
}

async fn key_set_names_the_key_in_every_token_footer(db: ScratchDb) {
    use base64::Engine as _;
    let app = TestApp::spawn(db).await;
    let ks = portcullis_tests::Reply::from(
        app.http
            .get(app.url("/.well-known/paserk"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let keys = ks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let kid = keys[0]["kid"].as_str().unwrap();
    assert!(kid.starts_with("k4.pid."));
    assert!(
        keys[0]["paserk"]
            .as_str()
            .unwrap()
            .starts_with("k4.public.")
    );
    let (id, secret) = app.client(ClientSetup::default()).await;
    let t = app
        .post_form(
            "/token",
            Some((&id, &secret.unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let token = t.str("access_token");
    let footer = token.rsplit('.').next().unwrap();
    let footer = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(footer)
        .unwrap();
    let footer: serde_json::Value = serde_json::from_slice(&footer).unwrap();
    assert_eq!(footer["kid"], kid);
    // A resource server verifies offline with nothing but the document.
    use auth_verifier::{Expected, KeySet, Rejection};
    let keys = KeySet::from_document(&ks.text).unwrap();
    let now = auth_core::ports::Clock::now(&app.clock);
    let ours = Expected::issuer("http://issuer.test");
    let claims = keys.verify(token, &ours, now).unwrap();
    assert_eq!(
        (claims.client_id.as_str(), claims.subject.as_str()),
        (id.as_str(), id.as_str())
    );
    assert_eq!(claims.scope, ["read", "write"]);
    assert_eq!(
        keys.verify(token, &ours, now + chrono::Duration::hours(1)),
        Err(Rejection::Expired)
    );
    assert_eq!(
        KeySet::empty().verify(token, &ours, now),
        Err(Rejection::UnknownKey)
    );
    // A resource server configured for another issuer, or for another
    // audience, refuses the token although its signature is good.
    assert_eq!(
        keys.verify(token, &Expected::issuer("https://other.example"), now),
        Err(Rejection::WrongIssuer)
    );
    assert_eq!(
        keys.verify(token, &ours.clone().audience("billing-api"), now),
        Err(Rejection::WrongAudience)
    );
    assert!(
        keys.verify(token, &ours.audience(id.as_str()), now).is_ok(),
        "the client is the token's audience"
    );
}

async fn health_probes(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn every_answer_says_nosniff_and_an_https_issuer_says_hsts(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    for path in [
        "/.well-known/openid-configuration",
        "/login",
        "/no-such-path",
        "/token",
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            r.headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
        assert!(
            r.headers().get("strict-transport-security").is_none(),
            "{path}: no HSTS over plain http"
        );
    }
    let refused = app
        .post_form(
            "/token",
            Some(("nobody", "wrong")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
    // Behind an https issuer (TLS terminated in front), every answer
    // tells the browser to stay on https.
    let https = TestApp::spawn_with(
        portcullis_tests::ScratchDb::new(portcullis_tests::Backend::Sqlite)
            .await
            .unwrap(),
        portcullis::settings::FileSettings {
            issuer: Some("https://id.example".into()),
            ..Default::default()
        },
    )
    .await;
    for path in [
        "/.well-known/openid-configuration",
        "/login",
        "/no-such-path",
    ] {
        let r = https.http.get(https.url(path)).send().await.unwrap();
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
        assert_eq!(
            r.headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
    }
}

async fn metrics_count_requests_by_route_pattern_and_status(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    for _ in 0..2 {
        let r = app
            .post_form(
                "/token",
                Some((&id, &secret)),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let r = app
        .post_form(
            "/token",
            Some((&id, "wrong")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 401);
    let probe = app
        .http
        .get(app.url("/wp-admin/secret-path"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 404);
    for made_up in ["BREW", "PROPFIND", "XYZZY"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
        let r = app
            .http
            .request(method, app.url("/token"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
    }
    let m = app.http.get(app.ops_url("/metrics")).send().await.unwrap();
    assert_eq!(m.status(), 200);
    assert!(
        m.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = m.text().await.unwrap();
    assert!(
        text.contains(
            r#"portcullis_http_requests_total{method="POST",route="/token",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"portcullis_http_requests_total{method="POST",route="/token",status="401"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains("wp-admin"), "raw paths never become labels");
    for made_up in ["BREW", "PROPFIND", "XYZZY"] {
        assert!(
            !text.contains(made_up),
            "made-up methods never become labels"
        );
    }
    assert!(text.contains(r#"method="other""#), "{text}");
    assert!(!text.contains(&secret), "nothing secret");
    // Metrics are served on the operations listener only; both listeners
    // answer the health probes.
    assert_eq!(
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(
            app.http.get(app.url(probe)).send().await.unwrap().status(),
            200,
            "public {probe}"
        );
        assert_eq!(
            app.http
                .get(app.ops_url(probe))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "operations {probe}"
        );
    }
}

async fn the_signing_key_survives_a_restart(db: ScratchDb) {
    let first = TestApp::spawn(db).await;
    let (id, secret) = first.client(ClientSetup::default()).await;
    let t = first
        .post_form(
            "/token",
            Some((&id, &secret.unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let token = t.str("access_token").to_owned();
    // A second server on the same database trusts the first one's tokens.
    let TestApp { db, .. } = first;
    let second = TestApp::spawn(db).await;
    let ks = portcullis_tests::Reply::from(
        second
            .http
            .get(second.url("/.well-known/paserk"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        ks.body["keys"].as_array().unwrap().len(),
        1,
        "no second key was generated"
    );
    let claims = auth_core::ports::TokenCodec::verify(
        second.services.ports.codec.as_ref(),
        &token,
        second.clock_now(),
    );
    assert!(claims.is_ok(), "{claims:?}");
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        auth_core::ports::Clock::now(&self.clock)
    }
}

/// Every (path, method) the document lists, as `(path, METHOD)`.
fn operations(document: &serde_json::Value) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            all.push((path.clone(), method.to_uppercase()));
        }
    }
    all.sort();
    all
}

async fn the_openapi_document_lists_exactly_what_is_served(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let document: serde_json::Value = r.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let listed = operations(&document);
    let expected: Vec<(String, String)> = [
        ("/", "GET"),
        ("/.well-known/oauth-authorization-server", "GET"),
        ("/.well-known/openid-configuration", "GET"),
        ("/.well-known/paserk", "GET"),
        ("/account", "GET"),
        ("/account/applications/revoke", "POST"),
        ("/account/email", "POST"),
        ("/account/email/verify", "POST"),
        ("/account/factors/remove", "POST"),
        ("/account/passkeys", "POST"),
        ("/account/passkeys/options", "POST"),
        ("/account/password", "POST"),
        ("/account/recovery-codes", "POST"),
        ("/account/security", "GET"),
        ("/account/sessions/end", "POST"),
        ("/account/totp", "POST"),
        ("/account/totp/confirm", "POST"),
        ("/account/upstream/{provider}/link", "POST"),
        ("/account/upstream/{provider}/unlink", "POST"),
        ("/admin/v1/clients", "GET"),
        ("/admin/v1/clients", "POST"),
        ("/admin/v1/clients/{id}", "DELETE"),
        ("/admin/v1/clients/{id}", "GET"),
        ("/admin/v1/clients/{id}", "PATCH"),
        ("/admin/v1/clients/{id}/secret", "POST"),
        ("/admin/v1/groups", "GET"),
        ("/admin/v1/groups", "POST"),
        ("/admin/v1/groups/{id}", "DELETE"),
        ("/admin/v1/groups/{id}", "GET"),
        ("/admin/v1/groups/{id}", "PATCH"),
        ("/admin/v1/groups/{id}/members", "GET"),
        ("/admin/v1/groups/{id}/members", "POST"),
        ("/admin/v1/groups/{id}/members/{user}", "DELETE"),
        ("/admin/v1/users", "GET"),
        ("/admin/v1/users", "POST"),
        ("/admin/v1/users/{id}", "DELETE"),
        ("/admin/v1/users/{id}", "GET"),
        ("/admin/v1/users/{id}", "PATCH"),
        ("/admin/v1/users/{id}/credentials", "GET"),
        ("/admin/v1/users/{id}/credentials/reset", "POST"),
        ("/admin/v1/users/{id}/credentials/{factor}", "DELETE"),
        ("/admin/v1/users/{id}/grants", "GET"),
        ("/admin/v1/users/{id}/grants/{client}", "DELETE"),
        ("/admin/v1/users/{id}/identities", "GET"),
        ("/admin/v1/users/{id}/identities/{provider}", "DELETE"),
        ("/admin/v1/users/{id}/password", "POST"),
        ("/admin/v1/users/{id}/sessions", "DELETE"),
        ("/admin/v1/users/{id}/sessions", "GET"),
        ("/assets/passkeys.js", "GET"),
        ("/authenticate", "POST"),
        ("/authorize", "GET"),
        ("/authorize", "POST"),
        ("/consent", "POST"),
        ("/device", "GET"),
        ("/device", "POST"),
        ("/device_authorization", "POST"),
        ("/email/change", "GET"),
        ("/email/change", "POST"),
        ("/email/verify", "GET"),
        ("/email/verify", "POST"),
        ("/end_session", "GET"),
        ("/end_session", "POST"),
        ("/end_session/confirm", "POST"),
        ("/healthz", "GET"),
        ("/introspect", "POST"),
        ("/invitation", "GET"),
        ("/invitation", "POST"),
        ("/jwks", "GET"),
        ("/login", "GET"),
        ("/login", "POST"),
        ("/login/passkey", "POST"),
        ("/login/passkey/options", "POST"),
        ("/login/second-factor", "POST"),
        ("/login/second-factor/options", "POST"),
        ("/login/upstream/{provider}", "POST"),
        ("/login/upstream/{provider}/callback", "GET"),
        ("/logout", "POST"),
        ("/me", "GET"),
        ("/me/", "GET"),
        ("/oauth/token", "POST"),
        ("/openapi.json", "GET"),
        ("/password/forgot", "GET"),
        ("/password/forgot", "POST"),
        ("/password/reset", "GET"),
        ("/password/reset", "POST"),
        ("/readyz", "GET"),
        ("/refresh", "POST"),
        ("/register", "GET"),
        ("/register", "POST"),
        ("/revoke", "POST"),
        ("/sign-in", "POST"),
        ("/token", "GET"),
        ("/token", "POST"),
        ("/userinfo", "GET"),
        ("/userinfo", "POST"),
    ]
    .iter()
    .map(|(p, m)| (p.to_string(), m.to_string()))
    .collect();
    assert_eq!(listed, expected);
    // Each listed operation is routed: it answers something other than
    // "no such route" to an empty request (the admin API is there once an
    // admin client exists).
    crate::admin::admin_token(&app, "ops", "").await;
    for (path, method) in &listed {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let status = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            status != 404 && status != 405,
            "{method} {path} answered {status}"
        );
    }
    // The handlers' own response types are the documented schemas.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in [
        "TokenResponse",
        "ErrorBody",
        "Introspection",
        "ServerMetadata",
        "DeviceAuthorization",
        "UserInfo",
        "LegacyTokenResponse",
        "PkceJsonTokenResponse",
    ] {
        assert!(schemas.contains_key(name), "{name} is not in the document");
    }
    assert_eq!(
        document["paths"]["/token"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/TokenAnswer"
    );
    // Every reference resolves, and every parameter is one name with a
    // string-like schema: a form struct's flattened part must be listed
    // field by field, not as one parameter naming the part.
    fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&document, &mut all);
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for p in operation["parameters"].as_array().into_iter().flatten() {
                let schema = &p["schema"];
                let named = schema["$ref"].as_str().unwrap_or_default();
                assert!(
                    schema["type"] != "object" && !named.ends_with("Fields"),
                    "{method} {path}: the parameter {} is a whole struct",
                    p["name"]
                );
            }
        }
    }
}

async fn a_dialect_switched_off_is_not_in_the_document(db: ScratchDb) {
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            dialects: Some(portcullis::settings::DialectSettings {
                pkce_json: Some(false),
                key_secret: Some(false),
                spring_oauth: Some(false),
                redirect_login: Some(false),
                external_login: Some(false),
            }),
            ..Default::default()
        },
    )
    .await;
    let document: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = operations(&document);
    for gone in [
        "/sign-in",
        "/authenticate",
        "/refresh",
        "/oauth/token",
        "/me/",
    ] {
        assert!(
            !listed.iter().any(|(p, _)| p == gone),
            "{gone} is listed but not served"
        );
    }
    assert!(!listed.contains(&("/token".into(), "GET".into())));
    assert!(listed.contains(&("/token".into(), "POST".into())));
}

scenarios! {
    metadata_lists_what_is_implemented,
    key_set_names_the_key_in_every_token_footer,
    health_probes,
    every_answer_says_nosniff_and_an_https_issuer_says_hsts,
    metrics_count_requests_by_route_pattern_and_status,
    the_signing_key_survives_a_restart,
    the_openapi_document_lists_exactly_what_is_served,
    a_dialect_switched_off_is_not_in_the_document,
}
