//! Wiring: opens the database, loads or makes the signing key, builds the
//! core service over the adapters, and binds the HTTP server.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use auth_core::RefreshMode;
use auth_core::accounts::{ClientSpec, RegistrationError, register_client};
use auth_core::federation::Federation;
use auth_core::mail::{Mailing, Postman};
use auth_core::ports::Ports;
use auth_core::ports::{ClientRepository, Clock, IdentityProvider, Sealer};
use auth_core::service::{Core, Roles};
use auth_core::types::{ClientId, Dialect, GrantType, ProviderName, Scope, TokenFormat};
use auth_crypto::{
    Argon2Hasher, JwsRing, JwtCodec, KeyRing, KeySealer, OsRandom, PasetoCodec, Sha256Digest,
};
use auth_federation::{Endpoints, GitHub, GitHubConfig, OidcConfig, OpenIdProvider, UpstreamHttp};
use auth_http::{AppState, Limits, Pages};
use auth_store::{CachedAccessTokens, CachedClients, Database};

use crate::settings::Settings;

/// The adapters, wired, without the HTTP server: what the CLI commands need.
pub struct Services {
    pub database: Database,
    /// Reference tokens remembered until revoked; `serve` runs its
    /// revocation listener.
    pub access_tokens: Arc<CachedAccessTokens>,
    /// The core's role services.
    pub roles: Roles,
    /// The adapters the core runs on. The binary wires them and may reach
    /// them (tests do, to check a token offline); the web layer gets only
    /// the core's operations.
    pub ports: Ports,
    pub ring: KeyRing,
    pub jws: JwsRing,
    pub sealer: Arc<KeySealer>,
    /// The upstream identity providers configured.
    pub federation: Arc<Federation>,
    /// The password hasher (also in `ports`), for `serve` to release its
    /// idle working memory.
    pub hasher: Argon2Hasher,
    /// The mail server's client, when `[smtp]` is configured.
    pub mailer: Option<Arc<auth_mail::SmtpMailer>>,
    /// Delivers the outbox through `mailer`; `serve` runs it.
    pub postman: Option<Arc<Postman>>,
}

impl Services {
    /// The services over an existing database (the operator's commands).
    pub async fn open(settings: &Settings, clock: &dyn Clock) -> anyhow::Result<Self> {
        let database = Database::open_existing(&settings.database_url, settings.pool_size)
            .await
            .with_context(|| format!("cannot open database {}", redact(&settings.database_url)))?;
        Self::over(database, settings, clock).await
    }

    /// The services over the database, created and migrated as needed
    /// (`serve`).
    pub async fn open_or_create(settings: &Settings, clock: &dyn Clock) -> anyhow::Result<Self> {
        let database = Database::open(&settings.database_url, settings.pool_size)
            .await
            .with_context(|| format!("cannot open database {}", redact(&settings.database_url)))?;
        Self::over(database, settings, clock).await
    }

    async fn over(
        database: Database,
        settings: &Settings,
        clock: &dyn Clock,
    ) -> anyhow::Result<Self> {
        let sealer = crate::keys::load_sealer(settings, &database).await?;
        let (ring, jws) = crate::keys::load_rings(&database, &sealer, clock).await?;
        let hasher =
            Argon2Hasher::new(settings.hash_cost).context("invalid password hash settings")?;
        let shared = Arc::new(database.clone());
        let access_tokens = Arc::new(CachedAccessTokens::new(shared.clone()));
        let ports = Ports {
            users: shared.clone(),
            // Client registrations change rarely and every token request
            // reads one: a five-second cache takes that query off the hot path.
            clients: Arc::new(CachedClients::new(
                shared.clone(),
                std::time::Duration::from_secs(5),
            )),
            tokens: access_tokens.clone(),
            codes: shared.clone(),
            devices: shared.clone(),
            sessions: shared.clone(),
            mail: shared.clone(),
            factors: shared.clone(),
            groups: shared.clone(),
            otp: Arc::new(auth_crypto::RfcTotp),
            throttles: shared,
            hasher: Arc::new(hasher.clone()),
            codec: Arc::new(PasetoCodec::new(ring.clone(), &settings.issuer)),
            id_tokens: Arc::new(jws.clone()),
            jwt: Arc::new(JwtCodec::new(jws.clone(), &settings.issuer)),
            digest: Arc::new(Sha256Digest),
            random: Arc::new(OsRandom),
        };
        let mailer = match &settings.smtp {
            Some(smtp) => {
                let letters = auth_mail::Letters::new("Portcullis", &settings.issuer)
                    .context("the mail templates")?;
                Some(Arc::new(auth_mail::SmtpMailer::new(smtp, letters)?))
            }
            None => None,
        };
        let mut core = Core::new(
            ports.clone(),
            settings.policy.clone(),
            settings.issuer.clone(),
        )
        .with_throttles(settings.throttles)
        .with_registration(settings.registration.clone())
        .with_second_factors(auth_core::factors::SecondFactors {
            sealer: Arc::new(sealer.session_sealer()?),
            passkeys: passkeys(settings)?,
            policy: settings.mfa,
        })
        .with_admin(auth_core::admin::AdminApi {
            sealer: Arc::new(sealer.session_sealer()?),
        });
        let mut postman = None;
        if let Some(mailer) = &mailer {
            // Letters carry links: sealed at rest, under a key of their own
            // derived from the key-encryption key.
            let letter_sealer: Arc<dyn Sealer> = Arc::new(sealer.session_sealer()?);
            core = core.with_mail(Mailing {
                sealer: letter_sealer.clone(),
            });
            postman = Some(Arc::new(Postman::new(
                Arc::new(database.clone()),
                letter_sealer,
                mailer.clone(),
            )));
        }
        let roles = core.into_roles();
        let federation = Arc::new(Federation::new(
            Arc::new(database.clone()),
            Arc::new(sealer.session_sealer()?),
            providers(settings)?,
        ));
        Ok(Self {
            database,
            access_tokens,
            roles,
            ports,
            ring,
            jws,
            sealer: Arc::new(sealer),
            federation,
            hasher,
            mailer,
            postman,
        })
    }
}

/// The WebAuthn relying party of the issuer. WebAuthn needs a domain name
/// (browsers refuse an IP address as a relying party): under an issuer
/// such as `http://127.0.0.1:8080` passkeys are off, and the log says why;
/// a `passkey_rp_id` that does not fit the issuer is an error.
fn passkeys(settings: &Settings) -> anyhow::Result<Option<Arc<dyn auth_core::ports::Passkeys>>> {
    match auth_passkeys::WebauthnPasskeys::new(
        &settings.issuer,
        "Portcullis",
        settings.passkey_rp_id.as_deref(),
        &[],
    ) {
        Ok(rp) => Ok(Some(Arc::new(rp))),
        Err(e) if settings.passkey_rp_id.is_some() => {
            Err(anyhow::Error::new(e).context("passkey_rp_id"))
        }
        Err(e) => {
            tracing::info!(
                issuer = %settings.issuer,
                reason = %e,
                "passkeys are off: WebAuthn needs an issuer with a domain name (localhost will do)"
            );
            Ok(None)
        }
    }
}

/// The upstream providers the settings configure, by name.
fn providers(
    settings: &Settings,
) -> anyhow::Result<Vec<(ProviderName, Arc<dyn IdentityProvider>)>> {
    let http = UpstreamHttp::new(auth_federation::Limits {
        timeout: settings.upstream_timeout,
        ..Default::default()
    })?;
    let mut providers: Vec<(ProviderName, Arc<dyn IdentityProvider>)> = Vec::new();
    if let Some(github) = &settings.github {
        let name = ProviderName::parse("github")?;
        let config = GitHubConfig {
            client_id: github.client_id.clone(),
            client_secret: github.client_secret.clone(),
            web_url: github.web_url.clone(),
            api_url: github.api_url.clone(),
            scope: github.scope.clone(),
        };
        providers.push((
            name.clone(),
            Arc::new(GitHub::new(name, config, http.clone())),
        ));
    }
    for (name, p) in &settings.oidc_providers {
        let config = OidcConfig {
            display_name: p.display_name.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            client_secret: p.client_secret.clone(),
            scope: p.scope.clone(),
            endpoints: Endpoints {
                authorization: p.authorization_endpoint.clone(),
                token: p.token_endpoint.clone(),
                userinfo: p.userinfo_endpoint.clone(),
                jwks: p.jwks_uri.clone(),
                introspection: p.introspection_endpoint.clone(),
            },
        };
        providers.push((
            name.clone(),
            Arc::new(OpenIdProvider::new(name.clone(), config, http.clone())),
        ));
    }
    Ok(providers)
}

/// Seed 002's requests name no client: they act for this one, created on
/// first start with the document's terms (one-hour access tokens, a refresh
/// token that stays the same).
async fn ensure_key_secret_client(
    services: &Services,
    id: &str,
    clock: &dyn Clock,
) -> anyhow::Result<ClientId> {
    let id = ClientId::parse(id).context("invalid key_secret_client_id")?;
    if services.database.find(&id).await?.is_none() {
        let spec = ClientSpec {
            id: Some(id.clone()),
            name: "Key/secret API (seed 002)".into(),
            public: true,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::Password, GrantType::RefreshToken],
            scope: Scope::default(),
            access_token_ttl: Some(chrono::Duration::hours(1)),
            refresh_mode: Some(RefreshMode::Reuse),
            first_party: true,
            dialects: vec![Dialect::KeySecret],
            allow_plain_pkce: false,
            id_token_algorithm: auth_core::types::KeyAlgorithm::Rs256,
            token_format: TokenFormat::Paseto,
            audiences: vec![],
            require_verified_email: false,
            allowed_groups: Vec::new(),
            admin: false,
            mfa: auth_core::types::ClientMfa::Optional,
            allowed_origins: None,
            bare_native_schemes: false,
        };
        match register_client(&services.roles.accounts, spec, clock.now()).await {
            Ok(_) => {
                tracing::info!(client_id = %id, "created the client of the key/secret API (seed 002)")
            }
            // Another node created it first.
            Err(RegistrationError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(client_id = %id, "the key/secret API (POST /authenticate, /refresh) acts for this client");
    Ok(id)
}

/// Seed 003's requests name no client: they act for this one, created on
/// first start: public, registered for the external-login dialect only,
/// issuing reference tokens (revocable, looked up by `GET /v1/login/token`).
async fn ensure_external_login_client(
    services: &Services,
    settings: &Settings,
    id: &str,
    clock: &dyn Clock,
) -> anyhow::Result<ClientId> {
    let id = ClientId::parse(id).context("invalid external_login_client_id")?;
    if services.database.find(&id).await?.is_none() {
        let redirect_uris = settings
            .external_login_redirect_uris
            .iter()
            .map(|u| auth_core::types::RedirectUri::parse(u))
            .collect::<Result<Vec<_>, _>>()
            .context("invalid external_login_redirect_uris")?;
        let spec = ClientSpec {
            id: Some(id.clone()),
            name: "External login API (seed 003)".into(),
            public: true,
            redirect_uris,
            post_logout_redirect_uris: vec![],
            grant_types: vec![],
            scope: Scope::default(),
            access_token_ttl: None,
            refresh_mode: None,
            first_party: true,
            dialects: vec![Dialect::ExternalLogin],
            allow_plain_pkce: false,
            id_token_algorithm: auth_core::types::KeyAlgorithm::Rs256,
            token_format: TokenFormat::Reference,
            audiences: vec![],
            require_verified_email: false,
            allowed_groups: Vec::new(),
            admin: false,
            mfa: auth_core::types::ClientMfa::Optional,
            allowed_origins: None,
            bare_native_schemes: false,
        };
        match register_client(&services.roles.accounts, spec, clock.now()).await {
            Ok(_) => {
                tracing::info!(client_id = %id, "created the client of the external login API (seed 003)")
            }
            Err(RegistrationError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(client_id = %id, "the external login API (/v1/oauth2, /v1/login/...) acts for this client");
    Ok(id)
}

/// Hides a password in a database URL before it reaches a log line.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A bound, not yet running, server.
pub struct Application {
    server: Server,
    operations: Server,
    port: u16,
    metrics_port: u16,
    pub services: Arc<Services>,
}

impl Application {
    /// Builds everything and binds `settings.bind` (port 0 picks a free port).
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let services = Arc::new(Services::open_or_create(settings, clock.as_ref()).await?);
        let key_secret_client = match &settings.key_secret_client_id {
            Some(id) => Some(ensure_key_secret_client(&services, id, clock.as_ref()).await?),
            None => None,
        };
        let external_login_client = match &settings.external_login_client_id {
            Some(id) => {
                Some(ensure_external_login_client(&services, settings, id, clock.as_ref()).await?)
            }
            None => None,
        };
        crate::background::reload_keys(services.clone(), settings.key_reload);
        crate::background::follow_revocations(services.clone());
        crate::background::checkpoint(services.clone(), std::time::Duration::from_secs(1));
        crate::background::release_hash_memory(
            services.clone(),
            std::time::Duration::from_secs(10),
        );
        let metrics = Arc::new(auth_http::Metrics::default());
        crate::background::sweep(
            services.clone(),
            clock.clone(),
            metrics.clone(),
            settings.sweep_interval,
            500,
        );
        if let Some(postman) = &services.postman {
            crate::background::deliver_mail(
                postman.clone(),
                clock.clone(),
                metrics.clone(),
                std::time::Duration::from_secs(1),
            );
        }
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            grants: services.roles.grants.clone(),
            sign_in: services.roles.sign_in.clone(),
            accounts: services.roles.accounts.clone(),
            clock,
            readiness: Arc::new(services.database.clone()),
            limits: Limits {
                max_body_bytes: settings.max_body_bytes,
            },
            pages: Arc::new(Pages::load()?),
            secure_cookies: settings.issuer.starts_with("https://"),
            min_password_length: settings.min_password_length,
            key_secret_client,
            metrics,
            dialects: settings.dialects,
            federation: services.federation.clone(),
            external_login_client,
            upstream_device_wait: settings.upstream_device_wait,
            scope_descriptions: Arc::new(settings.scope_descriptions.clone()),
        });
        let dialects = settings.dialects;
        let key_secret = state.key_secret_client.is_some();
        let hsts = settings.tls.is_some() || settings.issuer.starts_with("https://");
        // The operations listener: metrics are for the operator, not for
        // the world (they tell the traffic per route); its health routes
        // answer there too, for probes that stay inside.
        let operations = TcpListener::bind(&settings.metrics_bind).with_context(|| {
            format!("cannot listen on {} (metrics_bind)", settings.metrics_bind)
        })?;
        let metrics_port = operations.local_addr()?.port();
        let ops_state = state.clone();
        let operations = HttpServer::new(move || {
            App::new()
                .app_data(ops_state.clone())
                .wrap(auth_http::default_headers(false))
                .configure(auth_http::operations_routes)
        })
        .workers(1)
        .disable_signals()
        .listen(operations)?
        .run();
        let server = HttpServer::new(move || {
            let metrics = state.metrics.clone();
            App::new()
                .app_data(state.clone())
                .wrap_fn(auth_http::cors)
                .wrap_fn(move |req, service| auth_http::measured(metrics.clone(), req, service))
                .wrap_fn(auth_http::logged)
                .wrap(auth_http::default_headers(hsts))
                // Outermost: every line logged while a request is served,
                // by any layer, carries its id.
                .wrap_fn(auth_http::traced)
                .configure(|cfg| auth_http::routes(cfg, dialects, key_secret))
        });
        let mut server = match &settings.tls {
            Some(files) => server.listen_rustls_0_23(
                listener,
                crate::tls::server_config(files, settings.tls_reload)?,
            )?,
            None => server.listen(listener)?,
        };
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        // actix stops accepting on SIGINT/SIGTERM and lets requests in
        // flight finish for up to this long.
        let server = server.shutdown_timeout(10).run();
        Ok(Self {
            server,
            operations,
            port,
            metrics_port,
            services,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The operations listener's port (`/metrics`, `/healthz`, `/readyz`).
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// Serves until a shutdown signal; the operations listener stops with
    /// the public one.
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.operations.handle();
        let public = async {
            let served = self.server.await;
            handle.stop(true).await;
            served
        };
        let (served, _) = tokio::join!(public, self.operations);
        served
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://portcullis.db"), "sqlite://portcullis.db");
    }
}
