//! Races over HTTP: many requests on one refresh token, and failing writes mixed with succeeding ones.
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, scenarios};

async fn thirty_two_racing_refreshes_have_one_winner(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    app.user("alice", None, "pw").await;
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "pw"),
            ],
        )
        .await;
    let rt = r.str("refresh_token").to_owned();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (http, url, id, secret, rt, barrier) = (
                app.http.clone(),
                app.url("/token"),
                id.clone(),
                secret.clone(),
                rt.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let resp = http
                    .post(url)
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                portcullis_tests::Reply::from(resp).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(
        answers.iter().all(|r| r.status == 200 || r.status == 400),
        "{answers:?}"
    );
    // Racing copies of one token look to the server like retries of a
    // lost answer: each supersedes the previous unseen answer. However
    // many got 200, exactly one answer is still alive afterwards.
    let mut alive = Vec::new();
    for r in answers.iter().filter(|r| r.status == 200) {
        if app
            .get_bearer("/userinfo", r.str("access_token"))
            .await
            .status
            == 200
        {
            alive.push(r);
        }
    }
    assert_eq!(alive.len(), 1, "one live answer out of {}", answers.len());
    let r = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", alive[0].str("refresh_token")),
            ],
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the live answer's refresh token rotates: {}",
        r.text
    );
}

async fn racing_writes_that_fail_change_nothing_and_the_others_all_land(db: ScratchDb) {
    // Registrations of eight names, four times each, and sixteen
    // independent refresh chains, all released at once: on SQLite they
    // share group-commit transactions, where each failed registration
    // must roll back alone.
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    app.user("alice", None, "pw").await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..16 {
        let r = app
            .post_form(
                "/token",
                Some((&id, &secret)),
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "pw"),
                ],
            )
            .await;
        refresh_tokens.push(r.str("refresh_token").to_owned());
    }
    let before = app.fingerprint().await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(48));
    let mut registrations = Vec::new();
    for n in 0..32 {
        let (http, url, barrier) = (app.http.clone(), app.url("/register"), barrier.clone());
        registrations.push(tokio::spawn(async move {
            let body = serde_json::json!({"username": format!("user{}", n % 8), "password": "a-long-passphrase"});
            barrier.wait().await;
            http.post(url).json(&body).send().await.unwrap().status().as_u16()
        }));
    }
    let mut refreshes = Vec::new();
    for rt in refresh_tokens {
        let (http, url, id, secret, barrier) = (
            app.http.clone(),
            app.url("/token"),
            id.clone(),
            secret.clone(),
            barrier.clone(),
        );
        refreshes.push(tokio::spawn(async move {
            barrier.wait().await;
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    for r in registrations {
        match r.await.unwrap() {
            201 => created += 1,
            409 => {}
            other => panic!("registration answered {other}"),
        }
    }
    assert_eq!(created, 8, "each name is registered exactly once");
    for r in refreshes {
        assert_eq!(r.await.unwrap(), 200);
    }
    let after = app.fingerprint().await;
    let users = |rows: &[String]| rows.iter().filter(|l| l.starts_with("users ")).count();
    assert_eq!(users(&after), users(&before) + 8, "no half-created user");
    let refresh_rows = |rows: &[String]| {
        rows.iter()
            .filter(|l| l.starts_with("refresh_tokens "))
            .count()
    };
    assert_eq!(
        refresh_rows(&after),
        refresh_rows(&before) + 16,
        "one successor per chain"
    );
}

scenarios! {
    thirty_two_racing_refreshes_have_one_winner,
    racing_writes_that_fail_change_nothing_and_the_others_all_land,
}
