//! The second step of a sign-in as a page: shown after a right password to
//! an account with a second factor, or to a session below the level a
//! client needs (step-up), with the sign-in sealed in a short-lived cookie
//! meanwhile. Its answers are handled in `factors.rs`.
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use auth_core::types::{AuthMethods, Factor, FactorKind, UserId};
use serde::Serialize;

use crate::edge::browser::{Csrf, second_step_cookie};
use crate::edge::error::ApiError;
use crate::edge::pending::Pending;
use crate::state::AppState;

#[derive(Serialize)]
struct SecondStepPage<'a> {
    title: &'static str,
    error: Option<&'a str>,
    totp: bool,
    passkey: bool,
    pending: Vec<(&'static str, String)>,
    csrf: String,
}

/// Shows the second step for `user`, who proved `methods` so far: the
/// sign-in is sealed into a short-lived cookie meanwhile (nothing is signed
/// in until the second factor is right).
pub(crate) async fn ask_second_factor(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    user: UserId,
    methods: AuthMethods,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let now = crate::edge::now::of(req, state);
    let sealed = state
        .sign_in
        .begin_second_step(user, methods, now)
        .map_err(crate::edge::error::factor_failure)?;
    let overview = state.sign_in.factor_overview(user).await?;
    second_step_page(
        req,
        state,
        pending,
        sealed,
        &overview.factors,
        error,
        status,
    )
    .await
}

/// The second-step page for a sign-in that waits sealed in `sealed`,
/// offering the account's `factors`, saying `error` if the last answer
/// was refused.
pub(crate) async fn second_step_page(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    sealed: String,
    factors: &[Factor],
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let has = |kind: FactorKind| factors.iter().any(|f| f.kind == kind);
    let csrf = Csrf::of(req, state);
    let targets: Vec<String> = client_redirect(state, pending)
        .await
        .as_ref()
        .and_then(crate::pages::render::csp_source)
        .into_iter()
        .collect();
    let mut response = state.pages.render_with_targets(
        status,
        "second_factor.html",
        &SecondStepPage {
            title: "Second step",
            error,
            totp: has(FactorKind::Totp),
            passkey: has(FactorKind::Passkey) && state.sign_in.passkeys_enabled(),
            pending: pending.fields(),
            csrf: csrf.token(state),
        },
        &targets,
    );
    let _ = response.add_cookie(&second_step_cookie(state, sealed));
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

/// Where the pending request's answer goes (its validated redirect URI):
/// the page's forms end in a redirect there, which the browser checks
/// against the page's `form-action` (Chromium does).
async fn client_redirect(
    state: &AppState,
    pending: &Pending,
) -> Option<auth_core::types::RedirectUri> {
    if !pending.has_client() {
        return None;
    }
    if pending.is_legacy() {
        return match crate::dialects::redirect_login::validate(state, pending).await {
            Ok(Ok(request)) => Some(request.redirect_uri),
            _ => None,
        };
    }
    state
        .sign_in
        .validate_authorization(&pending.request)
        .await
        .ok()
        .map(|valid| valid.redirect_uri)
}

/// Where a browser whose session does not meet a client's level goes:
/// the second step (it has factors), or the security page to enrol one.
pub(crate) async fn step_up(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    who: &auth_core::authorize::SignedIn,
    enrol: bool,
) -> Result<HttpResponse, ApiError> {
    if enrol {
        let return_to = format!("/authorize?{}", pending.query());
        let query = serde_urlencoded::to_string([("return_to", return_to)]).unwrap_or_default();
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/account/security?{query}")))
            .finish());
    }
    ask_second_factor(
        req,
        state,
        pending,
        who.user,
        who.methods,
        None,
        StatusCode::OK,
    )
    .await
}
