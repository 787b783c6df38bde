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
async fn postgres_refusing_connections_is_a_503_and_service_resumes() {
    let Some(db) = ScratchDb::new(portcullis_tests::Backend::Postgres).await else {
        eprintln!("{} is not set: not run", portcullis_tests::POSTGRES_ENV);
        return;
    };
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
