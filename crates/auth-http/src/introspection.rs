//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009), both for
//! authenticated clients.
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use auth_core::grants::introspection::TokenKind;
use serde_json::json;

use crate::AppState;
use crate::body::read_form;
use crate::client_auth;
use crate::error::ApiError;

/// Reads the form, authenticates the client, and returns the client with
/// the `token` and `token_type_hint` parameters.
async fn authenticated(
    req: &HttpRequest,
    payload: Payload,
    state: &AppState,
) -> Result<(auth_core::types::Client, String, Option<String>), ApiError> {
    let mut params = read_form(req, payload, state.limits.max_body_bytes).await?;
    let credentials = client_auth::take(req, &mut params)?;
    let token = params.require("token")?;
    let hint = params.take("token_type_hint");
    let client = state.tokens.authenticate_client(&credentials).await?;
    Ok((client, token, hint))
}

/// `POST /introspect`: for a confidential client, the facts of an active
/// token issued to it or to an audience it serves; anything else only
/// `{"active": false}`. A public client gets 401.
pub(crate) async fn introspect(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (client, token, hint) = authenticated(&req, payload, &state).await?;
    let now = state.clock.now();
    let body = match state
        .tokens
        .introspect(&client, &token, hint.as_deref(), now)
        .await?
    {
        Some(active) => {
            json!({
                "active": true,
                "scope": active.scope.to_string(),
                "client_id": active.client_id,
                "sub": active.subject,
                "username": active.username,
                "exp": active.expires_at.timestamp(),
                "iat": active.issued_at.timestamp(),
                "iss": state.tokens.issuer(),
                "token_type": match active.kind {
                    TokenKind::Access => "Bearer",
                    TokenKind::Refresh => "refresh_token",
                },
            })
        }
        None => json!({ "active": false }),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// `POST /revoke`: 200 whether or not the token was known (RFC 7009
/// section 2.2); a token of another client is refused.
pub(crate) async fn revoke(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (client, token, hint) = authenticated(&req, payload, &state).await?;
    state
        .tokens
        .revoke(&client, &token, hint.as_deref(), state.clock.now())
        .await?;
    let mut response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    crate::security::attach(
        &mut response,
        auth_core::events::SecurityEvent::TokenRevoked { client: client.id },
    );
    Ok(response)
}
