//! Throttles that hold: a burst of parallel wrong passwords is counted as
//! strictly as a sequence, the username and the email of an account share
//! one budget, and every node (and a restarted one) sees the same counters.
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, scenarios};

const WRONG: &str = "the username or password is incorrect";
const THROTTLED: &str = "too many failed attempts for this login; try again later";

async fn attempt(app: &TestApp, basic: (&str, &str), login: &str, password: &str) -> String {
    let r = app
        .post_form(
            "/token",
            Some(basic),
            &[
                ("grant_type", "password"),
                ("username", login),
                ("password", password),
            ],
        )
        .await;
    if r.status == 200 {
        return "ok".into();
    }
    r.body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A password grant sent from the loopback address `from` (127.0.0.0/8 is
/// all this machine's): as if from another client address.
async fn attempt_from(
    app: &TestApp,
    from: &str,
    basic: (&str, &str),
    login: &str,
    password: &str,
) -> String {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = portcullis_tests::Reply::from(
        client
            .post(app.url("/token"))
            .basic_auth(basic.0, Some(basic.1))
            .form(&[
                ("grant_type", "password"),
                ("username", login),
                ("password", password),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    if r.status == 200 {
        return "ok".into();
    }
    r.body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Signs in on the hosted login page with `b`; the answer's status.
async fn hosted_login(app: &TestApp, b: &reqwest::Client, password: &str) -> u16 {
    let page = app.get_with(b, "/login").await;
    let mut form = portcullis_tests::hidden_fields(&page.text);
    form.extend([
        ("username".to_owned(), "alice".to_owned()),
        ("password".to_owned(), password.to_owned()),
    ]);
    app.post_with(b, "/login", &form).await.status
}

async fn a_browser_that_signed_in_before_is_let_through_the_account_wide_lock(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let basic = (id.as_str(), secret.as_str());
    app.user("alice", None, "correct-horse").await;
    // The owner's browser signs in once: it is remembered (a device cookie).
    let owners = portcullis_tests::browser();
    assert_eq!(hosted_login(&app, &owners, "correct-horse").await, 303);
    // A guess spread over ten addresses sets off the account-wide lock.
    for n in 0..10 {
        let from = format!("127.0.0.{}", 30 + n);
        for _ in 0..5 {
            assert_eq!(
                attempt_from(&app, &from, basic, "alice", "guess").await,
                WRONG,
                "{from}"
            );
        }
    }
    assert_eq!(
        attempt_from(&app, "127.0.0.1", basic, "alice", "correct-horse").await,
        THROTTLED
    );
    // A new browser waits; so does one with a made-up device cookie.
    assert_eq!(
        hosted_login(&app, &portcullis_tests::browser(), "correct-horse").await,
        429
    );
    let jar_url = url::Url::parse(&app.base).unwrap();
    let forger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(std::sync::Arc::new({
            let jar = reqwest::cookie::Jar::default();
            jar.add_cookie_str("portcullis_device=made-up-value", &jar_url);
            jar
        }))
        .build()
        .unwrap();
    assert_eq!(hosted_login(&app, &forger, "correct-horse").await, 429);
    // The owner's browser signs in, and keeps its cookie (no new one).
    let page = app.get_with(&owners, "/login").await;
    let mut form = portcullis_tests::hidden_fields(&page.text);
    form.extend([
        ("username".to_owned(), "alice".to_owned()),
        ("password".to_owned(), "correct-horse".to_owned()),
    ]);
    let again = app.post_with(&owners, "/login", &form).await;
    assert_eq!(again.status, 303, "{}", again.text);
    assert!(
        !again
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("portcullis_device=")),
        "a remembered browser gets no new device cookie"
    );
}

async fn wrong_passwords_from_one_address_lock_out_that_address_not_the_owner(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let basic = (id.as_str(), secret.as_str());
    app.user("alice", Some("alice@example.org"), "correct-horse")
        .await;
    // Someone guesses from one address: five failures, then refused there,
    // even with the right password.
    for _ in 0..5 {
        assert_eq!(
            attempt_from(&app, "127.0.0.2", basic, "alice", "guess").await,
            WRONG
        );
    }
    assert_eq!(
        attempt_from(&app, "127.0.0.2", basic, "alice", "correct-horse").await,
        THROTTLED
    );
    // The owner, elsewhere, signs in.
    assert_eq!(
        attempt_from(
            &app,
            "127.0.0.1",
            basic,
            "alice@example.org",
            "correct-horse"
        )
        .await,
        "ok"
    );
    // Guesses from many addresses meet the account's own limit, ten
    // times the per-address one: then everyone waits (5 above + 45 here).
    for n in 0..9 {
        let from = format!("127.0.0.{}", 10 + n);
        for _ in 0..5 {
            assert_eq!(
                attempt_from(&app, &from, basic, "alice", "guess").await,
                WRONG,
                "{from}"
            );
        }
    }
    assert_eq!(
        attempt_from(&app, "127.0.0.1", basic, "alice", "correct-horse").await,
        THROTTLED
    );
}

async fn a_burst_of_wrong_passwords_is_counted_exactly(db: ScratchDb) {
    let shared = db.share();
    let app = std::sync::Arc::new(TestApp::spawn(db).await);
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    app.user("alice", Some("alice@example.org"), "correct-horse")
        .await;
    // 40 wrong passwords at once, by the username and by the email.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (app, id, secret) = (app.clone(), id.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let login = if i % 2 == 0 {
                "alice"
            } else {
                "ALICE@example.org"
            };
            attempt(&app, (&id, &secret), login, &format!("guess-{i}")).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let evaluated = answers.iter().filter(|a| a.as_str() == WRONG).count();
    let refused = answers.iter().filter(|a| a.as_str() == THROTTLED).count();
    assert_eq!(
        (evaluated, refused),
        (5, 35),
        "one budget of five for the account: {answers:?}"
    );
    // Even the right password waits for the window now, by either name.
    assert_eq!(
        attempt(&app, (&id, &secret), "alice", "correct-horse").await,
        THROTTLED
    );
    // Another node on the same database shares the counter.
    let other = TestApp::spawn(shared).await;
    assert_eq!(
        attempt(&other, (&id, &secret), "alice@example.org", "correct-horse").await,
        THROTTLED
    );
    // After the window, the right password works and clears the count.
    other.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(
        attempt(&other, (&id, &secret), "alice", "correct-horse").await,
        "ok"
    );
    // A cleared count starts a new window at the next failure, not at the
    // success: four failures 14 minutes on, a fifth 2 minutes later (past
    // a window started at the success), and the sixth is refused.
    other.clock.advance(chrono::Duration::minutes(14));
    for i in 0..4 {
        assert_eq!(
            attempt(&other, (&id, &secret), "alice", &format!("late-{i}")).await,
            WRONG
        );
    }
    other.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        attempt(&other, (&id, &secret), "alice", "late-4").await,
        WRONG
    );
    assert_eq!(
        attempt(&other, (&id, &secret), "alice", "correct-horse").await,
        THROTTLED
    );
    // Unknown names are throttled alike, by name.
    for _ in 0..5 {
        assert_eq!(attempt(&other, (&id, &secret), "nobody", "x").await, WRONG);
    }
    assert_eq!(
        attempt(&other, (&id, &secret), "nobody", "x").await,
        THROTTLED
    );
}

async fn registrations_are_throttled_per_address_even_in_a_burst(db: ScratchDb) {
    let file = portcullis::settings::FileSettings {
        registration_max_per_address: Some(3),
        ..Default::default()
    };
    let app = std::sync::Arc::new(TestApp::spawn_with(db, file).await);
    let before = app.fingerprint().await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.post_json(
                "/register",
                &serde_json::json!({"username": format!("user{i}"), "password": "1234"}),
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429, 429, 429, 429, 429]);
    let after = app.fingerprint().await;
    let users = |rows: &[String]| rows.iter().filter(|l| l.starts_with("users ")).count();
    assert_eq!(
        users(&after),
        users(&before) + 3,
        "exactly three accounts were created"
    );
    // The hosted page is refused too, with a page, not a half-made account.
    let b = portcullis_tests::browser();
    let page = app.get_with(&b, "/register").await;
    let form = crate::browser::with(
        portcullis_tests::hidden_fields(&page.text),
        &[
            ("username", "late"),
            ("email", "late@example.org"),
            ("password", "a-long-passphrase"),
        ],
    );
    let r = app.post_with(&b, "/register", &form).await;
    assert_eq!(r.status, 429);
    assert!(r.text.contains("Too many accounts"), "{}", r.text);
    assert_eq!(users(&app.fingerprint().await), users(&after));
    // The window passes: registration opens again.
    app.clock.advance(chrono::Duration::hours(1));
    let r = app
        .post_json(
            "/register",
            &serde_json::json!({"username": "later", "password": "1234"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

scenarios! {
    a_browser_that_signed_in_before_is_let_through_the_account_wide_lock,
    wrong_passwords_from_one_address_lock_out_that_address_not_the_owner,
    a_burst_of_wrong_passwords_is_counted_exactly,
    registrations_are_throttled_per_address_even_in_a_burst,
}
