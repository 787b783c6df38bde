//! The `/device` page (RFC 8628 section 3.3), where a signed-in user enters
//! the user code a device shows and decides.
use actix_web::http::{StatusCode, header};
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::grants::device_code::{DeviceApproval, DeviceDecision, DeviceHold, UserCodeLookup};
use auth_core::types::{UserCode, UserId};
use serde::Serialize;

use crate::edge::browser::{Csrf, current_sign_in, current_user};
use crate::edge::error::ApiError;
use crate::edge::pending::Pending;
use crate::edge::responses::PageResponses;
use crate::state::AppState;

#[derive(Serialize, Default)]
struct DevicePage<'a> {
    title: &'static str,
    heading: &'static str,
    message: Option<&'a str>,
    failed: bool,
    /// The code entry form.
    show_form: bool,
    /// The approval question: which client asks, and for what.
    client_name: Option<String>,
    scopes: Vec<String>,
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
        username: crate::edge::browser::username_of(state, user).await?,
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
        flow: Some(crate::edge::pending::FLOW_DEVICE.into()),
        user_code,
        ..Pending::default()
    };
    crate::pages::sign_in::login_form(req, state, &pending).await
}

fn entry_form(message: Option<&'static str>, status: StatusCode) -> DevicePage<'static> {
    DevicePage {
        heading: "Connect a device",
        message,
        failed: message.is_some(),
        show_form: status != StatusCode::TOO_MANY_REQUESTS,
        ..DevicePage::default()
    }
}

/// Looks a typed code up for `user`, through the core's device-code
/// throttle: wrong codes count against the user, in every node.
async fn look_up(
    state: &AppState,
    user: UserId,
    typed: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<(UserCode, DeviceApproval), (&'static str, StatusCode)>, ApiError> {
    Ok(
        match state.grants.look_up_user_code(user, typed, now).await? {
            UserCodeLookup::Found(code, approval) => Ok((code, approval)),
            UserCodeLookup::NotFound => Err((
                "That code is not valid or has expired. Check the code on your device.",
                StatusCode::BAD_REQUEST,
            )),
            UserCodeLookup::Throttled => Err((
                "Too many wrong codes. Wait a few minutes and try again.",
                StatusCode::TOO_MANY_REQUESTS,
            )),
        },
    )
}

/// The approval question for a found code.
fn question(code: &UserCode, approval: DeviceApproval) -> (String, DevicePage<'static>) {
    let page = DevicePage {
        heading: "Allow this device?",
        client_name: Some(approval.client_name),
        scopes: approval.scope.iter().map(str::to_owned).collect(),
        ..DevicePage::default()
    };
    (code.display(), page)
}

/// Shows the question for `typed`, or the entry form with why not.
async fn ask(
    req: &HttpRequest,
    state: &AppState,
    user: UserId,
    typed: &str,
) -> Result<HttpResponse, ApiError> {
    match look_up(state, user, typed, crate::edge::now::of(req, state)).await? {
        Ok((code, approval)) => {
            let (display, fill) = question(&code, approval);
            let fill = DevicePage {
                user_code: &display,
                ..fill
            };
            page(req, state, StatusCode::OK, user, fill).await
        }
        Err((message, status)) => {
            page(req, state, status, user, entry_form(Some(message), status)).await
        }
    }
}

/// `GET /device`'s query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DevicePageQuery {
    /// The code the device shows (`verification_uri_complete` carries it).
    user_code: Option<String>,
}

/// The `/device` page's form: a typed code, or the decision on it.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct DevicePageForm {
    #[schema(value_type = String)]
    user_code: Option<String>,
    /// `allow` or `deny`; absent when the code was just typed.
    decision: Option<String>,
}

/// `GET /device`: the code entry page, or with `user_code` (the
/// `verification_uri_complete`) the approval question at once.
#[utoipa::path(tag = "pages", params(DevicePageQuery), responses(PageResponses))]
#[get("/device")]
pub(crate) async fn page_get(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: DevicePageQuery = crate::edge::body::read_query(&req)?;
    let user_code = crate::edge::body::present(query.user_code);
    let Some(user) = current_user(&req, &state).await? else {
        return Ok(login_first(&req, &state, user_code).await);
    };
    match user_code {
        Some(typed) => ask(&req, &state, user, &typed).await,
        None => {
            page(
                &req,
                &state,
                StatusCode::OK,
                user,
                entry_form(None, StatusCode::OK),
            )
            .await
        }
    }
}

/// `POST /device`: a typed code (answered with the approval question), or
/// the user's decision on it (answered with the decision actually stored).
#[utoipa::path(
    tag = "pages",
    request_body(content = crate::edge::browser::PagePost<DevicePageForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/device")]
pub(crate) async fn page_post(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: DevicePageForm = Csrf::read_form(&req, payload, &state).await?;
    let typed = form.user_code.unwrap_or_default();
    let decision = form.decision;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(login_first(&req, &state, Some(typed)).await);
    };
    let user = who.user;
    let allow = match decision.as_deref() {
        Some("allow") => true,
        Some("deny") => false,
        _ => return ask(&req, &state, user, &typed).await,
    };
    let now = crate::edge::now::of(&req, &state);
    let code = match look_up(&state, user, &typed, now).await? {
        Ok((code, _)) => code,
        Err((message, status)) => {
            return page(
                &req,
                &state,
                status,
                user,
                entry_form(Some(message), status),
            )
            .await;
        }
    };
    let decided = state
        .grants
        .decide_device(&code, allow.then_some(&who), now)
        .await?;
    let fill = match decided {
        DeviceDecision::Decided if allow => DevicePage {
            heading: "Device connected",
            message: Some("You can return to your device; it signs in within a few seconds."),
            ..DevicePage::default()
        },
        DeviceDecision::Decided => DevicePage {
            heading: "Request denied",
            message: Some("The device was not given access."),
            ..DevicePage::default()
        },
        // Another tab or person decided first, or the code expired.
        DeviceDecision::Gone => DevicePage {
            heading: "Nothing was changed",
            message: Some(
                "This code was already decided or has expired; your choice was not recorded.",
            ),
            failed: true,
            ..DevicePage::default()
        },
        // The device's application admits only members of some groups.
        DeviceDecision::Held(DeviceHold::NotAdmitted) => {
            let fill = DevicePage {
                heading: "Not for your account",
                message: Some(
                    "This device's application is open only to members of certain groups, and \
                     your account is in none of them. Nothing was approved.",
                ),
                failed: true,
                ..DevicePage::default()
            };
            return page(&req, &state, StatusCode::FORBIDDEN, user, fill).await;
        }
        // The device's application lets in only confirmed addresses: asked
        // here, before anything is approved.
        DeviceDecision::Held(DeviceHold::AddressUnconfirmed) => {
            let fill = DevicePage {
                heading: "Confirm your email address first",
                message: Some(
                    "This device's application lets in only people whose email address is \
                     confirmed. Confirm yours from your account page, then enter the code again.",
                ),
                failed: true,
                ..DevicePage::default()
            };
            return page(&req, &state, StatusCode::FORBIDDEN, user, fill).await;
        }
        // It needs two factors: a person without a second one enrols it
        // and comes back to this code; one who has it signs in with it.
        DeviceDecision::Held(DeviceHold::SecondFactorNeeded { enrolled: false }) => {
            let back = format!(
                "/device?{}",
                serde_urlencoded::to_string([("user_code", code.display())]).unwrap_or_default()
            );
            let query = serde_urlencoded::to_string([("return_to", back)]).unwrap_or_default();
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/account/security?{query}")))
                .finish());
        }
        DeviceDecision::Held(DeviceHold::SecondFactorNeeded { enrolled: true }) => {
            let fill = DevicePage {
                heading: "Sign in with your second factor first",
                message: Some(
                    "This device's application needs a sign-in with two factors. Sign out, \
                     sign in again with your second factor, then enter the code again.",
                ),
                failed: true,
                ..DevicePage::default()
            };
            return page(&req, &state, StatusCode::FORBIDDEN, user, fill).await;
        }
    };
    page(&req, &state, StatusCode::OK, user, fill).await
}
