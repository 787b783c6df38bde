//! Settings: built-in defaults, then a TOML file, then `PORTCULLIS_*`
//! environment variables (and command-line flags), each overriding the last.
use std::path::{Path, PathBuf};

use crate::logging::LogFormat;
use crate::tls::TlsFiles;

use anyhow::Context as _;
use auth_core::TokenPolicy;
use auth_core::throttle::{ThrottlePolicy, Throttles};
use auth_core::types::LifetimeRange;
use auth_crypto::HashCost;
use chrono::Duration;
use serde::Deserialize;

/// `[dialects]`: which seed APIs to serve; each key defaults to `true`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectSettings {
    /// Seed 000.
    pub redirect_login: Option<bool>,
    /// Seed 001.
    pub pkce_json: Option<bool>,
    /// Seed 002 (also off when `key_secret_client_id` is empty).
    pub key_secret: Option<bool>,
    /// Seed 004.
    pub spring_oauth: Option<bool>,
    /// Seed 003: off unless turned on (it turns a provider's token into
    /// one of ours, `docs/federation.md` says why that is the operator's
    /// choice); also off when no GitHub app is configured, or when
    /// `external_login_client_id` is empty.
    pub external_login: Option<bool>,
}

/// `[github]`: the GitHub OAuth app users sign in through.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubFile {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Default `https://github.com` (GitHub Enterprise: its own URL).
    pub web_url: Option<String>,
    /// Default `https://api.github.com` (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// Default `read:user user:email`.
    pub scope: Option<String>,
}

/// `[smtp]`: the mail server letters leave through. Without it, every
/// feature that needs mail is off.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpFile {
    /// `smtps://host[:port]`, `smtp://host[:port]` (STARTTLS required), or
    /// `smtp://host:port?tls=none` to a loopback host.
    pub url: Option<String>,
    /// The sender: `Name <address>` or an address.
    pub from: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// A PEM file of extra trusted root certificates (a private CA).
    pub ca_file: Option<PathBuf>,
    /// How long one SMTP conversation may take (default 30).
    pub timeout_secs: Option<u64>,
}

/// `[providers.NAME]`: an OpenID provider people sign in through.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    /// The button's label (default: the name).
    pub display_name: Option<String>,
    /// Its issuer identifier; its endpoints are discovered from it.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Default `openid email profile`.
    pub scope: Option<String>,
    /// Any endpoint given here is used instead of discovery's.
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub introspection_endpoint: Option<String>,
}

/// The settings file, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub bind: Option<String>,
    /// The operations listener (`/metrics`, `/healthz`, `/readyz`).
    pub metrics_bind: Option<String>,
    pub database_url: Option<String>,
    pub issuer: Option<String>,
    pub pool_size: Option<usize>,
    pub workers: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_token_ttl_secs: Option<i64>,
    pub refresh_family_lifetime_secs: Option<i64>,
    /// Failed logins allowed per account within `login_window_secs`.
    pub login_max_attempts: Option<u32>,
    pub login_window_secs: Option<i64>,
    /// Wrong device user codes allowed per user within `device_code_window_secs`.
    pub device_code_max_attempts: Option<u32>,
    pub device_code_window_secs: Option<i64>,
    /// Self-service registrations per client address, and in total, within
    /// `registration_window_secs`.
    pub registration_max_per_address: Option<u32>,
    pub registration_max_total: Option<u32>,
    pub registration_window_secs: Option<i64>,
    /// Seed 003's calls that ask GitHub or store a flow, per client
    /// address within `external_login_window_secs`.
    pub external_login_max_per_address: Option<u32>,
    pub external_login_window_secs: Option<i64>,
    pub refresh_grace_secs: Option<i64>,
    pub session_lifetime_secs: Option<i64>,
    pub session_idle_secs: Option<i64>,
    pub min_password_length: Option<usize>,
    /// Who may create their own account: `open` (the default) or `closed`.
    pub registration: Option<String>,
    /// When set, only addresses at these email domains may self-register.
    pub registration_domains: Option<Vec<String>>,
    /// `optional` (the default: each client decides) or `required` (every
    /// browser sign-in uses two factors).
    pub mfa: Option<String>,
    /// The WebAuthn relying-party id: a parent domain of the issuer's host,
    /// so passkeys work on every site under it (default: the issuer's host).
    pub passkey_rp_id: Option<String>,
    /// Wrong second factors allowed per account within
    /// `second_factor_window_secs`.
    pub second_factor_max_attempts: Option<u32>,
    pub second_factor_window_secs: Option<i64>,
    /// The client seed 002's key/secret API acts for; an empty string turns
    /// the API off.
    pub key_secret_client_id: Option<String>,
    /// Which seed APIs to serve (`[dialects]`); each defaults to on.
    pub dialects: Option<DialectSettings>,
    /// The key-encryption key (a `k4.local.` PASERK) sealing signing keys.
    pub key_encryption_key: Option<String>,
    /// Where the generated key-encryption key lives when none is configured.
    pub key_file: Option<std::path::PathBuf>,
    /// How often each node re-reads the signing keys.
    pub key_reload_secs: Option<u64>,
    /// How long a rotated-in key is published before it signs.
    pub key_activation_delay_secs: Option<i64>,
    /// How often expired rows are deleted.
    pub sweep_interval_secs: Option<u64>,
    pub password_hash: Option<HashSettings>,
    /// The GitHub OAuth app (`[github]`).
    pub github: Option<GitHubFile>,
    /// The mail server (`[smtp]`).
    pub smtp: Option<SmtpFile>,
    /// Password recovery requests per client address, and per login name,
    /// within `recovery_window_secs`.
    pub recovery_max_per_address: Option<u32>,
    pub recovery_max_per_name: Option<u32>,
    pub recovery_window_secs: Option<i64>,
    /// OpenID providers by name (`[providers.NAME]`).
    pub providers: Option<std::collections::BTreeMap<String, ProviderFile>>,
    /// The client seed 003's external login API acts for; an empty string
    /// turns the API off.
    pub external_login_client_id: Option<String>,
    /// Where seed 003's web flow may send the browser after the callback
    /// (its `redirect` parameter), set on the API's client when it is
    /// created.
    pub external_login_redirect_uris: Option<Vec<String>>,
    /// How long `POST /login/oauth2/device/complete` waits for the person.
    pub upstream_device_wait_secs: Option<u64>,
    /// The deadline of every call to an upstream provider.
    pub upstream_timeout_secs: Option<u64>,
    /// `text` (default) or `json`.
    pub log_format: Option<LogFormat>,
    /// `[scopes]`: what each custom scope lets a client do, in words the
    /// consent page shows (`read = "Read your photos"`).
    pub scopes: Option<std::collections::BTreeMap<String, String>>,
    /// Serve HTTPS with this PEM certificate chain and `tls_key_file`.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// How often the certificate files are checked for a change.
    pub tls_reload_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[scopes]`'s descriptions for the consent page.
    pub scope_descriptions: std::collections::BTreeMap<String, String>,
    pub bind: String,
    /// The operations listener: `/metrics`, `/healthz`, `/readyz`.
    pub metrics_bind: String,
    pub database_url: String,
    pub issuer: String,
    pub pool_size: usize,
    /// HTTP worker threads; `None` lets actix use one per core.
    pub workers: Option<usize>,
    pub max_body_bytes: usize,
    pub policy: TokenPolicy,
    pub throttles: Throttles,
    pub hash_cost: HashCost,
    /// The shortest password the hosted registration page accepts.
    pub min_password_length: usize,
    /// Who may create their own account (the hosted page and the seed APIs).
    pub registration: auth_core::accounts::RegistrationPolicy,
    /// Whether every browser sign-in needs two factors.
    pub mfa: auth_core::factors::MfaPolicy,
    /// The WebAuthn relying-party id, when not the issuer's host.
    pub passkey_rp_id: Option<String>,
    /// The client seed 002's key/secret API acts for, if enabled.
    pub key_secret_client_id: Option<String>,
    /// The other seed APIs switched on.
    pub dialects: auth_http::Dialects,
    pub key_encryption_key: Option<String>,
    pub key_file: std::path::PathBuf,
    pub key_reload: std::time::Duration,
    pub key_activation_delay: Duration,
    pub sweep_interval: std::time::Duration,
    /// The GitHub OAuth app, when configured.
    pub github: Option<GitHubSettings>,
    /// The mail server, when configured.
    pub smtp: Option<auth_mail::SmtpSettings>,
    /// The OpenID providers configured, by name.
    pub oidc_providers: Vec<(auth_core::types::ProviderName, OidcSettings)>,
    /// The client seed 003's external login API acts for, if enabled.
    pub external_login_client_id: Option<String>,
    pub external_login_redirect_uris: Vec<String>,
    pub upstream_device_wait: Duration,
    pub upstream_timeout: std::time::Duration,
    pub log_format: LogFormat,
    /// HTTPS served by the node itself, when configured.
    pub tls: Option<TlsFiles>,
    pub tls_reload: std::time::Duration,
    /// Where each setting that is not a built-in default came from, by name
    /// (`github.client_id`), as [`Settings::load`] found them.
    pub sources: std::collections::BTreeMap<String, String>,
}

/// A configured GitHub OAuth app.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    pub client_id: String,
    pub client_secret: auth_core::types::OpaqueToken,
    pub web_url: url::Url,
    pub api_url: url::Url,
    pub scope: String,
}

/// A configured OpenID provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: auth_core::types::OpaqueToken,
    pub scope: String,
    pub authorization_endpoint: Option<url::Url>,
    pub token_endpoint: Option<url::Url>,
    pub userinfo_endpoint: Option<url::Url>,
    pub jwks_uri: Option<url::Url>,
    pub introspection_endpoint: Option<url::Url>,
}

/// github.com's endpoints, the defaults.
pub const GITHUB_WEB_URL: &str = "https://github.com";
pub const GITHUB_API_URL: &str = "https://api.github.com";
pub const DEFAULT_EXTERNAL_LOGIN_CLIENT: &str = "external-login-api";

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Where `/metrics` is served: the loopback interface, off the public
/// listener (it tells the world the traffic per route).
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9464";

/// A listening address must be an IP address and a port: a name would be
/// resolved, and could listen somewhere unexpected.
fn socket_address(value: &str, name: &str) -> anyhow::Result<()> {
    value
        .parse::<std::net::SocketAddr>()
        .map(|_| ())
        .with_context(|| {
            format!("invalid {name} {value:?}: an IP address and a port, like 127.0.0.1:8080")
        })
}

/// The issuer is the `iss` of every token and the base of every URL we
/// publish: an absolute http(s) URL with a host, no query, no fragment.
fn check_issuer(issuer: &str) -> anyhow::Result<()> {
    let bad = |why: &str| anyhow::anyhow!("invalid issuer {issuer:?}: {why}");
    let url = url::Url::parse(issuer).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("it must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() || issuer.contains(['?', '#']) {
        return Err(bad("it may have no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it may hold no user name or password"));
    }
    Ok(())
}
pub const DEFAULT_DATABASE_URL: &str = "sqlite://portcullis.db";
/// Database connections per node. More than a few per core only adds
/// PostgreSQL backends competing for the CPU (measured on 2 cores: 8 and 16
/// gave the same throughput, but 16 had introspection's slowest requests at
/// 200 ms instead of 16 ms).
pub const DEFAULT_POOL_SIZE: usize = 8;
pub const DEFAULT_KEY_SECRET_CLIENT: &str = "key-secret-api";

/// Overrides from the environment or the command line; `None` defers to the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    /// `PORTCULLIS_METRICS_BIND`.
    pub metrics_bind: Option<String>,
    pub database_url: Option<String>,
    pub issuer: Option<String>,
    pub key_encryption_key: Option<String>,
    /// `PORTCULLIS_GITHUB_*`.
    pub github: GitHubFile,
    /// `PORTCULLIS_SMTP_*`.
    pub smtp: SmtpFile,
    /// `PORTCULLIS_PROVIDER_NAME_{ISSUER,CLIENT_ID,CLIENT_SECRET,DISPLAY_NAME}`.
    pub providers: std::collections::BTreeMap<String, ProviderFile>,
    pub log_format: Option<LogFormat>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Where each set override came from, by setting name
    /// (`"bind"` → `"environment PORTCULLIS_BIND"`), for `config check`.
    pub origins: Vec<(String, String)>,
}

impl Settings {
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        let mut sources = std::collections::BTreeMap::new();
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read settings file {}", path.display()))?;
                let table: toml::Table = toml::from_str(&text)
                    .with_context(|| format!("settings file {} is not valid", path.display()))?;
                let origin = format!("file {}", path.display());
                for key in keys_of(&table, "") {
                    sources.insert(key, origin.clone());
                }
                table
                    .try_into()
                    .with_context(|| format!("settings file {} is not valid", path.display()))?
            }
            None => FileSettings::default(),
        };
        // What the environment or a flag set wins over the file.
        sources.extend(overrides.origins.iter().cloned());
        let mut settings = Self::resolve(from_file, overrides)?;
        settings.sources = sources;
        Ok(settings)
    }

    pub fn resolve(file: FileSettings, overrides: Overrides) -> anyhow::Result<Self> {
        let bind = overrides
            .bind
            .or(file.bind)
            .unwrap_or_else(|| DEFAULT_BIND.into());
        let tls = match (
            overrides.tls_cert_file.or(file.tls_cert_file),
            overrides.tls_key_file.or(file.tls_key_file),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => anyhow::bail!("tls_cert_file and tls_key_file go together: set both or neither"),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        socket_address(&bind, "bind")?;
        let metrics_bind = overrides
            .metrics_bind
            .or(file.metrics_bind)
            .unwrap_or_else(|| DEFAULT_METRICS_BIND.into());
        socket_address(&metrics_bind, "metrics_bind")?;
        let issuer = overrides
            .issuer
            .or(file.issuer)
            .unwrap_or_else(|| format!("{scheme}://{bind}"));
        check_issuer(&issuer)?;
        let passkey_rp_id = passkey_rp_id(&issuer, file.passkey_rp_id.as_deref())?;
        let dialects = file.dialects.clone().unwrap_or_default();
        let defaults = TokenPolicy::default();
        let secs = |v: Option<i64>, d: Duration, range: LifetimeRange, name: &str| {
            v.map_or(Ok(d), |s| range.seconds(s))
                .with_context(|| format!("invalid {name}"))
        };
        let policy = TokenPolicy {
            access_token_ttl: secs(
                file.access_token_ttl_secs,
                defaults.access_token_ttl,
                LifetimeRange::ACCESS_TOKEN,
                "access_token_ttl_secs",
            )?,
            refresh_token_ttl: secs(
                file.refresh_token_ttl_secs,
                defaults.refresh_token_ttl,
                LifetimeRange::REFRESH_TOKEN,
                "refresh_token_ttl_secs",
            )?,
            refresh_family_lifetime: secs(
                file.refresh_family_lifetime_secs,
                defaults.refresh_family_lifetime,
                LifetimeRange::REFRESH_FAMILY,
                "refresh_family_lifetime_secs",
            )?,
            refresh_grace: secs(
                file.refresh_grace_secs,
                defaults.refresh_grace,
                LifetimeRange::REFRESH_GRACE,
                "refresh_grace_secs",
            )?,
            session_lifetime: secs(
                file.session_lifetime_secs,
                defaults.session_lifetime,
                LifetimeRange::SESSION,
                "session_lifetime_secs",
            )?,
            session_idle_timeout: secs(
                file.session_idle_secs,
                defaults.session_idle_timeout,
                LifetimeRange::SESSION,
                "session_idle_secs",
            )?,
            ..defaults
        };
        let hash_cost = match file.password_hash {
            None => HashCost::OWASP,
            // Beyond these a single hash would take seconds or gigabytes.
            Some(h) => HashCost {
                memory_kib: bounded(Some(h.memory_kib), 0, 8..=4 * 1024 * 1024, "memory_kib")?,
                iterations: bounded(Some(h.iterations), 0, 1..=64, "iterations")?,
                parallelism: bounded(Some(h.parallelism), 0, 1..=64, "parallelism")?,
            },
        };
        let database_url = overrides
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let registration_window = secs(
            file.registration_window_secs,
            Duration::hours(1),
            LifetimeRange::THROTTLE_WINDOW,
            "registration_window_secs",
        )?;
        let key_reload_secs = bounded(file.key_reload_secs, 30, 1..=86_400, "key_reload_secs")?;
        let domains = file.registration_domains.clone().unwrap_or_default();
        let registration = match file.registration.as_deref().unwrap_or("open") {
            "open" => auth_core::accounts::RegistrationPolicy::open_to(&domains)
                .map_err(|e| anyhow::anyhow!("registration_domains: {e}"))?,
            closed @ ("closed" | "invite") => {
                anyhow::ensure!(
                    domains.is_empty(),
                    "registration_domains applies only when registration is \"open\""
                );
                if closed == "invite" {
                    auth_core::accounts::RegistrationPolicy::InviteOnly
                } else {
                    auth_core::accounts::RegistrationPolicy::Closed
                }
            }
            other => anyhow::bail!(
                "registration must be \"open\", \"invite\" or \"closed\"; {other:?} is not"
            ),
        };
        let mfa = match file.mfa.as_deref().unwrap_or("optional") {
            "optional" => auth_core::factors::MfaPolicy::Optional,
            "required" => auth_core::factors::MfaPolicy::Required,
            other => anyhow::bail!("mfa must be \"optional\" or \"required\"; {other:?} is not"),
        };
        let github = github_settings(file.github.clone().unwrap_or_default(), overrides.github)?;
        let smtp = smtp_settings(file.smtp.clone().unwrap_or_default(), overrides.smtp)?;
        let recovery_window = secs(
            file.recovery_window_secs,
            Duration::hours(1),
            LifetimeRange::THROTTLE_WINDOW,
            "recovery_window_secs",
        )?;
        let oidc_providers = oidc_settings(
            file.providers.clone().unwrap_or_default(),
            overrides.providers,
        )?;
        let scope_descriptions = file.scopes.clone().unwrap_or_default();
        for (scope, description) in &scope_descriptions {
            auth_core::types::Scope::parse(scope)
                .ok()
                .filter(|s| s.iter().count() == 1)
                .with_context(|| format!("[scopes]: {scope:?} is not one scope token"))?;
            anyhow::ensure!(
                (1..=200).contains(&description.chars().count()),
                "[scopes]: the description of {scope:?} must be 1 to 200 characters"
            );
        }
        Ok(Self {
            scope_descriptions,
            bind,
            metrics_bind,
            database_url: database_url.clone(),
            issuer,
            pool_size: bounded(file.pool_size, DEFAULT_POOL_SIZE, 1..=256, "pool_size")?,
            workers: file
                .workers
                .map(|w| bounded(Some(w), w, 1..=256, "workers"))
                .transpose()?,
            max_body_bytes: bounded(
                file.max_body_bytes,
                16 * 1024,
                1024..=1024 * 1024,
                "max_body_bytes",
            )?,
            policy,
            throttles: Throttles {
                login: ThrottlePolicy {
                    max_attempts: bounded(
                        file.login_max_attempts,
                        5,
                        1..=1_000,
                        "login_max_attempts",
                    )?,
                    window: secs(
                        file.login_window_secs,
                        Duration::minutes(15),
                        LifetimeRange::THROTTLE_WINDOW,
                        "login_window_secs",
                    )?,
                },
                device_code: ThrottlePolicy {
                    max_attempts: bounded(
                        file.device_code_max_attempts,
                        5,
                        1..=1_000,
                        "device_code_max_attempts",
                    )?,
                    window: secs(
                        file.device_code_window_secs,
                        Duration::minutes(15),
                        LifetimeRange::THROTTLE_WINDOW,
                        "device_code_window_secs",
                    )?,
                },
                registration_per_address: ThrottlePolicy {
                    max_attempts: bounded(
                        file.registration_max_per_address,
                        10,
                        1..=1_000_000,
                        "registration_max_per_address",
                    )?,
                    window: registration_window,
                },
                registration_total: ThrottlePolicy {
                    max_attempts: bounded(
                        file.registration_max_total,
                        1_000,
                        1..=1_000_000,
                        "registration_max_total",
                    )?,
                    window: registration_window,
                },
                upstream_per_address: ThrottlePolicy {
                    max_attempts: bounded(
                        file.external_login_max_per_address,
                        30,
                        1..=1_000_000,
                        "external_login_max_per_address",
                    )?,
                    window: secs(
                        file.external_login_window_secs,
                        Duration::minutes(10),
                        LifetimeRange::THROTTLE_WINDOW,
                        "external_login_window_secs",
                    )?,
                },
                recovery_per_address: ThrottlePolicy {
                    max_attempts: bounded(
                        file.recovery_max_per_address,
                        10,
                        1..=1_000_000,
                        "recovery_max_per_address",
                    )?,
                    window: recovery_window,
                },
                recovery_per_name: ThrottlePolicy {
                    max_attempts: bounded(
                        file.recovery_max_per_name,
                        3,
                        1..=1_000,
                        "recovery_max_per_name",
                    )?,
                    window: recovery_window,
                },
                second_factor: ThrottlePolicy {
                    max_attempts: bounded(
                        file.second_factor_max_attempts,
                        5,
                        1..=1_000,
                        "second_factor_max_attempts",
                    )?,
                    window: secs(
                        file.second_factor_window_secs,
                        Duration::minutes(15),
                        LifetimeRange::THROTTLE_WINDOW,
                        "second_factor_window_secs",
                    )?,
                },
            },
            mfa,
            passkey_rp_id,
            hash_cost,
            registration,
            min_password_length: bounded(
                file.min_password_length,
                8,
                1..=auth_core::types::Password::MAX_BYTES,
                "min_password_length",
            )?,
            key_secret_client_id: match (file.key_secret_client_id, dialects.key_secret) {
                (_, Some(false)) => None,
                (Some(id), _) if id.is_empty() => None,
                (Some(id), _) => Some(id),
                (None, _) => Some(DEFAULT_KEY_SECRET_CLIENT.into()),
            },
            dialects: auth_http::Dialects {
                redirect_login: dialects.redirect_login.unwrap_or(true),
                pkce_json: dialects.pkce_json.unwrap_or(true),
                spring_oauth: dialects.spring_oauth.unwrap_or(true),
                external_login: dialects.external_login == Some(true) && github.is_some(),
            },
            external_login_client_id: match (
                file.external_login_client_id,
                dialects.external_login,
                &github,
            ) {
                (_, Some(false) | None, _) | (_, _, None) => None,
                (Some(id), _, _) if id.is_empty() => None,
                (Some(id), _, _) => Some(id),
                (None, _, _) => Some(DEFAULT_EXTERNAL_LOGIN_CLIENT.into()),
            },
            github,
            smtp,
            oidc_providers,
            external_login_redirect_uris: file.external_login_redirect_uris.unwrap_or_default(),
            upstream_device_wait: Duration::seconds(bounded(
                file.upstream_device_wait_secs,
                25,
                1..=900,
                "upstream_device_wait_secs",
            )? as i64),
            upstream_timeout: std::time::Duration::from_secs(bounded(
                file.upstream_timeout_secs,
                10,
                1..=120,
                "upstream_timeout_secs",
            )?),
            key_encryption_key: overrides.key_encryption_key.or(file.key_encryption_key),
            key_file: file
                .key_file
                .unwrap_or_else(|| default_key_file(&database_url)),
            key_reload: std::time::Duration::from_secs(key_reload_secs),
            // Long enough for every node to reload twice and for a resource
            // server's cached key set (max-age 300 s) to expire.
            key_activation_delay: secs(
                file.key_activation_delay_secs,
                // At most 2 × 86,400 + 300: no overflow.
                Duration::seconds(2 * key_reload_secs as i64 + 300),
                LifetimeRange::KEY_ACTIVATION_DELAY,
                "key_activation_delay_secs",
            )?,
            sweep_interval: std::time::Duration::from_secs(bounded(
                file.sweep_interval_secs,
                300,
                1..=7 * 86_400,
                "sweep_interval_secs",
            )?),
            log_format: overrides.log_format.or(file.log_format).unwrap_or_default(),
            tls,
            sources: Default::default(),
            tls_reload: std::time::Duration::from_secs(bounded(
                file.tls_reload_secs,
                60,
                1..=86_400,
                "tls_reload_secs",
            )?),
        })
    }
}

impl Settings {
    /// What is configured, for `portcullis config check`: every secret as
    /// `"set"` or `"not set"`, never its value.
    pub fn report(&self) -> serde_json::Value {
        use serde_json::json;
        let set = |present: bool| if present { "set" } else { "not set" };
        let providers: serde_json::Map<String, serde_json::Value> = self
            .oidc_providers
            .iter()
            .map(|(name, p)| {
                (
                    name.to_string(),
                    json!({
                        "display_name": p.display_name,
                        "issuer": p.issuer,
                        "client_id": p.client_id,
                        "client_secret": set(!p.client_secret.expose().is_empty()),
                        "scope": p.scope,
                        "endpoints": if p.authorization_endpoint.is_some() || p.token_endpoint.is_some() || p.jwks_uri.is_some() {
                            "partly configured, the rest discovered"
                        } else {
                            "discovered from the issuer"
                        },
                    }),
                )
            })
            .collect();
        json!({
            "bind": self.bind,
            "metrics_bind": self.metrics_bind,
            "issuer": self.issuer,
            "database": crate::startup::redact(&self.database_url),
            "key_encryption_key": if self.key_encryption_key.is_some() {
                "set".to_owned()
            } else {
                format!("from the key file {}", self.key_file.display())
            },
            "mfa": match self.mfa {
                auth_core::factors::MfaPolicy::Optional => "optional",
                auth_core::factors::MfaPolicy::Required => "required",
            },
            "passkey_rp_id": self.passkey_rp_id.clone().map_or(json!("the issuer's host"), |d| json!(d)),
            "dialects": {
                "redirect_login": self.dialects.redirect_login,
                "pkce_json": self.dialects.pkce_json,
                "key_secret": self.key_secret_client_id.clone().map_or(json!(false), |id| json!({ "client": id })),
                "spring_oauth": self.dialects.spring_oauth,
                "external_login": self.external_login_client_id.clone().map_or(json!(false), |id| json!({ "client": id })),
            },
            "github": self.github.as_ref().map_or(json!("not configured"), |g| json!({
                "client_id": g.client_id,
                "client_secret": set(!g.client_secret.expose().is_empty()),
                "web_url": g.web_url.as_str(),
                "api_url": g.api_url.as_str(),
                "scope": g.scope,
            })),
            "providers": providers,
            "smtp": self.smtp.as_ref().map_or(json!("not configured: mail is off"), |m| json!({
                "url": m.url,
                "from": m.from,
                "username": m.username,
                "password": set(m.password.is_some()),
                "ca_file": set(m.ca_pem.is_some()),
                "timeout_secs": m.timeout.as_secs(),
            })),
            "log_format": self.log_format.as_str(),
            // Names and origins only, never values.
            "sources": self.sources.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "everything else": "built-in default",
            "tls": self.tls.as_ref().map_or(json!("off: plain HTTP"), |t| json!({
                "cert_file": t.cert.display().to_string(),
                "key_file": t.key.display().to_string(),
                "reload_check_secs": self.tls_reload.as_secs(),
            })),
        })
    }
}

/// The dotted names of every value in a settings table
/// (`providers.corp.issuer`).
fn keys_of(table: &toml::Table, prefix: &str) -> Vec<String> {
    table
        .iter()
        .flat_map(|(key, value)| {
            let name = format!("{prefix}{key}");
            match value {
                toml::Value::Table(inner) => keys_of(inner, &format!("{name}.")),
                _ => vec![name],
            }
        })
        .collect()
}

/// The mail server from the file and the environment (which wins), if a
/// URL is set; the sender must be set with it, and the URL and sender must
/// be usable, so a mistake fails at start-up, not at the first letter.
fn smtp_settings(file: SmtpFile, env: SmtpFile) -> anyhow::Result<Option<auth_mail::SmtpSettings>> {
    let pick = |env: Option<String>, file: Option<String>| env.or(file).filter(|v| !v.is_empty());
    let Some(url) = pick(env.url, file.url) else {
        anyhow::ensure!(
            env.from.is_none() && file.from.is_none(),
            "smtp.from is set but smtp.url is not"
        );
        return Ok(None);
    };
    let from = pick(env.from, file.from)
        .context("smtp.url is set but smtp.from (the sender's address) is not")?;
    let username = pick(env.username, file.username);
    let password = pick(env.password, file.password);
    anyhow::ensure!(
        username.is_some() == password.is_some(),
        "smtp.username and smtp.password go together: set both or neither"
    );
    let ca_pem = env
        .ca_file
        .or(file.ca_file)
        .map(|path| {
            std::fs::read(&path)
                .with_context(|| format!("cannot read smtp.ca_file {}", path.display()))
        })
        .transpose()?;
    let timeout = std::time::Duration::from_secs(bounded(
        env.timeout_secs.or(file.timeout_secs),
        30,
        1..=600,
        "smtp.timeout_secs",
    )?);
    let settings = auth_mail::SmtpSettings {
        url,
        from,
        username,
        password,
        ca_pem,
        timeout,
    };
    // A bad URL, sender or certificate is refused now, not at the first
    // letter (settings load outside any runtime: nothing is started).
    auth_mail::SmtpMailer::check(&settings)?;
    Ok(Some(settings))
}

/// The GitHub app from the file and the environment (which wins), if it
/// has an id and a secret; one without the other is an error, not a
/// silently missing button.
fn github_settings(file: GitHubFile, env: GitHubFile) -> anyhow::Result<Option<GitHubSettings>> {
    let pick = |env: Option<String>, file: Option<String>| env.or(file).filter(|v| !v.is_empty());
    let id = pick(env.client_id, file.client_id);
    let secret = pick(env.client_secret, file.client_secret);
    let (client_id, client_secret) = match (id, secret) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id, secret),
        (Some(_), None) => anyhow::bail!("the GitHub client id is set but its secret is not"),
        (None, Some(_)) => anyhow::bail!("the GitHub client secret is set but its id is not"),
    };
    let url = |value: Option<String>, default: &str, name: &str| -> anyhow::Result<url::Url> {
        let raw = value.unwrap_or_else(|| default.to_owned());
        let parsed =
            url::Url::parse(&raw).with_context(|| format!("invalid GitHub {name} {raw:?}"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "https" | "http") && parsed.host().is_some(),
            "invalid GitHub {name} {raw:?}: an http(s) URL is needed"
        );
        Ok(parsed)
    };
    Ok(Some(GitHubSettings {
        client_id,
        client_secret: auth_core::types::OpaqueToken::new(client_secret),
        web_url: url(pick(env.web_url, file.web_url), GITHUB_WEB_URL, "web URL")?,
        api_url: url(pick(env.api_url, file.api_url), GITHUB_API_URL, "API URL")?,
        scope: pick(env.scope, file.scope)
            .unwrap_or_else(|| auth_federation::GITHUB_DEFAULT_SCOPE.to_owned()),
    }))
}

/// The OpenID providers of the file and the environment (which wins,
/// field by field).
fn oidc_settings(
    mut file: std::collections::BTreeMap<String, ProviderFile>,
    env: std::collections::BTreeMap<String, ProviderFile>,
) -> anyhow::Result<Vec<(auth_core::types::ProviderName, OidcSettings)>> {
    for (name, from_env) in env {
        let entry = file.entry(name).or_default();
        let take = |env: Option<String>, file: &mut Option<String>| {
            if env.is_some() {
                *file = env;
            }
        };
        take(from_env.issuer, &mut entry.issuer);
        take(from_env.client_id, &mut entry.client_id);
        take(from_env.client_secret, &mut entry.client_secret);
        take(from_env.display_name, &mut entry.display_name);
    }
    let endpoint =
        |name: &str, what: &str, raw: Option<String>| -> anyhow::Result<Option<url::Url>> {
            raw.map(|raw| {
                let url = url::Url::parse(&raw)
                    .with_context(|| format!("provider {name}: invalid {what} {raw:?}"))?;
                anyhow::ensure!(
                    matches!(url.scheme(), "https" | "http") && url.host().is_some(),
                    "provider {name}: {what} must be an http(s) URL"
                );
                Ok(url)
            })
            .transpose()
        };
    let mut out = Vec::new();
    for (name, p) in file {
        let parsed = auth_core::types::ProviderName::parse(&name)
            .with_context(|| format!("invalid provider name {name:?}"))?;
        anyhow::ensure!(
            name != "github",
            "the provider name github is GitHub's ([github]); name this one otherwise"
        );
        let need = |v: Option<String>, what: &str| {
            v.filter(|v| !v.is_empty())
                .with_context(|| format!("provider {name}: {what} is not set"))
        };
        let issuer = need(p.issuer, "issuer")?;
        endpoint(&name, "issuer", Some(issuer.clone()))?;
        out.push((
            parsed,
            OidcSettings {
                display_name: p.display_name.unwrap_or_else(|| name.clone()),
                issuer,
                client_id: need(p.client_id, "client_id")?,
                client_secret: auth_core::types::OpaqueToken::new(need(
                    p.client_secret,
                    "client_secret",
                )?),
                scope: p.scope.unwrap_or_else(|| "openid email profile".into()),
                authorization_endpoint: endpoint(
                    &name,
                    "authorization_endpoint",
                    p.authorization_endpoint,
                )?,
                token_endpoint: endpoint(&name, "token_endpoint", p.token_endpoint)?,
                userinfo_endpoint: endpoint(&name, "userinfo_endpoint", p.userinfo_endpoint)?,
                jwks_uri: endpoint(&name, "jwks_uri", p.jwks_uri)?,
                introspection_endpoint: endpoint(
                    &name,
                    "introspection_endpoint",
                    p.introspection_endpoint,
                )?,
            },
        ));
    }
    Ok(out)
}

/// A size or count from the settings file, refused outside its range.
fn bounded<T>(
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    name: &str,
) -> anyhow::Result<T>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    let v = value.unwrap_or(default);
    anyhow::ensure!(
        range.contains(&v),
        "{name} must be between {} and {}; {v} is not",
        range.start(),
        range.end()
    );
    Ok(v)
}

/// Beside the SQLite file, else in the working directory.
fn default_key_file(database_url: &str) -> std::path::PathBuf {
    match database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        Some(path) if !path.is_empty() => std::path::PathBuf::from(format!("{path}.kek")),
        _ => std::path::PathBuf::from("portcullis.kek"),
    }
}

/// `passkey_rp_id`, where set: a parent domain of the issuer's host, which
/// WebAuthn takes as the relying party (refused here, so that `config
/// check` says so and `serve` does not start with passkeys that no browser
/// would use).
fn passkey_rp_id(issuer: &str, rp_id: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(rp_id) = rp_id.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    auth_passkeys::WebauthnPasskeys::new(issuer, "Portcullis", Some(rp_id), &[])
        .with_context(|| format!("passkey_rp_id {rp_id:?} does not fit the issuer {issuer}"))?;
    Ok(Some(rp_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layering() {
        let file: FileSettings = toml::from_str(
            "bind = \"0.0.0.0:9000\"\ndatabase_url = \"sqlite://x.db\"\naccess_token_ttl_secs = 60\n",
        )
        .unwrap();
        let s = Settings::resolve(
            file,
            Overrides {
                database_url: Some("postgres://h/db".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(s.issuer, "http://0.0.0.0:9000");
        assert_eq!(s.database_url, "postgres://h/db");
        assert_eq!(s.policy.access_token_ttl, Duration::seconds(60));
        let d = Settings::resolve(FileSettings::default(), Overrides::default()).unwrap();
        assert_eq!(d.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(d.hash_cost, HashCost::OWASP);
        assert!(toml::from_str::<FileSettings>("nonsense = 1").is_err());
    }

    #[test]
    fn github_from_the_file_and_the_environment() {
        let file: FileSettings =
            toml::from_str("[github]\nclient_id = \"from-file\"\nclient_secret = \"s3cret\"\n")
                .unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        let github = s.github.as_ref().unwrap();
        assert_eq!(github.client_id, "from-file");
        assert_eq!(github.web_url.as_str(), "https://github.com/");
        assert_eq!(github.api_url.as_str(), "https://api.github.com/");
        // Seed 003's token exchange stays off until the operator turns it on.
        assert!(!s.dialects.external_login);
        assert_eq!(s.external_login_client_id, None);
        let file: FileSettings = toml::from_str(
            "[dialects]\nexternal_login = true\n[github]\nclient_id = \"from-file\"\nclient_secret = \"s3cret\"\n",
        )
        .unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert!(s.dialects.external_login);
        assert_eq!(
            s.external_login_client_id.as_deref(),
            Some(DEFAULT_EXTERNAL_LOGIN_CLIENT)
        );
        // The secret never shows in a debug print.
        assert!(!format!("{s:?}").contains("s3cret"));
        // The environment wins, field by field.
        let env = Overrides {
            github: GitHubFile {
                client_id: Some("from-env".into()),
                web_url: Some("http://127.0.0.1:9999".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let file: FileSettings =
            toml::from_str("[github]\nclient_id = \"f\"\nclient_secret = \"s\"\n").unwrap();
        let s = Settings::resolve(file, env).unwrap();
        let github = s.github.unwrap();
        assert_eq!(github.client_id, "from-env");
        assert_eq!(github.web_url.as_str(), "http://127.0.0.1:9999/");
        // Half a registration, or a URL that is not one, is an error.
        for bad in [
            "[github]\nclient_id = \"x\"\n",
            "[github]\nclient_secret = \"x\"\n",
            "[github]\nclient_id = \"x\"\nclient_secret = \"y\"\napi_url = \"ftp://h\"\n",
            "[github]\nclient_id = \"x\"\nclient_secret = \"y\"\nweb_url = \"not a url\"\n",
        ] {
            let file: FileSettings = toml::from_str(bad).unwrap();
            assert!(
                Settings::resolve(file, Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_issuer_is_an_absolute_http_url_and_binds_are_socket_addresses() {
        let with = |toml_text: &str| {
            let file: FileSettings = toml::from_str(toml_text).unwrap();
            Settings::resolve(file, Overrides::default())
        };
        for good in [
            "issuer = \"https://id.example.com\"",
            "issuer = \"http://127.0.0.1:8080/base\"",
            "bind = \"[::1]:8080\"",
            "metrics_bind = \"0.0.0.0:9464\"",
        ] {
            assert!(with(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("issuer = \"id.example.com\"", "issuer"),
            ("issuer = \"ftp://id.example.com\"", "http or https"),
            ("issuer = \"https://id.example.com/?tenant=1\"", "query"),
            ("issuer = \"https://id.example.com/#x\"", "fragment"),
            ("issuer = \"https://user:pw@id.example.com\"", "user name"),
            ("bind = \"localhost:8080\"", "bind"),
            ("bind = \"127.0.0.1\"", "bind"),
            ("metrics_bind = \"metrics\"", "metrics_bind"),
        ] {
            let error = format!("{:#}", with(bad).unwrap_err());
            assert!(error.contains(says), "{bad}: {error}");
        }
        let s = with("").unwrap();
        assert_eq!(s.metrics_bind, DEFAULT_METRICS_BIND);
    }

    #[test]
    fn dialect_switches() {
        let d = Settings::resolve(FileSettings::default(), Overrides::default()).unwrap();
        // Seed 003 needs a GitHub app.
        assert_eq!(
            d.dialects,
            auth_http::Dialects {
                external_login: false,
                ..Default::default()
            }
        );
        assert_eq!(d.external_login_client_id, None);
        assert_eq!(
            d.key_secret_client_id.as_deref(),
            Some(DEFAULT_KEY_SECRET_CLIENT)
        );
        let file: FileSettings =
            toml::from_str("[dialects]\nspring_oauth = false\nkey_secret = false\n").unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert!(!s.dialects.spring_oauth);
        assert!(s.dialects.redirect_login && s.dialects.pkce_json);
        assert_eq!(s.key_secret_client_id, None);
        assert!(toml::from_str::<FileSettings>("[dialects]\nseed_003 = true\n").is_err());
    }

    #[test]
    fn lifetimes_and_sizes_are_bounded_with_a_named_refusal() {
        for (toml_text, name) in [
            (
                "access_token_ttl_secs = 9000000000000",
                "access_token_ttl_secs",
            ),
            ("access_token_ttl_secs = 0", "access_token_ttl_secs"),
            ("refresh_token_ttl_secs = -1", "refresh_token_ttl_secs"),
            ("refresh_grace_secs = 99999999", "refresh_grace_secs"),
            (
                "refresh_family_lifetime_secs = 10",
                "refresh_family_lifetime_secs",
            ),
            (
                "session_lifetime_secs = 9223372036854775807",
                "session_lifetime_secs",
            ),
            ("session_idle_secs = 1", "session_idle_secs"),
            (
                "key_activation_delay_secs = -9223372036854775808",
                "key_activation_delay_secs",
            ),
            ("key_reload_secs = 18446744073709551615", "key_reload_secs"),
            ("sweep_interval_secs = 0", "sweep_interval_secs"),
            ("pool_size = 0", "pool_size"),
            ("workers = 100000", "workers"),
            ("max_body_bytes = 1", "max_body_bytes"),
            ("min_password_length = 0", "min_password_length"),
            ("registration = \"invite-only\"", "registration"),
            (
                "registration_domains = [\"not a domain\"]",
                "registration_domains",
            ),
            (
                "registration = \"closed\"\nregistration_domains = [\"example.org\"]",
                "registration_domains",
            ),
            (
                "[password_hash]\nmemory_kib = 4294967295\niterations = 2\nparallelism = 1",
                "memory_kib",
            ),
            (
                "[password_hash]\nmemory_kib = 19456\niterations = 0\nparallelism = 1",
                "iterations",
            ),
        ] {
            let file: FileSettings = toml::from_str(toml_text).unwrap();
            let e = Settings::resolve(file, Overrides::default()).unwrap_err();
            assert!(format!("{e:#}").contains(name), "{toml_text}: {e:#}");
        }
    }
}
