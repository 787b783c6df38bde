//! `POST /device_authorization`: the device authorization grant's first
//! step (RFC 8628 section 3.1); the `/device` page is in `pages::device`.
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use auth_core::OAuthError;
use auth_core::types::Scope;
use serde::{Deserialize, Serialize};

use crate::edge::body::{present, read_form};
use crate::edge::client_auth::{self, ClientFields};
use crate::edge::error::ApiError;
use crate::edge::responses::ApiErrors;
use crate::state::AppState;

/// The device authorization request's form (RFC 8628 section 3.1).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct DeviceAuthorizationForm {
    #[serde(flatten)]
    #[schema(inline)]
    client: ClientFields,
    scope: Option<String>,
}

/// RFC 8628 section 3.2.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeviceAuthorization<'a> {
    device_code: &'a str,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: i64,
}

/// `POST /device_authorization` (RFC 8628 section 3.1).
#[utoipa::path(
    tag = "oauth",
    request_body(
        content = DeviceAuthorizationForm,
        content_type = "application/x-www-form-urlencoded",
    ),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "The codes", body = DeviceAuthorization),
        ApiErrors,
    ),
)]
#[post("/device_authorization")]
pub(crate) async fn start(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: DeviceAuthorizationForm =
        read_form(&req, payload, state.limits.max_body_bytes).await?;
    let credentials = client_auth::credentials(&req, form.client)?;
    let scope = present(form.scope)
        .map(|s| Scope::parse(&s))
        .transpose()
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    let client = state.grants.authenticate_client(&credentials).await?;
    let started = state
        .grants
        .start_device_authorization(&client, scope, crate::edge::now::of(&req, &state))
        .await?;
    let issuer = state.issuer();
    let user_code = started.user_code.display();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DeviceAuthorization {
            device_code: started.device_code.expose(),
            verification_uri: format!("{issuer}/device"),
            verification_uri_complete: format!("{issuer}/device?user_code={user_code}"),
            user_code,
            expires_in: started.expires_in.num_seconds(),
            interval: started.interval.num_seconds(),
        }))
}
