//! The state every handler shares: the core's services, the pages, the
//! limits and the switches. The ground floor of this crate: of the crate's
//! own it imports only leaf modules (the page renderer, the metrics, the
//! error type), none of which imports it back.
use std::sync::Arc;

use auth_core::ports::{Clock, Readiness};
use auth_core::service::{Accounts, BrowserSignIn, Grants};

use crate::edge::error::ApiError;
use crate::edge::metrics::Metrics;
use crate::pages::render::Pages;

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
    /// The token endpoint, introspection, revocation, the device grant.
    pub grants: Grants,
    /// The authorization endpoint, sessions, consent, logout.
    pub sign_in: BrowserSignIn,
    /// The account page's operations and registration.
    pub accounts: Accounts,
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
    /// What `GET /metrics` reports; recorded by [`crate::measured`].
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
        self.grants.issuer().trim_end_matches('/')
    }

    /// The account with `id`, if it exists.
    pub(crate) async fn user(
        &self,
        id: auth_core::types::UserId,
    ) -> Result<Option<auth_core::types::User>, ApiError> {
        Ok(self.grants.user(id).await?)
    }
}
