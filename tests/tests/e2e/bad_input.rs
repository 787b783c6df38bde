//! Every refusal of the token endpoint: the RFC 6749 error, the right
//! status, and not one stored row changed.
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use portcullis_tests::{ClientSetup, Reply, ScratchDb, TestApp, scenarios};

/// One bad request and what it must get.
struct Case {
    name: &'static str,
    path: &'static str,
    authorization: Option<String>,
    content_type: &'static str,
    body: String,
    status: u16,
    error: &'static str,
}

fn basic(id: &str, secret: &str) -> Option<String> {
    Some(format!(
        "Basic {}",
        STANDARD.encode(format!("{id}:{secret}"))
    ))
}

fn form(
    name: &'static str,
    authorization: Option<String>,
    body: impl Into<String>,
    status: u16,
    error: &'static str,
) -> Case {
    Case {
        name,
        path: "/token",
        authorization,
        content_type: "application/x-www-form-urlencoded",
        body: body.into(),
        status,
        error,
    }
}

async fn send(app: &TestApp, case: &Case) -> Reply {
    let mut req = app
        .http
        .post(app.url(case.path))
        .header("Content-Type", case.content_type)
        .body(case.body.clone());
    if let Some(a) = &case.authorization {
        req = req.header("Authorization", a);
    }
    Reply::from(req.send().await.unwrap()).await
}

fn filter_out(rows: Vec<String>, tables: &[&str]) -> Vec<String> {
    rows.into_iter()
        .filter(|r| !tables.iter().any(|t| r.starts_with(&format!("{t} "))))
        .collect()
}

/// Sends each case and checks its answer and that the stored rows are unchanged.
async fn check(app: &TestApp, cases: &[Case]) {
    for case in cases {
        let before = app.fingerprint().await;
        let r = send(app, case).await;
        assert_eq!(
            (r.status, r.error()),
            (case.status, case.error),
            "{}: {}",
            case.name,
            r.text
        );
        assert!(
            r.body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}",
            case.name
        );
        if case.status == 401 {
            assert!(
                r.header("www-authenticate").is_some(),
                "{}: 401 without a challenge",
                case.name
            );
        }
        // A failed password login is counted against the name it tried
        // (the throttle), known or not, by design; nothing else may change.
        let counted: &[&str] = if ["wrong password", "unknown user"].contains(&case.name) {
            &["throttle_counters"]
        } else {
            &[]
        };
        assert_eq!(
            app.fingerprint_without(counted).await,
            filter_out(before, counted),
            "{}: the request changed stored rows",
            case.name
        );
    }
}

struct World {
    app: TestApp,
    id: String,
    secret: String,
    public_id: String,
    other: (String, String),
    refresh: String,
}

async fn world(db: ScratchDb) -> World {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let (public_id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["password", "refresh_token"],
            ..Default::default()
        })
        .await;
    let (oid, osecret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    app.user("alice", None, "correct-horse").await;
    let r = app
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
    let refresh = r.str("refresh_token").to_owned();
    World {
        app,
        id,
        secret,
        public_id,
        other: (oid, osecret.unwrap()),
        refresh,
    }
}

async fn refusals_change_nothing(db: ScratchDb) {
    let w = world(db).await;
    let ok = basic(&w.id, &w.secret);
    let pw = "grant_type=password&username=alice&password=correct-horse";
    let cases = [
        form(
            "unknown client",
            basic("nobody", &w.secret),
            pw,
            401,
            "invalid_client",
        ),
        form(
            "wrong secret",
            basic(&w.id, "wrong"),
            pw,
            401,
            "invalid_client",
        ),
        form("no client authentication", None, pw, 401, "invalid_client"),
        form(
            "Basic header that is not base64",
            Some("Basic !!!not-base64!!!".into()),
            pw,
            401,
            "invalid_client",
        ),
        form(
            "Basic header without a colon",
            Some(format!("Basic {}", STANDARD.encode(&w.id))),
            pw,
            401,
            "invalid_client",
        ),
        form(
            "secret in header and body",
            ok.clone(),
            format!("{pw}&client_secret={}", w.secret),
            400,
            "invalid_request",
        ),
        form(
            "public client with client_credentials",
            None,
            format!("grant_type=client_credentials&client_id={}", w.public_id),
            400,
            "unauthorized_client",
        ),
        form(
            "unknown grant type",
            ok.clone(),
            "grant_type=implicit",
            400,
            "unsupported_grant_type",
        ),
        form(
            "missing grant type",
            ok.clone(),
            "username=alice&password=x",
            400,
            "invalid_request",
        ),
        form(
            "missing password",
            ok.clone(),
            "grant_type=password&username=alice",
            400,
            "invalid_request",
        ),
        form(
            "duplicated parameter",
            ok.clone(),
            format!("{pw}&grant_type=password"),
            400,
            "invalid_request",
        ),
        form(
            "scope outside the client's",
            ok.clone(),
            format!("{pw}&scope=read+admin"),
            400,
            "invalid_scope",
        ),
        form(
            "malformed scope",
            ok.clone(),
            format!("{pw}&scope=%22quoted%22"),
            400,
            "invalid_scope",
        ),
        form(
            "wrong password",
            ok.clone(),
            "grant_type=password&username=alice&password=wrong",
            400,
            "invalid_grant",
        ),
        form(
            "unknown user",
            ok.clone(),
            "grant_type=password&username=mallory&password=wrong",
            400,
            "invalid_grant",
        ),
        form(
            "refresh token of another client",
            basic(&w.other.0, &w.other.1),
            format!("grant_type=refresh_token&refresh_token={}", w.refresh),
            400,
            "invalid_grant",
        ),
        form(
            "unknown refresh token",
            ok.clone(),
            "grant_type=refresh_token&refresh_token=not-a-token",
            400,
            "invalid_grant",
        ),
        form(
            "refresh scope wider than granted",
            ok.clone(),
            format!(
                "grant_type=refresh_token&refresh_token={}&scope=admin",
                w.refresh
            ),
            400,
            "invalid_scope",
        ),
        form(
            "oversized body",
            ok.clone(),
            format!("{pw}&pad={}", "x".repeat(20_000)),
            413,
            "invalid_request",
        ),
        // POST /token with JSON is seed 000's dialect; /oauth/token takes forms only.
        Case {
            name: "JSON where a form is required",
            path: "/oauth/token",
            authorization: ok.clone(),
            content_type: "application/json",
            body: r#"{"grant_type":"password","username":"alice","password":"correct-horse"}"#
                .into(),
            status: 415,
            error: "invalid_request",
        },
        Case {
            name: "no content type",
            path: "/token",
            authorization: ok.clone(),
            content_type: "",
            body: pw.into(),
            status: 415,
            error: "invalid_request",
        },
    ];
    check(&w.app, &cases).await;
}

async fn unknown_user_and_wrong_password_read_the_same(db: ScratchDb) {
    let w = world(db).await;
    let ok = basic(&w.id, &w.secret);
    let wrong = send(
        &w.app,
        &form(
            "",
            ok.clone(),
            "grant_type=password&username=alice&password=nope",
            400,
            "",
        ),
    )
    .await;
    let unknown = send(
        &w.app,
        &form(
            "",
            ok,
            "grant_type=password&username=mallory&password=nope",
            400,
            "",
        ),
    )
    .await;
    assert_eq!(wrong.text, unknown.text);
}

async fn expired_and_revoked_refresh_tokens_change_nothing(db: ScratchDb) {
    let w = world(db).await;
    let ok = basic(&w.id, &w.secret);
    let present = |rt: &str| {
        form(
            "refresh",
            ok.clone(),
            format!("grant_type=refresh_token&refresh_token={rt}"),
            400,
            "invalid_grant",
        )
    };
    // Rotate once, then replay: the family is revoked (that change is the point).
    let r = send(
        &w.app,
        &Case {
            status: 200,
            ..present(&w.refresh)
        },
    )
    .await;
    assert_eq!(r.status, 200);
    let successor = r.str("refresh_token").to_owned();
    // After the retry window (a retry within it is not a replay).
    w.app.clock.advance(Duration::seconds(61));
    let r = send(&w.app, &present(&w.refresh)).await;
    assert_eq!(r.error(), "invalid_grant");
    // From here on, presenting either revoked token changes nothing.
    check(&w.app, &[present(&w.refresh), present(&successor)]).await;
    // A fresh login, then its refresh token expires.
    let r = w
        .app
        .post_form(
            "/token",
            Some((&w.id, &w.secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    let fresh = r.str("refresh_token").to_owned();
    w.app.clock.advance(Duration::days(90));
    check(&w.app, &[present(&fresh)]).await;
}

scenarios! {
    refusals_change_nothing,
    unknown_user_and_wrong_password_read_the_same,
    expired_and_revoked_refresh_tokens_change_nothing,
}
