//! Who is calling: the admin API is there only once an admin client
//! exists (404 until then), takes only a bearer token (401), and only an
//! admin client's own token with the route's scope (403). A write's
//! response carries its caller, for the security event's `actor`.
use actix_web::{HttpRequest, HttpResponse};
use auth_core::admin::{AdminCaller, AdminScope};
use auth_core::events::SecurityEvent;

use super::problem::Problem;
use crate::state::AppState;

/// The caller of this request, allowed `need`.
pub(crate) async fn caller(
    req: &HttpRequest,
    state: &AppState,
    need: AdminScope,
) -> Result<AdminCaller, Problem> {
    if !state.accounts.admin_api_open().await? {
        return Err(Problem::not_found("no such resource"));
    }
    let bearer = crate::edge::bearer::authenticate(req, state).await?;
    Ok(state.accounts.admin_caller(&bearer, need).await?)
}

/// `response` with the security event of a write that `caller` made.
pub(crate) fn logged(
    mut response: HttpResponse,
    caller: &AdminCaller,
    event: SecurityEvent,
) -> HttpResponse {
    crate::edge::security::attach_by(&mut response, event, caller.client.clone());
    response
}

/// The time of the request.
pub(crate) fn now(req: &HttpRequest, state: &AppState) -> chrono::DateTime<chrono::Utc> {
    crate::edge::now::of(req, state)
}

/// The request's JSON body as an object: `application/json` (or a JSON
/// merge patch), within the body limit.
pub(crate) async fn json_object(
    req: &HttpRequest,
    payload: actix_web::web::Payload,
    state: &AppState,
) -> Result<serde_json::Map<String, serde_json::Value>, Problem> {
    let media = crate::edge::body::media_type(req);
    if media != "application/json" && media != "application/merge-patch+json" {
        return Err(Problem::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the admin API takes application/json bodies",
        ));
    }
    Ok(crate::edge::body::read_json_object(payload, state.limits.max_body_bytes).await?)
}
