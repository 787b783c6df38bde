//! Seed 002, "key/secret": `POST /register {user_id, user_secret}` ->
//! `{user_key}`, `POST /authenticate {user_key, user_secret}` ->
//! `{access_token, refresh_token}`, `POST /refresh {refresh_token}` ->
//! `{access_token}`. The requests name no client: the dialect acts for the
//! configured client (`AppState::key_secret_client`), whose access tokens
//! live one hour and whose refresh token stays the same (the document's
//! refresh answer carries no new one).
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use auth_core::OAuthError;
use auth_core::accounts::{RegistrationError, UserSpec, register_user_from};
use auth_core::grants::{GrantRequest, Login};
use auth_core::types::{Client, Dialect, LoginName, OpaqueToken, Password, UserId, Username};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{field, parse_json};
use crate::edge::body::{expose, media_type, password, read_json_object};
use crate::edge::error::{ApiError, ErrorBody};
use crate::edge::responses::ApiErrors;
use crate::state::AppState;

/// The configured client, which must be registered for this dialect (and
/// public: the document's requests carry no client secret).
async fn client(state: &AppState) -> Result<Client, ApiError> {
    let id = state.key_secret_client.as_ref().ok_or_else(|| {
        OAuthError::invalid_request("the key/secret API is not enabled on this server")
    })?;
    Ok(state.grants.dialect_client(Dialect::KeySecret, id).await?)
}

async fn json_body(
    req: &HttpRequest,
    payload: Payload,
    state: &AppState,
) -> Result<Map<String, Value>, ApiError> {
    if media_type(req) != "application/json" {
        return Err(ApiError::UnsupportedMediaType(
            "this endpoint takes an application/json body",
        ));
    }
    read_json_object(payload, state.limits.max_body_bytes).await
}

fn no_store(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The document's registration body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Registration {
    #[schema(value_type = String)]
    user_id: Option<String>,
    #[schema(value_type = String)]
    user_secret: Option<SecretString>,
}

/// The document's answer to a registration: the account's key.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserKey {
    user_key: String,
}

/// The document's authentication body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Authentication {
    #[schema(value_type = String)]
    user_key: Option<String>,
    #[schema(value_type = String)]
    user_secret: Option<SecretString>,
}

/// The document's answer to an authentication.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Tokens<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
}

/// The document's refresh body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Refresh {
    #[schema(value_type = String)]
    refresh_token: Option<SecretString>,
}

/// The document's answer to a refresh: the refresh token stays the same.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Refreshed<'a> {
    access_token: &'a str,
}

/// `POST /register {"user_id", "user_secret"}`: the new account's key.
pub(crate) async fn register(
    state: &AppState,
    peer: &str,
    body: Registration,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    client(state).await?;
    let invalid = |e: &dyn std::fmt::Display| OAuthError::invalid_request(e.to_string());
    let spec = UserSpec {
        username: Username::parse(&field(body.user_id, "user_id")?).map_err(|e| invalid(&e))?,
        email: None,
        password: Password::parse(expose(field(body.user_secret, "user_secret")?))
            .map_err(|e| invalid(&e))?,
        given_name: None,
        family_name: None,
    };
    match register_user_from(&state.accounts, peer, spec, now).await {
        Ok(user) => Ok(no_store(UserKey {
            user_key: user.id.to_string(),
        })),
        Err(RegistrationError::Conflict(_) | RegistrationError::AddressInUse) => {
            Ok(HttpResponse::Conflict().json(ErrorBody::invalid_request(
                "that user_id is already registered",
            )))
        }
        Err(RegistrationError::Invalid(m)) => Err(OAuthError::invalid_request(m).into()),
        Err(RegistrationError::Throttled) => {
            Err(ApiError::Throttled(super::REGISTRATION_THROTTLED))
        }
        Err(RegistrationError::Closed) => Err(ApiError::NotOffered(super::REGISTRATION_CLOSED)),
        Err(RegistrationError::Flow(e)) => Err(e.into()),
    }
}

/// `POST /authenticate {"user_key", "user_secret"}`.
#[utoipa::path(
    tag = "key-secret",
    request_body = Authentication,
    responses((status = 200, description = "The tokens", body = Tokens), ApiErrors),
)]
#[post("/authenticate")]
pub(crate) async fn authenticate(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: Authentication = parse_json(json_body(&req, payload, &state).await?)?;
    let client = client(&state).await?;
    let key = field(body.user_key, "user_key")?;
    let secret = password(field(body.user_secret, "user_secret")?);
    // The key names the account by its id, looked up as such; an unknown
    // or malformed key still costs one password verification and reads
    // like a wrong secret.
    let login = match key.parse().map(UserId::new) {
        Ok(id) => Login::Account(id),
        Err(_) => Login::Name(LoginName::lookup("")),
    };
    // The same gate as the password grant at /token: the client must be
    // allowed it, and the throttle and timing rules apply.
    let request = GrantRequest::Password {
        login,
        password: secret,
        scope: None,
        from: crate::edge::security::peer(&req),
    };
    let issued = state
        .grants
        .exchange_in(
            Dialect::KeySecret,
            &client,
            request,
            crate::edge::now::of(&req, &state),
        )
        .await?;
    let response = no_store(Tokens {
        access_token: issued.access_token.expose(),
        refresh_token: issued.refresh_token.as_ref().map(OpaqueToken::expose),
    });
    Ok(crate::edge::security::with_event(response, issued.event))
}

/// `POST /refresh {"refresh_token"}`.
#[utoipa::path(
    tag = "key-secret",
    request_body = Refresh,
    responses((status = 200, description = "A new access token", body = Refreshed), ApiErrors),
)]
#[post("/refresh")]
pub(crate) async fn refresh(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: Refresh = parse_json(json_body(&req, payload, &state).await?)?;
    let client = client(&state).await?;
    let request = GrantRequest::RefreshToken {
        refresh_token: OpaqueToken::new(expose(field(body.refresh_token, "refresh_token")?)),
        scope: None,
    };
    let issued = state
        .grants
        .exchange_in(
            Dialect::KeySecret,
            &client,
            request,
            crate::edge::now::of(&req, &state),
        )
        .await?;
    Ok(no_store(Refreshed {
        access_token: issued.access_token.expose(),
    }))
}
