//! Faults: the database refusing connections. Requests answer 503 with a
//! generic body and change nothing; readiness says not ready; service
//! resumes by itself when the database is back, with the same tokens.
use portcullis_tests::{ClientSetup, ScratchDb, TestApp};

async fn admin(sql: &str) {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let url = std::env::var(portcullis_tests::POSTGRES_ENV).unwrap();
    let mut conn = diesel_async::AsyncPgConnection::establish(&url)
        .await
        .unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PORTCULLIS_TEST_POSTGRES was not set when the tests were built"
)]
async fn postgres_refusing_connections_is_a_503_and_service_resumes() {
    let db = ScratchDb::new(portcullis_tests::Backend::Postgres)
        .await
        .expect("PORTCULLIS_TEST_POSTGRES is not set");
    let name = match &db {
        ScratchDb::Postgres { name, .. } => name.clone(),
        _ => unreachable!(),
    };
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let basic = Some((id.as_str(), secret.as_str()));
    app.user("alice", None, "correct-horse").await;
    let t = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    let rt = t.str("refresh_token").to_owned();
    let at = t.str("access_token").to_owned();

    admin(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
    ))
    .await;
    admin(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()")).await;
    let outage = [
        app.post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await,
        app.post_form(
            "/token",
            basic,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
            ],
        )
        .await,
        app.post_form("/revoke", basic, &[("token", &rt)]).await,
        app.post_json(
            "/register",
            &serde_json::json!({"username": "bob", "password": "1234"}),
        )
        .await,
    ];
    for r in &outage {
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(r.error(), "temporarily_unavailable", "{}", r.text);
        assert!(
            !r.text.contains("postgres") && !r.text.contains("connection"),
            "a generic body: {}",
            r.text
        );
    }
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    admin(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    ))
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not ready again");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Nothing was consumed or revoked during the outage: the same tokens work.
    assert_eq!(app.get_bearer("/userinfo", &at).await.status, 200);
    let r = app
        .post_form(
            "/token",
            basic,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The SQLite writer cannot write: another process holds the database's
/// write lock past the busy timeout (an operator's `sqlite3` shell left in a
/// transaction, a backup tool). Once the timeout passes every write answers
/// 503 with a generic body and nothing is changed or consumed; reads go on
/// (WAL); when the lock goes, the same tokens and the same code work.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writer_locked_out_is_a_503_and_service_resumes() {
    use crate::browser::{VERIFIER, authorize_path, log_in};
    use portcullis_tests::{Backend, browser, hidden_fields, location, param};

    let db = ScratchDb::new(Backend::Sqlite).await.unwrap();
    let path = db.url().trim_start_matches("sqlite://").to_owned();
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let basic = Some((id.as_str(), secret.as_str()));
    let (public, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &["myapp://callback"],
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    let t = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    let (rt, at) = (
        t.str("refresh_token").to_owned(),
        t.str("access_token").to_owned(),
    );
    let b = browser();
    let signed_in = log_in(&app, &b, &authorize_path(&public, "myapp://callback", "s1")).await;
    let code = param(&location(&signed_in), "code").unwrap();
    let other = browser();
    let login_page = app
        .get_with(&other, &authorize_path(&public, "myapp://callback", "s2"))
        .await;
    let mut login_form = hidden_fields(&login_page.text);
    login_form.extend([
        ("username".into(), "michael".into()),
        ("password".into(), "correct-horse".into()),
    ]);
    let before = app.fingerprint().await;

    // Another connection takes the write lock and keeps it.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (locked, is_locked) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
        diesel::sql_query("BEGIN EXCLUSIVE")
            .execute(&mut conn)
            .unwrap();
        locked.send(()).unwrap();
        released.recv().unwrap();
        diesel::sql_query("ROLLBACK").execute(&mut conn).unwrap();
    });
    is_locked.recv().unwrap();

    let redeem = [
        ("grant_type", "authorization_code"),
        ("client_id", public.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", "myapp://callback"),
        ("code_verifier", VERIFIER),
    ];
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let password = [
        ("grant_type", "password"),
        ("username", "michael"),
        ("password", "correct-horse"),
    ];
    let revoke = [("token", rt.as_str())];
    let registration = serde_json::json!({"username": "bob", "password": "1234"});
    let (refreshed, redeemed, password, revoked, registered, logged_in) = tokio::join!(
        app.post_form("/token", basic, &refresh),
        app.post_form("/token", None, &redeem),
        app.post_form("/token", basic, &password),
        app.post_form("/revoke", basic, &revoke),
        app.post_json("/register", &registration),
        app.post_with(&other, "/login", &login_form),
    );
    for (what, r) in [
        ("refresh", &refreshed),
        ("code redemption", &redeemed),
        ("password grant", &password),
        ("revocation", &revoked),
        ("registration", &registered),
        ("login", &logged_in),
    ] {
        assert_eq!(r.status, 503, "{what}: {}", r.text);
        assert_eq!(r.error(), "temporarily_unavailable", "{what}: {}", r.text);
        assert!(
            !r.text.contains("locked") && !r.text.contains("database is"),
            "{what}: a generic body: {}",
            r.text
        );
    }
    // Reads are not held up by the lock: a bearer check still answers.
    assert_eq!(app.get_bearer("/userinfo", &at).await.status, 200);
    assert_eq!(app.fingerprint().await, before, "nothing changed");

    release.send(()).unwrap();
    holder.join().unwrap();
    // Nothing was consumed or revoked: the same code and token work.
    let r = app.post_form("/token", None, &redeem).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.post_form("/token", basic, &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.post_json("/register", &registration).await.status, 201);
}
