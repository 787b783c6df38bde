//! Seeds 000 (redirect login) and 001 (PKCE JSON), request for request as
//! their documents show them, checked field by field.
use std::collections::BTreeSet;

use chrono::Duration;
use portcullis_tests::{
    ClientSetup, ScratchDb, TestApp, browser, hidden_fields, location, param, scenarios,
};
use serde_json::json;

fn keys(v: &serde_json::Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

async fn legacy_client(app: &TestApp) -> String {
    let (id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["password", "refresh_token"],
            redirect_uris: &["https://app.example/after-login"],
            legacy: true,
            ..Default::default()
        })
        .await;
    id
}

pub(crate) const DOC_CLIENT: &str = "0oabygpxgk9lXaMgF0h7";
const VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

/// Seed 001's client, as its document names it.
pub(crate) async fn pkce_client(app: &TestApp) {
    app.client(ClientSetup {
        id: Some(DOC_CLIENT),
        public: true,
        grants: &["authorization_code", "refresh_token"],
        redirect_uris: &["myapp://callback"],
        scope: "",
        dialects: &["pkce-json"],
        ..Default::default()
    })
    .await;
}

async fn seed_000_redirect_login(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = legacy_client(&app).await;
    // Register through the hosted page: the document sends the user back to log in.
    let b = browser();
    let login = format!(
        "/login?client_id={client}&scope=0&redirect_uri=https%3A%2F%2Fapp.example%2Fafter-login"
    );
    let page = app.get_with(&b, &login).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let reg_href = portcullis_tests::unescape(
        page.text
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap(),
    );
    let reg = app.get_with(&b, &reg_href).await;
    let mut form = hidden_fields(&reg.text);
    form.extend(
        [
            ("username", "john"),
            ("email", "john@example.org"),
            ("password", "a-long-passphrase"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let r = app.post_with(&b, "/register", &form).await;
    assert_eq!(r.status, 303);
    let back = r.header("location").unwrap().to_owned();
    assert!(back.starts_with("/login?notice=registered&"), "{back}");
    let page = app.get_with(&b, &back).await;
    assert!(page.text.contains("Your account was created"));
    let mut form = hidden_fields(&page.text);
    form.extend(
        [("username", "john"), ("password", "a-long-passphrase")]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let r = app.post_with(&b, "/login", &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = location(&r);
    assert_eq!(
        format!("{}://{}{}", to.scheme(), to.host_str().unwrap(), to.path()),
        "https://app.example/after-login"
    );
    let names: BTreeSet<String> = to.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        names,
        ["access_token", "expiration", "refresh_token", "user_id"]
            .map(String::from)
            .into()
    );
    let expiration: i64 = param(&to, "expiration").unwrap().parse().unwrap();
    assert_eq!(
        expiration,
        (app.clock_now() + Duration::days(30)).timestamp(),
        "one month"
    );
    let me = app
        .get_bearer("/me", &param(&to, "access_token").unwrap())
        .await;
    assert_eq!(me.str("sub"), param(&to, "user_id").unwrap());
}

async fn seed_000_json_register_and_token(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = legacy_client(&app).await;
    let r = app
        .post_json(
            "/register",
            &json!({"username": "john", "password": "1234"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let again = app
        .post_json(
            "/register",
            &json!({"username": "john", "password": "1234"}),
        )
        .await;
    assert_eq!(again.status, 409);

    let r = app.post_json("/token", &json!({"username": "john", "password": "1234", "client_id": client, "scope": 0, "response_type": "code"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        BTreeSet::from([
            "access_token",
            "refresh_token",
            "expiration",
            "status_code",
            "error",
            "success"
        ])
    );
    assert_eq!(r.body["status_code"], 201);
    assert_eq!(r.body["error"], serde_json::Value::Null);
    assert_eq!(r.body["success"], true);
    assert_eq!(
        r.body["expiration"],
        (app.clock_now() + Duration::days(30)).timestamp()
    );
    let refresh = r.str("refresh_token").to_owned();

    app.clock.advance(Duration::days(31));
    let r2 = app.post_json("/token", &json!({"username": "john", "client_id": client, "refresh_token": refresh, "response_type": "refresh"})).await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    assert_eq!(keys(&r2.body), keys(&r.body));
    assert_eq!(
        r2.str("refresh_token"),
        refresh,
        "the refresh token stays the same"
    );
    assert_ne!(r2.str("access_token"), r.str("access_token"));
    assert_eq!(
        app.get_bearer("/me", r2.str("access_token")).await.status,
        200
    );

    // Errors keep the shape.
    for body in [
        json!({"username": "john", "password": "wrong", "client_id": client, "scope": 0, "response_type": "code"}),
        json!({"username": "someone-else", "client_id": client, "refresh_token": refresh, "response_type": "refresh"}),
        json!({"username": "john", "password": "1234", "client_id": "unknown", "response_type": "code"}),
        json!({"username": "john", "client_id": client, "response_type": "other"}),
    ] {
        let e = app.post_json("/token", &body).await;
        assert!(e.status == 400 || e.status == 401, "{body}: {}", e.text);
        assert_eq!(keys(&e.body), keys(&r.body));
        assert_eq!(e.body["success"], false);
        assert_eq!(e.body["status_code"], e.status);
        assert!(e.body["error"].is_string());
        assert!(e.body["access_token"].is_null());
    }
}

async fn seed_001_pkce_json(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    pkce_client(&app).await;
    let register = json!({
        "client_id": DOC_CLIENT, "response_type": "code", "redirect_uri": "myapp://callback",
        "code_challenge_method": "S256", "code_challenge": CHALLENGE, "state": "ahg84hek2n",
        "email": "michael_lee@gmail.com", "password": "foobar", "first_name": "Michael", "last_name": "Lee"
    });
    let r = app.post_json("/register", &register).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        BTreeSet::from(["authorization_code", "expires_in", "state"])
    );
    assert_eq!(
        (r.body["expires_in"].as_i64(), r.str("state")),
        (Some(300), "ahg84hek2n")
    );

    let sign_in = json!({
        "client_id": DOC_CLIENT, "response_type": "code", "redirect_uri": "myapp://callback",
        "code_challenge_method": "SHA256", "code_challenge": CHALLENGE, "state": "ahg84hek2n",
        "email": "michael_lee@gmail.com", "password": "foobar"
    });
    let s = app.post_json("/sign-in", &sign_in).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(
        keys(&s.body),
        BTreeSet::from(["authorization_code", "expires_in", "state"])
    );
    assert_eq!(s.body["expires_in"], 300);

    // GET /token with the document's query parameters.
    let q = format!(
        "/token?grant_type=authorization_code&client_id={DOC_CLIENT}&code={}&code_verifier={VERIFIER}",
        s.str("authorization_code")
    );
    let t = app.get_with(&app.http, &q).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        keys(&t.body),
        BTreeSet::from(["access_token", "expires_in", "token_type", "refresh_token"])
    );
    assert_eq!(
        (t.str("token_type"), t.body["expires_in"].as_i64()),
        ("Bearer", Some(3600))
    );
    let me = app.get_bearer("/userinfo", t.str("access_token")).await;
    assert_eq!(
        (me.str("email"), me.str("given_name"), me.str("family_name")),
        ("michael_lee@gmail.com", "Michael", "Lee")
    );

    let q = format!(
        "/token?grant_type=refresh_token&refresh_token={}",
        t.str("refresh_token")
    );
    let t2 = app.get_with(&app.http, &q).await;
    assert_eq!(t2.status, 200, "{}", t2.text);
    assert_eq!(keys(&t2.body), keys(&t.body));

    // The code of the register answer works too, once.
    let q = format!(
        "/token?grant_type=authorization_code&client_id={DOC_CLIENT}&code={}&code_verifier={VERIFIER}",
        r.str("authorization_code")
    );
    assert_eq!(app.get_with(&app.http, &q).await.status, 200);
    assert_eq!(app.get_with(&app.http, &q).await.error(), "invalid_grant");
}

async fn seed_001_refusals(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    pkce_client(&app).await;
    app.user(
        "michael_lee@gmail.com",
        Some("michael_lee@gmail.com"),
        "foobar",
    )
    .await;
    let base = json!({
        "client_id": DOC_CLIENT, "response_type": "code", "redirect_uri": "myapp://callback",
        "code_challenge_method": "S256", "code_challenge": CHALLENGE, "state": "ahg84hek2n",
        "email": "michael_lee@gmail.com", "password": "foobar"
    });
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, status, error) in [
        (with("password", json!("wrong")), 400, "invalid_grant"),
        (with("client_id", json!("unknown")), 400, "invalid_request"),
        (
            with("redirect_uri", json!("myapp://evil")),
            400,
            "invalid_request",
        ),
        (
            with("code_challenge_method", json!("plain")),
            400,
            "invalid_request",
        ),
        (
            with("code_challenge", json!("short")),
            400,
            "invalid_request",
        ),
        (with("email", json!(null)), 400, "invalid_request"),
    ] {
        let r = app.post_json("/sign-in", &body).await;
        assert_eq!((r.status, r.error()), (status, error), "{body}: {}", r.text);
    }
    let bad_verifier = {
        let s = app.post_json("/sign-in", &base).await;
        format!(
            "/token?grant_type=authorization_code&client_id={DOC_CLIENT}&code={}&code_verifier={}",
            s.str("authorization_code"),
            "x".repeat(43)
        )
    };
    assert_eq!(
        app.get_with(&app.http, &bad_verifier).await.error(),
        "invalid_grant"
    );
    // Register bodies that fit no shape name the accepted ones.
    for body in [
        json!({"username": "x"}),
        json!({"foo": 1}),
        json!([1, 2]),
        json!({"username": "a", "password": "b", "extra": 1}),
    ] {
        let r = app.post_json("/register", &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(
            r.body["error_description"]
                .as_str()
                .unwrap()
                .contains("accepted shape"),
            "{}",
            r.text
        );
    }
    let r = portcullis_tests::Reply::from(
        app.http
            .post(app.url("/register"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);
}

async fn seed_002_key_secret(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let r = app
        .post_json(
            "/register",
            &json!({"user_id": "robot-7", "user_secret": "s3cret!"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), BTreeSet::from(["user_key"]));
    let key = r.str("user_key").to_owned();
    assert_eq!(
        app.post_json(
            "/register",
            &json!({"user_id": "robot-7", "user_secret": "x"})
        )
        .await
        .status,
        409
    );

    let a = app
        .post_json(
            "/authenticate",
            &json!({"user_key": key, "user_secret": "s3cret!"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        keys(&a.body),
        BTreeSet::from(["access_token", "refresh_token"])
    );
    let (at, rt) = (
        a.str("access_token").to_owned(),
        a.str("refresh_token").to_owned(),
    );
    assert_eq!(app.get_bearer("/me", &at).await.str("username"), "robot-7");

    // Access tokens live one hour.
    app.clock.advance(Duration::minutes(59));
    assert_eq!(app.get_bearer("/me", &at).await.status, 200);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(app.get_bearer("/me", &at).await.status, 401);

    let f = app
        .post_json("/refresh", &json!({"refresh_token": rt}))
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    assert_eq!(keys(&f.body), BTreeSet::from(["access_token"]));
    assert_eq!(
        app.get_bearer("/me", f.str("access_token")).await.status,
        200
    );
    // The refresh token stays usable: the answer carried no new one.
    assert_eq!(
        app.post_json("/refresh", &json!({"refresh_token": rt}))
            .await
            .status,
        200
    );

    for body in [
        json!({"user_key": key, "user_secret": "wrong"}),
        json!({"user_key": "not-a-key", "user_secret": "s3cret!"}),
    ] {
        let e = app.post_json("/authenticate", &body).await;
        assert_eq!((e.status, e.error()), (400, "invalid_grant"), "{body}");
    }
    assert_eq!(
        app.post_json("/refresh", &json!({"refresh_token": "nope"}))
            .await
            .error(),
        "invalid_grant"
    );
    assert_eq!(
        app.post_json("/refresh", &json!({})).await.error(),
        "invalid_request"
    );
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        auth_core::ports::Clock::now(&self.clock)
    }
}

async fn dialects_switched_off_are_not_served(db: ScratchDb) {
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            dialects: Some(portcullis::settings::DialectSettings {
                redirect_login: Some(false),
                pkce_json: Some(false),
                key_secret: Some(false),
                spring_oauth: Some(false),
                external_login: Some(false),
            }),
            ..Default::default()
        },
    )
    .await;
    let client = legacy_client(&app).await;
    // Paths of their own are not routed.
    for (method, path) in [
        ("POST", "/sign-in"),
        ("POST", "/oauth/token"),
        ("GET", "/me/"),
        ("POST", "/authenticate"),
        ("POST", "/refresh"),
    ] {
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    let r = app
        .http
        .get(app.url("/token?grant_type=refresh_token&refresh_token=x"))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(r.status().as_u16(), 404 | 405),
        "GET /token answered {}",
        r.status()
    );
    // Shared paths refuse their shapes, and name only what is on.
    let before = app.fingerprint().await;
    for body in [
        json!({"username": "john", "password": "1234"}),
        json!({"user_id": "john", "user_secret": "1234"}),
    ] {
        let r = app.post_json("/register", &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(
            !r.text.contains("redirect login") && !r.text.contains("key/secret"),
            "{}",
            r.text
        );
        assert!(r.text.contains("hosted registration page"), "{}", r.text);
    }
    assert_eq!(app.fingerprint().await, before, "nobody registered");
    let r = app.post_json("/token", &json!({"username": "john", "password": "1234", "client_id": client, "response_type": "code"})).await;
    assert_eq!(r.status, 415, "{}", r.text);
    let b = browser();
    let page = app.get_with(&b, &format!("/login?client_id={client}&scope=0&redirect_uri=https%3A%2F%2Fapp.example%2Fafter-login")).await;
    assert_eq!(page.status, 400);
    assert!(
        page.text.contains("Redirect login is not enabled"),
        "{}",
        page.text
    );
    // Standard OAuth 2.0 is unaffected.
    let (id, secret) = app.client(ClientSetup::default()).await;
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret.unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

scenarios! {
    seed_000_redirect_login,
    seed_000_json_register_and_token,
    seed_001_pkce_json,
    seed_001_refusals,
    seed_002_key_secret,
    dialects_switched_off_are_not_served,
}
