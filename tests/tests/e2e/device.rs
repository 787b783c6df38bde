//! The device authorization grant (RFC 8628) end to end: the device's
//! requests, every polling answer, the browser's code entry page, and
//! guessing being refused.
use std::collections::BTreeSet;

use chrono::Duration;
use portcullis_tests::{ClientSetup, Reply, ScratchDb, TestApp, browser, hidden_fields, scenarios};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn setup(db: ScratchDb) -> (TestApp, String) {
    let app = TestApp::spawn(db).await;
    let (id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &[DEVICE_GRANT, "refresh_token"],
            scope: "read",
            ..Default::default()
        })
        .await;
    app.user("alice", None, "correct-horse").await;
    (app, id)
}

async fn start(app: &TestApp, client: &str) -> Reply {
    app.post_form("/device_authorization", None, &[("client_id", client)])
        .await
}

async fn poll(app: &TestApp, client: &str, device_code: &str) -> Reply {
    app.post_form(
        "/token",
        None,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", client),
            ("device_code", device_code),
        ],
    )
    .await
}

fn with(fields: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f = fields;
    f.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    f
}

/// Signs the browser in through the login page `/device` shows first.
async fn sign_in_at(app: &TestApp, b: &reqwest::Client, path: &str) -> Reply {
    let login = app.get_with(b, path).await;
    assert!(login.text.contains("name=\"password\""), "{}", login.text);
    let r = app
        .post_with(
            b,
            "/login",
            &with(
                hidden_fields(&login.text),
                &[("username", "alice"), ("password", "correct-horse")],
            ),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let next = r.header("location").unwrap().to_owned();
    assert!(next.starts_with("/device?user_code="), "{next}");
    app.get_with(b, &next).await
}

async fn device_flow_end_to_end(db: ScratchDb) {
    let (app, client) = setup(db).await;
    let s = start(&app, &client).await;
    assert_eq!(s.status, 200, "{}", s.text);
    let keys: BTreeSet<&str> = s
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "device_code",
            "user_code",
            "verification_uri",
            "verification_uri_complete",
            "expires_in",
            "interval"
        ])
    );
    let user_code = s.str("user_code").to_owned();
    assert!(user_code.len() == 9 && user_code.as_bytes()[4] == b'-');
    assert!(
        user_code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(s.str("verification_uri"), "http://issuer.test/device");
    assert_eq!(
        s.str("verification_uri_complete"),
        format!("http://issuer.test/device?user_code={user_code}")
    );
    assert_eq!(
        (s.body["expires_in"].as_i64(), s.body["interval"].as_i64()),
        (Some(600), Some(5))
    );
    let device_code = s.str("device_code").to_owned();

    // Polling: pending, then too fast.
    assert_eq!(
        poll(&app, &client, &device_code).await.error(),
        "authorization_pending"
    );
    assert_eq!(poll(&app, &client, &device_code).await.error(), "slow_down");
    app.clock.advance(Duration::seconds(10));
    assert_eq!(
        poll(&app, &client, &device_code).await.error(),
        "authorization_pending"
    );

    // The user signs in at the verification URI and allows the device.
    let b = browser();
    let page = sign_in_at(&app, &b, &format!("/device?user_code={user_code}")).await;
    assert!(
        page.text.contains(&format!("value=\"{user_code}\"")),
        "{}",
        page.text
    );
    // RFC 8628 section 5.4: the page names the client and the scope first.
    assert!(
        page.text.contains("<strong>test client</strong>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("<li>read</li>"), "{}", page.text);
    // Typing the code on the entry form leads to the same question.
    let typed = app
        .post_with(
            &b,
            "/device",
            &with(
                portcullis_tests::csrf_field(&page.text),
                &[("user_code", &user_code.to_lowercase())],
            ),
        )
        .await;
    assert!(
        typed.text.contains("Allow this device?") && typed.text.contains("test client"),
        "{}",
        typed.text
    );
    let r = app
        .post_with(
            &b,
            "/device",
            &with(
                portcullis_tests::csrf_field(&page.text),
                &[
                    ("user_code", &user_code.to_lowercase()),
                    ("decision", "allow"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Device connected"), "{}", r.text);
    // Deciding again is refused: the code is no longer pending.
    let again = app
        .post_with(
            &b,
            "/device",
            &with(
                portcullis_tests::csrf_field(&page.text),
                &[("user_code", &user_code), ("decision", "deny")],
            ),
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(!again.text.contains("Request denied"), "{}", again.text);

    app.clock.advance(Duration::seconds(10));
    let t = poll(&app, &client, &device_code).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(
        app.get_bearer("/me", t.str("access_token"))
            .await
            .str("username"),
        "alice"
    );
    assert!(t.body["refresh_token"].is_string());
    // Tokens exactly once.
    app.clock.advance(Duration::seconds(10));
    assert_eq!(
        poll(&app, &client, &device_code).await.error(),
        "invalid_grant"
    );
}

async fn racing_decisions_report_what_was_stored(db: ScratchDb) {
    let (app, client) = setup(db).await;
    let b = browser();
    let s = start(&app, &client).await;
    let code = s.str("user_code").to_owned();
    let page = sign_in_at(&app, &b, &format!("/device?user_code={code}")).await;
    let fields = portcullis_tests::csrf_field(&page.text);
    // Allow and deny at once: each page says what it stored, or that
    // nothing was; the device gets exactly what the winning page said.
    let allow_form = with(
        fields.clone(),
        &[("user_code", &code), ("decision", "allow")],
    );
    let deny_form = with(fields, &[("user_code", &code), ("decision", "deny")]);
    let (allow, deny) = tokio::join!(
        app.post_with(&b, "/device", &allow_form),
        app.post_with(&b, "/device", &deny_form),
    );
    let allowed = allow.text.contains("Device connected");
    let denied = deny.text.contains("Request denied");
    assert!(
        allowed ^ denied,
        "exactly one decision was stored: {} / {}",
        allow.text,
        deny.text
    );
    let loser = if allowed { &deny } else { &allow };
    assert!(
        loser.text.contains("Nothing was changed") || loser.status == 400,
        "{}",
        loser.text
    );
    app.clock.advance(Duration::seconds(10));
    let t = poll(&app, &client, s.str("device_code")).await;
    if allowed {
        assert_eq!(t.status, 200, "{}", t.text);
    } else {
        assert_eq!(t.error(), "access_denied");
    }
}

async fn device_flow_denied_expired_and_guessing(db: ScratchDb) {
    let (app, client) = setup(db).await;
    let b = browser();
    // Denied.
    let s = start(&app, &client).await;
    let page = sign_in_at(&app, &b, "/device").await;
    let r = app
        .post_with(
            &b,
            "/device",
            &with(
                portcullis_tests::csrf_field(&page.text),
                &[("user_code", s.str("user_code")), ("decision", "deny")],
            ),
        )
        .await;
    assert!(r.text.contains("Request denied"));
    assert_eq!(
        poll(&app, &client, s.str("device_code")).await.error(),
        "access_denied"
    );
    // Expired.
    let late = start(&app, &client).await;
    app.clock.advance(Duration::seconds(600));
    assert_eq!(
        poll(&app, &client, late.str("device_code")).await.error(),
        "expired_token"
    );
    // Guessing: five wrong codes, then even the right one is refused.
    let target = start(&app, &client).await;
    let page = app.get_with(&b, "/device").await;
    let fields = hidden_fields(&page.text);
    for guess in ["BCDF-GHJK", "ZZZZ-ZZZZ", "nonsense", "", "XXXX-XXXX"] {
        let r = app
            .post_with(
                &b,
                "/device",
                &with(
                    fields.clone(),
                    &[("user_code", guess), ("decision", "allow")],
                ),
            )
            .await;
        assert_eq!(r.status, 400, "{guess}");
    }
    let r = app
        .post_with(
            &b,
            "/device",
            &with(
                fields.clone(),
                &[
                    ("user_code", target.str("user_code")),
                    ("decision", "allow"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        poll(&app, &client, target.str("device_code")).await.error(),
        "authorization_pending"
    );
    // Without CSRF: refused, nothing decided.
    let r = app
        .post_with(
            &b,
            "/device",
            &[
                ("user_code".to_owned(), target.str("user_code").to_owned()),
                ("decision".to_owned(), "allow".to_owned()),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    // A client without the grant cannot start one.
    let (web, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            ..Default::default()
        })
        .await;
    assert_eq!(start(&app, &web).await.error(), "unauthorized_client");
}

/// A device whose client signs in only confirmed addresses: the page asks
/// an unconfirmed person to confirm first and approves nothing; once the
/// address is confirmed the approval goes through and the device gets its
/// tokens.
async fn a_device_for_a_client_that_wants_a_confirmed_address_asks_first(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &[DEVICE_GRANT, "refresh_token"],
            scope: "read",
            require_verified_email: true,
            ..Default::default()
        })
        .await;
    app.user("alice", Some("alice@example.org"), "correct-horse")
        .await;
    let s = start(&app, &client).await;
    let (user_code, device_code) = (
        s.str("user_code").to_owned(),
        s.str("device_code").to_owned(),
    );
    let b = browser();
    let page = sign_in_at(&app, &b, &format!("/device?user_code={user_code}")).await;
    let allow = with(
        portcullis_tests::csrf_field(&page.text),
        &[("user_code", &user_code), ("decision", "allow")],
    );
    let r = app.post_with(&b, "/device", &allow).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.text.contains("Confirm your email address first"),
        "{}",
        r.text
    );
    assert_eq!(
        poll(&app, &client, &device_code).await.error(),
        "authorization_pending"
    );
    auth_core::accounts::set_email_verified(&app.services.roles.accounts, "alice", true)
        .await
        .unwrap()
        .unwrap();
    let r = app.post_with(&b, "/device", &allow).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Device connected"), "{}", r.text);
    app.clock.advance(Duration::seconds(10));
    let tokens = poll(&app, &client, &device_code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
}

scenarios! {
    device_flow_end_to_end,
    racing_decisions_report_what_was_stored,
    device_flow_denied_expired_and_guessing,
    a_device_for_a_client_that_wants_a_confirmed_address_asks_first,
}
