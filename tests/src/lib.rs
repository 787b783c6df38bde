//! The end-to-end harness: scratch databases on both backends, the real
//! server booted in-process on a free port, a clock the test can move, and
//! a fingerprint of the stored rows to prove a refused request changed nothing.
//!
//! Tests live in `tests/e2e.rs` and its modules: one test binary, because
//! linking dominates build time on two cores.
use std::sync::{Arc, Mutex};

use auth_core::ports::Clock;
use auth_crypto::HashCost;
use auth_store::Database;
use chrono::{DateTime, Duration, Utc};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use portcullis::Application;
use portcullis::settings::{FileSettings, Overrides, Settings};

pub use auth_contract::scratch::{Backend, POSTGRES_ENV, ScratchDb, unclaimed_port};

pub mod fake_github;
pub mod mailbox;

/// The key-encryption key of every test server: fixed, so a restarted
/// server reads the keys its predecessor sealed, and no key file is
/// written into the source tree.
pub const TEST_KEY_ENCRYPTION_KEY: &str = "k4.local.DeIp_VsoClLz7g9f8TyP11Zev7f_7tYRtE8TQ11tKxo";

/// The runner: each scenario named in the table is a plain
/// `async fn name(db: ScratchDb)` beside it, run once per backend as the
/// tests `name::sqlite` and `name::postgres` on a fresh scratch database.
/// The PostgreSQL runs are built ignored, with the reason, when
/// `PORTCULLIS_TEST_POSTGRES` was not set (see `build.rs`); a `browser:`
/// table's scenarios also when no chromedriver was found.
#[macro_export]
macro_rules! scenarios {
    (browser: $($name:ident,)*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(
                not(browser_tests),
                ignore = "chromedriver was not installed when the tests were built"
            )]
            async fn sqlite() {
                super::$name($crate::ScratchDb::new($crate::Backend::Sqlite).await.unwrap()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(
                not(all(browser_tests, postgres_tests)),
                ignore = "chromedriver or PORTCULLIS_TEST_POSTGRES was missing when the tests were built"
            )]
            async fn postgres() {
                let db = $crate::ScratchDb::new($crate::Backend::Postgres).await;
                super::$name(db.expect("PORTCULLIS_TEST_POSTGRES is not set")).await;
            }
        }
    )*};
    (browser_mail: $($name:ident,)*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(
                not(all(browser_tests, mail_tests)),
                ignore = "chromedriver or aiosmtpd was not installed when the tests were built"
            )]
            async fn sqlite() {
                super::$name($crate::ScratchDb::new($crate::Backend::Sqlite).await.unwrap()).await;
            }
        }
    )*};
    (mail: $($name:ident,)*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(
                not(mail_tests),
                ignore = "aiosmtpd (pip install aiosmtpd) was not installed when the tests were built"
            )]
            async fn sqlite() {
                super::$name($crate::ScratchDb::new($crate::Backend::Sqlite).await.unwrap()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(
                not(all(mail_tests, postgres_tests)),
                ignore = "aiosmtpd or PORTCULLIS_TEST_POSTGRES was missing when the tests were built"
            )]
            async fn postgres() {
                let db = $crate::ScratchDb::new($crate::Backend::Postgres).await;
                super::$name(db.expect("PORTCULLIS_TEST_POSTGRES is not set")).await;
            }
        }
    )*};
    ($($name:ident,)*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::ScratchDb::new($crate::Backend::Sqlite).await.unwrap()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(
                not(postgres_tests),
                ignore = "PORTCULLIS_TEST_POSTGRES was not set when the tests were built"
            )]
            async fn postgres() {
                let db = $crate::ScratchDb::new($crate::Backend::Postgres).await;
                super::$name(db.expect("PORTCULLIS_TEST_POSTGRES is not set")).await;
            }
        }
    )*};
}

/// Everything the servers of this test binary have logged. Every test
/// server logs into it (one global subscriber), so a test looks for the ids
/// it created itself.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_log() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

/// The log lines written so far that contain `needle`.
pub fn log_lines_with(needle: &str) -> Vec<String> {
    let log = LOG.lock().unwrap();
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// The whole captured log.
pub fn captured_log() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new() -> Self {
        // Whole seconds, as tokens carry them.
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("valid time");
        Self(Arc::new(Mutex::new(now)))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The real server, running in-process on a free port.
pub struct TestApp {
    pub base: String,
    /// The operations listener's base URL (`/metrics`, `/healthz`, `/readyz`).
    pub operations: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub database: Database,
    pub services: Arc<portcullis::Services>,
    pub db: ScratchDb,
}

impl TestApp {
    pub async fn spawn(db: ScratchDb) -> Self {
        Self::spawn_with(db, FileSettings::default()).await
    }

    /// Boots with `file` settings; the bind address, database and cheap
    /// argon2 parameters are set here.
    pub async fn spawn_with(db: ScratchDb, mut file: FileSettings) -> Self {
        file.bind = file.bind.or(Some("127.0.0.1:0".into()));
        file.metrics_bind = file.metrics_bind.or(Some("127.0.0.1:0".into()));
        file.workers = Some(2);
        file.pool_size = file.pool_size.or(Some(8));
        // Every test client comes from 127.0.0.1: registration throttles
        // stay out of the way unless a test sets them.
        file.registration_max_per_address = file.registration_max_per_address.or(Some(1_000_000));
        file.registration_max_total = file.registration_max_total.or(Some(1_000_000));
        file.external_login_max_per_address =
            file.external_login_max_per_address.or(Some(1_000_000));
        file.password_hash = Some(portcullis::settings::HashSettings {
            memory_kib: HashCost::TEST_ONLY.memory_kib,
            iterations: HashCost::TEST_ONLY.iterations,
            parallelism: HashCost::TEST_ONLY.parallelism,
        });
        capture_log();
        let issuer = file
            .issuer
            .take()
            .unwrap_or_else(|| "http://issuer.test".into());
        let settings = Settings::resolve(
            file,
            Overrides {
                database_url: Some(db.url().to_owned()),
                issuer: Some(issuer),
                key_encryption_key: Some(TEST_KEY_ENCRYPTION_KEY.into()),
                ..Default::default()
            },
        )
        .expect("settings");
        let clock = ManualClock::new();
        let app = Application::build(&settings, Arc::new(clock.clone()))
            .await
            .expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let operations = format!("http://127.0.0.1:{}", app.metrics_port());
        let services = app.services.clone();
        tokio::spawn(app.run());
        Self {
            base,
            operations,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            clock,
            database: services.database.clone(),
            services,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `path` on the operations listener.
    pub fn ops_url(&self, path: &str) -> String {
        format!("{}{path}", self.operations)
    }

    /// Registers a client through the same code path as `portcullis client create`.
    pub async fn client(&self, spec: ClientSetup<'_>) -> (String, Option<String>) {
        use auth_core::accounts::{ClientSpec, register_client};
        use auth_core::types::{ClientId, GrantType, Scope};
        let spec = ClientSpec {
            id: spec.id.map(|i| ClientId::parse(i).unwrap()),
            name: spec.id.unwrap_or("test client").into(),
            public: spec.public,
            redirect_uris: spec
                .redirect_uris
                .iter()
                .map(|u| auth_core::types::RedirectUri::parse(u).unwrap())
                .collect(),
            grant_types: spec
                .grants
                .iter()
                .map(|g| g.parse::<GrantType>().unwrap())
                .collect(),
            scope: Scope::parse(spec.scope).unwrap(),
            access_token_ttl: spec.access_ttl.map(Duration::seconds),
            refresh_mode: None,
            first_party: spec.first_party,
            dialects: spec
                .dialects
                .iter()
                .map(|d| auth_core::types::Dialect::parse(d).unwrap())
                .chain(
                    spec.legacy
                        .then_some(auth_core::types::Dialect::RedirectLogin),
                )
                .collect(),
            allow_plain_pkce: false,
            id_token_algorithm: spec.id_token_algorithm,
            post_logout_redirect_uris: spec
                .post_logout_redirect_uris
                .iter()
                .map(|u| auth_core::types::RedirectUri::parse(u).unwrap())
                .collect(),
            token_format: if spec.reference_tokens {
                auth_core::types::TokenFormat::Reference
            } else if spec.jwt_tokens {
                auth_core::types::TokenFormat::Jwt
            } else {
                auth_core::types::TokenFormat::Paseto
            },
            bare_native_schemes: true,
            require_verified_email: spec.require_verified_email,
            mfa: spec.mfa,
            allowed_groups: Vec::new(),
            admin: false,
            audiences: spec
                .audiences
                .iter()
                .map(|a| ClientId::parse(a).unwrap())
                .collect(),
            allowed_origins: (!spec.allowed_origins.is_empty()).then(|| {
                spec.allowed_origins
                    .iter()
                    .map(|o| auth_core::types::WebOrigin::parse(o).unwrap())
                    .collect()
            }),
        };
        let (c, secret) = register_client(&self.services.roles.accounts, spec, self.clock.now())
            .await
            .unwrap();
        (c.id.to_string(), secret.map(|s| s.into_inner()))
    }

    pub async fn user(&self, username: &str, email: Option<&str>, password: &str) -> String {
        use auth_core::accounts::{UserSpec, register_user};
        use auth_core::types::{Email, Password, Username};
        let spec = UserSpec {
            username: Username::parse(username).unwrap(),
            email: email.map(|e| Email::parse(e).unwrap()),
            password: Password::parse(password).unwrap(),
            given_name: None,
            family_name: None,
        };
        register_user(&self.services.roles.accounts, spec, self.clock.now())
            .await
            .unwrap()
            .id
            .to_string()
    }

    /// Posts a form body to `path`, with HTTP Basic when `basic` is given.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        Reply::from(req.send().await.expect("request sent")).await
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Reply {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        Reply::from(resp).await
    }

    /// A fingerprint of every stored row, of every table the database's own
    /// catalogue lists (so a table added by a migration is in it without
    /// anyone remembering to add it): one line per row, `table row`. Equal
    /// fingerprints before and after mean nothing changed.
    pub async fn fingerprint(&self) -> Vec<String> {
        self.fingerprint_without(&[]).await
    }

    /// The fingerprint of every table but `tables`: for a refusal that
    /// writes by design (a throttle counts refused attempts; a flow the test
    /// starts is a row), so that everything else is still proven unchanged.
    pub async fn fingerprint_without(&self, tables: &[&str]) -> Vec<String> {
        let sqlite = matches!(self.database, Database::Sqlite { .. });
        let all = self
            .lines(if sqlite {
                "SELECT name AS line FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name"
            } else {
                "SELECT tablename AS line FROM pg_tables WHERE schemaname = 'public' \
                 AND tablename <> '__diesel_schema_migrations' ORDER BY tablename"
            })
            .await;
        assert!(all.len() >= 15, "the catalogue lists only {all:?}");
        let mut out = Vec::new();
        for table in all.into_iter().filter(|t| !tables.contains(&t.as_str())) {
            let row = if sqlite {
                let columns = self
                    .lines(&format!(
                        "SELECT name AS line FROM pragma_table_info('{table}') ORDER BY cid"
                    ))
                    .await;
                columns
                    .iter()
                    .map(|c| format!("quote(\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || ' ' || ")
            } else {
                "CAST(t.* AS TEXT)".to_owned()
            };
            out.extend(
                self.lines(&format!(
                    "SELECT '{table} ' || {row} AS line FROM \"{table}\" t ORDER BY 1"
                ))
                .await,
            );
        }
        out
    }

    /// The single text column `line` of each row `sql` returns.
    async fn lines(&self, sql: &str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = Text)]
            line: String,
        }
        let lines: Vec<Line> = match &self.database {
            Database::Sqlite { readers: pool, .. } => diesel::sql_query(sql)
                .load(&mut *pool.get().await.unwrap())
                .await
                .unwrap(),
            Database::Postgres(pool) => diesel::sql_query(sql)
                .load(&mut *pool.get().await.unwrap())
                .await
                .unwrap(),
        };
        lines.into_iter().map(|l| l.line).collect()
    }
}

/// Runs one SQL statement on the test's database, for a test that must
/// write what the application never would (rows from before a rule).
pub async fn execute(database: &Database, sql: &str) {
    match database {
        Database::Sqlite { readers, .. } => {
            diesel::sql_query(sql)
                .execute(&mut *readers.get().await.unwrap())
                .await
                .unwrap();
        }
        Database::Postgres(pool) => {
            diesel::sql_query(sql)
                .execute(&mut *pool.get().await.unwrap())
                .await
                .unwrap();
        }
    }
}

/// What a test client needs registered.
#[derive(Debug, Clone, Copy)]
pub struct ClientSetup<'a> {
    pub id: Option<&'a str>,
    pub public: bool,
    pub grants: &'a [&'a str],
    pub scope: &'a str,
    pub access_ttl: Option<i64>,
    pub redirect_uris: &'a [&'a str],
    pub first_party: bool,
    pub legacy: bool,
    pub reference_tokens: bool,
    /// The clients whose tokens this one may introspect besides its own.
    pub audiences: &'a [&'a str],
    /// The seed APIs it speaks (`legacy` adds redirect-login).
    pub dialects: &'a [&'a str],
    /// The JWS algorithm of its ID tokens.
    pub id_token_algorithm: auth_core::types::KeyAlgorithm,
    /// Where RP-initiated logout may return.
    pub post_logout_redirect_uris: &'a [&'a str],
    /// JWT access tokens (RFC 9068) instead of PASETO.
    pub jwt_tokens: bool,
    /// Web origins allowed by name (CORS); none: the redirect URIs'.
    pub allowed_origins: &'a [&'a str],
    /// Signs in only people whose email address is verified.
    pub require_verified_email: bool,
    /// What it asks of second factors.
    pub mfa: auth_core::types::ClientMfa,
}

impl Default for ClientSetup<'_> {
    fn default() -> Self {
        Self {
            id: None,
            public: false,
            grants: &["password", "refresh_token", "client_credentials"],
            scope: "read write",
            access_ttl: None,
            redirect_uris: &[],
            first_party: true,
            legacy: false,
            reference_tokens: false,
            audiences: &[],
            dialects: &[],
            id_token_algorithm: auth_core::types::KeyAlgorithm::Rs256,
            post_logout_redirect_uris: &[],
            jwt_tokens: false,
            allowed_origins: &[],
            require_verified_email: false,
            mfa: auth_core::types::ClientMfa::Optional,
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
    pub text: String,
}

impl Reply {
    pub async fn from(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error` member of an RFC 6749 error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("<none>")
    }

    pub fn str(&self, key: &str) -> &str {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string {key} in {}", self.text))
    }
}

/// A browser-like client: keeps cookies, follows no redirects (tests look
/// at each hop).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Undoes the HTML escaping tera applies to attribute values.
pub fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden inputs of the first form in a page, as a browser would post them.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let first_form = html
        .find("<form")
        .map_or(html, |start| match html[start..].find("</form>") {
            Some(end) => &html[start..start + end],
            None => &html[start..],
        });
    for tag in first_form.split("<input").skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if !tag.contains("type=\"hidden\"") {
            continue;
        }
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(unescape(&tag[start..end]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

/// A page's CSRF field alone, for a form whose other fields the test sets.
pub fn csrf_field(html: &str) -> Vec<(String, String)> {
    hidden_fields(html)
        .into_iter()
        .filter(|(k, _)| k == "csrf_token")
        .collect()
}

/// The `Location` of a redirect, parsed.
pub fn location(reply: &Reply) -> url::Url {
    let loc = reply
        .header("location")
        .unwrap_or_else(|| panic!("no Location in {} {}", reply.status, reply.text));
    url::Url::parse(loc)
        .or_else(|_| {
            url::Url::parse("http://relative.invalid")
                .unwrap()
                .join(loc)
        })
        .unwrap()
}

/// One query parameter of a URL.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl TestApp {
    /// GET with a given client (a browser keeps its cookies).
    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> Reply {
        Reply::from(
            client
                .get(self.url(path))
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// POST a form with a given client.
    pub async fn post_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(String, String)],
    ) -> Reply {
        Reply::from(
            client
                .post(self.url(path))
                .form(form)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    /// Redeems an authorization code with its PKCE verifier, as a public
    /// client does.
    pub async fn redeem_code(
        &self,
        client: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Reply {
        self.post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// The id of the account `login` (a username or email) names, which
    /// must exist.
    pub async fn account_id(&self, login: &str) -> String {
        auth_core::accounts::find_user(&self.services.roles.accounts, login)
            .await
            .expect("lookup")
            .expect("the account exists")
            .id
            .to_string()
    }

    /// The stored account with the id `id` (which must exist).
    pub async fn account(&self, id: &str) -> auth_core::types::User {
        let id = auth_core::types::UserId::new(id.parse().expect("a user id"));
        self.services
            .roles
            .grants
            .user(id)
            .await
            .expect("lookup")
            .expect("the account exists")
    }

    /// POST a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        Reply::from(
            self.http
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }
}
