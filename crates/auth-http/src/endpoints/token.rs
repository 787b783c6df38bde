//! The token endpoint (RFC 6749 section 3.2), at `/token` and, for the
//! spring-oauth dialect (seed 004), at `/oauth/token`.
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use auth_core::types::{Dialect, IssuedTokens, OpaqueToken};
use serde::Serialize;

use crate::edge::body::{media_type, read_form};
use crate::edge::client_auth;
use crate::edge::error::ApiError;
use crate::edge::grant::TokenForm;
use crate::edge::responses::{ApiErrors, TokenErrors};
use crate::state::AppState;

/// RFC 6749 section 5.1.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    scope: String,
    /// OpenID Connect Core section 3.1.3.3: when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
}

#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "describes what the handler parses, for the OpenAPI document"
)]
pub(crate) enum TokenAnswer<'a> {
    Standard(TokenResponse<'a>),
    RedirectLogin(crate::dialects::redirect_login::LegacyTokenResponse),
}

/// `POST /token`. The content type decides: a form is RFC 6749, a JSON
/// body is seed 000's token endpoint.
#[utoipa::path(
    tag = "oauth",
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (crate::dialects::redirect_login::LegacyTokenRequest = "application/json"),
    )),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "The tokens", body = TokenAnswer),
        TokenErrors,
    ),
)]
#[post("/token")]
pub(crate) async fn standard(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if media_type(&req) == "application/json" && state.dialects.redirect_login {
        return Ok(crate::dialects::redirect_login::token(req, payload, state).await);
    }
    exchange(req, payload, state, None, "Bearer").await
}

/// `POST /oauth/token`: the same endpoint; Spring Security OAuth's clients
/// expect `token_type` in lower case (seed 004). RFC 6749 section 7.1 makes
/// the value case-insensitive, so both spellings are correct.
#[utoipa::path(
    tag = "spring-oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "The tokens", body = TokenResponse),
        ApiErrors,
    ),
)]
#[post("/oauth/token")]
pub(crate) async fn spring(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    exchange(req, payload, state, Some(Dialect::SpringOauth), "bearer").await
}

async fn exchange(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
    dialect: Option<Dialect>,
    token_type: &'static str,
) -> Result<HttpResponse, ApiError> {
    let mut form: TokenForm = read_form(&req, payload, state.limits.max_body_bytes).await?;
    let credentials = client_auth::credentials(&req, form.take_client())?;
    let grant = form.grant(crate::edge::security::peer(&req))?;
    let client = state.grants.authenticate_client(&credentials).await?;
    crate::edge::cors::allow_for(&req, &client, false);
    let now = crate::edge::now::of(&req, &state);
    let issued = match dialect {
        Some(dialect) => {
            state
                .grants
                .exchange_in(dialect, &client, grant, now)
                .await?
        }
        None => state.grants.exchange(&client, grant, now).await?,
    };
    Ok(token_response(&issued, token_type))
}

/// RFC 6749 section 5.1: the body, and `Cache-Control: no-store`.
fn token_response(issued: &IssuedTokens, token_type: &'static str) -> HttpResponse {
    let response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(TokenResponse {
            access_token: issued.access_token.expose(),
            token_type,
            expires_in: issued.expires_in.num_seconds(),
            refresh_token: issued.refresh_token.as_ref().map(OpaqueToken::expose),
            scope: issued.scope.to_string(),
            id_token: issued.id_token.as_ref().map(OpaqueToken::expose),
        });
    crate::edge::security::with_event(response, issued.event.clone())
}
