//! Bearer token authentication for protected endpoints (RFC 6750).
use actix_web::HttpRequest;
use actix_web::http::header;
use auth_core::OAuthError;
use auth_core::grants::introspection::Bearer;

use crate::edge::error::ApiError;
use crate::state::AppState;

/// Verifies the request's bearer token (see `Grants::verify_access`).
pub(crate) async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Bearer, ApiError> {
    verify(presented(req)?, req, state).await
}

/// The bearer token of the request's `Authorization` header (RFC 6750
/// section 2.1), not yet verified.
pub(crate) fn presented(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| OAuthError::invalid_token("a bearer token is required"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => {
            Err(OAuthError::invalid_token("the Authorization header is not a bearer token").into())
        }
    }
}

/// Verifies a bearer token however it was presented.
pub(crate) async fn verify(
    token: &str,
    req: &HttpRequest,
    state: &AppState,
) -> Result<Bearer, ApiError> {
    let now = crate::edge::now::of(req, state);
    Ok(state.grants.verify_access(token, now).await?)
}
