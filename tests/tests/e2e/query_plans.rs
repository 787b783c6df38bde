//! Every query a request runs uses an index. The test records the SQL of
//! every statement the real server sends its own database (through
//! Diesel's instrumentation) while it serves the flows people use, then
//! asks the database for each statement's plan: a full scan of a table
//! fails the test, on SQLite (`EXPLAIN QUERY PLAN`) and on PostgreSQL
//! (the generic plan with sequential scans disabled, so a `Seq Scan` left
//! means no index can serve the query, whatever the table's size).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use diesel::QueryableByName;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::sql_types::Text;
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, browser, hidden_fields, scenarios};

use crate::browser::with;

/// The statements seen, by the URL of the connection that sent them.
static SEEN: Mutex<BTreeMap<String, BTreeSet<String>>> = Mutex::new(BTreeMap::new());

/// The statements Diesel prepared and kept in a connection's statement
/// cache, by the connection's URL. A raw `sql_query` never gets there: it
/// is parsed and planned anew each time it runs.
static CACHED: Mutex<BTreeMap<String, BTreeSet<String>>> = Mutex::new(BTreeMap::new());

/// One connection's recorder: it learns its URL when it connects.
struct Recorder {
    url: Option<String>,
}

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.url = Some(url.to_owned());
            }
            InstrumentationEvent::CacheQuery { sql, .. } => {
                let Some(url) = &self.url else { return };
                if let Ok(mut cached) = CACHED.lock() {
                    cached
                        .entry(url.clone())
                        .or_default()
                        .insert(sql.to_owned());
                }
            }
            InstrumentationEvent::StartQuery { query, .. } => {
                let Some(url) = &self.url else { return };
                let text = query.to_string();
                let sql = text
                    .split(" -- binds:")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                if let Ok(mut seen) = SEEN.lock() {
                    seen.entry(url.clone()).or_default().insert(sql);
                }
            }
            _ => {}
        }
    }
}

fn recorder() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(Recorder { url: None }))
}

/// Statements that are not on a request path, or that read a table meant
/// to be read whole: an operator's listings, the key ring (a few rows, read
/// every `key_reload_secs`), readiness, migrations and transactions.
fn off_the_request_path(sql: &str) -> bool {
    // Migrations arrive as scripts that open with a comment.
    if sql.trim_start().starts_with("--") {
        return true;
    }
    let sql = sql.trim_start();
    let upper = sql.to_uppercase();
    [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "PRAGMA",
        "SELECT 1",
        "LISTEN",
        "SET ",
        "CREATE",
        "ALTER",
        "DROP",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
        || sql.contains("__diesel_schema_migrations")
        || sql.contains("FROM `signing_keys`")
        || sql.contains("FROM \"signing_keys\"")
        || upper.starts_with("INSERT")
            && !upper.contains("SELECT")
            && !upper.contains("ON CONFLICT")
}

#[derive(QueryableByName)]
struct SqlitePlan {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlan {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// The full scans in the plan of `sql` on the test's database, as plan lines.
async fn full_scans(app: &TestApp, sql: &str) -> Result<Vec<String>, String> {
    use auth_store::Database;
    match &app.database {
        Database::Sqlite { readers, .. } => {
            let mut conn = readers.get().await.map_err(|e| e.to_string())?;
            let plan: Vec<SqlitePlan> = diesel_async::RunQueryDsl::load(
                diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")),
                &mut *conn,
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(plan
                .into_iter()
                .map(|p| p.detail)
                .filter(|d| d.starts_with("SCAN ") && !d.starts_with("SCAN CONSTANT ROW"))
                .collect())
        }
        Database::Postgres(_) => {
            // A connection of its own: the plan settings stay on it.
            use diesel_async::{AsyncConnection as _, SimpleAsyncConnection as _};
            let mut conn = diesel_async::AsyncPgConnection::establish(app.db.url())
                .await
                .map_err(|e| e.to_string())?;
            let params = (1..=32).filter(|n| sql.contains(&format!("${n}"))).count();
            let nulls = vec!["NULL"; params].join(", ");
            conn.batch_execute(&format!(
                "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan; PREPARE plan_of AS {sql}"
            ))
            .await
            .map_err(|e| e.to_string())?;
            let execute = if params == 0 {
                "EXECUTE plan_of".to_owned()
            } else {
                format!("EXECUTE plan_of({nulls})")
            };
            let plan: Vec<PgPlan> = diesel_async::RunQueryDsl::load(
                diesel::sql_query(format!("EXPLAIN {execute}")),
                &mut conn,
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(plan
                .into_iter()
                .map(|p| p.line)
                .filter(|l| l.contains("Seq Scan"))
                .collect())
        }
    }
}

/// The flows the server serves, once each: password, refresh, client
/// credentials, reference tokens, introspection, revocation, userinfo, the
/// hosted login and the code flow, the account page, the device grant.
async fn serve_the_flows(app: &TestApp) {
    app.user("alice", Some("alice@example.com"), "alices-password")
        .await;
    let (id, secret) = app
        .client(ClientSetup {
            id: Some("photos"),
            grants: &[
                "password",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            ..Default::default()
        })
        .await;
    let secret = secret.unwrap();
    let basic = Some((id.as_str(), secret.as_str()));
    let t = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alices-password"),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    let wrong = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    let r = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t.str("refresh_token")),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The rotated token again: a retry inside the window supersedes the
    // answer it never saw.
    let r = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t.str("refresh_token")),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get_bearer("/userinfo", r.str("access_token"))
            .await
            .status,
        200
    );
    let (reference, reference_secret) = app
        .client(ClientSetup {
            id: Some("reference-app"),
            grants: &["client_credentials"],
            reference_tokens: true,
            ..Default::default()
        })
        .await;
    let reference_secret = reference_secret.unwrap();
    let c = app
        .post_form(
            "/token",
            Some((&reference, &reference_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    for token in [
        c.str("access_token"),
        r.str("access_token"),
        r.str("refresh_token"),
    ] {
        app.post_form(
            "/introspect",
            Some((&reference, &reference_secret)),
            &[("token", token)],
        )
        .await;
        app.post_form("/introspect", basic, &[("token", token)])
            .await;
    }
    app.post_form("/revoke", basic, &[("token", r.str("refresh_token"))])
        .await;
    app.post_form(
        "/revoke",
        Some((&reference, &reference_secret)),
        &[("token", c.str("access_token"))],
    )
    .await;

    // The hosted login, the code flow and the account page.
    let (public, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &["myapp://callback"],
            first_party: true,
            ..Default::default()
        })
        .await;
    let b = browser();
    let page = app
        .get_with(
            &b,
            &crate::browser::authorize_path(&public, "myapp://callback", "s"),
        )
        .await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", "alice"), ("password", "alices-password")],
    );
    let signed_in = app.post_with(&b, "/login", &form).await;
    let code = portcullis_tests::param(&portcullis_tests::location(&signed_in), "code").unwrap();
    let tokens = app
        .redeem_code(&public, &code, "myapp://callback", crate::browser::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    app.redeem_code(&public, &code, "myapp://callback", crate::browser::VERIFIER)
        .await;
    let again = app
        .get_with(
            &b,
            &crate::browser::authorize_path(&public, "myapp://callback", "sso"),
        )
        .await;
    assert_eq!(again.status, 302);
    let account = app.get_with(&b, "/account").await;
    assert_eq!(account.status, 200);
    let csrf: Vec<(String, String)> = portcullis_tests::csrf_field(&account.text)
        .into_iter()
        .take(1)
        .collect();
    app.post_with(
        &b,
        "/account/applications/revoke",
        &with(csrf.clone(), &[("client_id", &public)]),
    )
    .await;
    app.post_with(
        &b,
        "/account/sessions/end",
        &with(csrf, &[("session", "AAAA")]),
    )
    .await;

    // The device grant.
    let start = app
        .post_form("/device_authorization", basic, &[("scope", "")])
        .await;
    assert_eq!(start.status, 200, "{}", start.text);
    let device = start.str("device_code").to_owned();
    let poll = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &device),
            ],
        )
        .await;
    assert_eq!(poll.status, 400);
    let page = app
        .get_with(&b, &format!("/device?user_code={}", start.str("user_code")))
        .await;
    assert!(page.status == 200 || page.status == 303, "{}", page.text);
}

async fn every_query_on_a_request_path_uses_an_index(db: ScratchDb) {
    diesel::connection::set_default_instrumentation(recorder).unwrap();
    let app = TestApp::spawn(db).await;
    serve_the_flows(&app).await;
    let url = app.db.url().to_owned();
    let path = url.trim_start_matches("sqlite://").to_owned();
    let statements: BTreeSet<String> = SEEN
        .lock()
        .unwrap()
        .iter()
        .filter(|(conn, _)| **conn == url || conn.ends_with(&path))
        .flat_map(|(_, s)| s.iter().cloned())
        .filter(|s| !off_the_request_path(s))
        .collect();
    assert!(
        statements.len() > 20,
        "the workload was recorded: {statements:#?}"
    );
    // The check itself sees a scan where there is one.
    let unindexed = "SELECT id FROM users WHERE given_name = 'x'";
    assert!(
        !full_scans(&app, unindexed).await.unwrap().is_empty(),
        "a scan is reported"
    );
    let mut scans = Vec::new();
    for sql in &statements {
        match full_scans(&app, sql).await {
            Ok(lines) if lines.is_empty() => {}
            Ok(lines) => scans.push(format!("{sql}\n    {}", lines.join("\n    "))),
            Err(e) => scans.push(format!("{sql}\n    no plan: {e}")),
        }
    }
    assert!(
        scans.is_empty(),
        "{} of {} statements scan a table:\n{}",
        scans.len(),
        statements.len(),
        scans.join("\n")
    );

    // The statements of the hot paths are kept prepared on their
    // connection, not parsed and planned per request (auth-store's
    // statements.rs): every one these flows ran, except those named
    // here, which run once per revocation, retried refresh, device poll
    // or account, not per request of a flow.
    let cached: BTreeSet<String> = CACHED
        .lock()
        .unwrap()
        .iter()
        .filter(|(conn, _)| **conn == url || conn.ends_with(&path))
        .flat_map(|(_, s)| s.iter().cloned())
        .collect();
    let rare = [
        "WITH listed AS (",
        "WITH r AS (",
        "WITH u AS (",
        "UPDATE refresh_tokens SET revoked_at",
        "UPDATE refresh_tokens SET successor_digest",
        // A reservation given back (a device code that was found).
        "UPDATE throttle_counters SET attempts = (",
        "UPDATE device_authorizations",
    ];
    let unquoted = |sql: &str| sql.replace(['`', '"'], "");
    let uncached: Vec<&String> = statements
        .iter()
        .filter(|s| !cached.contains(*s) && !rare.iter().any(|r| unquoted(s).starts_with(r)))
        .collect();
    assert!(
        uncached.is_empty(),
        "parsed anew on every request:\n{uncached:#?}"
    );
    // The login, refresh and code paths' own UPDATEs and upserts are
    // among those checked (a raw or query-builder UPDATE would not be).
    let is_cached = |needle: &str| cached.iter().any(|sql| unquoted(sql).contains(needle));
    assert!(is_cached("INSERT INTO throttle_counters"), "{cached:#?}");
    assert!(
        is_cached("UPDATE throttle_counters SET attempts = 0"),
        "{cached:#?}"
    );
    assert!(
        is_cached("UPDATE authorization_codes SET consumed_at"),
        "{cached:#?}"
    );
    if url.starts_with("postgres") {
        assert!(
            is_cached("WITH retired AS (UPDATE refresh_tokens"),
            "{cached:#?}"
        );
        // A sign-in's account lookup rides on its reservation, and the
        // password grant's reset on its grant's INSERT.
        assert!(is_cached("WITH account AS (SELECT"), "{cached:#?}");
        assert!(
            is_cached("WITH cleared AS (UPDATE throttle_counters"),
            "{cached:#?}"
        );
    } else {
        assert!(
            is_cached("UPDATE refresh_tokens SET rotated_at"),
            "{cached:#?}"
        );
    }
}

/// Kept prepared is not enough on SQLite: a statement whose plan looked at
/// a bound value is marked stale when that parameter is bound again, and
/// SQLite parses it anew at the next step, which the statement cache above
/// cannot see. `LIMIT ?` is such a parameter, so every `.first()` lookup
/// was parsed per request until the bundled SQLite was built with the query
/// planner stability guarantee (`.cargo/config.toml`), under which no plan
/// depends on a bound value.
#[test]
fn sqlite_plans_never_depend_on_bound_values() {
    use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection};
    #[derive(QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options")
        .load(&mut conn)
        .unwrap();
    let options: Vec<&str> = options.iter().map(|o| o.compile_options.as_str()).collect();
    assert!(options.contains(&"ENABLE_QPSG"), "{options:?}");
}

scenarios! {
    every_query_on_a_request_path_uses_an_index,
}
