//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009), both for
//! authenticated clients.
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use auth_core::grants::introspection::TokenKind;
use serde::Serialize;

use secrecy::SecretString;
use serde::Deserialize;

use crate::edge::body::{expose, present, read_form, required};
use crate::edge::client_auth::{self, ClientFields};
use crate::edge::error::ApiError;
use crate::edge::responses::ApiErrors;
use crate::state::AppState;

/// Reads the form, authenticates the client, and returns the client with
/// the `token` and `token_type_hint` parameters.
async fn authenticated(
    req: &HttpRequest,
    payload: Payload,
    state: &AppState,
) -> Result<(auth_core::types::Client, String, Option<String>), ApiError> {
    let form: TokenForm = read_form(req, payload, state.limits.max_body_bytes).await?;
    let credentials = client_auth::credentials(req, form.client)?;
    let token = expose(required(form.token, "token")?);
    let hint = present(form.token_type_hint);
    let client = state.grants.authenticate_client(&credentials).await?;
    Ok((client, token, hint))
}

/// The form of `/introspect` (RFC 7662 section 2.1) and `/revoke` (RFC
/// 7009 section 2.1); the client authenticates with HTTP Basic or the
/// `client_id` and `client_secret` fields.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct TokenForm {
    #[schema(value_type = String)]
    token: Option<SecretString>,
    /// `access_token` or `refresh_token`.
    token_type_hint: Option<String>,
    #[serde(flatten)]
    #[schema(inline)]
    client: ClientFields,
}

/// RFC 7662 section 2.2: only `active` for a token that is not active or
/// not the asking client's to know about.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Introspection<'a> {
    active: bool,
    #[serde(flatten)]
    #[serde(skip_serializing_if = "Option::is_none")]
    facts: Option<ActiveToken<'a>>,
}

/// What introspection says of an active token.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ActiveToken<'a> {
    scope: String,
    client_id: String,
    sub: String,
    username: Option<String>,
    exp: i64,
    iat: i64,
    iss: &'a str,
    /// `Bearer` or `refresh_token`.
    token_type: &'static str,
    /// With the `groups` scope: the account's groups now, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
}

/// `POST /introspect`: for a confidential client, the facts of an active
/// token issued to it or to an audience it serves; anything else only
/// `{"active": false}`. A public client gets 401.
#[utoipa::path(
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses((status = 200, description = "What is known", body = Introspection), ApiErrors),
)]
#[post("/introspect")]
pub(crate) async fn introspect(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (client, token, hint) = authenticated(&req, payload, &state).await?;
    crate::edge::cors::allow_for(&req, &client, true);
    let now = crate::edge::now::of(&req, &state);
    let facts = state
        .grants
        .introspect(&client, &token, hint.as_deref(), now)
        .await?
        .map(|active| ActiveToken {
            scope: active.scope.to_string(),
            client_id: active.client_id,
            sub: active.subject.to_string(),
            username: active.username,
            exp: active.expires_at.timestamp(),
            iat: active.issued_at.timestamp(),
            iss: state.grants.issuer(),
            token_type: match active.kind {
                TokenKind::Access => "Bearer",
                TokenKind::Refresh => "refresh_token",
            },
            groups: active.groups,
        });
    let body = Introspection {
        active: facts.is_some(),
        facts,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// `POST /revoke`: 200 whether or not the token was known (RFC 7009
/// section 2.2); a token of another client is refused.
#[utoipa::path(
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses((status = 200, description = "Revoked, or was not valid"), ApiErrors),
)]
#[post("/revoke")]
pub(crate) async fn revoke(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (client, token, hint) = authenticated(&req, payload, &state).await?;
    crate::edge::cors::allow_for(&req, &client, false);
    state
        .grants
        .revoke(
            &client,
            &token,
            hint.as_deref(),
            crate::edge::now::of(&req, &state),
        )
        .await?;
    let mut response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    crate::edge::security::attach(
        &mut response,
        auth_core::events::SecurityEvent::TokenRevoked { client: client.id },
    );
    Ok(response)
}
