//! OpenID Connect RP-Initiated Logout 1.0 at `/end_session`: `GET` and
//! `POST` (section 2), and the confirmation page's CSRF-checked post. The
//! rules (which hint, which client, which redirect, whether to confirm) are
//! the core's `BrowserSignIn::plan_logout`.
use actix_web::http::StatusCode;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::authorize::Refusal;
use auth_core::logout::{LogoutPlan, LogoutRequest};
use serde::Serialize;

use serde::Deserialize;

use crate::edge::body::present;
use crate::edge::browser::{
    Csrf, PagePost, cleared_session_cookie, current_sign_in, session_cookie_of,
};
use crate::edge::error::ApiError;
use crate::edge::redirect::redirect_with;
use crate::edge::responses::PageResponses;
use crate::pages::flow::invalid_link;
use crate::state::AppState;

/// The title of every refusal page here.
const INVALID: &str = "This sign-out link is not valid";

/// A logout request's parameters (section 2).
#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogoutParams {
    /// An ID token this server issued to the client (it may have expired).
    id_token_hint: Option<String>,
    client_id: Option<String>,
    /// Registered for the client with `--post-logout-redirect-uri`.
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

impl From<LogoutParams> for LogoutRequest {
    fn from(p: LogoutParams) -> Self {
        Self {
            id_token_hint: present(p.id_token_hint),
            client_id: present(p.client_id),
            post_logout_redirect_uri: present(p.post_logout_redirect_uri),
            state: present(p.state),
        }
    }
}

/// `GET /end_session`.
#[utoipa::path(tag = "pages", params(LogoutParams), responses(PageResponses))]
#[get("/end_session")]
pub(crate) async fn end_session(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = crate::edge::body::read_query(&req);
    begin(&req, &state, params.map_err(ApiError::from)).await
}

/// `POST /end_session` with the same parameters in a form body.
#[utoipa::path(
    tag = "pages",
    request_body(content = LogoutParams, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/end_session")]
pub(crate) async fn end_session_post(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = crate::edge::body::read_form(&req, payload, state.limits.max_body_bytes).await;
    begin(&req, &state, params).await
}

/// `POST /end_session/confirm`: the user confirmed on the page.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<LogoutParams>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/end_session/confirm")]
pub(crate) async fn confirm(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params: LogoutParams = Csrf::read_form(&req, payload, &state).await?;
    let request = LogoutRequest::from(params);
    let session = current_sign_in(&req, &state).await?;
    match state.sign_in.plan_logout(&request, session).await {
        Ok(plan) => finish(&req, &state, plan).await,
        Err(refusal) => refused(&state, refusal),
    }
}

async fn begin(
    req: &HttpRequest,
    state: &AppState,
    params: Result<LogoutParams, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let params = match params {
        Ok(p) => p,
        Err(e) => return invalid_link(state, INVALID, e),
    };
    let request = LogoutRequest::from(params);
    let session = current_sign_in(req, state).await?;
    let plan = match state.sign_in.plan_logout(&request, session).await {
        Ok(plan) => plan,
        Err(refusal) => return refused(state, refusal),
    };
    match session {
        Some(who) if plan.confirm => confirmation(req, state, &request, &plan, who.user).await,
        _ => finish(req, state, plan).await,
    }
}

fn refused(state: &AppState, refusal: Refusal) -> Result<HttpResponse, ApiError> {
    match refusal {
        Refusal::Untrusted(message) => {
            Ok(state
                .pages
                .error(StatusCode::BAD_REQUEST, INVALID, &message))
        }
        Refusal::Redirect { error, .. } => invalid_link(state, INVALID, error.into()),
        Refusal::Failed(e) => Err(e.into()),
    }
}

async fn confirmation(
    req: &HttpRequest,
    state: &AppState,
    request: &LogoutRequest,
    plan: &LogoutPlan,
    user: auth_core::types::UserId,
) -> Result<HttpResponse, ApiError> {
    #[derive(Serialize)]
    struct Page<'a> {
        title: &'static str,
        client_name: Option<&'a str>,
        username: String,
        pending: Vec<(&'static str, &'a str)>,
        csrf: String,
    }
    let pending = [
        ("id_token_hint", &request.id_token_hint),
        ("client_id", &request.client_id),
        (
            "post_logout_redirect_uri",
            &request.post_logout_redirect_uri,
        ),
        ("state", &request.state),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect();
    let csrf = Csrf::of(req, state);
    let mut response = state.pages.render_for(
        StatusCode::OK,
        "logout.html",
        &Page {
            title: "Sign out?",
            client_name: plan.client_name.as_deref(),
            username: crate::edge::browser::username_of(state, user).await?,
            pending,
            csrf: csrf.token(state),
        },
        plan.redirect.as_ref().map(|(uri, _)| uri),
    );
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

/// Ends the browser's session (if any) and sends it on.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    plan: LogoutPlan,
) -> Result<HttpResponse, ApiError> {
    if let Some(c) = session_cookie_of(req, state) {
        state.sign_in.end_session(c.value()).await?;
    }
    let mut response = match &plan.redirect {
        Some((uri, client_state)) => {
            let params: Vec<(&str, &str)> =
                client_state.iter().map(|s| ("state", s.as_str())).collect();
            redirect_with(uri, &params, StatusCode::SEE_OTHER)
        }
        None => state.pages.render(
            StatusCode::OK,
            "signed_out.html",
            &serde_json::json!({"title": "Signed out"}),
        ),
    };
    let _ = response.add_cookie(&cleared_session_cookie(state));
    Ok(response)
}
