//! The device authorization grant's endpoints (RFC 8628):
//! `POST /device_authorization` for the device, and the `/device` page
//! where a signed-in user enters the user code and decides.
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use auth_core::OAuthError;
use auth_core::types::{Scope, UserCode, UserId};
use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::body::{FormParams, read_form};
use crate::browser::{Csrf, current_user};
use crate::client_auth;
use crate::error::ApiError;
use crate::flow::Pending;

/// `POST /device_authorization` (RFC 8628 section 3.1).
pub(crate) async fn start(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut params = read_form(&req, payload, state.limits.max_body_bytes).await?;
    let credentials = client_auth::take(&req, &mut params)?;
    let scope = params
        .take("scope")
        .map(|s| Scope::parse(&s))
        .transpose()
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    let client = state.tokens.authenticate_client(&credentials).await?;
    let started = state
        .tokens
        .start_device_authorization(&client, scope, state.clock.now())
        .await?;
    let issuer = state.tokens.issuer().trim_end_matches('/');
    let user_code = started.user_code.display();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "device_code": started.device_code.expose(),
            "user_code": user_code,
            "verification_uri": format!("{issuer}/device"),
            "verification_uri_complete": format!("{issuer}/device?user_code={user_code}"),
            "expires_in": started.expires_in,
            "interval": started.interval,
        })))
}

#[derive(Serialize, Default)]
struct DevicePage<'a> {
    title: &'static str,
    heading: &'static str,
    message: Option<&'a str>,
    failed: bool,
    show_form: bool,
    username: String,
    user_code: &'a str,
    csrf: String,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    user: UserId,
    fill: DevicePage<'_>,
) -> Result<HttpResponse, ApiError> {
    let csrf = Csrf::of(req, state);
    let data = DevicePage {
        title: "Connect a device",
        username: crate::browser::username_of(state, user).await?,
        csrf: csrf.token(state),
        ..fill
    };
    let mut response = state.pages.render(status, "device.html", &data);
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

/// Without a session, the login page first; it comes back here after.
async fn login_first(
    req: &HttpRequest,
    state: &AppState,
    user_code: Option<String>,
) -> HttpResponse {
    let pending = Pending {
        flow: Some(crate::flow::FLOW_DEVICE.into()),
        user_code,
        ..Pending::default()
    };
    crate::hosted::login_form(req, state, &pending).await
}

/// `GET /device`: the code entry page.
pub(crate) async fn page_get(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut params = FormParams::parse(req.query_string().as_bytes())?;
    let user_code = params.take("user_code");
    let Some(user) = current_user(&req, &state).await? else {
        return Ok(login_first(&req, &state, user_code).await);
    };
    let fill = DevicePage {
        heading: "Connect a device",
        show_form: true,
        user_code: user_code.as_deref().unwrap_or(""),
        ..DevicePage::default()
    };
    page(&req, &state, StatusCode::OK, user, fill).await
}

/// `POST /device`: the user's decision on a code. Wrong codes count
/// against the user: after five within fifteen minutes, entry is refused
/// for the rest of the window, so the 34-bit code space cannot be searched.
pub(crate) async fn page_post(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut params = Csrf::read_form(&req, payload, &state).await?;
    let typed = params.take("user_code").unwrap_or_default();
    let decision = params.take("decision");
    let Some(user) = current_user(&req, &state).await? else {
        return Ok(login_first(&req, &state, Some(typed)).await);
    };
    let now = state.clock.now();
    let key = format!("device-code:{user}");
    let retry = |message: &'static str, status: StatusCode| DevicePage {
        heading: "Connect a device",
        message: Some(message),
        failed: true,
        show_form: status != StatusCode::TOO_MANY_REQUESTS,
        ..DevicePage::default()
    };
    if state.device_code_throttle.is_blocked(&key, now) {
        let fill = retry(
            "Too many wrong codes. Wait a few minutes and try again.",
            StatusCode::TOO_MANY_REQUESTS,
        );
        return page(&req, &state, StatusCode::TOO_MANY_REQUESTS, user, fill).await;
    }
    let found = match UserCode::parse(&typed) {
        Some(code) => state.tokens.find_user_code(&code, now).await?.map(|_| code),
        None => None,
    };
    let Some(code) = found else {
        state.device_code_throttle.record_failure(&key, now);
        let fill = retry(
            "That code is not valid or has expired. Check the code on your device.",
            StatusCode::BAD_REQUEST,
        );
        return page(&req, &state, StatusCode::BAD_REQUEST, user, fill).await;
    };
    let allow = decision.as_deref() == Some("allow");
    state
        .tokens
        .decide_device(&code, allow.then_some(user), now)
        .await?;
    let fill = DevicePage {
        heading: if allow {
            "Device connected"
        } else {
            "Request denied"
        },
        message: Some(if allow {
            "You can return to your device; it signs in within a few seconds."
        } else {
            "The device was not given access."
        }),
        ..DevicePage::default()
    };
    page(&req, &state, StatusCode::OK, user, fill).await
}
