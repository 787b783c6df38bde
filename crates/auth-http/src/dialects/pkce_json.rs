//! Seed 001, "PKCE JSON": `POST /sign-in` and `POST /register` with JSON
//! bodies answering `{authorization_code, expires_in, state}`, and
//! `GET /token` with query parameters answering `{access_token, expires_in,
//! token_type, refresh_token}`. `GET /authorize` is the standard endpoint.
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::OAuthError;
use auth_core::accounts::{RegistrationError, UserSpec, register_user_from};
use auth_core::authorize::{AuthorizationRequest, Consent, Refusal, ValidRequest};
use auth_core::grants::{ClientCredentials, GrantRequest, Login};
use auth_core::types::{
    ClientId, Dialect, Email, LoginName, OpaqueToken, Password, UserId, Username,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{field, parse_json};
use crate::edge::body::{expose, present, read_json_object};
use crate::edge::error::{ApiError, ErrorBody};
use crate::edge::grant::TokenForm;
use crate::edge::responses::ApiErrors;
use crate::state::AppState;

/// The document's answer to sign-in and registration.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CodeResponse<'a> {
    authorization_code: &'a str,
    expires_in: i64,
    state: Option<&'a str>,
}

/// The authorization request fields of a sign-in or register body. The
/// document's sign-in example names the method `SHA256`: it means S256.
fn authorization_request(fields: RequestFields) -> Result<AuthorizationRequest, OAuthError> {
    let method = present(fields.code_challenge_method).map(|m| {
        if m.eq_ignore_ascii_case("sha256") || m.eq_ignore_ascii_case("sha-256") {
            "S256".to_owned()
        } else {
            m
        }
    });
    Ok(AuthorizationRequest {
        client_id: Some(field(fields.client_id, "client_id")?),
        redirect_uri: present(fields.redirect_uri),
        response_type: Some(field(fields.response_type, "response_type")?),
        scope: present(fields.scope),
        state: present(fields.state),
        code_challenge: Some(field(fields.code_challenge, "code_challenge")?),
        code_challenge_method: method,
        nonce: present(fields.nonce),
        // Its sign-in checks the credentials in the request itself.
        prompt: None,
        max_age: None,
        id_token_hint: None,
        acr_values: None,
    })
}

async fn validate(state: &AppState, fields: RequestFields) -> Result<ValidRequest, ApiError> {
    let request = authorization_request(fields)?;
    match state
        .sign_in
        .validate_authorization_in(Dialect::PkceJson, &request)
        .await
    {
        Ok(v) => Ok(v),
        Err(Refusal::Untrusted(m)) => Err(OAuthError::invalid_request(m).into()),
        Err(Refusal::Redirect { error, .. }) => Err(error.into()),
        Err(Refusal::Failed(e)) => Err(e.into()),
    }
}

async fn code_response(
    state: &AppState,
    valid: &ValidRequest,
    user: UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let (code, expires_in) = state
        .sign_in
        // No consent step in this dialect: a third-party client is refused
        // by the core and must send the user to GET /authorize.
        .issue_code(
            valid,
            // The credentials were checked by this very request.
            auth_core::authorize::SignedIn {
                user,
                authenticated_at: now,
                methods: auth_core::types::AuthMethods::of(&[
                    auth_core::types::AuthMethod::Password,
                ]),
            },
            Consent::NotAsked,
            now,
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CodeResponse {
            authorization_code: code.expose(),
            expires_in,
            state: valid.state.as_deref(),
        }))
}

async fn json_body(payload: Payload, state: &AppState) -> Result<SignIn, ApiError> {
    Ok(parse_json(
        read_json_object(payload, state.limits.max_body_bytes).await?,
    )?)
}

/// The document's sign-in body: an authorization request and the
/// credentials.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SignIn {
    #[serde(flatten)]
    #[schema(inline)]
    request: RequestFields,
    #[schema(value_type = String)]
    email: Option<String>,
    #[schema(value_type = String)]
    password: Option<SecretString>,
}

/// The authorization request a sign-in or registration body carries.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = PkceJsonRequestFields)]
pub(crate) struct RequestFields {
    #[schema(value_type = String)]
    client_id: Option<String>,
    /// `code`.
    #[schema(value_type = String)]
    response_type: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    #[schema(value_type = String)]
    code_challenge: Option<String>,
    /// `S256` (the document's `SHA256` means it).
    code_challenge_method: Option<String>,
    nonce: Option<String>,
}

/// The document's registration body: sign-in's, with the person's names.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct Registration {
    #[serde(flatten)]
    sign_in: SignIn,
    #[schema(value_type = String)]
    first_name: Option<String>,
    #[schema(value_type = String)]
    last_name: Option<String>,
}

/// `POST /sign-in`.
#[utoipa::path(
    tag = "pkce-json",
    request_body = SignIn,
    responses(
        (status = 200, description = "A code for the client", body = CodeResponse),
        ApiErrors,
    ),
)]
#[post("/sign-in")]
pub(crate) async fn sign_in(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if crate::edge::body::media_type(&req) != "application/json" {
        return Err(ApiError::UnsupportedMediaType(
            "POST /sign-in takes an application/json body",
        ));
    }
    let body = json_body(payload, &state).await?;
    let valid = validate(&state, body.request).await?;
    let email = LoginName::lookup(&field(body.email, "email")?);
    let password = crate::edge::body::password(field(body.password, "password")?);
    let user = state
        .sign_in
        .verify_password_sign_in(
            &valid.client,
            &Login::Name(email),
            password,
            &crate::edge::security::peer(&req),
            crate::edge::now::of(&req, &state),
        )
        .await?;
    let response =
        code_response(&state, &valid, user.id, crate::edge::now::of(&req, &state)).await?;
    Ok(crate::edge::security::with_event(
        response,
        Some(auth_core::events::SecurityEvent::LoginSucceeded { user: user.id }),
    ))
}

/// `POST /register` with the document's body: creates the account and
/// answers with a code, as sign-in does.
pub(crate) async fn register(
    state: &AppState,
    peer: &str,
    body: Registration,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let Registration {
        sign_in: credentials,
        first_name,
        last_name,
    } = body;
    let valid = validate(state, credentials.request).await?;
    state.sign_in.check_consent(&valid, Consent::NotAsked)?;
    let invalid = |e: &dyn std::fmt::Display| OAuthError::invalid_request(e.to_string());
    let email = Email::parse(&field(credentials.email, "email")?).map_err(|e| invalid(&e))?;
    let spec = UserSpec {
        // The document's accounts have no separate username: the email is the login.
        username: Username::parse(email.as_str()).map_err(|e| invalid(&e))?,
        email: Some(email),
        password: Password::parse(expose(field(credentials.password, "password")?))
            .map_err(|e| invalid(&e))?,
        given_name: Some(field(first_name, "first_name")?),
        family_name: Some(field(last_name, "last_name")?),
    };
    match register_user_from(&state.accounts, peer, spec, now).await {
        Ok(user) => code_response(state, &valid, user.id, now).await,
        Err(RegistrationError::Conflict(_) | RegistrationError::AddressInUse) => {
            Ok(HttpResponse::Conflict().json(ErrorBody::invalid_request(
                "an account with this email already exists",
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

/// The document's token response.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PkceJsonTokenResponse)]
pub(crate) struct TokenResponse<'a> {
    access_token: &'a str,
    expires_in: i64,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// `GET /token` with query parameters, as seed 001's document shows it:
/// the `authorization_code` and `refresh_token` grants of a public client,
/// nothing else. A URL ends up in logs and browser history, so a secret or
/// a password in one is refused, as is every other grant. The document's
/// refresh request carries no client id: the token's own client is used.
#[utoipa::path(
    tag = "pkce-json",
    params(TokenForm),
    responses(
        (status = 200, description = "The tokens", body = TokenResponse),
        ApiErrors,
    ),
)]
#[get("/token")]
pub(crate) async fn token(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut form: TokenForm = crate::edge::body::read_query(&req)?;
    if let Some(secret) = form.secret_named() {
        return Err(OAuthError::invalid_request(format!(
            "GET /token takes no {secret}: a URL is no place for a secret; use POST /token"
        ))
        .into());
    }
    if req.headers().contains_key(header::AUTHORIZATION) {
        return Err(OAuthError::invalid_client(
            "GET /token serves public clients only; a confidential client uses POST /token",
        )
        .into());
    }
    let client_id = crate::edge::body::present(form.take_client().client_id);
    let grant = form.grant(crate::edge::security::peer(&req))?;
    if !matches!(
        grant,
        GrantRequest::AuthorizationCode { .. } | GrantRequest::RefreshToken { .. }
    ) {
        return Err(OAuthError::unsupported_grant_type(
            "GET /token serves only the authorization_code and refresh_token grants",
        )
        .into());
    }
    let credentials = match client_id {
        Some(id) => ClientCredentials {
            client_id: ClientId::parse(&id)
                .map_err(|_| OAuthError::invalid_client("client authentication failed"))?,
            secret: None,
        },
        None => refresh_token_client(&state, &grant).await?.ok_or_else(|| {
            OAuthError::invalid_client("the request names no client (client_id is missing)")
        })?,
    };
    let client = state.grants.authenticate_client(&credentials).await?;
    let issued = state
        .grants
        .exchange_in(
            Dialect::PkceJson,
            &client,
            grant,
            crate::edge::now::of(&req, &state),
        )
        .await?;
    let response = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: issued.access_token.expose(),
            expires_in: issued.expires_in.num_seconds(),
            token_type: "Bearer",
            refresh_token: issued.refresh_token.as_ref().map(OpaqueToken::expose),
        });
    Ok(crate::edge::security::with_event(response, issued.event))
}

/// The client a presented refresh token was issued to, as credentials
/// without a secret (so only a public client passes authentication).
async fn refresh_token_client(
    state: &AppState,
    grant: &GrantRequest,
) -> Result<Option<ClientCredentials>, ApiError> {
    let GrantRequest::RefreshToken { refresh_token, .. } = grant else {
        return Ok(None);
    };
    let client_id = state.grants.refresh_token_client(refresh_token).await?;
    Ok(client_id.map(|client_id| ClientCredentials {
        client_id,
        secret: None,
    }))
}
