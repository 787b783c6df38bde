//! The command line, run as a user would run it.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::panic)]
use std::io::Write as _;
use std::process::{Command, Output, Stdio};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    /// A scratch directory whose default database exists: the operator's
    /// commands open an existing database only, as after `serve` or
    /// `migrate`.
    fn new() -> Self {
        let cli = Self::empty();
        cli.ok(&["migrate"], None);
        cli
    }

    /// A scratch directory with nothing in it.
    fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PORTCULLIS_DATABASE_URL")
            .env_remove("PORTCULLIS_CONFIG")
            .env_remove("PORTCULLIS_KEY_ENCRYPTION_KEY")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn client_create_json_and_list() {
    let cli = Cli::new();
    let out = cli.ok(
        &[
            "client",
            "create",
            "--name",
            "Breakout",
            "--id",
            "breakout_app",
            "--grant-type",
            "password",
            "--scope",
            "read write",
            "--json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["client_id"], "breakout_app");
    assert_eq!(v["client_secret"].as_str().unwrap().len(), 43);
    // The default database is portcullis.db in the working directory.
    assert!(cli.dir.path().join("portcullis.db").exists());
    let public = cli.ok(
        &["client", "create", "--name", "spa", "--public", "--json"],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&public).unwrap();
    assert!(v["client_secret"].is_null());
    let list = cli.ok(&["client", "list", "--json"], None);
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["grant_types"], serde_json::json!(["password"]));
    assert_eq!(rows[0]["scope"], "read write");
    assert_eq!(rows[1]["public"], true);
    assert_eq!(rows[1]["client_id"], v["client_id"]);
}

#[test]
fn bad_arguments_create_nothing() {
    let cli = Cli::new();
    for args in [
        &[
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "implicit",
        ][..],
        &[
            "client",
            "create",
            "--name",
            "x",
            "--public",
            "--grant-type",
            "client_credentials",
        ],
        &[
            "client",
            "create",
            "--name",
            "x",
            "--redirect-uri",
            "/relative",
        ],
        &["client", "create", "--name", "x", "--id", "bad:id"],
    ] {
        let out = cli.run(args, None);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{args:?}"
        );
    }
    assert_eq!(cli.ok(&["client", "list"], None), "");
}

#[test]
fn user_create_reads_the_password_from_stdin() {
    let cli = Cli::new();
    let out = cli.ok(
        &[
            "user",
            "create",
            "--username",
            "John",
            "--email",
            "john@example.org",
            "--password-stdin",
        ],
        Some("s3cret\n"),
    );
    assert!(out.starts_with("user_id: "));
    let dup = cli.run(
        &["user", "create", "--username", "john", "--password-stdin"],
        Some("x"),
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let list = cli.ok(&["user", "list", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(v["username"], "john");
    assert!(!list.contains("s3cret") && !list.contains("argon2"));
    // Without --password-stdin the command refuses rather than prompting.
    assert!(
        !cli.run(&["user", "create", "--username", "x"], None)
            .status
            .success()
    );
}

#[test]
fn migrate_and_settings_file() {
    let cli = Cli::new();
    std::fs::write(
        cli.dir.path().join("p.toml"),
        "database_url = \"sqlite://other.db\"\n",
    )
    .unwrap();
    cli.ok(&["--config", "p.toml", "migrate"], None);
    assert!(cli.dir.path().join("other.db").exists());
    std::fs::write(cli.dir.path().join("bad.toml"), "unknown_key = 1\n").unwrap();
    let out = cli.run(&["--config", "bad.toml", "migrate"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_command_creates_no_database_and_no_key_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let cli = Cli::empty();
    let dir = cli.dir.path();
    // A command pointed at a database that is not there refuses, and
    // leaves nothing behind.
    for args in [
        &["user", "list"][..],
        &["client", "list"],
        &["--database", "sqlite://typo.db", "keys", "list"],
    ] {
        let out = cli.run(args, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("there is no database"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        0,
        "no database and no key file were made"
    );
    // `serve` creates the database, its owner's alone (and so the WAL
    // files SQLite makes beside it while it runs), and the key file.
    let served = Served::start(dir, &[], &[]);
    wait_ready(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{}", served.port),
    )
    .await;
    for name in [
        "portcullis.db",
        "portcullis.db-wal",
        "portcullis.db-shm",
        "portcullis.db.kek",
    ] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
    served.stop();
    cli.ok(&["client", "list"], None);
    // The database has keys; without their key-encryption key a command
    // refuses, and writes no new key file beside it.
    std::fs::rename(dir.join("portcullis.db.kek"), dir.join("moved.kek")).unwrap();
    let out = cli.run(&["client", "list"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key-encryption key is not here"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("portcullis.db.kek").exists());
}

#[test]
fn the_device_grant_by_its_short_name_and_redirect_uris_in_their_normal_form() {
    let cli = Cli::new();
    let out = cli.ok(
        &[
            "client",
            "create",
            "--name",
            "tv",
            "--public",
            "--grant-type",
            "device_code",
            "--json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let list = cli.ok(&["client", "list", "--json"], None);
    assert!(
        list.contains("urn:ietf:params:oauth:grant-type:device_code"),
        "{list}"
    );
    assert!(v["client_id"].is_string());
    let out = cli.run(
        &[
            "client",
            "create",
            "--name",
            "web",
            "--redirect-uri",
            "HTTPS://App.Example:443/cb",
        ],
        None,
    );
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("normal form") && error.contains("https://app.example/cb"),
        "{error}"
    );
}

#[test]
fn browser_flow_flags() {
    let cli = Cli::new();
    cli.ok(
        &[
            "client",
            "create",
            "--name",
            "legacy",
            "--id",
            "legacy",
            "--public",
            "--first-party",
            "--legacy-token-redirect",
            "--grant-type",
            "password",
            "--redirect-uri",
            "https://app.example/cb",
        ],
        None,
    );
    cli.ok(
        &[
            "client",
            "create",
            "--name",
            "first",
            "--id",
            "first",
            "--public",
            "--first-party",
            "--redirect-uri",
            "com.example.first:/callback",
            "--redirect-uri",
            "http://127.0.0.1/cb",
        ],
        None,
    );
    // The redirect login has no consent step: a third-party client is refused.
    let out = cli.run(
        &[
            "client",
            "create",
            "--name",
            "x",
            "--public",
            "--dialect",
            "redirect-login",
            "--redirect-uri",
            "https://x.example/cb",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("first-party"));
    let out = cli.run(
        &["client", "create", "--name", "x", "--dialect", "seed-999"],
        None,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --dialect"));
    cli.ok(
        &[
            "client",
            "create",
            "--name",
            "spa",
            "--id",
            "spa",
            "--public",
            "--dialect",
            "pkce-json",
            "--dialect",
            "spring-oauth",
            "--redirect-uri",
            "https://spa.example/cb",
        ],
        None,
    );
    let list = cli.ok(&["client", "list", "--json"], None);
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |id: &str| rows.iter().find(|r| r["client_id"] == id).unwrap().clone();
    assert_eq!(row("legacy")["legacy_token_redirect"], true);
    assert_eq!(
        row("legacy")["dialects"],
        serde_json::json!(["redirect-login"])
    );
    assert_eq!(
        row("spa")["dialects"],
        serde_json::json!(["pkce-json", "spring-oauth"])
    );
    assert_eq!(row("first")["dialects"], serde_json::json!([]));
    assert_eq!(row("legacy")["access_token_ttl"], 30 * 24 * 3600);
    assert_eq!(row("legacy")["refresh_mode"], "reuse");
    assert_eq!(row("first")["first_party"], true);
    assert_eq!(row("first")["legacy_token_redirect"], false);
    assert_eq!(
        row("first")["redirect_uris"],
        serde_json::json!(["com.example.first:/callback", "http://127.0.0.1/cb"])
    );
}

/// Each refused redirect URI is refused with the rule it breaks, and
/// nothing is created.
#[test]
fn redirect_uris_are_vetted_and_lifetimes_bounded() {
    let cli = Cli::new();
    let create = |extra: &[&str]| {
        let mut args = vec!["client", "create", "--name", "x", "--public"];
        args.extend_from_slice(extra);
        cli.run(&args, None)
    };
    for (uri, rule) in [
        ("javascript:alert(1)", "javascript: scheme"),
        ("data:text/html,x", "data: scheme"),
        ("file:///etc/passwd", "file: scheme"),
        ("https://a@evil.example/cb", "user name or password"),
        ("http://app.example/cb", "loopback IP"),
        ("http://localhost:9000/cb", "loopback IP"),
        ("https://app.example/cb#frag", "fragment"),
        ("https://app.example/a b", "whitespace"),
        ("myapp://callback", "reverse domain name"),
        ("/relative", "absolute URI"),
    ] {
        let out = create(&["--redirect-uri", uri]);
        assert!(!out.status.success(), "{uri} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(rule), "{uri}: {err}");
    }
    // The exception an existing app may need, named explicitly.
    let out = create(&["--redirect-uri", "myapp://callback", "--bare-native-scheme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ttl in ["0", "-5", "9000000000000", "99999999999999999999"] {
        let flag = format!("--access-token-ttl={ttl}");
        let out = create(&[&flag]);
        assert!(!out.status.success(), "ttl {ttl} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("access-token-ttl"), "{ttl}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let list = cli.ok(&["client", "list", "--json"], None);
    assert_eq!(
        list.lines().count(),
        1,
        "only the accepted client exists: {list}"
    );
}

#[test]
fn keys_are_sealed_under_a_generated_key_file_and_rotate() {
    use std::os::unix::fs::PermissionsExt as _;
    let cli = Cli::new();
    cli.ok(&["migrate"], None);
    let first = cli.ok(&["keys", "list", "--json"], None);
    let kek = cli.dir.path().join("portcullis.db.kek");
    assert!(
        kek.exists(),
        "the key-encryption key file is beside the database"
    );
    assert_eq!(
        std::fs::metadata(&kek).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // One key per algorithm: PASETO for access tokens, RS256 and EdDSA for
    // ID tokens.
    let algorithms = |list: &str| -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = list
            .lines()
            .map(|l| {
                let v = serde_json::from_str::<serde_json::Value>(l).unwrap();
                (
                    v["algorithm"].as_str().unwrap().to_owned(),
                    v["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        all.sort();
        all
    };
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, s)| (a.to_string(), s.to_string()))
            .collect()
    };
    assert_eq!(
        algorithms(&first),
        pairs(&[
            ("EdDSA", "signing"),
            ("RS256", "signing"),
            ("paseto-v4-public", "signing")
        ])
    );
    let out = cli.ok(&["keys", "rotate", "--algorithm", "paseto-v4-public"], None);
    assert!(out.starts_with("key_id: k4.pid."), "{out}");
    let list = cli.ok(&["keys", "list", "--json"], None);
    assert_eq!(
        algorithms(&list),
        pairs(&[
            ("EdDSA", "signing"),
            ("RS256", "signing"),
            ("paseto-v4-public", "pending"),
            ("paseto-v4-public", "signing"),
        ])
    );
    // Without --algorithm, one new key of each; at once with --now.
    cli.ok(&["keys", "rotate", "--now"], None);
    let list = cli.ok(&["keys", "list", "--json"], None);
    let signing = algorithms(&list)
        .into_iter()
        .filter(|(_, s)| s == "signing")
        .count();
    assert_eq!(signing, 3, "one signer per algorithm: {list}");
    assert_eq!(list.lines().count(), 7);
    let bad = cli.run(&["keys", "rotate", "--algorithm", "HS256"], None);
    assert!(!bad.status.success());
    assert_eq!(
        cli.ok(&["keys", "prune"], None),
        "",
        "nothing has expired yet"
    );
    // With the wrong key-encryption key the keys cannot be read.
    let out = cli.run(
        &[
            "--key-encryption-key",
            "k4.local.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "keys",
            "list",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsealed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn user_mfa_show_and_reset_need_their_account_and_a_yes() {
    let cli = Cli::new();
    cli.ok(
        &["user", "create", "--username", "alice", "--password-stdin"],
        Some("correct-horse"),
    );
    let shown: serde_json::Value =
        serde_json::from_str(&cli.ok(&["user", "mfa", "show", "alice", "--json"], None)).unwrap();
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["factors"], serde_json::json!([]));
    assert_eq!(shown["recovery_codes_left"], 0);
    // A reset is refused without --yes, and for no account.
    let out = cli.run(&["user", "mfa", "reset", "alice"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let out = cli.run(&["user", "mfa", "reset", "nobody", "--yes"], None);
    assert!(!out.status.success());
    assert!(
        cli.ok(&["user", "mfa", "reset", "ALICE", "--yes"], None)
            .contains("0 second factor(s) removed")
    );
}

#[test]
fn groups_are_managed_by_name_and_a_client_admits_them() {
    let cli = Cli::new();
    cli.ok(
        &["user", "create", "--username", "alice", "--password-stdin"],
        Some("correct-horse"),
    );
    let created: serde_json::Value = serde_json::from_str(&cli.ok(
        &[
            "group",
            "create",
            "--name",
            "Staff",
            "--description",
            "Everyone on the payroll",
            "--json",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(created["name"], "staff");
    // One name, in any case or width.
    let out = cli.run(&["group", "create", "--name", "ＳＴＡＦＦ"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    cli.ok(
        &["group", "add", "--name", "staff", "--user", "ALICE"],
        None,
    );
    let out = cli.run(
        &["group", "add", "--name", "staff", "--user", "nobody"],
        None,
    );
    assert!(!out.status.success());
    let shown: serde_json::Value =
        serde_json::from_str(&cli.ok(&["group", "show", "--name", "staff", "--json"], None))
            .unwrap();
    assert_eq!(shown["members"][0]["username"], "alice");
    assert_eq!(shown["description"], "Everyone on the payroll");

    // A client admits the group by id: a rename keeps it admitted.
    let client: serde_json::Value = serde_json::from_str(&cli.ok(
        &[
            "client",
            "create",
            "--name",
            "wiki",
            "--allowed-group",
            "staff",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    cli.ok(
        &["group", "rename", "--name", "staff", "--to", "employees"],
        None,
    );
    let updated: serde_json::Value =
        serde_json::from_str(&cli.ok(&["client", "update", &id, "--json"], None)).unwrap();
    assert_eq!(
        updated["allowed_groups"],
        serde_json::json!([created["id"]])
    );
    // It cannot be deleted while the client admits it.
    let out = cli.run(&["group", "delete", "--name", "employees"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&id));
    let out = cli.run(&["client", "update", &id, "--allowed-group", "nope"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no group is named"));
    cli.ok(&["client", "update", &id, "--admit-everyone"], None);
    cli.ok(
        &["group", "remove", "--name", "employees", "--user", "alice"],
        None,
    );
    cli.ok(&["group", "delete", "--name", "employees"], None);
    assert_eq!(cli.ok(&["group", "list", "--json"], None).trim(), "[]");
}

#[test]
fn user_disable_and_enable_by_name_email_or_id() {
    let cli = Cli::new();
    let created = cli.ok(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.org",
            "--password-stdin",
        ],
        Some("correct-horse"),
    );
    let id = created.trim().trim_start_matches("user_id: ").to_owned();
    let state = || {
        let list = cli.ok(&["user", "list", "--json"], None);
        let row: serde_json::Value = serde_json::from_str(list.lines().next().unwrap()).unwrap();
        row["disabled"].as_bool().unwrap()
    };
    assert!(
        cli.ok(&["user", "disable", "alice@example.org"], None)
            .contains("disabled")
    );
    assert!(state());
    cli.ok(&["user", "enable", &id], None);
    assert!(!state());
    cli.ok(&["user", "disable", "ALICE"], None);
    assert!(state());
    let out = cli.run(&["user", "enable", "nobody"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account is named"));
    assert!(state(), "an unknown name changed nothing");
}

/// A database for the crash test: a SQLite file in the test's folder, or a
/// fresh PostgreSQL database (created and dropped with `psql`).
struct CrashDb {
    url: String,
    admin: Option<(String, String)>,
}

impl CrashDb {
    fn sqlite(dir: &std::path::Path) -> Self {
        Self {
            url: format!("sqlite://{}", dir.join("crash.db").display()),
            admin: None,
        }
    }

    fn postgres() -> Option<Self> {
        let admin = std::env::var("PORTCULLIS_TEST_POSTGRES")
            .ok()
            .filter(|s| !s.is_empty())?;
        let name = format!("portcullis_crash_{}", std::process::id());
        let ok = Command::new("psql")
            .args([admin.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot create the crash test's database");
        let base = admin.rsplit_once('/').unwrap().0;
        Some(Self {
            url: format!("{base}/{name}"),
            admin: Some((admin, name)),
        })
    }

    /// Refresh tokens neither rotated nor revoked: the live ones.
    fn live_refresh_tokens(&self) -> i64 {
        let sql =
            "SELECT COUNT(*) FROM refresh_tokens WHERE rotated_at IS NULL AND revoked_at IS NULL";
        let out = match &self.admin {
            Some(_) => Command::new("psql")
                .args([self.url.as_str(), "-tAc", sql])
                .output()
                .unwrap(),
            None => {
                let path = self.url.trim_start_matches("sqlite://");
                let script = format!(
                    "import sqlite3; print(sqlite3.connect('{path}').execute('{sql}').fetchone()[0])"
                );
                Command::new("python3")
                    .args(["-c", &script])
                    .output()
                    .unwrap()
            }
        };
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for CrashDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.admin {
            let _ = Command::new("psql")
                .args([
                    admin.as_str(),
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .status();
        }
    }
}

fn start_server(dir: &std::path::Path, db: &CrashDb, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["--config", "settings.toml", "serve"])
        .current_dir(dir)
        .env("PORTCULLIS_DATABASE_URL", &db.url)
        .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_METRICS_BIND", "127.0.0.1:0")
        .env(
            "PORTCULLIS_KEY_ENCRYPTION_KEY",
            "k4.local.DeIp_VsoClLz7g9f8TyP11Zev7f_7tYRtE8TQ11tKxo",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the server did not become ready");
}

/// Where the crash test's clients send their refreshes.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    base: String,
    id: String,
    secret: String,
}

impl Target {
    /// One refresh; `None` when the server did not answer (killed).
    async fn refresh(&self, held: &str) -> Option<(u16, serde_json::Value)> {
        let r = self
            .http
            .post(format!("{}/token", self.base))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", held)])
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.ok()?;
        Some((status, body))
    }
}

/// Sixteen clients refresh in a loop; the server is killed with SIGKILL
/// mid-load and restarted. Every client goes on with the token it holds
/// (a rotation whose answer was lost is retried, not taken for a replay),
/// no family is revoked, and exactly one token per client is live after.
async fn survives_kill_9(db: CrashDb, dir: &std::path::Path) {
    std::fs::write(
        dir.join("settings.toml"),
        "[password_hash]\nmemory_kib = 8\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["--config", "settings.toml"])
            .args(args)
            .current_dir(dir)
            .env("PORTCULLIS_DATABASE_URL", &db.url)
            .env(
                "PORTCULLIS_KEY_ENCRYPTION_KEY",
                "k4.local.DeIp_VsoClLz7g9f8TyP11Zev7f_7tYRtE8TQ11tKxo",
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["migrate"], None);
    let creds: serde_json::Value = serde_json::from_str(&run(
        &[
            "client",
            "create",
            "--name",
            "load",
            "--grant-type",
            "password",
            "--grant-type",
            "refresh_token",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let (id, secret) = (
        creds["client_id"].as_str().unwrap().to_owned(),
        creds["client_secret"].as_str().unwrap().to_owned(),
    );
    run(
        &["user", "create", "--username", "alice", "--password-stdin"],
        Some("correct-horse"),
    );
    let port = auth_contract::scratch::unclaimed_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let mut server = start_server(dir, &db, port);
    wait_ready(&http, &base).await;
    let target = Target {
        http: http.clone(),
        base: base.clone(),
        id: id.clone(),
        secret: secret.clone(),
    };
    let mut held = Vec::new();
    for _ in 0..16 {
        let r: serde_json::Value = http
            .post(format!("{base}/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        held.push(r["refresh_token"].as_str().unwrap().to_owned());
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = held
        .into_iter()
        .map(|mut token| {
            let (stop, target) = (stop.clone(), target.clone());
            tokio::spawn(async move {
                let mut rotations = 0u32;
                // Refresh until the server dies; keep the token last held.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match target.refresh(&token).await {
                        Some((200, body)) => {
                            token = body["refresh_token"].as_str().unwrap().to_owned();
                            rotations += 1;
                        }
                        Some((status, body)) => panic!("refused before the crash: {status} {body}"),
                        None => break,
                    }
                }
                (token, rotations)
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut held = Vec::new();
    for c in clients {
        let (token, rotations) = c.await.unwrap();
        assert!(rotations > 0, "the load ran before the crash");
        held.push(token);
    }
    let mut server = start_server(dir, &db, port);
    wait_ready(&http, &base).await;
    // Every client continues with the token it holds.
    for token in held {
        let mut token = token;
        for _ in 0..3 {
            let (status, body) = target.refresh(&token).await.unwrap();
            assert_eq!(status, 200, "a client was logged out by the crash: {body}");
            token = body["refresh_token"].as_str().unwrap().to_owned();
        }
    }
    assert_eq!(
        db.live_refresh_tokens(),
        16,
        "one live token per client, none orphaned"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_logs_no_one_out_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    survives_kill_9(CrashDb::sqlite(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PORTCULLIS_TEST_POSTGRES was not set when the tests were built"
)]
async fn a_killed_server_logs_no_one_out_on_postgres() {
    let db = CrashDb::postgres().expect("PORTCULLIS_TEST_POSTGRES is not set");
    let dir = tempfile::tempdir().unwrap();
    survives_kill_9(db, dir.path()).await;
}

#[test]
fn a_passkey_relying_party_must_be_a_parent_of_the_issuers_host() {
    let cli = Cli::new();
    let settings = cli.dir.path().join("portcullis.toml");
    let path = settings.to_str().unwrap();
    let check = |toml: &str| {
        std::fs::write(&settings, toml).unwrap();
        cli.run(&["--config", path, "config", "check", "--json"], None)
    };
    let out = check("issuer = \"https://id.example.org\"\npasskey_rp_id = \"example.org\"\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passkey_rp_id"], "example.org");
    assert_eq!(report["mfa"], "optional");
    for (toml, why) in [
        (
            "issuer = \"https://id.example.org\"\npasskey_rp_id = \"example.com\"\n",
            "does not fit the issuer",
        ),
        // Browsers take no IP address for a relying party.
        (
            "issuer = \"http://127.0.0.1:8080\"\npasskey_rp_id = \"127.0.0.1\"\n",
            "does not fit the issuer",
        ),
    ] {
        let out = check(toml);
        assert!(!out.status.success(), "{toml}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("passkey_rp_id") && stderr.contains(why),
            "{stderr}"
        );
        // `serve` refuses to start with it too (it reads the same settings).
        let out = cli.run(&["--config", path, "serve"], None);
        assert!(!out.status.success(), "{toml}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("passkey_rp_id"));
    }
}

#[test]
fn config_check_reports_without_secrets_and_refuses_what_is_wrong() {
    let cli = Cli::new();
    let settings = cli.dir.path().join("portcullis.toml");
    std::fs::write(
        &settings,
        "[dialects]\nexternal_login = true\n\
         [github]\nclient_id = \"Iv1.abc\"\nclient_secret = \"github-secret-value\"\n\
         [providers.corp]\nissuer = \"https://sso.corp.example\"\nclient_id = \"portcullis\"\n",
    )
    .unwrap();
    let path = settings.to_str().unwrap();
    // The provider's secret comes from the environment.
    let check = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["--config", path, "config", "check"])
            .args(extra)
            .current_dir(cli.dir.path())
            .env(
                "PORTCULLIS_PROVIDER_CORP_CLIENT_SECRET",
                "corp-secret-value",
            )
            .env("PORTCULLIS_GITHUB_WEB_URL", "https://github.corp.example")
            .env_remove("PORTCULLIS_KEY_ENCRYPTION_KEY")
            .env_remove("PORTCULLIS_BIND")
            .output()
            .unwrap()
    };
    let out = check(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("github-secret-value") && !text.contains("corp-secret-value"));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["github"]["client_id"], "Iv1.abc");
    assert_eq!(report["github"]["client_secret"], "set");
    assert_eq!(report["github"]["web_url"], "https://github.corp.example/");
    assert_eq!(report["github"]["api_url"], "https://api.github.com/");
    assert_eq!(
        report["providers"]["corp"]["issuer"],
        "https://sso.corp.example"
    );
    assert_eq!(report["providers"]["corp"]["client_secret"], "set");
    assert_eq!(
        report["dialects"]["external_login"]["client"],
        "external-login-api"
    );
    // Where each setting came from; names and origins, never values.
    let sources = &report["sources"];
    assert_eq!(sources["github.client_id"], format!("file {path}"));
    assert_eq!(sources["github.client_secret"], format!("file {path}"));
    assert_eq!(
        sources["github.web_url"],
        "environment PORTCULLIS_GITHUB_WEB_URL"
    );
    assert_eq!(sources["providers.corp.issuer"], format!("file {path}"));
    assert_eq!(
        sources["providers.corp.client_secret"],
        "environment PORTCULLIS_PROVIDER_CORP_CLIENT_SECRET"
    );
    assert!(
        sources.get("bind").is_none(),
        "a default has no source entry"
    );
    assert_eq!(report["everything else"], "built-in default");
    let flagged = check(&["--json", "--bind", "127.0.0.1:9999"]);
    let flagged: serde_json::Value = serde_json::from_slice(&flagged.stdout).unwrap();
    assert_eq!(flagged["sources"]["bind"], "flag --bind");
    assert_eq!(flagged["bind"], "127.0.0.1:9999");
    // The text form says the same.
    let out = check(&[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("client_secret: set") && !text.contains("github-secret-value"));

    // Without the provider's secret, or with half a GitHub app: refused.
    let out = cli.run(&["--config", path, "config", "check"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("provider corp: client_secret is not set")
    );
    std::fs::write(&settings, "[github]\nclient_id = \"x\"\n").unwrap();
    let out = cli.run(&["--config", path, "config", "check"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("secret is not"));
    std::fs::write(
        &settings,
        "[github]\nclient_id = \"x\"\nclient_secret = \"y\"\nunknown = 1\n",
    )
    .unwrap();
    assert!(
        !cli.run(&["--config", path, "config", "check"], None)
            .status
            .success()
    );

    // The mail server: shown with its password as set, refused (never a
    // panic) when its URL or sender is wrong.
    std::fs::write(
        &settings,
        "[smtp]\nurl = \"smtps://mail.example.org\"\nfrom = \"Sign-in <id@example.org>\"\n\
         username = \"id@example.org\"\npassword = \"smtp-secret-value\"\n",
    )
    .unwrap();
    let out = cli.run(&["--config", path, "config", "check", "--json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("smtp-secret-value"));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["smtp"]["url"], "smtps://mail.example.org");
    assert_eq!(report["smtp"]["password"], "set");
    for (bad, says) in [
        (
            "url = \"smtp://mail.example.org?tls=none\"\nfrom = \"id@example.org\"",
            "loopback",
        ),
        (
            "url = \"smtp://mail.example.org\"\nfrom = \"not an address\"",
            "smtp from",
        ),
        ("url = \"smtp://mail.example.org\"", "smtp.from"),
        (
            "url = \"smtp://user:pw@mail.example.org\"\nfrom = \"id@example.org\"",
            "smtp.password",
        ),
    ] {
        std::fs::write(&settings, format!("[smtp]\n{bad}\n")).unwrap();
        let out = cli.run(&["--config", path, "config", "check"], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}");
        assert!(
            err.contains(says) && !err.contains("panicked"),
            "{bad}: {err}"
        );
    }
}

/// `client update`, `rotate-secret` and `delete` as an operator runs them:
/// what they print, and a non-zero exit that changes nothing on bad input.
#[test]
fn client_update_rotate_secret_and_delete() {
    let cli = Cli::new();
    let created: serde_json::Value = serde_json::from_str(&cli.ok(
        &[
            "client",
            "create",
            "--name",
            "app",
            "--id",
            "app",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read write",
            "--redirect-uri",
            "https://app.example/cb",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let row = || -> serde_json::Value {
        let list = cli.ok(&["client", "list", "--json"], None);
        serde_json::from_str(list.lines().next().unwrap()).unwrap()
    };
    let before = row();

    // Refused: a new bare native scheme, an unknown format, an unknown client.
    for (args, says) in [
        (
            &["client", "update", "app", "--redirect-uri", "myapp://cb"][..],
            "reverse domain name",
        ),
        (
            &["client", "update", "app", "--token-format", "xml"],
            "invalid --token-format",
        ),
        (
            &["client", "update", "nobody", "--name", "x"],
            "no client has the id",
        ),
        (
            &["client", "rotate-secret", "nobody"],
            "no client has the id",
        ),
        (&["client", "delete", "bad:id"], "invalid client id"),
    ] {
        let out = cli.run(args, None);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(row(), before, "refused updates changed nothing");

    let updated: serde_json::Value = serde_json::from_str(&cli.ok(
        &[
            "client", "update", "app", "--scope", "read", "--name", "renamed", "--json",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(
        (updated["scope"].as_str(), updated["name"].as_str()),
        (Some("read"), Some("renamed"))
    );
    assert_eq!(
        updated["redirect_uris"], before["redirect_uris"],
        "what is not given stays"
    );
    assert_eq!(row()["scope"], "read");

    let rotated: serde_json::Value =
        serde_json::from_str(&cli.ok(&["client", "rotate-secret", "app", "--json"], None)).unwrap();
    let secret = rotated["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43);
    assert_ne!(Some(secret), created["client_secret"].as_str());

    let deleted = cli.ok(&["client", "delete", "app"], None);
    assert_eq!(deleted.trim(), "app deleted");
    assert_eq!(cli.ok(&["client", "list"], None), "");
    assert!(
        !cli.run(&["client", "delete", "app"], None).status.success(),
        "deleted once"
    );
}

/// `user show`, `set-password`, `sessions revoke` and `user delete`.
#[test]
fn user_show_set_password_sessions_and_delete() {
    let cli = Cli::new();
    let created = cli.ok(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.org",
            "--password-stdin",
        ],
        Some("correct-horse"),
    );
    let id = created.trim().trim_start_matches("user_id: ").to_owned();
    let shown: serde_json::Value =
        serde_json::from_str(&cli.ok(&["user", "show", "ALICE@example.org", "--json"], None))
            .unwrap();
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["username"], "alice");
    assert_eq!(shown["has_password"], true);
    assert_eq!(shown["linked_identities"], serde_json::json!([]));
    let text = cli.ok(&["user", "show", &id], None);
    assert!(
        text.contains("username: alice") && !text.contains("argon2"),
        "{text}"
    );

    let out = cli.ok(
        &["user", "set-password", "alice", "--password-stdin"],
        Some("battery-staple\n"),
    );
    assert!(out.contains("password set"), "{out}");
    for (args, stdin, says) in [
        (
            &["user", "set-password", "nobody", "--password-stdin"][..],
            Some("x-long-enough"),
            "no account is named",
        ),
        (&["user", "set-password", "alice"], None, "--password-stdin"),
        (&["user", "show", "nobody"], None, "no account is named"),
        (
            &["sessions", "revoke", "--user", "nobody"],
            None,
            "no account is named",
        ),
        (&["user", "delete", "nobody"], None, "no account is named"),
    ] {
        let out = cli.run(args, stdin);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }

    let revoked: serde_json::Value =
        serde_json::from_str(&cli.ok(&["sessions", "revoke", "--user", "alice", "--json"], None))
            .unwrap();
    assert_eq!(
        revoked,
        serde_json::json!({"user_id": id, "sessions_ended": 0})
    );

    assert_eq!(
        cli.ok(&["user", "delete", "alice"], None).trim(),
        format!("{id} deleted")
    );
    assert_eq!(cli.ok(&["user", "list"], None), "");
}

/// A `serve` process on a free port in `dir`, its standard error piped.
struct Served {
    child: std::process::Child,
    port: u16,
}

impl Served {
    fn start(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = auth_contract::scratch::unclaimed_port();
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .arg("serve")
            .current_dir(dir)
            .env_remove("PORTCULLIS_DATABASE_URL")
            .env_remove("PORTCULLIS_CONFIG")
            .env_remove("PORTCULLIS_LOG_FORMAT")
            .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_METRICS_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Self { child, port }
    }

    /// Stops it and returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let out = self.child.wait_with_output().unwrap();
        String::from_utf8(out.stderr).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_plain_off_a_terminal_and_json_when_asked() {
    let http = reqwest::Client::new();
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start(dir.path(), &[], &[("PORTCULLIS_LOG_FORMAT", format)]);
        let base = format!("http://127.0.0.1:{}", served.port);
        wait_ready(&http, &base).await;
        // A refusal that is logged as a security event.
        let r = http
            .post(format!("{base}/token"))
            .basic_auth("nobody", Some("wrong"))
            .header("X-Request-Id", "probe-7")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        // The id a proxy gave is kept and named back; one that could break
        // a log line is replaced by the node's own.
        assert_eq!(r.headers()["x-request-id"], "probe-7");
        let forged = http
            .get(format!("{base}/healthz"))
            .header("X-Request-Id", "x event=forged")
            .send()
            .await
            .unwrap();
        let made = forged.headers()["x-request-id"].to_str().unwrap();
        assert!(made.len() > 8 && !made.contains(' '), "{made}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let log = served.stop();
        assert!(
            !log.contains('\u{1b}'),
            "no terminal escapes in a log file: {log}"
        );
        match format {
            "text" => {
                assert!(log.contains("portcullis is listening"), "{log}");
                // A first start says how to create the first client and user.
                assert!(
                    log.contains("portcullis client create")
                        && log.contains("portcullis user create"),
                    "{log}"
                );
                let event = log
                    .lines()
                    .find(|l| l.contains("event=\"client_auth_failed\""))
                    .unwrap_or_else(|| panic!("no security event in {log}"));
                assert!(event.contains("request{id=probe-7}"), "{event}");
            }
            _ => {
                let lines: Vec<serde_json::Value> = log
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                    .collect();
                assert!(
                    lines
                        .iter()
                        .all(|l| l["level"].is_string() && l["timestamp"].is_string())
                );
                assert!(lines.iter().any(|l| {
                    l["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("portcullis is listening"))
                }));
                let event = lines
                    .iter()
                    .find(|l| l["event"] == "client_auth_failed")
                    .unwrap_or_else(|| panic!("no security event in {log}"));
                assert_eq!(
                    (event["target"].as_str(), event["level"].as_str()),
                    (Some("security"), Some("WARN"))
                );
                assert_eq!(event["client_id"], "nobody");
                assert_eq!(
                    (&event["span"]["name"], &event["span"]["id"]),
                    (&serde_json::json!("request"), &serde_json::json!("probe-7"))
                );
            }
        }
    }
}

/// A self-signed certificate for 127.0.0.1 and its key, as PEM.
fn certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A client that trusts only `cert`; HTTP/1.1 only when `http1`.
fn trusting(cert: &str, http1: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.as_bytes()).unwrap()]);
    if http1 {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_terminates_tls_and_reloads_a_renewed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    std::fs::write(dir.path().join("settings.toml"), "tls_reload_secs = 1\n").unwrap();
    let tls = [
        ("PORTCULLIS_TLS_CERT_FILE", "cert.pem"),
        ("PORTCULLIS_TLS_KEY_FILE", "key.pem"),
    ];
    let served = Served::start(dir.path(), &["--config", "settings.toml"], &tls);
    let base = format!("https://127.0.0.1:{}", served.port);
    let h2 = trusting(&cert, false);
    wait_ready(&h2, &base).await;
    let r = h2
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "HTTP/2 by ALPN");
    // Served over TLS: every answer tells the browser to stay on https.
    assert_eq!(
        r.headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        Some("max-age=31536000")
    );
    let metadata: serde_json::Value = r.json().await.unwrap();
    assert!(
        metadata["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:"),
        "{metadata}"
    );
    let r = trusting(&cert, true)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status(), r.version()),
        (reqwest::StatusCode::OK, reqwest::Version::HTTP_11)
    );
    // Plain HTTP on the TLS port is not served.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{}/healthz", served.port))
            .await
            .map_or(true, |r| !r.status().is_success())
    );

    // A renewed certificate is served to new connections without a restart;
    // a broken one (the key of another certificate) is not taken.
    let (renewed, renewed_key) = certificate();
    let (_, stray_key) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &renewed).unwrap();
    std::fs::write(dir.path().join("key.pem"), &stray_key).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        trusting(&cert, false)
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok(),
        "the pair in use is kept"
    );
    std::fs::write(dir.path().join("key.pem"), &renewed_key).unwrap();
    let mut reloaded = false;
    for _ in 0..50 {
        if trusting(&renewed, false)
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok()
        {
            reloaded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(reloaded, "the renewed certificate is served");
    assert!(
        trusting(&cert, false)
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "the old one no longer"
    );
    let log = served.stop();
    assert!(
        log.contains("TLS certificate not reloaded") && log.contains("TLS certificate reloaded"),
        "{log}"
    );

    // A key that is not the certificate's, or half a pair: serve refuses to start.
    let (other, _) = certificate();
    std::fs::write(dir.path().join("cert.pem"), &other).unwrap();
    let out = Served::start(dir.path(), &[], &tls)
        .child
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not the key of the certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Served::start(dir.path(), &[], &tls[..1])
        .child
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("go together"));
}

/// A letter is written to the outbox in the request's own write: a server
/// killed with SIGKILL before it could send it (its mail server was down)
/// sends it after a restart, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(mail_tests),
    ignore = "aiosmtpd (pip install aiosmtpd) was not installed when the tests were built"
)]
async fn a_letter_written_before_a_kill_9_is_sent_once_after_the_restart() {
    let cli = Cli::empty();
    let smtp_port = auth_contract::scratch::unclaimed_port();
    std::fs::write(
        cli.dir.path().join("settings.toml"),
        format!(
            "[password_hash]\nmemory_kib = 8\niterations = 1\nparallelism = 1\n\n\
             [smtp]\nurl = \"smtp://127.0.0.1:{smtp_port}?tls=none\"\n\
             from = \"id@example.test\"\ntimeout_secs = 2\n"
        ),
    )
    .unwrap();
    let config = ["--config", "settings.toml"];
    cli.ok(&[&config[..], &["migrate"]].concat(), None);
    cli.ok(
        &[
            &config[..],
            &[
                "user",
                "create",
                "--username",
                "alice",
                "--email",
                "alice@example.org",
                "--password-stdin",
            ],
        ]
        .concat(),
        Some("old-password\n"),
    );
    let port = auth_contract::scratch::unclaimed_port();
    let base = format!("http://127.0.0.1:{port}");
    let serve = || {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(config)
            .arg("serve")
            .current_dir(cli.dir.path())
            .env_remove("PORTCULLIS_DATABASE_URL")
            .env_remove("PORTCULLIS_KEY_ENCRYPTION_KEY")
            .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_METRICS_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let mut server = serve();
    wait_ready(&http, &base).await;
    let page = http
        .get(format!("{base}/password/forgot"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    let csrf = &page[start..start + page[start..].find('"').unwrap()];
    let r = http
        .post(format!("{base}/password/forgot"))
        .form(&[("csrf_token", csrf), ("login", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.kill().unwrap();
    server.wait().unwrap();

    let maildir = cli.dir.path().join("mail");
    let mut smtpd = smtp_server(smtp_port, &maildir).await;
    let delivered = || {
        std::fs::read_dir(maildir.join("new"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let mut server = serve();
    wait_ready(&http, &base).await;
    // The first attempt may have failed before the kill: its retry is due
    // within the backoff's first step (30 s).
    let mut waited = 0;
    while delivered() == 0 && waited < 450 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let count = delivered();
    server.kill().unwrap();
    server.wait().unwrap();
    let _ = smtpd.kill();
    let _ = smtpd.wait();
    assert_eq!(count, 1, "the letter was not delivered exactly once");
}

/// Without a mail server the operator hands links over: an invitation
/// printed, a recovery link printed, an address vouched for; a client that
/// signs in only confirmed addresses says so in its registration.
#[test]
fn users_are_invited_vouched_for_and_given_links_without_mail() {
    let cli = Cli::new();
    let out = cli.run(&["user", "invite", "--email", "dana@example.org"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("print the link"));
    let invited = cli.ok(
        &[
            "user",
            "invite",
            "--email",
            "dana@example.org",
            "--username",
            "dana",
            "--print-link",
        ],
        None,
    );
    assert!(
        invited.contains("http://127.0.0.1:8080/invitation?token="),
        "{invited}"
    );
    let show = |who: &str| -> serde_json::Value {
        serde_json::from_str(&cli.ok(&["user", "show", who, "--json"], None)).unwrap()
    };
    let dana = show("dana");
    assert_eq!(dana["email"], "dana@example.org");
    assert_eq!(dana["email_verified"], false);
    assert_eq!(dana["has_password"], false);
    cli.ok(
        &["user", "update", "dana", "--email-verified", "true"],
        None,
    );
    assert_eq!(show("dana@example.org")["email_verified"], true);
    let nothing = cli.run(&["user", "update", "dana"], None);
    assert!(!nothing.status.success());
    let link = cli.ok(&["user", "reset-link", "dana"], None);
    assert!(link.contains("/password/reset?token="), "{link}");
    assert!(
        !cli.run(&["user", "reset-link", "nobody"], None)
            .status
            .success()
    );
    cli.ok(
        &["user", "create", "--username", "nomail", "--password-stdin"],
        Some("a-password\n"),
    );
    let none = cli.run(&["user", "reset-link", "nomail"], None);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no email address"));

    let client: serde_json::Value = serde_json::from_str(&cli.ok(
        &[
            "client",
            "create",
            "--name",
            "Strict",
            "--require-verified-email",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    let listed = cli.ok(&["client", "list", "--json"], None);
    assert!(
        listed.contains("\"require_verified_email\":true"),
        "{listed}"
    );
    let updated: serde_json::Value = serde_json::from_str(&cli.ok(
        &[
            "client",
            "update",
            &id,
            "--require-verified-email",
            "false",
            "--json",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(updated["require_verified_email"], false);
}

/// `mail test` sends one message now through `[smtp]` and prints the
/// server's answer; without a mail server it says what to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(mail_tests),
    ignore = "aiosmtpd (pip install aiosmtpd) was not installed when the tests were built"
)]
async fn mail_test_sends_one_message_and_prints_the_answer() {
    let cli = Cli::new();
    let out = cli.run(&["mail", "test", "--to", "ops@example.org"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mail server is configured"));

    let port = auth_contract::scratch::unclaimed_port();
    let maildir = cli.dir.path().join("mail");
    let mut smtpd = smtp_server(port, &maildir).await;
    std::fs::write(
        cli.dir.path().join("settings.toml"),
        format!(
            "[smtp]\nurl = \"smtp://127.0.0.1:{port}?tls=none\"\nfrom = \"Sign-in <id@example.test>\"\n"
        ),
    )
    .unwrap();
    let config = ["--config", "settings.toml"];
    let sent = cli.ok(
        &[&config[..], &["mail", "test", "--to", "ops@example.org"]].concat(),
        None,
    );
    assert!(
        sent.contains("took the message") && sent.contains("250"),
        "{sent}"
    );
    let bad = cli.run(
        &[&config[..], &["mail", "test", "--to", "not an address"]].concat(),
        None,
    );
    assert!(!bad.status.success());
    let delivered = std::fs::read_dir(maildir.join("new")).unwrap().count();
    let _ = smtpd.kill();
    let _ = smtpd.wait();
    assert_eq!(delivered, 1);
}

/// A real SMTP server (aiosmtpd) on `port`, writing what it takes to the
/// Maildir `maildir`, once it listens.
async fn smtp_server(port: u16, maildir: &std::path::Path) -> std::process::Child {
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("aiosmtpd does not start (pip install aiosmtpd): {e}"));
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child
}
