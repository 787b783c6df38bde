//! What the hosted pages keep in the browser: the CSRF cookie and the SSO
//! session cookie.
//!
//! CSRF: a random value in an HttpOnly cookie, set before any form is shown
//! (the pre-login session); each form carries `base64url(SHA-256("csrf:" ||
//! cookie))`. Another site can make the browser send the cookie but can
//! neither read it nor compute the token, and the comparison is constant-time.
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::web::Payload;
use auth_core::types::{Digest, UserId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::AppState;
use crate::body::{FormParams, read_form};
use crate::error::ApiError;

pub(crate) const CSRF_COOKIE: &str = "portcullis_csrf";
pub(crate) const SESSION_COOKIE: &str = "portcullis_session";

/// The browser's CSRF state for one request: the cookie value (new if the
/// browser had none) and whether it must be set on the response.
pub(crate) struct Csrf {
    value: String,
    is_new: bool,
}

impl Csrf {
    pub(crate) fn of(req: &HttpRequest, state: &AppState) -> Self {
        match req.cookie(CSRF_COOKIE) {
            Some(c) if c.value().len() >= 32 => Self {
                value: c.value().to_owned(),
                is_new: false,
            },
            _ => Self {
                value: state.tokens.ports().random.token().into_inner(),
                is_new: true,
            },
        }
    }

    /// The token forms carry.
    pub(crate) fn token(&self, state: &AppState) -> String {
        let d = state
            .tokens
            .ports()
            .digest
            .digest(&format!("csrf:{}", self.value));
        URL_SAFE_NO_PAD.encode(d.as_bytes())
    }

    /// The cookie to set, when the browser did not have one yet.
    pub(crate) fn cookie(&self, state: &AppState) -> Option<Cookie<'static>> {
        self.is_new.then(|| {
            Cookie::build(CSRF_COOKIE, self.value.clone())
                .path("/")
                .http_only(true)
                .secure(state.secure_cookies)
                .same_site(SameSite::Lax)
                .finish()
        })
    }

    /// Reads a hosted page's form post and checks its `csrf_token` against
    /// the browser's cookie (403 otherwise). Every form post of the hosted
    /// pages comes in through here, so none can skip the check.
    pub(crate) async fn read_form(
        req: &HttpRequest,
        payload: Payload,
        state: &AppState,
    ) -> Result<FormParams, ApiError> {
        let mut params = read_form(req, payload, state.limits.max_body_bytes).await?;
        Self::verify(req, state, params.take("csrf_token").as_deref())?;
        Ok(params)
    }

    /// Checks a posted token against the browser's cookie: a post without a
    /// cookie, without a token, or with a wrong one is refused.
    fn verify(req: &HttpRequest, state: &AppState, posted: Option<&str>) -> Result<(), ApiError> {
        let cookie = req.cookie(CSRF_COOKIE).ok_or(ApiError::Forbidden)?;
        let posted = posted.ok_or(ApiError::Forbidden)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(posted)
            .map_err(|_| ApiError::Forbidden)?;
        let digest = Digest::from_slice(&bytes).ok_or(ApiError::Forbidden)?;
        if state
            .tokens
            .ports()
            .digest
            .verify(&format!("csrf:{}", cookie.value()), &digest)
        {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The signed-in user of this browser, if its session is alive.
pub(crate) async fn current_user(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<UserId>, ApiError> {
    match req.cookie(SESSION_COOKIE) {
        Some(c) => Ok(state
            .tokens
            .resume_session(c.value(), state.clock.now())
            .await?),
        None => Ok(None),
    }
}

/// The session cookie for a new session.
pub(crate) fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let lifetime = state.tokens.policy().session_lifetime.num_seconds();
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(lifetime))
        .finish()
}

/// A cookie that removes the session cookie.
pub(crate) fn cleared_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .finish();
    c.make_removal();
    c
}

/// The username of `user`, for the pages that greet them.
pub(crate) async fn username_of(state: &AppState, user: UserId) -> Result<String, ApiError> {
    Ok(state
        .user(user)
        .await?
        .map(|u| u.username.to_string())
        .unwrap_or_default())
}
