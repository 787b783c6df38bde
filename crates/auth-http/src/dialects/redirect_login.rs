//! Seed 000, "redirect login": `GET /login?client_id&scope&redirect_uri`
//! with the hosted pages, tokens appended to the redirect URI after login,
//! JSON registration at `POST /register`, and the JSON token endpoint at
//! `POST /token`. Only clients registered with `--legacy-token-redirect`
//! take part: putting tokens in a URL is this dialect's contract, not a
//! default.
use actix_web::http::StatusCode;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use auth_core::OAuthError;
use auth_core::accounts::{RegistrationError, UserSpec, register_user_from};
use auth_core::authorize::{Refusal, ValidRedirectLogin};
use auth_core::grants::{GrantRequest, Login};
use auth_core::types::{
    ClientId, Dialect, LoginName, OpaqueToken, Password, Scope, UserId, Username,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field;
use crate::edge::body::{expose, read_json_object};
use crate::edge::error::{ApiError, ErrorBody};
use crate::edge::pending::Pending;
use crate::edge::redirect::redirect_with;
use crate::state::AppState;

/// The document's clients send `scope=0` or a scope string; anything that
/// is not a scope string means the client's registered scope.
fn requested_scope(raw: Option<&str>) -> Option<Scope> {
    raw.and_then(|r| Scope::parse(r).ok())
        .filter(|s| !s.is_empty() && s.iter().all(|t| t != "0"))
}

/// Validates a redirect-login request in the core; a refusal is an error
/// page (nothing is ever redirected to an unverified URI).
pub(crate) async fn validate(
    state: &AppState,
    pending: &Pending,
) -> Result<Result<ValidRedirectLogin, Box<HttpResponse>>, ApiError> {
    let page = |m: &str| {
        Err(Box::new(state.pages.error(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            m,
        )))
    };
    if !state.dialects.redirect_login {
        return Ok(page("Redirect login is not enabled on this server."));
    }
    if let Some(valid) = pending.valid_redirect_login.get() {
        return Ok(Ok(valid.clone()));
    }
    let r = &pending.request;
    match state
        .sign_in
        .validate_redirect_login(
            r.client_id.as_deref(),
            r.redirect_uri.as_deref(),
            requested_scope(r.scope.as_deref()),
        )
        .await
    {
        Ok(valid) => Ok(Ok(pending
            .valid_redirect_login
            .get_or_init(|| valid)
            .clone())),
        Err(Refusal::Untrusted(m)) => Ok(page(&m)),
        Err(Refusal::Redirect { error, .. }) => Ok(page(error.description())),
        Err(Refusal::Failed(e)) => Err(e.into()),
    }
}

/// After login: issue tokens and send them to the redirect URI, appended
/// as `access_token`, `refresh_token`, `expiration` and `user_id`.
pub(crate) async fn complete(
    state: &AppState,
    pending: &Pending,
    user: UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let request = match validate(state, pending).await? {
        Ok(r) => r,
        Err(page) => return Ok(*page),
    };
    let issued = state
        .sign_in
        .redirect_login_tokens(&request, user, now)
        .await?;
    let expiration = issued.expires_at.timestamp().to_string();
    let user_id = user.to_string();
    let mut params = vec![("access_token", issued.access_token.expose())];
    if let Some(rt) = issued.refresh_token.as_ref() {
        params.push(("refresh_token", rt.expose()));
    }
    params.push(("expiration", &expiration));
    params.push(("user_id", &user_id));
    Ok(redirect_with(
        &request.redirect_uri,
        &params,
        StatusCode::SEE_OTHER,
    ))
}

/// The document's registration body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Registration {
    #[schema(value_type = String)]
    username: Option<String>,
    #[schema(value_type = String)]
    password: Option<SecretString>,
}

/// The document's answer to a registration.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Registered {
    user_id: String,
}

/// `POST /register {"username", "password"}`: 201 on success.
pub(crate) async fn register(
    state: &AppState,
    peer: &str,
    body: Registration,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let username = Username::parse(&field(body.username, "username")?)
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    // The document's own example registers the password "1234": the
    // dialect's clients choose their passwords, so only emptiness and the
    // length cap are refused here.
    let password = Password::parse(expose(field(body.password, "password")?))
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let spec = UserSpec {
        username,
        email: None,
        password,
        given_name: None,
        family_name: None,
    };
    match register_user_from(&state.accounts, peer, spec, now).await {
        Ok(user) => Ok(HttpResponse::Created().json(Registered {
            user_id: user.id.to_string(),
        })),
        Err(RegistrationError::Conflict(_) | RegistrationError::AddressInUse) => {
            Ok(HttpResponse::Conflict().json(ErrorBody::invalid_request(
                "that username is already registered",
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

/// The document's token request: `response_type` `code` with the
/// password, or `refresh` with the refresh token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct LegacyTokenRequest {
    #[schema(value_type = String)]
    client_id: Option<String>,
    /// `code` or `refresh`.
    #[schema(value_type = String)]
    response_type: Option<String>,
    #[schema(value_type = String)]
    username: Option<String>,
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    refresh_token: Option<SecretString>,
    /// A scope string narrows the grant; the document's example sends a number.
    scope: Option<serde_json::Value>,
}

/// The document's token response, also for its refusals.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LegacyTokenResponse {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expiration: Option<i64>,
    status_code: u16,
    error: Option<String>,
    success: bool,
}

fn legacy_error(e: ApiError) -> HttpResponse {
    use actix_web::ResponseError as _;
    if let ApiError::Internal(_) | ApiError::Unavailable(_) = &e {
        // Logged by the standard mapping.
        let _ = e.error_response();
    }
    let status = e.status_code();
    let message = match &e {
        ApiError::OAuth(o) => o.description().to_owned(),
        ApiError::Internal(_) => "the server could not complete the request".to_owned(),
        other => other.to_string(),
    };
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(LegacyTokenResponse {
            access_token: None,
            refresh_token: None,
            expiration: None,
            status_code: status.as_u16(),
            error: Some(message),
            success: false,
        })
}

/// `POST /token` with a JSON body: `response_type` `code` (username and
/// password) or `refresh` (username and refresh token; the refresh token
/// stays the same).
pub(crate) async fn token(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> HttpResponse {
    match token_inner(
        payload,
        &state,
        crate::edge::security::peer(&req),
        crate::edge::now::of(&req, &state),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            if let Some(event) = e.event() {
                crate::edge::security::log(event, &req);
            }
            legacy_error(e)
        }
    }
}

async fn token_inner(
    payload: Payload,
    state: &AppState,
    from: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let body: LegacyTokenRequest =
        super::parse_json(read_json_object(payload, state.limits.max_body_bytes).await?)?;
    let client_id = ClientId::parse(&field(body.client_id, "client_id")?)
        .map_err(|_| OAuthError::invalid_client("client authentication failed"))?;
    // The document's requests carry no secret: only a public client
    // registered for this dialect passes.
    let client = state
        .grants
        .dialect_client(Dialect::RedirectLogin, &client_id)
        .await?;
    let username = LoginName::lookup(&field(body.username, "username")?);
    let request = match field(body.response_type, "response_type")?.as_str() {
        "code" => GrantRequest::Password {
            login: Login::Name(username),
            password: crate::edge::body::password(field(body.password, "password")?),
            // `scope` is a number in the document's example; only a scope
            // string narrows the grant.
            scope: match &body.scope {
                Some(Value::String(s)) if !s.is_empty() => {
                    Some(Scope::parse(s).map_err(|e| OAuthError::invalid_scope(e.to_string()))?)
                }
                _ => None,
            },
            from,
        },
        "refresh" => {
            let refresh_token =
                OpaqueToken::new(expose(field(body.refresh_token, "refresh_token")?));
            // The document's refresh names the user: it must be the token's owner.
            if !state
                .grants
                .refresh_token_owned_by(&refresh_token, &username)
                .await?
            {
                return Err(OAuthError::invalid_grant(
                    "the refresh token is invalid, expired or revoked",
                )
                .into());
            }
            GrantRequest::RefreshToken {
                refresh_token,
                scope: None,
            }
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "response_type must be \"code\" or \"refresh\"",
            )
            .into());
        }
    };
    let issued = state
        .grants
        .exchange_in(Dialect::RedirectLogin, &client, request, now)
        .await?;
    let event = issued.event.clone();
    let response = HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(LegacyTokenResponse {
            access_token: Some(issued.access_token.into_inner()),
            refresh_token: issued.refresh_token.map(OpaqueToken::into_inner),
            expiration: Some(issued.expires_at.timestamp()),
            status_code: 201,
            error: None,
            success: true,
        });
    Ok(crate::edge::security::with_event(response, event))
}
