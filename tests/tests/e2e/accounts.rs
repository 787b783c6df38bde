//! Disabling an account (`portcullis user disable|enable`): it signs in
//! nowhere, its tokens and sessions are refused, its device approvals are
//! not redeemed; enabling it brings none of them back.
use auth_core::accounts::set_user_disabled;
use auth_core::ports::Clock as _;
use chrono::Duration;
use portcullis::settings::FileSettings;
use portcullis_tests::{ClientSetup, Reply, ScratchDb, TestApp, browser, hidden_fields, scenarios};

use crate::browser::{authorize_path, log_in, with};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn disable(app: &TestApp, who: &str, disabled: bool) {
    let done = set_user_disabled(&app.services.roles.accounts, who, disabled, app.clock.now())
        .await
        .unwrap();
    assert!(done.is_some_and(|u| u.disabled == disabled));
}

async fn password_grant(app: &TestApp, id: &str, secret: &str) -> Reply {
    app.post_form(
        "/token",
        Some((id, secret)),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct-horse"),
        ],
    )
    .await
}

async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> bool {
    let r = app
        .post_form("/introspect", Some((id, secret)), &[("token", token)])
        .await;
    r.body["active"].as_bool().unwrap()
}

/// Every registration attempt counts in the registration throttle, refused
/// or not, by design: these fingerprints leave that table out.
const REGISTRATIONS_COUNTED: &[&str] = &["throttle_counters"];

async fn a_disabled_account_signs_in_nowhere(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app
        .client(ClientSetup {
            reference_tokens: false,
            ..Default::default()
        })
        .await;
    let secret = secret.unwrap();
    let (reference, reference_secret) = app
        .client(ClientSetup {
            reference_tokens: true,
            ..Default::default()
        })
        .await;
    let reference_secret = reference_secret.unwrap();
    let (web, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["myapp://callback"],
            ..Default::default()
        })
        .await;
    let (device, _) = app
        .client(ClientSetup {
            public: true,
            grants: &[DEVICE_GRANT],
            ..Default::default()
        })
        .await;
    app.user("michael", None, "correct-horse").await;
    app.user("alice", Some("alice@example.org"), "correct-horse")
        .await;

    let t = password_grant(&app, &id, &secret).await;
    let (at, rt) = (
        t.str("access_token").to_owned(),
        t.str("refresh_token").to_owned(),
    );
    let r = password_grant(&app, &reference, &reference_secret).await;
    let reference_at = r.str("access_token").to_owned();
    // A browser session, and a device approved but not yet redeemed.
    let b = browser();
    let page = app
        .get_with(&b, &authorize_path(&web, "myapp://callback", "s"))
        .await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", "alice"), ("password", "correct-horse")],
    );
    assert_eq!(app.post_with(&b, "/login", &form).await.status, 303);
    let started = app
        .post_form(
            "/device_authorization",
            None,
            &[("client_id", device.as_str())],
        )
        .await;
    let device_code = started.str("device_code").to_owned();
    let page = app
        .get_with(
            &b,
            &format!("/device?user_code={}", started.str("user_code")),
        )
        .await;
    let r = app
        .post_with(
            &b,
            "/device",
            &with(
                portcullis_tests::csrf_field(&page.text),
                &[
                    ("user_code", started.str("user_code")),
                    ("decision", "allow"),
                ],
            ),
        )
        .await;
    assert!(r.text.contains("Device connected"), "{}", r.text);

    disable(&app, "alice@example.org", true).await;
    let refused = password_grant(&app, &id, &secret).await;
    assert_eq!((refused.status, refused.error()), (400, "invalid_grant"));
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert!(
        !introspect(&app, &id, &secret, &at).await,
        "PASETO access token"
    );
    assert!(!introspect(&app, &id, &secret, &rt).await, "refresh token");
    assert!(
        !introspect(&app, &reference, &reference_secret, &reference_at).await,
        "reference token"
    );
    for token in [&at, &reference_at] {
        let me = app.get_bearer("/userinfo", token).await;
        assert_eq!(me.status, 401);
        assert!(
            me.header("www-authenticate")
                .unwrap()
                .contains("invalid_token")
        );
    }
    // The SSO session is gone: /authorize shows the login page again.
    let page = app
        .get_with(&b, &authorize_path(&web, "myapp://callback", "s"))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("name=\"password\""),
        "the login page, not a code"
    );
    app.clock.advance(Duration::seconds(10));
    let poll = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", DEVICE_GRANT),
                ("client_id", &device),
                ("device_code", &device_code),
            ],
        )
        .await;
    assert_eq!(
        (poll.status, poll.error()),
        (400, "access_denied"),
        "{}",
        poll.text
    );
    // The hosted login refuses it too, with the same words as a wrong
    // password; another account is not affected.
    let fresh = browser();
    let page = app
        .get_with(&fresh, &authorize_path(&web, "myapp://callback", "s"))
        .await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", "alice"), ("password", "correct-horse")],
    );
    let r = app.post_with(&fresh, "/login", &form).await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("The username or password is incorrect."));
    let r = log_in(
        &app,
        &browser(),
        &authorize_path(&web, "myapp://callback", "s"),
    )
    .await;
    assert_eq!(r.status, 303, "michael still signs in");

    // Enabled again: a new sign-in works; the old refresh token stays revoked.
    disable(&app, "alice", false).await;
    assert_eq!(password_grant(&app, &id, &secret).await.status, 200);
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(r.status, 400, "revoked at disabling");
    let page = app
        .get_with(&b, &authorize_path(&web, "myapp://callback", "s"))
        .await;
    assert!(
        page.text.contains("name=\"password\""),
        "the old session stays ended"
    );
    // Unknown names change nothing.
    let none = set_user_disabled(
        &app.services.roles.accounts,
        "nobody",
        true,
        app.clock.now(),
    )
    .await
    .unwrap();
    assert!(none.is_none());
}

async fn one_login_name_names_one_account(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let alice = app
        .user("alice", Some("alice@example.com"), "correct-horse")
        .await;
    let before = app.fingerprint_without(REGISTRATIONS_COUNTED).await;
    // The review's reproduction: seed 000's JSON registration with
    // another account's email as the username.
    let r = app
        .post_json(
            "/register",
            &serde_json::json!({"username": "alice@example.com", "password": "1234"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("email"), "{}", r.text);
    // The same name in another case.
    let r = app
        .post_json(
            "/register",
            &serde_json::json!({"username": "ALICE", "password": "1234"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        app.fingerprint_without(REGISTRATIONS_COUNTED).await,
        before,
        "nothing was created"
    );
    // The hosted page: the email taken as a username.
    let b = browser();
    let page = app.get_with(&b, "/register").await;
    let form = with(
        hidden_fields(&page.text),
        &[
            ("username", "alice@example.com"),
            ("email", "alice@example.com"),
            ("password", "a-long-passphrase"),
        ],
    );
    let r = app.post_with(&b, "/register", &form).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("already registered"), "{}", r.text);
    assert_eq!(app.fingerprint_without(REGISTRATIONS_COUNTED).await, before);
    // A username that is the account's own email is fine.
    app.user(
        "dave@example.org",
        Some("dave@example.org"),
        "correct-horse",
    )
    .await;
    // Every login name finds its one account.
    for login in ["alice", "ALICE@example.com", "alice@example.com"] {
        let t = app
            .post_form(
                "/token",
                Some((&id, &secret)),
                &[
                    ("grant_type", "password"),
                    ("username", login),
                    ("password", "correct-horse"),
                ],
            )
            .await;
        assert_eq!(t.status, 200, "{login}: {}", t.text);
        assert_eq!(
            app.get_bearer("/me", t.str("access_token"))
                .await
                .str("sub"),
            alice
        );
    }
    let t = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "dave@example.org"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    assert_eq!(t.status, 200);
}

async fn migrate_reports_login_names_that_name_another_account(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let alice = app
        .user("alice", Some("alice@example.com"), "correct-horse")
        .await;
    // A row written before the rule: its username is Alice's email.
    let old = uuid::Uuid::new_v4().to_string();
    let insert = format!(
        "INSERT INTO users (id, username, email, password_hash, disabled, created_at) \
         VALUES ('{old}', 'alice@example.com', NULL, NULL, false, CURRENT_TIMESTAMP)"
    );
    portcullis_tests::execute(&app.database, &insert).await;
    let conflicts = app.database.login_name_conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(
        (
            conflicts[0].user_id.as_str(),
            conflicts[0].name.as_str(),
            conflicts[0].held_by.as_str()
        ),
        (old.as_str(), "alice@example.com", alice.as_str())
    );
    // And the login still finds exactly Alice.
    let found = auth_core::accounts::find_user(&app.services.roles.accounts, "alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id.to_string(), alice);
}

/// Registers through the hosted page as the browser `b`.
pub(crate) async fn register_on_page(
    app: &TestApp,
    b: &reqwest::Client,
    username: &str,
    email: &str,
) -> Reply {
    let page = app.get_with(b, "/register").await;
    let form = with(
        hidden_fields(&page.text),
        &[
            ("username", username),
            ("email", email),
            ("password", "a-long-passphrase"),
        ],
    );
    app.post_with(b, "/register", &form).await
}

async fn one_person_one_name_look_alikes_are_refused(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let alice = app
        .user("alice", Some("alice@bücher.example"), "correct-horse")
        .await;
    let before = app.fingerprint_without(REGISTRATIONS_COUNTED).await;
    let b = browser();
    let register = |username, email| register_on_page(&app, &b, username, email);
    // Full width is the same name: taken.
    let r = register("ａｌｉｃｅ", "wide@example.org").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("already registered"), "{}", r.text);
    // A Cyrillic а, or an і, in an otherwise Latin name: a look-alike.
    for alike in ["аlice", "alіce"] {
        let r = register(alike, "other@example.org").await;
        assert_eq!(r.status, 400, "{alike}: {}", r.text);
        assert!(
            r.text.contains("looks like one already registered"),
            "{alike}: {}",
            r.text
        );
    }
    // The seed dialects and the operator's CLI are refused alike.
    let r = app
        .post_json(
            "/register",
            &serde_json::json!({"username": "аlice", "password": "1234"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        app.fingerprint_without(REGISTRATIONS_COUNTED).await,
        before,
        "nothing was created"
    );

    // Every form of the name signs in the one account, and clients see
    // the stored name; the email's domain is compared in its IDNA form.
    for login in [
        "ＡＬＩＣＥ",
        "Alice",
        "alice@xn--bcher-kva.example",
        "ALICE@BÜCHER.example",
    ] {
        let t = app
            .post_form(
                "/token",
                Some((&id, &secret)),
                &[
                    ("grant_type", "password"),
                    ("username", login),
                    ("password", "correct-horse"),
                ],
            )
            .await;
        assert_eq!(t.status, 200, "{login}: {}", t.text);
        let me = app.get_bearer("/me", t.str("access_token")).await;
        assert_eq!(me.str("sub"), alice);
    }
    let user = app.account(&alice).await;
    assert_eq!(user.username.as_str(), "alice");
    assert_eq!(user.email.unwrap().as_str(), "alice@xn--bcher-kva.example");
    // A name of its own registers.
    let r = register("alicia", "alicia@example.org").await;
    assert!(matches!(r.status, 200 | 303), "{}", r.text);
}

async fn migrate_leaves_existing_look_alikes_and_lists_them(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice", None, "correct-horse").await;
    // An account written before the look-alike rule: its name has no
    // skeleton yet, as after the migration.
    let old = uuid::Uuid::new_v4().to_string();
    portcullis_tests::execute(
        &app.database,
        &format!(
            "INSERT INTO users (id, username, email, password_hash, disabled, created_at) \
         VALUES ('{old}', 'аlice', NULL, NULL, false, CURRENT_TIMESTAMP)"
        ),
    )
    .await;
    portcullis_tests::execute(
        &app.database,
        &format!("INSERT INTO login_names (name, user_id) VALUES ('аlice', '{old}')"),
    )
    .await;
    // The next start fills what it can; the look-alike keeps none.
    let reopened = auth_store::Database::open(app.db.url(), 2).await.unwrap();
    let listed = reopened.look_alike_names().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].user_id.as_str(), listed[0].held_by.as_str()),
        (old.as_str(), alice.as_str())
    );
    assert!(
        listed[0].name.contains("аlice") && listed[0].name.contains("looks like alice"),
        "{}",
        listed[0].name
    );
    // Both still sign in by their own names.
    for (name, id) in [("alice", &alice), ("аlice", &old)] {
        let found = auth_core::accounts::find_user(&app.services.roles.accounts, name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&found.id.to_string(), id);
    }
}

async fn a_sign_in_is_a_security_event_too(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let alice = app.user("alice", None, "correct-horse").await;
    let succeeded = || {
        portcullis_tests::log_lines_with("login_succeeded")
            .into_iter()
            .filter(|l| l.contains(&alice))
            .count()
    };
    let t = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(succeeded(), 1, "the password grant");
    let wrong = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong-horse"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(succeeded(), 1, "a failure is not a success");
    let b = browser();
    let page = app.get_with(&b, "/login").await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", "alice"), ("password", "correct-horse")],
    );
    assert_eq!(app.post_with(&b, "/login", &form).await.status, 303);
    assert_eq!(succeeded(), 2, "the hosted login page");
}

/// `registration = "closed"`: no page offers it, and every way in (the
/// hosted form and the three seed APIs' JSON) is refused before anything
/// is counted or stored.
async fn closed_registration_is_offered_nowhere_and_refused_everywhere(db: ScratchDb) {
    let file = FileSettings {
        registration: Some("closed".into()),
        ..FileSettings::default()
    };
    let app = TestApp::spawn_with(db, file).await;
    // Seed 001 registers through a client of its own, with a valid request.
    app.client(ClientSetup {
        id: Some("pkce-app"),
        public: true,
        grants: &["authorization_code"],
        redirect_uris: &["myapp://callback"],
        scope: "",
        dialects: &["pkce-json"],
        ..Default::default()
    })
    .await;
    let before = app.fingerprint().await;
    let b = browser();
    let login = app.get_with(&b, "/login").await;
    assert_eq!(login.status, 200);
    assert!(!login.text.contains("/register"), "{}", login.text);
    let front = app.get_with(&b, "/").await;
    assert!(!front.text.contains("/register"), "{}", front.text);
    let page = app.get_with(&b, "/register").await;
    assert_eq!(page.status, 403);
    assert!(
        page.text.contains("Registration is closed"),
        "{}",
        page.text
    );
    let form = with(
        hidden_fields(&login.text),
        &[
            ("username", "mallory"),
            ("email", "mallory@example.org"),
            ("password", "a-long-passphrase"),
        ],
    );
    let r = app.post_with(&b, "/register", &form).await;
    assert_eq!(r.status, 403, "{}", r.text);
    for body in [
        serde_json::json!({"username": "mallory", "password": "1234"}),
        serde_json::json!({"user_id": "mallory", "user_secret": "a-long-secret"}),
        serde_json::json!({
            "client_id": "pkce-app", "response_type": "code", "redirect_uri": "myapp://callback",
            "code_challenge_method": "S256", "state": "s1",
            "code_challenge": "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es",
            "email": "mallory@example.org", "password": "a-long-passphrase",
            "first_name": "M", "last_name": "E"
        }),
    ] {
        let r = app.post_json("/register", &body).await;
        assert_eq!(r.status, 403, "{body}: {}", r.text);
        assert_eq!(r.body["error"], "access_denied", "{}", r.text);
        let why = r.body["error_description"].as_str().unwrap_or_default();
        assert!(why.contains("registration is closed"), "{}", r.text);
    }
    assert_eq!(
        app.fingerprint().await,
        before,
        "nothing was counted or created"
    );
    // An operator still creates accounts, and they sign in.
    let (id, secret) = app.client(ClientSetup::default()).await;
    app.user("made-by-operator", None, "a-long-passphrase")
        .await;
    let r = app
        .post_form(
            "/token",
            Some((&id, secret.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "made-by-operator"),
                ("password", "a-long-passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// `registration_domains`: only addresses at those domains (compared in
/// their IDNA form) may register themselves; an account without an email
/// may not then.
async fn registration_can_be_kept_to_email_domains(db: ScratchDb) {
    let file = FileSettings {
        registration_domains: Some(vec!["Bücher.example".into()]),
        ..FileSettings::default()
    };
    let app = TestApp::spawn_with(db, file).await;
    let before = app.fingerprint().await;
    let b = browser();
    let register = |username, email| register_on_page(&app, &b, username, email);
    let r = register("mallory", "mallory@elsewhere.example").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("xn--bcher-kva.example"), "{}", r.text);
    let r = app
        .post_json(
            "/register",
            &serde_json::json!({"username": "mallory", "password": "1234"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        app.fingerprint_without(REGISTRATIONS_COUNTED).await,
        before,
        "nothing was created"
    );
    let r = register("carol", "carol@bücher.example").await;
    assert_eq!(r.status, 303, "{}", r.text);
}

scenarios! {
    closed_registration_is_offered_nowhere_and_refused_everywhere,
    registration_can_be_kept_to_email_domains,
    a_disabled_account_signs_in_nowhere,
    one_login_name_names_one_account,
    migrate_reports_login_names_that_name_another_account,
    one_person_one_name_look_alikes_are_refused,
    migrate_leaves_existing_look_alikes_and_lists_them,
    a_sign_in_is_a_security_event_too,
}
