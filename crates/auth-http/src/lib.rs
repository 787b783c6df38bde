//! The web layer: actix-web routes, extractors, the mapping of core errors to
//! HTTP, and the dialect modules that serve the seed APIs.
//!
//! It depends on `auth-core` only and receives adapters as trait objects
//! inside [`AppState`]; it knows nothing of Diesel, argon2 or pasetors.

mod account;
mod bearer;
mod body;
mod browser;
mod client_auth;
mod cors;
mod device;
mod dialects;
mod error;
mod flow;
mod health;
mod hosted;
mod introspection;
mod logout;
mod metadata;
mod metrics;
mod openapi;
mod pages;
mod security;
mod token;
mod upstream;
mod userinfo;

use std::sync::Arc;

use actix_web::web;
use auth_core::grants::TokenService;
use auth_core::ports::{Clock, Readiness};

pub use cors::cors;
pub use error::ApiError;
pub use metrics::{Metrics, measured};
pub use openapi::document as openapi_document;
pub use pages::{Pages, TemplateError};
pub use security::logged;

/// Limits on what a request may carry.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest request body accepted, in bytes; larger gets 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
        }
    }
}

/// Which seed APIs ("dialects") this server answers besides standard OAuth
/// 2.0; all on by default. Seed 002 (key/secret) is on when
/// [`AppState::key_secret_client`] names its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialects {
    /// Seed 000: redirect login at `GET /login`, JSON `POST /register
    /// {username, password}` and JSON `POST /token`.
    pub redirect_login: bool,
    /// Seed 001: `POST /sign-in`, JSON `POST /register` with PKCE, `GET /token`.
    pub pkce_json: bool,
    /// Seed 004: `POST /oauth/token` and `GET /me/`.
    pub spring_oauth: bool,
    /// Seed 003: sign-in through GitHub at `/v1/oauth2`, `/v1/login/...`
    /// and `/login/oauth2/device/...` (served only when a provider and the
    /// API's client are configured too).
    pub external_login: bool,
}

impl Default for Dialects {
    fn default() -> Self {
        Self {
            redirect_login: true,
            pkce_json: true,
            spring_oauth: true,
            external_login: true,
        }
    }
}

/// Everything the handlers need, shared by all workers.
#[derive(Clone)]
pub struct AppState {
    pub tokens: TokenService,
    pub clock: Arc<dyn Clock>,
    pub readiness: Arc<dyn Readiness>,
    pub limits: Limits,
    pub pages: Arc<Pages>,
    /// Cookies get the `Secure` attribute (the issuer is https).
    pub secure_cookies: bool,
    /// The shortest password the hosted registration page accepts.
    pub min_password_length: usize,
    /// The client seed 002's key/secret API acts for; `None` turns it off.
    pub key_secret_client: Option<auth_core::types::ClientId>,
    /// What `GET /metrics` reports; recorded by [`measured`].
    pub metrics: Arc<Metrics>,
    /// The seed APIs switched on.
    pub dialects: Dialects,
    /// The upstream identity providers and the federation rules.
    pub federation: Arc<auth_core::federation::Federation>,
    /// The client seed 003's external login API acts for; `None` turns it off.
    pub external_login_client: Option<auth_core::types::ClientId>,
    /// How long `POST /login/oauth2/device/complete` waits for the person
    /// to finish at the provider before answering "not yet".
    pub upstream_device_wait: chrono::Duration,
    /// What the consent page says a scope lets a client do (`[scopes]`),
    /// besides the standard scopes' own words.
    pub scope_descriptions: Arc<std::collections::BTreeMap<String, String>>,
}

impl AppState {
    /// The issuer identifier as the metadata publishes it (no trailing
    /// slash); every response that names the issuer uses this one.
    pub(crate) fn issuer(&self) -> &str {
        self.tokens.issuer().trim_end_matches('/')
    }

    /// The account with `id`, if it exists.
    pub(crate) async fn user(
        &self,
        id: auth_core::types::UserId,
    ) -> Result<Option<auth_core::types::User>, ApiError> {
        Ok(self.tokens.user(id).await?)
    }
}

/// Headers every response carries. `Referrer-Policy: no-referrer`: a page
/// or redirect of ours never leaks its URL (with a code, a state or a
/// client's query) to the next site through `Referer`.
/// `X-Content-Type-Options: nosniff`: a browser takes every answer for the
/// type it says, never a JSON error for a script or a page. With `hsts`
/// (TLS served here, or an https issuer in front), `Strict-Transport-Security`
/// for a year: a browser that came once never speaks plain HTTP to us again.
pub fn default_headers(hsts: bool) -> actix_web::middleware::DefaultHeaders {
    use actix_web::http::header;
    let headers = actix_web::middleware::DefaultHeaders::new()
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if hsts {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    }
}

/// The operations listener's routes (`metrics_bind`, kept off the public
/// one): `GET /metrics`, `GET /healthz` and `GET /readyz`.
pub fn operations_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics::export)
        .service(health::live)
        .service(health::ready);
}

/// Registers every route of the standard endpoints and of the dialects
/// switched on in `dialects` (a switched-off dialect's own paths are not
/// routed at all: 404), and `GET /openapi.json` describing exactly those.
/// The caller adds `web::Data<AppState>` with the same `dialects`, which the
/// routes shared between dialects consult.
pub fn routes(cfg: &mut web::ServiceConfig, dialects: Dialects, key_secret: bool) {
    cfg.app_data(web::Data::new(openapi::Document::new(dialects, key_secret)));
    register(
        &mut utoipa_actix_web::service_config::ServiceConfig::new(cfg),
        dialects,
        key_secret,
    );
}

/// The routes, each through `service`, which takes only a handler with a
/// `#[utoipa::path]` description (see [`openapi`]).
fn register(
    cfg: &mut utoipa_actix_web::service_config::ServiceConfig,
    dialects: Dialects,
    key_secret: bool,
) {
    cfg.service(account::front_door)
        .service(account::account_page)
        .service(account::change_password)
        .service(account::end_session)
        .service(account::revoke_application)
        .service(account::unlink)
        .service(hosted::authorize)
        .service(hosted::authorize_post)
        .service(hosted::login_page)
        .service(hosted::login)
        .service(hosted::register_page)
        .service(dialects::register)
        .service(hosted::consent)
        .service(hosted::logout)
        .service(upstream::start)
        .service(upstream::link)
        .service(upstream::callback)
        .service(logout::end_session)
        .service(logout::end_session_post)
        .service(logout::confirm)
        .service(token::standard)
        .service(device::start)
        .service(device::page_get)
        .service(device::page_post)
        .service(introspection::introspect)
        .service(introspection::revoke)
        .service(userinfo::userinfo)
        .service(userinfo::userinfo_post)
        .service(userinfo::me)
        .service(metadata::authorization_server)
        .service(metadata::key_set)
        .service(metadata::openid_configuration)
        .service(metadata::jwks)
        .service(health::live)
        .service(health::ready)
        .service(openapi::serve);
    if dialects.pkce_json {
        cfg.service(dialects::pkce_json::sign_in)
            .service(dialects::pkce_json::token);
    }
    if key_secret {
        cfg.service(dialects::key_secret::authenticate)
            .service(dialects::key_secret::refresh);
    }
    if dialects.spring_oauth {
        cfg.service(token::spring).service(userinfo::me_slash);
    }
    if dialects.external_login {
        use dialects::external_login as seed003;
        cfg.service(seed003::exchange)
            .service(seed003::token_info)
            .service(seed003::device_start)
            .service(seed003::device_complete)
            .service(seed003::web_authorize)
            .service(seed003::web_callback)
            .service(seed003::web_confirm)
            .service(seed003::web_poll);
    }
}
