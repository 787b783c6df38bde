//! The command line: `serve`, `migrate`, `config check`, and one module per
//! command group (`client`, `user`, `keys`, `sessions`), each with its
//! arguments and its handler.
mod client;
mod group;
mod keys;
mod mail;
mod sessions;
mod user;

use client::ClientCommand;
use group::GroupCommand;
use keys::KeysCommand;
use sessions::SessionsCommand;
use user::UserCommand;

use std::path::PathBuf;
use std::sync::Arc;

use auth_core::ports::{ClientRepository, UserRepository};
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
    #[command(flatten)]
    smtp: SmtpArgs,
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

/// The mail server, from the environment (or flags); each overrides the
/// settings file's `[smtp]`.
#[derive(Debug, Args)]
struct SmtpArgs {
    #[arg(long, global = true, env = "PORTCULLIS_SMTP_URL", hide = true)]
    smtp_url: Option<String>,
    #[arg(long, global = true, env = "PORTCULLIS_SMTP_FROM", hide = true)]
    smtp_from: Option<String>,
    #[arg(long, global = true, env = "PORTCULLIS_SMTP_USERNAME", hide = true)]
    smtp_username: Option<String>,
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_SMTP_PASSWORD",
        hide_env_values = true,
        hide = true
    )]
    smtp_password: Option<String>,
    #[arg(long, global = true, env = "PORTCULLIS_SMTP_CA_FILE", hide = true)]
    smtp_ca_file: Option<PathBuf>,
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
    /// Manage groups and their members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect the settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage browser sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Check the mail server.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Send one test message now, through the configured `[smtp]` server,
    /// and print the server's answer (non-zero exit when it refused).
    Test {
        /// The recipient.
        #[arg(long)]
        to: String,
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
            (
                "smtp.url",
                "PORTCULLIS_SMTP_URL",
                "--smtp-url",
                self.smtp.smtp_url.is_some(),
            ),
            (
                "smtp.from",
                "PORTCULLIS_SMTP_FROM",
                "--smtp-from",
                self.smtp.smtp_from.is_some(),
            ),
            (
                "smtp.username",
                "PORTCULLIS_SMTP_USERNAME",
                "--smtp-username",
                self.smtp.smtp_username.is_some(),
            ),
            (
                "smtp.password",
                "PORTCULLIS_SMTP_PASSWORD",
                "--smtp-password",
                self.smtp.smtp_password.is_some(),
            ),
            (
                "smtp.ca_file",
                "PORTCULLIS_SMTP_CA_FILE",
                "--smtp-ca-file",
                self.smtp.smtp_ca_file.is_some(),
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
                smtp: crate::settings::SmtpFile {
                    url: self.smtp.smtp_url.clone(),
                    from: self.smtp.smtp_from.clone(),
                    username: self.smtp.smtp_username.clone(),
                    password: self.smtp.smtp_password.clone(),
                    ca_file: self.smtp.smtp_ca_file.clone(),
                    timeout_secs: None,
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
            client::run(cmd, &services, &clock).await
        }
        Command::User(cmd) => {
            let services = Services::open(&cli.settings(None, None)?, &clock).await?;
            user::run(cmd, &services, &clock).await
        }
        Command::Group(cmd) => {
            let services = Services::open(&cli.settings(None, None)?, &clock).await?;
            group::run(cmd, &services, &clock).await
        }
        Command::Keys(cmd) => {
            let settings = cli.settings(None, None)?;
            let services = Services::open(&settings, &clock).await?;
            keys::run(cmd, &services, &settings, &clock).await
        }
        Command::Sessions(cmd) => {
            let services = Services::open(&cli.settings(None, None)?, &clock).await?;
            sessions::run(cmd, &services, &clock).await
        }
        Command::Mail(MailCommand::Test { to }) => {
            let services = Services::open(&cli.settings(None, None)?, &clock).await?;
            mail::test(&services, to).await
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
