//! The authorization code flow as a browser lives it: hosted pages, form
//! posts with CSRF tokens, cookies, redirects, single sign-on and logout.
use chrono::Duration;
use portcullis_tests::{
    ClientSetup, Reply, ScratchDb, TestApp, browser, hidden_fields, location, param, scenarios,
};

pub(crate) const VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

pub(crate) fn authorize_path(client: &str, redirect: &str, state: &str) -> String {
    let q = serde_urlencoded_pairs(&[
        ("client_id", client),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("code_challenge_method", "S256"),
        ("code_challenge", CHALLENGE),
        ("state", state),
        ("scope", "read"),
    ]);
    format!("/authorize?{q}")
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub(crate) fn with(fields: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f = fields;
    f.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    f
}

async fn setup(db: ScratchDb, first_party: bool) -> (TestApp, String) {
    let app = TestApp::spawn(db).await;
    let (id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &["myapp://callback"],
            first_party,
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    (app, id)
}

/// Logs in through the hosted page; returns the redirect the login answered.
pub(crate) async fn log_in(app: &TestApp, b: &reqwest::Client, path: &str) -> Reply {
    let page = app.get_with(b, path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("autocomplete=\"current-password\""));
    let form = with(
        hidden_fields(&page.text),
        &[("username", "michael"), ("password", "correct-horse")],
    );
    app.post_with(b, "/login", &form).await
}

async fn redeem(app: &TestApp, client: &str, code: &str, verifier: &str) -> Reply {
    app.post_form(
        "/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", "myapp://callback"),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn code_flow_with_pkce_then_single_sign_on_then_logout(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let (b_id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["http://127.0.0.1:9/cb"],
            ..Default::default()
        })
        .await;
    let b = browser();
    let r = log_in(
        &app,
        &b,
        &authorize_path(&a, "myapp://callback", "ahg84hek2n"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portcullis_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let to = location(&r);
    assert_eq!(to.scheme(), "myapp");
    assert_eq!(param(&to, "state").as_deref(), Some("ahg84hek2n"));
    let code = param(&to, "code").unwrap();
    let t = redeem(&app, &a, &code, VERIFIER).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.str("scope"), "read");
    let me = app.get_bearer("/userinfo", t.str("access_token")).await;
    assert_eq!(me.str("username"), "michael");

    // Single sign-on: another client, no password asked.
    let r = app
        .get_with(&b, &authorize_path(&b_id, "http://127.0.0.1:9/cb", "s2"))
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    let to = location(&r);
    assert_eq!(to.host_str(), Some("127.0.0.1"));
    assert!(param(&to, "code").is_some());

    // Logout ends it.
    let page = app.get_with(&b, "/login").await;
    assert!(page.text.contains("Signed in"), "{}", page.text);
    let r = app
        .post_with(&b, "/logout", &hidden_fields(&page.text))
        .await;
    assert_eq!(r.status, 303);
    let r = app
        .get_with(&b, &authorize_path(&b_id, "http://127.0.0.1:9/cb", "s3"))
        .await;
    assert_eq!(r.status, 200, "the login page again");
    assert!(r.text.contains("name=\"password\""));
}

async fn login_changes_the_session_id(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let first = log_in(&app, &b, &authorize_path(&a, "myapp://callback", "x")).await;
    let second = log_in_again(&app, &b, &a).await;
    let id = |r: &Reply| {
        r.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("portcullis_session="))
            .unwrap()
    };
    assert_ne!(id(&first), id(&second));
}

async fn csrf_missing_or_wrong_is_refused_and_changes_nothing(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let page = app
        .get_with(&b, &authorize_path(&a, "myapp://callback", "x"))
        .await;
    let fields = hidden_fields(&page.text);
    let without: Vec<_> = fields
        .iter()
        .filter(|(k, _)| k != "csrf_token")
        .cloned()
        .collect();
    let wrong: Vec<_> = fields
        .iter()
        .map(|(k, v)| {
            if k == "csrf_token" {
                (k.clone(), "A".repeat(43))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let before = app.fingerprint().await;
    for (path, form) in [
        (
            "/login",
            with(
                without.clone(),
                &[("username", "michael"), ("password", "correct-horse")],
            ),
        ),
        (
            "/login",
            with(
                wrong.clone(),
                &[("username", "michael"), ("password", "correct-horse")],
            ),
        ),
        (
            "/register",
            with(
                wrong.clone(),
                &[
                    ("username", "eve"),
                    ("email", "eve@example.org"),
                    ("password", "long-enough-pw"),
                ],
            ),
        ),
        ("/consent", with(wrong.clone(), &[("decision", "allow")])),
        ("/logout", wrong.clone()),
    ] {
        let r = app.post_with(&b, path, &form).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert!(
            r.header("set-cookie")
                .is_none_or(|c| !c.starts_with("portcullis_session=")),
            "{path}"
        );
    }
    // A token from another browser's cookie does not fit this one.
    let other = browser();
    let r = app
        .post_with(
            &other,
            "/login",
            &with(
                fields.clone(),
                &[("username", "michael"), ("password", "correct-horse")],
            ),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(app.fingerprint().await, before);
}

async fn templates_escape_everything(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let evil = "<script>alert(1)</script>";
    let page = app
        .get_with(
            &b,
            &format!("{}&{}", authorize_path(&a, "myapp://callback", evil), "x=1"),
        )
        .await;
    assert!(!page.text.contains(evil));
    let page = app.get_with(&b, "/register").await;
    let form = with(
        hidden_fields(&page.text),
        &[
            ("username", evil),
            ("email", evil),
            ("password", evil),
            ("given_name", evil),
            ("family_name", evil),
        ],
    );
    let r = app.post_with(&b, "/register", &form).await;
    assert_eq!(r.status, 400);
    assert!(!r.text.contains(evil), "{}", r.text);
    assert!(r.text.contains("&lt;script&gt;"));
    let r = app
        .post_with(
            &b,
            "/login",
            &with(
                hidden_fields(&page.text),
                &[("username", evil), ("password", evil)],
            ),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(!r.text.contains(evil));
}

async fn hosted_registration_signs_in_and_continues(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let login = app
        .get_with(&b, &authorize_path(&a, "myapp://callback", "st"))
        .await;
    let href = login
        .text
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let page = app.get_with(&b, &portcullis_tests::unescape(href)).await;
    assert!(page.text.contains("autocomplete=\"new-password\""));
    assert!(page.text.contains("At least 8 characters"));
    let short = with(
        hidden_fields(&page.text),
        &[
            ("username", "new.user"),
            ("email", "new@example.org"),
            ("password", "short"),
        ],
    );
    assert_eq!(app.post_with(&b, "/register", &short).await.status, 400);
    let form = with(
        hidden_fields(&page.text),
        &[
            ("username", "new.user"),
            ("email", "new@example.org"),
            ("password", "a-long-passphrase"),
            ("given_name", "New"),
            ("family_name", "User"),
        ],
    );
    let r = app.post_with(&b, "/register", &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let code = param(&location(&r), "code").unwrap();
    let t = redeem(&app, &a, &code, VERIFIER).await;
    let me = app.get_bearer("/userinfo", t.str("access_token")).await;
    assert_eq!(
        (me.str("username"), me.str("given_name")),
        ("new.user", "New")
    );
    // Signing in renewed the CSRF cookie: the form shown before it is
    // refused, and a page loaded now works (and refuses the same name).
    assert_eq!(app.post_with(&b, "/register", &form).await.status, 403);
    let page = app.get_with(&b, &portcullis_tests::unescape(href)).await;
    let form = with(
        hidden_fields(&page.text),
        &[
            ("username", "new.user"),
            ("email", "new@example.org"),
            ("password", "a-long-passphrase"),
        ],
    );
    let r = app.post_with(&b, "/register", &form).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("already registered"));
}

async fn authorize_rejections(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    // Untrusted client or redirect URI: an error page, never a redirect.
    for path in [
        authorize_path("nobody", "myapp://callback", "s"),
        authorize_path(&a, "myapp://evil", "s"),
        authorize_path(&a, "myapp://callback/", "s"),
    ] {
        let r = app.get_with(&b, &path).await;
        assert_eq!(r.status, 400, "{path}");
        assert!(r.header("location").is_none());
        assert!(r.text.contains("not valid"));
    }
    // Everything else goes back to the client with the error and state.
    let cases = [
        (
            authorize_path(&a, "myapp://callback", "s")
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            authorize_path(&a, "myapp://callback", "s").replace("scope=read", "scope=admin"),
            "invalid_scope",
        ),
        (
            authorize_path(&a, "myapp://callback", "s")
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            format!(
                "/authorize?client_id={a}&response_type=code&redirect_uri=myapp%3A%2F%2Fcallback&state=s"
            ),
            "invalid_request",
        ),
    ];
    for (path, error) in cases {
        let r = app.get_with(&b, &path).await;
        assert_eq!(r.status, 302, "{path}: {}", r.text);
        let to = location(&r);
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{path}");
        assert_eq!(param(&to, "state").as_deref(), Some("s"));
        assert!(param(&to, "error_description").is_some());
    }
}

async fn consent_for_third_party_clients(db: ScratchDb) {
    let (app, a) = setup(db, false).await;
    let b = browser();
    let r = log_in(&app, &b, &authorize_path(&a, "myapp://callback", "c1")).await;
    assert_eq!(r.status, 200, "a consent page, not a redirect");
    // A scope nobody described is said to be so, never shown bare.
    assert!(
        r.text.contains("Allow access?") && r.text.contains("not described by this server"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("<li>read</li>"), "{}", r.text);
    // Login renewed the CSRF cookie once, and the page carries the new pair
    // (the posts below would be refused otherwise).
    let csrf_cookies = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter(|c| c.to_str().unwrap().starts_with("portcullis_csrf="))
        .count();
    assert_eq!(csrf_cookies, 1);
    let deny = with(hidden_fields(&r.text), &[("decision", "deny")]);
    let d = app.post_with(&b, "/consent", &deny).await;
    assert_eq!(d.status, 303);
    let to = location(&d);
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "state").as_deref(), Some("c1"));
    let allow = with(hidden_fields(&r.text), &[("decision", "allow")]);
    let ok = app.post_with(&b, "/consent", &allow).await;
    assert_eq!(ok.status, 303);
    assert!(param(&location(&ok), "code").is_some());
}

async fn a_consent_is_remembered_shown_in_words_and_forgotten_with_the_application(db: ScratchDb) {
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            scopes: Some([("read".to_owned(), "Read your photos".to_owned())].into()),
            ..Default::default()
        },
    )
    .await;
    let (a, _) = app
        .client(ClientSetup {
            id: Some("partner"),
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &["myapp://callback"],
            scope: "openid read write",
            first_party: false,
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    let path = |state: &str, scope: &str, extra: &str| {
        format!(
            "{}{extra}",
            authorize_path(&a, "myapp://callback", state)
                .replace("scope=read", &format!("scope={scope}"))
        )
    };
    let b = browser();
    // Asked once, in words: the standard scope's and the operator's.
    let r = log_in(&app, &b, &path("c1", "openid+read", "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("<li>Confirm who you are</li>")
            && r.text.contains("<li>Read your photos</li>"),
        "{}",
        r.text
    );
    let ok = app
        .post_with(
            &b,
            "/consent",
            &with(hidden_fields(&r.text), &[("decision", "allow")]),
        )
        .await;
    assert!(param(&location(&ok), "code").is_some());
    // Within what was granted: no page, and prompt=none succeeds.
    for (state, scope, extra) in [
        ("c2", "openid+read", ""),
        ("c3", "read", ""),
        ("c4", "openid+read", "&prompt=none"),
    ] {
        let r = app.get_with(&b, &path(state, scope, extra)).await;
        assert_eq!(r.status, 302, "{state}: {}", r.text);
        assert!(param(&location(&r), "code").is_some(), "{state}");
    }
    // prompt=consent asks again; a wider scope asks; prompt=none for it is refused.
    let again = app
        .get_with(&b, &path("c5", "openid+read", "&prompt=consent"))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(again.text.contains("Allow access?"));
    let wider = app.get_with(&b, &path("c6", "openid+read+write", "")).await;
    assert_eq!(wider.status, 200, "{}", wider.text);
    let refused = app
        .get_with(&b, &path("c7", "openid+read+write", "&prompt=none"))
        .await;
    assert_eq!(
        param(&location(&refused), "error").as_deref(),
        Some("consent_required")
    );
    // Taking the application's access back on the account page forgets it.
    let page = app.get_with(&b, "/account").await;
    let csrf = portcullis_tests::csrf_field(&page.text)
        .into_iter()
        .take(1)
        .collect();
    let revoke = app
        .post_with(
            &b,
            "/account/applications/revoke",
            &with(csrf, &[("client_id", "partner")]),
        )
        .await;
    assert_eq!(revoke.status, 303, "{}", revoke.text);
    let asked = app.get_with(&b, &path("c8", "openid+read", "")).await;
    assert_eq!(asked.status, 200, "asked again: {}", asked.text);
    let refused = app.get_with(&b, &path("c9", "read", "&prompt=none")).await;
    assert_eq!(
        param(&location(&refused), "error").as_deref(),
        Some("consent_required")
    );
}

async fn token_endpoint_refusals_for_codes(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let code_of = |r: &Reply| param(&location(r), "code").unwrap();
    let first = code_of(&log_in(&app, &b, &authorize_path(&a, "myapp://callback", "s")).await);
    // Wrong verifier and wrong redirect URI: refused, code still usable.
    let r = redeem(&app, &a, &first, &"x".repeat(43)).await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    let r = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &a),
                ("code", &first),
                ("redirect_uri", "myapp://other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    let t = redeem(&app, &a, &first, VERIFIER).await;
    assert_eq!(t.status, 200, "{}", t.text);
    // Replay: refused, and the tokens of the first redemption are revoked.
    let r = redeem(&app, &a, &first, VERIFIER).await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert_eq!(
        app.get_bearer("/userinfo", t.str("access_token"))
            .await
            .status,
        401
    );
    let r = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &a),
                ("refresh_token", t.str("refresh_token")),
            ],
        )
        .await;
    assert_eq!(r.error(), "invalid_grant");
    // Expired.
    let second = code_of(
        &app.get_with(&b, &authorize_path(&a, "myapp://callback", "s"))
            .await,
    );
    app.clock.advance(Duration::seconds(301));
    let r = redeem(&app, &a, &second, VERIFIER).await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
}

async fn failed_logins_are_throttled_for_pages_and_grants_alike(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let page = app
        .get_with(&b, &authorize_path(&a, "myapp://callback", "s"))
        .await;
    let fields = hidden_fields(&page.text);
    for _ in 0..5 {
        let r = app
            .post_with(
                &b,
                "/login",
                &with(
                    fields.clone(),
                    &[("username", "michael"), ("password", "wrong")],
                ),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    // Now even the right password is refused, and no session starts.
    let right = with(
        fields.clone(),
        &[("username", "MICHAEL"), ("password", "correct-horse")],
    );
    let r = app.post_with(&b, "/login", &right).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(
        r.header("set-cookie")
            .is_none_or(|c| !c.starts_with("portcullis_session="))
    );
    // The password grant shares the count.
    let (conf, secret) = app.client(ClientSetup::default()).await;
    let g = app
        .post_form(
            "/token",
            Some((&conf, &secret.unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    assert_eq!(g.error(), "invalid_grant");
    // Once the window has passed, the right password works again.
    app.clock.advance(Duration::minutes(15));
    let r = app.post_with(&b, "/login", &right).await;
    assert_eq!(r.status, 303, "{}", r.text);
}

async fn racing_redemptions_of_one_code_have_one_winner(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let code = param(
        &location(&log_in(&app, &b, &authorize_path(&a, "myapp://callback", "s")).await),
        "code",
    )
    .unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (http, url, a, code, barrier) = (
                app.http.clone(),
                app.url("/token"),
                a.clone(),
                code.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                http.post(url)
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("client_id", a.as_str()),
                        ("code", code.as_str()),
                        ("redirect_uri", "myapp://callback"),
                        ("code_verifier", VERIFIER),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap() == 200);
    }
    assert_eq!(ok, 1);
}

async fn log_in_again(app: &TestApp, b: &reqwest::Client, a: &str) -> Reply {
    // The login page shows the form even with a live session when posted to.
    let page = app.get_with(b, "/login").await;
    let csrf: Vec<_> = hidden_fields(&page.text);
    let form = with(
        csrf,
        &[
            ("client_id", a),
            ("flow", "authorize"),
            ("response_type", "code"),
            ("redirect_uri", "myapp://callback"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("username", "michael"),
            ("password", "correct-horse"),
        ],
    );
    let r = app.post_with(b, "/login", &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    r
}

async fn every_authorization_response_names_the_issuer(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    // A code (RFC 9207 section 2).
    let r = log_in(&app, &b, &authorize_path(&a, "myapp://callback", "s1")).await;
    let to = location(&r);
    assert!(param(&to, "code").is_some());
    assert_eq!(param(&to, "iss").as_deref(), Some("http://issuer.test"));
    // A refusal redirected to the client (a scope it may not have).
    let path = authorize_path(&a, "myapp://callback", "s2").replace("scope=read", "scope=admin");
    let r = app.get_with(&b, &path).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let to = location(&r);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(param(&to, "state").as_deref(), Some("s2"));
    assert_eq!(param(&to, "iss").as_deref(), Some("http://issuer.test"));
    let meta = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    let meta: serde_json::Value = meta.json().await.unwrap();
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
}

async fn authorize_takes_a_form_post_and_a_login_hint(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let query = authorize_path(&a, "myapp://callback", "p1");
    let query = query.trim_start_matches("/authorize?");
    let mut form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    form.push(("login_hint".into(), "michael_lee@gmail.com".into()));
    let page = app.post_with(&b, "/authorize", &form).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("value=\"michael_lee@gmail.com\""),
        "the hint prefills the name: {}",
        page.text
    );
    // The login that follows is the same as after a GET.
    let fields = with(
        hidden_fields(&page.text),
        &[("username", "michael"), ("password", "correct-horse")],
    );
    let r = app.post_with(&b, "/login", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = location(&r);
    assert_eq!(param(&to, "state").as_deref(), Some("p1"));
    let t = redeem(&app, &a, &param(&to, "code").unwrap(), VERIFIER).await;
    assert_eq!(t.status, 200, "{}", t.text);
    // A JSON body is not an authorization request.
    let r = app
        .post_json("/authorize", &serde_json::json!({"client_id": a}))
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    // An unregistered redirect URI by POST gets the error page, never a redirect.
    let bad: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k.clone(), "https://evil.example/cb".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let r = app.post_with(&b, "/authorize", &bad).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.header("location").is_none());
}

async fn userinfo_by_post_takes_the_token_in_the_header_or_the_body_once(db: ScratchDb) {
    let (app, a) = setup(db, true).await;
    let b = browser();
    let r = log_in(&app, &b, &authorize_path(&a, "myapp://callback", "u1")).await;
    let t = redeem(&app, &a, &param(&location(&r), "code").unwrap(), VERIFIER).await;
    let at = t.str("access_token").to_owned();
    let by_header = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 200);
    let by_header: serde_json::Value = by_header.json().await.unwrap();
    assert_eq!(by_header["username"], "michael");
    let by_body = Reply::from(
        app.http
            .post(app.url("/userinfo"))
            .form(&[("access_token", at.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_body.status, 200, "{}", by_body.text);
    assert_eq!(by_body.body, by_header);
    let both = Reply::from(
        app.http
            .post(app.url("/userinfo"))
            .bearer_auth(&at)
            .form(&[("access_token", at.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((both.status, both.error()), (400, "invalid_request"));
    for bad in [None, Some("v4.public.not-a-token")] {
        let mut req = app.http.post(app.url("/userinfo"));
        if let Some(token) = bad {
            req = req.form(&[("access_token", token)]);
        }
        let r = Reply::from(req.send().await.unwrap()).await;
        assert_eq!((r.status, r.error()), (401, "invalid_token"), "{}", r.text);
        assert!(
            r.header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\"")
        );
    }
}

scenarios! {
    code_flow_with_pkce_then_single_sign_on_then_logout,
    login_changes_the_session_id,
    csrf_missing_or_wrong_is_refused_and_changes_nothing,
    templates_escape_everything,
    hosted_registration_signs_in_and_continues,
    authorize_rejections,
    consent_for_third_party_clients,
    a_consent_is_remembered_shown_in_words_and_forgotten_with_the_application,
    token_endpoint_refusals_for_codes,
    failed_logins_are_throttled_for_pages_and_grants_alike,
    racing_redemptions_of_one_code_have_one_winner,
    every_authorization_response_names_the_issuer,
    authorize_takes_a_form_post_and_a_login_hint,
    userinfo_by_post_takes_the_token_in_the_header_or_the_body_once,
}
