//! The command line: `serve`, `migrate`, `client ...`, `user ...`.
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use auth_core::accounts::{
    ClientSpec, UserSpec, delete_client, delete_user, end_user_sessions, find_user,
    register_client, register_user, rotate_client_secret, set_user_disabled, set_user_password,
    update_client,
};
use auth_core::policy::RefreshMode;
use auth_core::ports::{ClientRepository, Clock, UserRepository};
use auth_core::types::{
    ClientId, Dialect, Email, GrantType, LifetimeRange, Password, RedirectUri, Scope, TokenFormat,
    Username,
};
use clap::{Args, Parser, Subcommand};

use crate::clock::SystemClock;
use crate::settings::{Overrides, Settings};
use crate::startup::{Application, Services, redact};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "OAuth 2.0 authorization server and single sign-on identity provider"
)]
pub struct Cli {
    /// Settings file (TOML). Environment variables override it.
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://FILE (default sqlite://portcullis.db) or postgres://...
    #[arg(long = "database", global = true, env = "PORTCULLIS_DATABASE_URL")]
    database_url: Option<String>,
    /// Key-encryption key sealing the signing keys (a k4.local PASERK).
    /// Without it, one is generated into a file beside the database.
    #[arg(
        long = "key-encryption-key",
        global = true,
        env = "PORTCULLIS_KEY_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    key_encryption_key: Option<String>,
    /// Log lines as `text` (default) or `json` objects.
    #[arg(long, global = true, env = "PORTCULLIS_LOG_FORMAT", value_enum)]
    log_format: Option<crate::logging::LogFormat>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key-file).
    #[arg(long, global = true, env = "PORTCULLIS_TLS_CERT_FILE")]
    tls_cert_file: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, global = true, env = "PORTCULLIS_TLS_KEY_FILE")]
    tls_key_file: Option<PathBuf>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served, off the public
    /// listener (default 127.0.0.1:9464).
    #[arg(long, global = true, env = "PORTCULLIS_METRICS_BIND")]
    metrics_bind: Option<String>,
    #[command(flatten)]
    github: GitHubArgs,
    #[command(subcommand)]
    command: Command,
}

/// The GitHub OAuth app, from the environment (or flags); each overrides
/// the settings file's `[github]`.
#[derive(Debug, Args)]
struct GitHubArgs {
    #[arg(long, global = true, env = "PORTCULLIS_GITHUB_CLIENT_ID", hide = true)]
    github_client_id: Option<String>,
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_GITHUB_CLIENT_SECRET",
        hide_env_values = true,
        hide = true
    )]
    github_client_secret: Option<String>,
    /// Default https://github.com.
    #[arg(long, global = true, env = "PORTCULLIS_GITHUB_WEB_URL", hide = true)]
    github_web_url: Option<String>,
    /// Default https://api.github.com.
    #[arg(long, global = true, env = "PORTCULLIS_GITHUB_API_URL", hide = true)]
    github_api_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (migrations run first).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "PORTCULLIS_BIND")]
        bind: Option<String>,
        /// Public base URL of this server (default http://BIND).
        #[arg(long, env = "PORTCULLIS_ISSUER")]
        issuer: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect the settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage browser sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// End every browser session of an account: it signs in again
    /// everywhere (its refresh tokens stay; `user set-password` ends those).
    Revoke {
        /// Username, email or user id.
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Read the settings file and the environment as `serve` would, refuse
    /// what is wrong (non-zero exit), and print what is configured. Secrets
    /// are reported as set or not, never printed.
    Check {
        /// Address `serve` would listen on.
        #[arg(long, env = "PORTCULLIS_BIND")]
        bind: Option<String>,
        /// Public base URL `serve` would use.
        #[arg(long, env = "PORTCULLIS_ISSUER")]
        issuer: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new signing key. It is published at once and signs after the
    /// activation delay (so cached key sets learn it first).
    Rotate {
        /// Sign with it at once (resource servers with a stale key set will
        /// refuse its tokens until they refetch).
        #[arg(long)]
        now: bool,
        /// Which key: paseto-v4-public (access tokens), RS256 or EdDSA (ID
        /// tokens). Without it, one new key of each.
        #[arg(long)]
        algorithm: Option<auth_core::types::KeyAlgorithm>,
    },
    /// List the signing keys.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete retired keys whose tokens have all expired.
    Prune,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client; prints its id and, once, its secret.
    Create(Box<ClientCreate>),
    /// List registered clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a client's registration; what is not given stays. A list
    /// given (redirect URIs, grant types, ...) replaces the old one.
    Update(Box<ClientUpdate>),
    /// Delete a client: its tokens, codes and device authorizations stop
    /// working at once.
    Delete {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a confidential client a new secret, shown once; the old one
    /// stops working at once.
    RotateSecret {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ClientUpdate {
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    /// Allowed redirect URI (repeatable; replaces the list).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Post-logout redirect URI (repeatable; replaces the list).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Allowed grant type (repeatable; replaces the list).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Allowed scope token (repeatable or space-separated; replaces the scope).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Access token lifetime in seconds.
    #[arg(long = "access-token-ttl")]
    access_token_ttl: Option<i64>,
    /// rotate or reuse.
    #[arg(long = "refresh-mode")]
    refresh_mode: Option<String>,
    /// true: users are not asked for consent; false: they are.
    #[arg(long = "first-party")]
    first_party: Option<bool>,
    /// A seed API the client speaks (repeatable; replaces the list).
    #[arg(long = "dialect")]
    dialects: Vec<String>,
    /// paseto, reference or jwt.
    #[arg(long = "token-format")]
    token_format: Option<String>,
    /// A client whose tokens it may introspect (repeatable; replaces the list).
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// A web origin its browser code runs on (CORS; repeatable, replaces
    /// the list; `derived` goes back to its redirect URIs' origins).
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Accept new private-use redirect schemes that are not reverse domain names.
    #[arg(long = "bare-native-scheme")]
    bare_native_scheme: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ClientCreate {
    /// Display name.
    #[arg(long)]
    name: String,
    /// Choose the client id (default: generated).
    #[arg(long)]
    id: Option<String>,
    /// A public client (native app, SPA): no secret, PKCE required.
    #[arg(long)]
    public: bool,
    /// Allowed redirect URI, matched exactly (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where OpenID Connect RP-initiated logout may send the browser
    /// afterwards, matched exactly (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Allowed grant type (repeatable): authorization_code, refresh_token,
    /// password, client_credentials, device_code. Default: authorization_code and
    /// refresh_token, plus client_credentials for confidential clients.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Allowed scope token (repeatable, or space-separated).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Access token lifetime in seconds for this client.
    #[arg(long = "access-token-ttl")]
    access_token_ttl: Option<i64>,
    /// Refresh token behaviour: rotate (default) or reuse.
    #[arg(long = "refresh-mode")]
    refresh_mode: Option<String>,
    /// Trusted client: users are not asked for consent.
    #[arg(long = "first-party")]
    first_party: bool,
    /// Seed 000's redirect login: after login, send the tokens to the
    /// redirect URI in its query (also defaults to one-month access tokens
    /// and a refresh token that stays the same).
    #[arg(long = "legacy-token-redirect")]
    legacy_token_redirect: bool,
    /// A seed API this client speaks besides standard OAuth 2.0
    /// (repeatable): redirect-login (seed 000, first-party clients only),
    /// pkce-json (001), key-secret (002), spring-oauth (004). None by default.
    #[arg(long = "dialect")]
    dialects: Vec<String>,
    /// Accept PKCE code_challenge_method=plain (S256 is always accepted).
    #[arg(long = "allow-plain-pkce")]
    allow_plain_pkce: bool,
    /// The JWS algorithm of its OpenID Connect ID tokens: RS256 (the
    /// default every relying party supports) or EdDSA.
    #[arg(long = "id-token-alg", default_value = "RS256")]
    id_token_algorithm: auth_core::types::KeyAlgorithm,
    /// Access token format: paseto (self-contained, default), reference
    /// (opaque, checked by lookup, revocable at once) or jwt (RFC 9068,
    /// RS256, verified with GET /jwks by any JWT library).
    #[arg(long = "token-format", default_value = "paseto")]
    token_format: String,
    /// As a resource server, may introspect the tokens of this client too
    /// (repeatable); a client always may introspect its own.
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// A web origin its browser code runs on, allowed to read the token,
    /// revocation and userinfo answers (CORS; repeatable). Default: the
    /// origins of its https and loopback redirect URIs.
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Accept a private-use redirect scheme that is not a reverse domain
    /// name (myapp://callback), for an existing native app that cannot
    /// change it. Any app may claim such a scheme (RFC 8252 section 7.1).
    #[arg(long = "bare-native-scheme")]
    bare_native_scheme: bool,
    /// Print {"client_id": ..., "client_secret": ...}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long = "given-name")]
        given_name: Option<String>,
        #[arg(long = "family-name")]
        family_name: Option<String>,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long = "password-stdin", required = true)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it signs in nowhere, its sessions end, its refresh
    /// tokens are revoked and its access tokens are refused.
    Disable {
        /// Username, email or user id.
        who: String,
    },
    /// Enable a disabled account again (its old sessions and refresh tokens
    /// stay ended).
    Enable {
        /// Username, email or user id.
        who: String,
    },
    /// Show an account.
    Show {
        /// Username, email or user id.
        who: String,
        #[arg(long)]
        json: bool,
    },
    /// Set an account's password, read from standard input; its sessions
    /// end and its refresh tokens are revoked.
    SetPassword {
        /// Username, email or user id.
        who: String,
        /// Read the password from standard input (required).
        #[arg(long = "password-stdin", required = true)]
        password_stdin: bool,
    },
    /// Delete an account with its sessions, tokens and linked identities.
    Delete {
        /// Username, email or user id.
        who: String,
    },
}

impl Cli {
    fn settings(&self, bind: Option<String>, issuer: Option<String>) -> anyhow::Result<Settings> {
        let providers = providers_from_env(std::env::vars());
        let set = [
            ("bind", "PORTCULLIS_BIND", "--bind", bind.is_some()),
            (
                "metrics_bind",
                "PORTCULLIS_METRICS_BIND",
                "--metrics-bind",
                self.metrics_bind.is_some(),
            ),
            (
                "database_url",
                "PORTCULLIS_DATABASE_URL",
                "--database",
                self.database_url.is_some(),
            ),
            ("issuer", "PORTCULLIS_ISSUER", "--issuer", issuer.is_some()),
            (
                "key_encryption_key",
                "PORTCULLIS_KEY_ENCRYPTION_KEY",
                "--key-encryption-key",
                self.key_encryption_key.is_some(),
            ),
            (
                "log_format",
                "PORTCULLIS_LOG_FORMAT",
                "--log-format",
                self.log_format.is_some(),
            ),
            (
                "tls_cert_file",
                "PORTCULLIS_TLS_CERT_FILE",
                "--tls-cert-file",
                self.tls_cert_file.is_some(),
            ),
            (
                "tls_key_file",
                "PORTCULLIS_TLS_KEY_FILE",
                "--tls-key-file",
                self.tls_key_file.is_some(),
            ),
            (
                "github.client_id",
                "PORTCULLIS_GITHUB_CLIENT_ID",
                "--github-client-id",
                self.github.github_client_id.is_some(),
            ),
            (
                "github.client_secret",
                "PORTCULLIS_GITHUB_CLIENT_SECRET",
                "--github-client-secret",
                self.github.github_client_secret.is_some(),
            ),
            (
                "github.web_url",
                "PORTCULLIS_GITHUB_WEB_URL",
                "--github-web-url",
                self.github.github_web_url.is_some(),
            ),
            (
                "github.api_url",
                "PORTCULLIS_GITHUB_API_URL",
                "--github-api-url",
                self.github.github_api_url.is_some(),
            ),
        ];
        // clap merges a flag and its variable: the variable is the origin
        // when it is set, the flag otherwise.
        let mut origins: Vec<(String, String)> = set
            .iter()
            .filter(|(_, _, _, present)| *present)
            .map(|(name, var, flag, _)| {
                let origin = if std::env::var_os(var).is_some() {
                    format!("environment {var}")
                } else {
                    format!("flag {flag}")
                };
                ((*name).to_owned(), origin)
            })
            .collect();
        for (name, provider) in &providers {
            let var = name.to_uppercase().replace('-', "_");
            for (field, suffix, present) in [
                ("issuer", "ISSUER", provider.issuer.is_some()),
                ("client_id", "CLIENT_ID", provider.client_id.is_some()),
                (
                    "client_secret",
                    "CLIENT_SECRET",
                    provider.client_secret.is_some(),
                ),
                (
                    "display_name",
                    "DISPLAY_NAME",
                    provider.display_name.is_some(),
                ),
            ] {
                if present {
                    origins.push((
                        format!("providers.{name}.{field}"),
                        format!("environment PORTCULLIS_PROVIDER_{var}_{suffix}"),
                    ));
                }
            }
        }
        Settings::load(
            self.config.as_deref(),
            Overrides {
                origins,
                bind,
                metrics_bind: self.metrics_bind.clone(),
                database_url: self.database_url.clone(),
                issuer,
                key_encryption_key: self.key_encryption_key.clone(),
                github: crate::settings::GitHubFile {
                    client_id: self.github.github_client_id.clone(),
                    client_secret: self.github.github_client_secret.clone(),
                    web_url: self.github.github_web_url.clone(),
                    api_url: self.github.github_api_url.clone(),
                    scope: None,
                },
                providers,
                log_format: self.log_format,
                tls_cert_file: self.tls_cert_file.clone(),
                tls_key_file: self.tls_key_file.clone(),
            },
        )
    }

    /// How to log: the settings' `log_format`, or text when the settings do
    /// not load (the command then reports why).
    pub fn log_format(&self) -> crate::logging::LogFormat {
        self.settings(None, None)
            .map(|s| s.log_format)
            .unwrap_or_default()
    }
}

/// A report as indented `key: value` lines.
fn print_report(indent: &str, value: &serde_json::Value) {
    let Some(fields) = value.as_object() else {
        return;
    };
    for (key, value) in fields {
        match value {
            serde_json::Value::Object(_) => {
                println!("{indent}{key}:");
                print_report(&format!("{indent}  "), value);
            }
            serde_json::Value::String(s) => println!("{indent}{key}: {s}"),
            other => println!("{indent}{key}: {other}"),
        }
    }
}

/// `PORTCULLIS_PROVIDER_NAME_FIELD` variables: the provider `name` (lower
/// case, `_` read as `-`) and one of its fields.
fn providers_from_env(
    vars: impl Iterator<Item = (String, String)>,
) -> std::collections::BTreeMap<String, crate::settings::ProviderFile> {
    let mut out = std::collections::BTreeMap::<String, crate::settings::ProviderFile>::new();
    for (key, value) in vars {
        let Some(rest) = key.strip_prefix("PORTCULLIS_PROVIDER_") else {
            continue;
        };
        for suffix in ["_CLIENT_SECRET", "_CLIENT_ID", "_ISSUER", "_DISPLAY_NAME"] {
            let Some(name) = rest.strip_suffix(suffix).filter(|n| !n.is_empty()) else {
                continue;
            };
            let entry = out
                .entry(name.to_lowercase().replace('_', "-"))
                .or_default();
            let slot = match suffix {
                "_CLIENT_SECRET" => &mut entry.client_secret,
                "_CLIENT_ID" => &mut entry.client_id,
                "_ISSUER" => &mut entry.issuer,
                _ => &mut entry.display_name,
            };
            *slot = Some(value);
            break;
        }
    }
    out
}

/// What a first start tells the operator to do next: the commands that
/// create the first client and the first user (the same flags `serve` got
/// apply, so they reach the same database).
fn first_start_hint(no_clients: bool, no_users: bool, issuer: &str) -> Option<String> {
    let mut steps = Vec::new();
    if no_clients {
        steps.push(
            "create a client: portcullis client create --name my-app --public \
             --redirect-uri http://127.0.0.1:3000/callback --scope openid",
        );
    }
    if no_users {
        steps.push(
            "create a user: printf '%s' 'a-long-password' | portcullis user create \
             --username alice --email alice@example.com --password-stdin",
        );
    }
    (!steps.is_empty()).then(|| {
        format!(
            "first start: {}; then sign in at {}/",
            steps.join("; "),
            issuer.trim_end_matches('/')
        )
    })
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = SystemClock;
    match &cli.command {
        Command::Serve { bind, issuer } => {
            let settings = cli.settings(bind.clone(), issuer.clone())?;
            let app = Application::build(&settings, Arc::new(clock)).await?;
            tracing::info!(
                issuer = %settings.issuer,
                database = %redact(&settings.database_url),
                metrics = %settings.metrics_bind,
                "portcullis is listening on {}",
                settings.bind
            );
            // The seed APIs' own clients, made at start-up, do not count.
            let own = [
                &settings.key_secret_client_id,
                &settings.external_login_client_id,
            ];
            let no_clients = ClientRepository::list(&app.services.database)
                .await?
                .iter()
                .all(|c| own.iter().any(|id| id.as_deref() == Some(c.id.as_str())));
            let no_users = UserRepository::list(&app.services.database)
                .await?
                .is_empty();
            if let Some(hint) = first_start_hint(no_clients, no_users, &settings.issuer) {
                tracing::info!("{hint}");
            }
            app.run().await?;
            Ok(())
        }
        Command::Config(ConfigCommand::Check { bind, issuer, json }) => {
            let settings = cli.settings(bind.clone(), issuer.clone())?;
            let report = settings.report();
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report("", &report);
            }
            Ok(())
        }
        Command::Migrate => {
            let settings = cli.settings(None, None)?;
            let database = auth_store::Database::open(&settings.database_url, 1).await?;
            println!("migrations applied to {}", redact(&settings.database_url));
            // Rows that break a rule added since they were written are
            // reported, never changed behind the operator's back.
            for c in database.login_name_conflicts().await? {
                println!(
                    "conflict: account {} cannot sign in as {:?}: that name belongs to account {}",
                    c.user_id, c.name, c.held_by
                );
            }
            for c in database.look_alike_names().await? {
                println!(
                    "look-alike: account {}'s name {} looks like a name of account {}; it \
                     still signs in, and no new name may look like either",
                    c.user_id, c.name, c.held_by
                );
            }
            Ok(())
        }
        Command::Client(cmd) => {
            let services = Services::open(&cli.settings(None, None)?, &clock).await?;
            client(cmd, &services, &clock).await
        }
        Command::User(cmd) => {
            let services = Services::open(&cli.settings(None, None)?, &clock).await?;
            user(cmd, &services, &clock).await
        }
        Command::Keys(cmd) => {
            let settings = cli.settings(None, None)?;
            let services = Services::open(&settings, &clock).await?;
            keys(cmd, &services, &settings, &clock).await
        }
        Command::Sessions(SessionsCommand::Revoke { user, json }) => {
            let services = Services::open(&cli.settings(None, None)?, &clock).await?;
            let (account, ended) = end_user_sessions(&services.tokens, user, clock.now())
                .await?
                .with_context(|| format!("no account is named {user:?}"))?;
            tracing::warn!(target: "security", event = "sessions_revoked", user_id = %account.id, ended, "an operator signed an account out everywhere: sessions, refresh and access tokens");
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"user_id": account.id.to_string(), "sessions_ended": ended})
                );
            } else {
                println!("{}: {ended} sessions ended", account.id);
            }
            Ok(())
        }
    }
}

fn client_id(raw: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(raw).with_context(|| format!("invalid client id {raw:?}"))
}

fn redirect_uris(raw: &[String], flag: &str) -> anyhow::Result<Vec<RedirectUri>> {
    raw.iter()
        .map(|u| RedirectUri::parse(u).with_context(|| format!("invalid {flag} {u}")))
        .collect()
}

fn grant_types(raw: &[String]) -> anyhow::Result<Vec<GrantType>> {
    raw.iter()
        .map(|g| GrantType::from_operator(g).with_context(|| format!("invalid --grant-type {g}")))
        .collect()
}

fn dialects(raw: &[String]) -> anyhow::Result<Vec<Dialect>> {
    raw.iter()
        .map(|d| {
            Dialect::parse(d).with_context(|| {
                format!(
                    "invalid --dialect {d} (redirect-login, pkce-json, key-secret or spring-oauth)"
                )
            })
        })
        .collect()
}

fn audiences(raw: &[String]) -> anyhow::Result<Vec<ClientId>> {
    raw.iter()
        .map(|a| ClientId::parse(a).with_context(|| format!("invalid --audience {a:?}")))
        .collect()
}

/// `--allowed-origin` values: none given, or `derived`, is `None` (the
/// redirect URIs' origins).
fn allowed_origins(raw: &[String]) -> anyhow::Result<Option<Vec<auth_core::types::WebOrigin>>> {
    if raw.is_empty() || raw == ["derived"] {
        return Ok(None);
    }
    raw.iter()
        .map(|o| auth_core::types::WebOrigin::parse(o).context("invalid --allowed-origin"))
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}

fn refresh_mode(raw: &str) -> anyhow::Result<RefreshMode> {
    RefreshMode::parse(raw)
        .with_context(|| format!("invalid --refresh-mode {raw} (rotate or reuse)"))
}

fn token_format(raw: &str) -> anyhow::Result<TokenFormat> {
    TokenFormat::parse(raw)
        .with_context(|| format!("invalid --token-format {raw} (paseto, reference or jwt)"))
}

/// Reads a password from standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<Password> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.strip_suffix('\n').unwrap_or(&password);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(Password::parse(password)?)
}

async fn client(cmd: &ClientCommand, services: &Services, clock: &dyn Clock) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create(args) => {
            let spec = ClientSpec {
                id: args.id.as_deref().map(client_id).transpose()?,
                name: args.name.clone(),
                public: args.public,
                redirect_uris: redirect_uris(&args.redirect_uris, "--redirect-uri")?,
                post_logout_redirect_uris: redirect_uris(
                    &args.post_logout_redirect_uris,
                    "--post-logout-redirect-uri",
                )?,
                grant_types: grant_types(&args.grant_types)?,
                scope: Scope::parse(&args.scopes.join(" ")).context("invalid --scope")?,
                access_token_ttl: args
                    .access_token_ttl
                    .map(|s| LifetimeRange::ACCESS_TOKEN.seconds(s))
                    .transpose()
                    .context("invalid --access-token-ttl")?,
                refresh_mode: args.refresh_mode.as_deref().map(refresh_mode).transpose()?,
                first_party: args.first_party,
                dialects: dialects(&args.dialects)?
                    .into_iter()
                    .chain(args.legacy_token_redirect.then_some(Dialect::RedirectLogin))
                    .collect(),
                allow_plain_pkce: args.allow_plain_pkce,
                id_token_algorithm: args.id_token_algorithm,
                token_format: token_format(&args.token_format)?,
                bare_native_schemes: args.bare_native_scheme,
                audiences: audiences(&args.audiences)?,
                allowed_origins: allowed_origins(&args.allowed_origins)?,
            };
            let (client, secret) = register_client(&services.tokens, spec, clock.now()).await?;
            let secret = secret.map(|s| s.into_inner());
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": client.id.as_str(), "client_secret": secret})
                );
            } else {
                println!("client_id: {}", client.id);
                match secret {
                    Some(s) => {
                        println!("client_secret: {s}\n(shown once; only its digest is stored)")
                    }
                    None => println!("public client: no secret"),
                }
            }
            Ok(())
        }
        ClientCommand::Update(args) => {
            let id = client_id(&args.client_id)?;
            let current = services
                .tokens
                .client(&id)
                .await?
                .with_context(|| format!("no client has the id {id}"))?;
            let mut spec = ClientSpec::of(&current);
            if let Some(name) = &args.name {
                spec.name = name.clone();
            }
            if !args.redirect_uris.is_empty() {
                spec.redirect_uris = redirect_uris(&args.redirect_uris, "--redirect-uri")?;
            }
            if !args.post_logout_redirect_uris.is_empty() {
                spec.post_logout_redirect_uris = redirect_uris(
                    &args.post_logout_redirect_uris,
                    "--post-logout-redirect-uri",
                )?;
            }
            if !args.grant_types.is_empty() {
                spec.grant_types = grant_types(&args.grant_types)?;
            }
            if !args.scopes.is_empty() {
                spec.scope = Scope::parse(&args.scopes.join(" ")).context("invalid --scope")?;
            }
            if let Some(ttl) = args.access_token_ttl {
                spec.access_token_ttl = Some(
                    LifetimeRange::ACCESS_TOKEN
                        .seconds(ttl)
                        .context("invalid --access-token-ttl")?,
                );
            }
            if let Some(mode) = &args.refresh_mode {
                spec.refresh_mode = Some(refresh_mode(mode)?);
            }
            if let Some(first_party) = args.first_party {
                spec.first_party = first_party;
            }
            if !args.dialects.is_empty() {
                spec.dialects = dialects(&args.dialects)?;
            }
            if let Some(format) = &args.token_format {
                spec.token_format = token_format(format)?;
            }
            if !args.audiences.is_empty() {
                spec.audiences = audiences(&args.audiences)?;
            }
            if !args.allowed_origins.is_empty() {
                spec.allowed_origins = allowed_origins(&args.allowed_origins)?;
            }
            spec.bare_native_schemes = args.bare_native_scheme;
            let client = update_client(&services.tokens, &id, spec)
                .await?
                .with_context(|| format!("no client has the id {id}"))?;
            tracing::warn!(target: "security", event = "client_updated", client_id = %client.id, "an operator changed a client");
            if args.json {
                println!("{}", client_json(&client));
            } else {
                println!("{} updated", client.id);
            }
            Ok(())
        }
        ClientCommand::Delete {
            client_id: raw,
            json,
        } => {
            let id = client_id(raw)?;
            if !delete_client(&services.tokens, &id).await? {
                anyhow::bail!("no client has the id {id}");
            }
            tracing::warn!(target: "security", event = "client_deleted", client_id = %id, "an operator deleted a client");
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": id.as_str(), "deleted": true})
                );
            } else {
                println!("{id} deleted");
            }
            Ok(())
        }
        ClientCommand::RotateSecret {
            client_id: raw,
            json,
        } => {
            let id = client_id(raw)?;
            let secret = rotate_client_secret(&services.tokens, &id)
                .await?
                .with_context(|| format!("no client has the id {id}"))?
                .into_inner();
            tracing::warn!(target: "security", event = "client_secret_rotated", client_id = %id, "an operator rotated a client secret");
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": id.as_str(), "client_secret": secret})
                );
            } else {
                println!(
                    "client_id: {id}\nclient_secret: {secret}\n(shown once; the old secret no longer works)"
                );
            }
            Ok(())
        }
        ClientCommand::List { json } => {
            let clients = ClientRepository::list(&services.database).await?;
            for c in clients {
                let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
                if *json {
                    println!("{}", client_json(&c));
                } else {
                    let kind = if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    };
                    println!(
                        "{}\t{}\t{kind}\t{}\t{}",
                        c.id,
                        c.name,
                        grants.join(","),
                        c.scope
                    );
                }
            }
            Ok(())
        }
    }
}

async fn user(cmd: &UserCommand, services: &Services, clock: &dyn Clock) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            username,
            email,
            given_name,
            family_name,
            password_stdin: _,
        } => {
            let spec = UserSpec {
                username: Username::parse(username)?,
                email: email.as_deref().map(Email::parse).transpose()?,
                password: password_from_stdin()?,
                given_name: given_name.clone(),
                family_name: family_name.clone(),
            };
            let user = register_user(&services.tokens, spec, clock.now()).await?;
            println!("user_id: {}", user.id);
            Ok(())
        }
        UserCommand::Show { who, json } => {
            let user = find_user(&services.tokens, who)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            let links = services.federation.links_of(user.id).await?;
            let shown = serde_json::json!({
                "id": user.id.to_string(),
                "username": user.username.as_str(),
                "email": user.email.as_ref().map(|e| e.as_str()),
                "given_name": user.given_name,
                "family_name": user.family_name,
                "disabled": user.disabled,
                "has_password": user.password_hash.is_some(),
                "created_at": user.created_at.to_rfc3339(),
                "linked_identities": links.iter().map(|l| serde_json::json!({
                    "provider": l.provider.as_str(), "subject": l.subject.as_str(),
                    "linked_at": l.created_at.to_rfc3339(),
                })).collect::<Vec<_>>(),
            });
            if *json {
                println!("{shown}");
            } else {
                print_report("", &shown);
            }
            Ok(())
        }
        UserCommand::SetPassword {
            who,
            password_stdin: _,
        } => {
            let password = password_from_stdin()?;
            let user = set_user_password(&services.tokens, who, &password, clock.now())
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            tracing::warn!(target: "security", event = "password_set", user_id = %user.id, "an operator set an account's password");
            println!(
                "{}: password set; its sessions and refresh tokens ended",
                user.id
            );
            Ok(())
        }
        UserCommand::Delete { who } => {
            let user = delete_user(&services.tokens, who)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            tracing::warn!(target: "security", event = "account_deleted", user_id = %user.id, "an operator deleted an account");
            println!("{} deleted", user.id);
            Ok(())
        }
        UserCommand::List { json } => {
            for u in UserRepository::list(&services.database).await? {
                let email = u.email.as_ref().map(|e| e.as_str()).unwrap_or("");
                if *json {
                    println!(
                        "{}",
                        serde_json::json!({"id": u.id.to_string(), "username": u.username.as_str(), "email": email, "disabled": u.disabled})
                    );
                } else {
                    println!(
                        "{}\t{}\t{email}\t{}",
                        u.id,
                        u.username,
                        if u.disabled { "disabled" } else { "active" }
                    );
                }
            }
            Ok(())
        }
        UserCommand::Disable { who } | UserCommand::Enable { who } => {
            let disable = matches!(cmd, UserCommand::Disable { .. });
            let user = set_user_disabled(&services.tokens, who, disable, clock.now())
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            let (event, done) = if disable {
                ("account_disabled", "disabled")
            } else {
                ("account_enabled", "enabled")
            };
            tracing::warn!(target: "security", event, user_id = %user.id, "an operator {done} an account");
            println!("{} {done}", user.id);
            Ok(())
        }
    }
}

/// A client's registration as `client list --json` and `client update
/// --json` print it (never its secret's digest).
fn client_json(c: &auth_core::types::Client) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.id.as_str(), "name": c.name, "public": c.is_public(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scope.to_string(),
        "redirect_uris": c.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "post_logout_redirect_uris": c.post_logout_redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "first_party": c.first_party,
        "legacy_token_redirect": c.speaks(Dialect::RedirectLogin),
        "dialects": c.dialects.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "allow_plain_pkce": c.allow_plain_pkce,
        "id_token_algorithm": c.id_token_algorithm.as_str(),
        "access_token_ttl": c.access_token_ttl.map(|d| d.num_seconds()),
        "refresh_mode": c.refresh_mode.map(|m| m.as_str()),
        "token_format": c.token_format.as_str(),
        "audiences": c.audiences.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "allowed_origins": match &c.allowed_origins {
            Some(all) => serde_json::json!(all.iter().map(|o| o.as_str()).collect::<Vec<_>>()),
            None => serde_json::json!("derived from the redirect URIs"),
        },
    })
}

async fn keys(
    cmd: &KeysCommand,
    services: &Services,
    settings: &Settings,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let now = clock.now();
    match cmd {
        KeysCommand::Rotate {
            now: at_once,
            algorithm,
        } => {
            let delay = if *at_once {
                chrono::Duration::zero()
            } else {
                settings.key_activation_delay
            };
            let algorithms = match algorithm {
                Some(one) => vec![*one],
                None => auth_core::types::KeyAlgorithm::ALL.to_vec(),
            };
            for algorithm in algorithms {
                let key = services.rotate_key(algorithm, now, delay).await?;
                println!(
                    "key_id: {}\nalgorithm: {algorithm}\nsigns from: {}",
                    key.key_id,
                    key.activates_at.to_rfc3339()
                );
            }
            Ok(())
        }
        KeysCommand::List { json } => {
            let keys = auth_core::ports::KeyRepository::list(&services.database).await?;
            // The newest active key of each algorithm signs.
            let signers: Vec<String> = auth_core::types::KeyAlgorithm::ALL
                .into_iter()
                .filter_map(|a| {
                    keys.iter()
                        .find(|k| k.algorithm == a && k.is_active(now))
                        .map(|k| k.key_id.clone())
                })
                .collect();
            for k in keys {
                let status = if signers.contains(&k.key_id) {
                    "signing"
                } else if k.is_active(now) {
                    "retired"
                } else {
                    "pending"
                };
                if *json {
                    println!(
                        "{}",
                        serde_json::json!({"key_id": k.key_id, "algorithm": k.algorithm.as_str(), "status": status, "created_at": k.created_at.to_rfc3339(), "activates_at": k.activates_at.to_rfc3339()})
                    );
                } else {
                    println!(
                        "{}\t{}\t{status}\t{}",
                        k.key_id,
                        k.algorithm,
                        k.activates_at.to_rfc3339()
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Prune => {
            for id in services.prune_keys(now).await? {
                println!("deleted {id}");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_come_from_the_environment_by_name_and_field() {
        let vars = [
            ("PORTCULLIS_PROVIDER_CORP_SSO_CLIENT_ID", "id"),
            ("PORTCULLIS_PROVIDER_CORP_SSO_CLIENT_SECRET", "secret"),
            ("PORTCULLIS_PROVIDER_GITLAB_ISSUER", "https://gitlab.com"),
            ("PORTCULLIS_PROVIDER_GITLAB_DISPLAY_NAME", "GitLab"),
            ("PORTCULLIS_PROVIDER__CLIENT_ID", "no name"),
            ("PORTCULLIS_PROVIDER_X_UNKNOWN", "ignored"),
            ("PORTCULLIS_BIND", "ignored"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let found = providers_from_env(vars.into_iter());
        assert_eq!(found.keys().collect::<Vec<_>>(), ["corp-sso", "gitlab"]);
        assert_eq!(found["corp-sso"].client_id.as_deref(), Some("id"));
        assert_eq!(found["corp-sso"].client_secret.as_deref(), Some("secret"));
        assert_eq!(
            found["gitlab"].issuer.as_deref(),
            Some("https://gitlab.com")
        );
        assert_eq!(found["gitlab"].display_name.as_deref(), Some("GitLab"));
    }
}
