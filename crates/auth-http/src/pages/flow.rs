//! What happens once a browser's user is known (consent, a code, or seed
//! 000's token redirect), and the pages that refuse a pending request.
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use auth_core::authorize::{
    AdmissionStep, Consent, ConsentStep, Refusal, SignedIn, ValidRequest, VerificationStep,
};
use auth_core::factors::FactorStep;
use serde::Serialize;

use crate::edge::browser::Csrf;
use crate::edge::error::ApiError;
use crate::edge::pending::{FLOW_DEVICE, Pending};
use crate::edge::redirect::redirect_with;
use crate::state::AppState;

/// What a browser that followed a link with a malformed query or form is
/// shown: a page saying why, titled `title`; any other error (an outage, a
/// body too large) is answered as usual.
pub(crate) fn invalid_link(
    state: &AppState,
    title: &str,
    error: ApiError,
) -> Result<HttpResponse, ApiError> {
    match error {
        ApiError::OAuth(e) => {
            Ok(state
                .pages
                .error(StatusCode::BAD_REQUEST, title, e.description()))
        }
        other => Err(other),
    }
}

/// Delivers a refusal: an error page when the client or redirect URI is not
/// trusted, else a redirect carrying `error`, `error_description`, `state`.
pub(crate) fn refusal_response(
    state: &AppState,
    refusal: Refusal,
) -> Result<HttpResponse, ApiError> {
    match refusal {
        Refusal::Untrusted(message) => Ok(state.pages.error(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            &message,
        )),
        Refusal::Redirect {
            redirect_uri,
            error,
            state: client_state,
        } => {
            let mut params = vec![
                ("error", error.code().as_str()),
                ("error_description", error.description()),
            ];
            if let Some(s) = client_state.as_deref() {
                params.push(("state", s));
            }
            params.push(("iss", state.issuer()));
            Ok(redirect_with(&redirect_uri, &params, StatusCode::FOUND))
        }
        Refusal::Failed(e) => Err(e.into()),
    }
}

/// Issues a code and sends the browser back to the client with it.
pub(crate) async fn code_redirect(
    state: &AppState,
    valid: &ValidRequest,
    who: SignedIn,
    consent: Consent,
    status: StatusCode,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let (code, _) = state.sign_in.issue_code(valid, who, consent, now).await?;
    let mut params = vec![("code", code.expose())];
    if let Some(s) = valid.state.as_deref() {
        params.push(("state", s));
    }
    // RFC 9207: the response names its issuer, so a client talking to
    // several servers can tell which one answered (mix-up attacks).
    params.push(("iss", state.issuer()));
    Ok(redirect_with(&valid.redirect_uri, &params, status))
}

#[derive(Serialize)]
struct ConsentPage<'a> {
    title: &'static str,
    client_name: &'a str,
    username: String,
    scopes: Vec<String>,
    pending: Vec<(&'static str, String)>,
    csrf: String,
}

/// What happens once the browser's user is known: seed 000's token
/// redirect, consent for a third-party client, or a code at once.
pub(crate) async fn proceed(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    who: SignedIn,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    if pending.is_legacy() {
        let now = crate::edge::now::of(req, state);
        return crate::dialects::redirect_login::complete(state, pending, who.user, now).await;
    }
    if pending.flow.as_deref() == Some(FLOW_DEVICE) {
        let query = serde_urlencoded::to_string([(
            "user_code",
            pending.user_code.as_deref().unwrap_or(""),
        )])
        .unwrap_or_default();
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/device?{query}")))
            .finish());
    }
    // Signed in for no client: on to the account page.
    if !pending.has_client() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/account"))
            .finish());
    }
    let valid = match state.sign_in.validate_authorization(&pending.request).await {
        Ok(v) => v,
        Err(r) => return refusal_response(state, r),
    };
    if let Err(r) = state.sign_in.require_hinted_subject(&valid, &who) {
        return refusal_response(state, r);
    }
    // A client that admits only members of some groups: anyone else is
    // told so here (the code would be refused anyway).
    match state.sign_in.admission_step(&valid, who.user).await? {
        AdmissionStep::Fine => {}
        AdmissionStep::Refuse(r) => return refusal_response(state, r),
        AdmissionStep::Denied => {
            return Ok(state.pages.error(
                StatusCode::FORBIDDEN,
                "Not for your account",
                &format!(
                    "{} is open only to members of certain groups, and your account is in none \
                     of them. Ask its operator to add you, or sign in with another account.",
                    valid.client.name
                ),
            ));
        }
    }
    // A client that signs in only confirmed addresses: the person confirms
    // theirs first (the link can be sent again from here).
    match state.sign_in.verification_step(&valid, who.user).await? {
        VerificationStep::Fine => {}
        VerificationStep::Refuse(r) => return refusal_response(state, r),
        VerificationStep::Needed => return verify_first(req, state, &valid, who).await,
    }
    // A client (or a request's acr_values) that needs more than this
    // session proved: a second factor now, or one to enrol first.
    match state.sign_in.factor_step(&valid, &who).await? {
        FactorStep::Fine => {}
        FactorStep::Ask => {
            return crate::pages::second_step::step_up(req, state, pending, &who, false).await;
        }
        FactorStep::Enrol => {
            return crate::pages::second_step::step_up(req, state, pending, &who, true).await;
        }
        FactorStep::Refuse(r) => return refusal_response(state, r),
    }
    // `prompt=consent` asks even where the operator would not; a consent
    // remembered from before spares the page.
    match state.sign_in.consent_step(&valid, who.user).await? {
        ConsentStep::Skip => {
            let now = crate::edge::now::of(req, state);
            return code_redirect(state, &valid, who, Consent::NotAsked, status, now).await;
        }
        ConsentStep::Refuse(r) => return refusal_response(state, r),
        ConsentStep::Ask => {}
    }
    let username = crate::edge::browser::username_of(state, who.user).await?;
    let csrf = Csrf::of(req, state);
    let mut response = state.pages.render_for(
        StatusCode::OK,
        "consent.html",
        &ConsentPage {
            title: "Allow access?",
            client_name: &valid.client.name,
            username,
            scopes: valid
                .scope
                .iter()
                .map(|s| auth_core::types::describe_scope(s, &state.scope_descriptions))
                .collect(),
            pending: pending.fields(),
            csrf: csrf.token(state),
        },
        Some(&valid.redirect_uri),
    );
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

#[derive(Serialize)]
struct VerifyFirstPage<'a> {
    title: &'static str,
    client_name: &'a str,
    address: Option<String>,
    mail_enabled: bool,
    csrf: String,
}

/// The page of a person whose address a client requires confirmed: what to
/// do, and a button that mails the link again.
async fn verify_first(
    req: &HttpRequest,
    state: &AppState,
    valid: &ValidRequest,
    who: SignedIn,
) -> Result<HttpResponse, ApiError> {
    let address = state
        .grants
        .user(who.user)
        .await?
        .and_then(|u| u.email)
        .map(|e| e.as_str().to_owned());
    let csrf = Csrf::of(req, state);
    let mut response = state.pages.render(
        StatusCode::FORBIDDEN,
        "verify_first.html",
        &VerifyFirstPage {
            title: "Confirm your email address first",
            client_name: &valid.client.name,
            address,
            mail_enabled: state.accounts.mail_enabled(),
            csrf: csrf.token(state),
        },
    );
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}
