//! What the hosted pages keep in the browser: the CSRF cookie and the SSO
//! session cookie.
//!
//! CSRF: a random value in an HttpOnly cookie, set before any form is shown
//! (the pre-login session) and renewed at login; each form carries
//! `base64url(SHA-256("csrf:" || cookie))`. Another site can make the
//! browser send the cookie but can neither read it nor compute the token,
//! and the comparison is constant-time. Under an https issuer the cookies
//! are `__Host-` cookies (Secure, host-only, path `/`), so a sibling
//! subdomain cannot plant a pair of its own; and every form post must come
//! from this site (`Sec-Fetch-Site`, else `Origin`).
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::web::Payload;
use actix_web::{HttpMessage as _, HttpRequest};
use auth_core::sessions::BrowserStart;
use auth_core::types::{Digest, UserId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::edge::body::read_form;
use crate::edge::error::ApiError;
use crate::state::AppState;

/// A hosted page's form post: the CSRF token, then the page's own form.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PagePost<T> {
    #[schema(value_type = String)]
    csrf_token: Option<SecretString>,
    #[serde(flatten)]
    form: T,
}

/// A form that carries nothing but its CSRF token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NoFields {}

const CSRF_COOKIE: &str = "portcullis_csrf";
const SESSION_COOKIE: &str = "portcullis_session";
const DEVICE_COOKIE: &str = "portcullis_device";
const SECOND_STEP_COOKIE: &str = "portcullis_second_step";

/// A sign-in waiting for its second step (sealed by the core), if the
/// browser carries one.
pub(crate) fn second_step_of(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&cookie_name(state, SECOND_STEP_COOKIE))
        .map(|c| c.value().to_owned())
}

/// The cookie that holds a sign-in between its password and its second
/// factor: five minutes, no script reads it.
pub(crate) fn second_step_cookie(state: &AppState, sealed: String) -> Cookie<'static> {
    Cookie::build(cookie_name(state, SECOND_STEP_COOKIE), sealed)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::minutes(5))
        .finish()
}

/// A cookie that removes the second-step cookie.
pub(crate) fn cleared_second_step_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = Cookie::build(cookie_name(state, SECOND_STEP_COOKIE), "")
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .finish();
    c.make_removal();
    c
}

/// The device cookie a browser that signed in before carries, if any.
pub(crate) fn device_cookie_of(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&cookie_name(state, DEVICE_COOKIE))
        .map(|c| c.value().to_owned())
}

/// The device cookie for a browser that just signed in: it lasts as long
/// as the server remembers the browser, and no script reads it.
pub(crate) fn device_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(cookie_name(state, DEVICE_COOKIE), value)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            auth_core::service::Core::DEVICE_LIFETIME.num_seconds(),
        ))
        .finish()
}

/// A cookie's name: with the `__Host-` prefix whenever cookies are Secure
/// (an https issuer); browsers set such a cookie only from this host itself.
pub(crate) fn cookie_name(state: &AppState, base: &'static str) -> String {
    if state.secure_cookies {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// The session cookie of a request, if it carries one.
pub(crate) fn session_cookie_of(req: &HttpRequest, state: &AppState) -> Option<Cookie<'static>> {
    req.cookie(&cookie_name(state, SESSION_COOKIE))
}

/// Refuses a form post that a browser says came from another site (RFC 9110
/// leaves CSRF to the application; Fetch Metadata and `Origin` tell it).
/// `Sec-Fetch-Site` is the browser's own verdict; without it, `Origin` must
/// be the issuer's. A request with neither is not from a current browser,
/// and still needs the CSRF token.
fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("invalid"))
    };
    let allowed = match (header("sec-fetch-site"), header("origin")) {
        (Some(site), _) => matches!(site, "same-origin" | "none"),
        (None, Some(origin)) => url::Url::parse(state.grants.issuer())
            .is_ok_and(|issuer| issuer.origin().ascii_serialization() == origin),
        (None, None) => true,
    };
    if allowed {
        Ok(())
    } else {
        let message = "a form post from another site was refused";
        crate::edge::security::log_refusal(req, "origin_refused", message);
        Err(ApiError::Forbidden)
    }
}

/// The browser's CSRF state for one request: the cookie value (new if the
/// browser had none) and whether it must be set on the response.
pub(crate) struct Csrf {
    value: String,
    is_new: bool,
}

impl Csrf {
    pub(crate) fn of(req: &HttpRequest, state: &AppState) -> Self {
        // Renewed during this request: the caller of `renew` sets the
        // cookie on the response, so pages need not.
        if let Some(renewed) = req.extensions().get::<Renewed>() {
            return Self {
                value: renewed.0.clone(),
                is_new: false,
            };
        }
        match req.cookie(&cookie_name(state, CSRF_COOKIE)) {
            Some(c) if c.value().len() >= 32 => Self {
                value: c.value().to_owned(),
                is_new: false,
            },
            _ => Self {
                value: state.sign_in.new_browser_secret().into_inner(),
                is_new: true,
            },
        }
    }

    /// The token forms carry.
    pub(crate) fn token(&self, state: &AppState) -> String {
        URL_SAFE_NO_PAD.encode(state.sign_in.csrf_token(&self.value).as_bytes())
    }

    /// Gives the browser a new CSRF value at login, so a value planted or
    /// seen before the login is worth nothing after it: pages rendered for
    /// the rest of this request use the new value, and the returned cookie
    /// goes on the response.
    pub(crate) fn renew(req: &HttpRequest, state: &AppState) -> Cookie<'static> {
        let value = state.sign_in.new_browser_secret().into_inner();
        req.extensions_mut().insert(Renewed(value.clone()));
        csrf_cookie(state, value)
    }

    /// The cookie to set, when the browser did not have one yet.
    pub(crate) fn cookie(&self, state: &AppState) -> Option<Cookie<'static>> {
        self.is_new.then(|| csrf_cookie(state, self.value.clone()))
    }

    /// Reads a hosted page's form post and checks its `csrf_token` against
    /// the browser's cookie (403 otherwise) before the page's own fields
    /// are looked at. Every form post of the hosted pages comes in through
    /// here, so none can skip the check.
    pub(crate) async fn read_form<T: DeserializeOwned>(
        req: &HttpRequest,
        payload: Payload,
        state: &AppState,
    ) -> Result<T, ApiError> {
        check_origin(req, state)?;
        let post: PagePost<T> = read_form(req, payload, state.limits.max_body_bytes).await?;
        Self::verify(
            req,
            state,
            post.csrf_token.as_ref().map(|t| t.expose_secret()),
        )?;
        Ok(post.form)
    }

    /// Checks a posted token against the browser's cookie: a post without a
    /// cookie, without a token, or with a wrong one is refused.
    fn verify(req: &HttpRequest, state: &AppState, posted: Option<&str>) -> Result<(), ApiError> {
        let result = Self::check(req, state, posted);
        if result.is_err() {
            let message = "a form post without a valid CSRF token was refused";
            crate::edge::security::log_refusal(req, "csrf_refused", message);
        }
        result
    }

    fn check(req: &HttpRequest, state: &AppState, posted: Option<&str>) -> Result<(), ApiError> {
        let cookie = req
            .cookie(&cookie_name(state, CSRF_COOKIE))
            .ok_or(ApiError::Forbidden)?;
        let posted = posted.ok_or(ApiError::Forbidden)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(posted)
            .map_err(|_| ApiError::Forbidden)?;
        let digest = Digest::from_slice(&bytes).ok_or(ApiError::Forbidden)?;
        if state.sign_in.csrf_token_matches(cookie.value(), &digest) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The CSRF cookie holding `value`.
fn csrf_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(cookie_name(state, CSRF_COOKIE), value)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .finish()
}

/// A CSRF value renewed during this request, kept in its extensions.
struct Renewed(String);

/// The signed-in user of this browser, if its session is alive.
pub(crate) async fn current_user(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<UserId>, ApiError> {
    Ok(current_sign_in(req, state).await?.map(|who| who.user))
}

/// Who the browser's session stands for, and since when they are signed in.
pub(crate) async fn current_sign_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<auth_core::authorize::SignedIn>, ApiError> {
    match session_cookie_of(req, state) {
        Some(c) => Ok(state
            .sign_in
            .resume_session(c.value(), crate::edge::now::of(req, state))
            .await?),
        None => Ok(None),
    }
}

/// The session cookie for a new session.
pub(crate) fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let lifetime = state.grants.policy().session_lifetime.num_seconds();
    Cookie::build(cookie_name(state, SESSION_COOKIE), value)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(lifetime))
        .finish()
}

/// What a sign-in in a browser led to.
pub(crate) enum Started {
    /// A session: the cookie to set.
    Session(Cookie<'static>),
    /// The account's second factor is due: the sealed sign-in waiting for
    /// it, and the account's factors to offer.
    SecondStep(String, Vec<auth_core::types::Factor>),
}

/// Starts a session for `user`, who proved `methods`, in place of the
/// browser's current one (a new id, so a session fixed before is
/// worthless), remembering where and how (`method`) it signed in; or,
/// where the core says a second factor is due, nothing yet.
pub(crate) async fn new_session(
    req: &HttpRequest,
    state: &AppState,
    user: UserId,
    method: &str,
    methods: auth_core::types::AuthMethods,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Started, ApiError> {
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let origin =
        auth_core::types::SessionOrigin::new(user_agent, &crate::edge::security::peer(req), method);
    let start = state
        .sign_in
        .begin_browser_session(user, origin, methods, now)
        .await
        .map_err(crate::edge::error::factor_failure)?;
    Ok(match start {
        BrowserStart::Session(session) => {
            if let Some(old) = session_cookie_of(req, state) {
                state.sign_in.end_session(old.value()).await?;
            }
            Started::Session(session_cookie(state, session.into_inner()))
        }
        BrowserStart::SecondStep { sealed, factors } => Started::SecondStep(sealed, factors),
    })
}

/// A cookie that removes the session cookie.
pub(crate) fn cleared_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = Cookie::build(cookie_name(state, SESSION_COOKIE), "")
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
