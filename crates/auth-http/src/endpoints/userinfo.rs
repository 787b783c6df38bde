//! `GET` and `POST /userinfo`, `GET /me` and `GET /me/`: the account behind
//! a bearer token.
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::OAuthError;
use auth_core::grants::introspection::Bearer;
use serde::Serialize;

use crate::edge::bearer;
use crate::edge::error::ApiError;
use crate::edge::responses::ApiErrors;
use crate::state::AppState;

/// OpenID Connect Core section 5.3.2: `sub` and the claims the token's
/// scopes release.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct OpenIdUserInfo {
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<String>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    /// With the `groups` scope: the account's groups by name, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
}

/// What the account endpoints answer: OpenID Connect's claims for a token
/// with `openid`, the full account otherwise.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "describes the handler's two answers, for the OpenAPI document"
)]
pub(crate) enum Account<'a> {
    OpenId(OpenIdUserInfo),
    Full(UserInfo<'a>),
}

/// Standard claim names (OpenID Connect Core section 5.1) plus `username`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserInfo<'a> {
    sub: String,
    username: &'a str,
    preferred_username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<&'a str>,
    scope: String,
    client_id: &'a str,
}

/// `GET /userinfo`: the account the bearer token was issued for.
#[utoipa::path(
    tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Account),
        ApiErrors,
    ),
)]
#[get("/userinfo")]
pub(crate) async fn userinfo(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    account(req, state).await
}

/// `POST /userinfo`'s form: the token as RFC 6750 section 2.2 sends it.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct UserInfoForm {
    #[schema(value_type = Option<String>)]
    access_token: Option<secrecy::SecretString>,
}

/// `POST /userinfo` (OpenID Connect Core section 5.3.1): the bearer token in
/// the Authorization header, or as `access_token` in a form body (RFC 6750
/// section 2.2); never both (section 2).
#[utoipa::path(
    tag = "oauth",
    request_body(content = UserInfoForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Account),
        ApiErrors,
    ),
)]
#[post("/userinfo")]
pub(crate) async fn userinfo_post(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let in_body = if crate::edge::body::media_type(&req) == "application/x-www-form-urlencoded" {
        let form: UserInfoForm =
            crate::edge::body::read_form(&req, payload, state.limits.max_body_bytes).await?;
        crate::edge::body::present(form.access_token).map(crate::edge::body::expose)
    } else {
        None
    };
    let bearer = match in_body {
        Some(_) if req.headers().contains_key(header::AUTHORIZATION) => {
            return Err(OAuthError::invalid_request(
                "the access token is in both the Authorization header and the body; send it once",
            )
            .into());
        }
        Some(token) => bearer::verify(&token, &req, &state).await?,
        None => bearer::authenticate(&req, &state).await?,
    };
    crate::edge::cors::allow_for_bearer(&req, &state, &bearer.claims.client_id).await?;
    respond(&state, bearer).await
}

/// `GET /me`: the same as `/userinfo`.
#[utoipa::path(
    tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Account),
        ApiErrors,
    ),
)]
#[get("/me")]
pub(crate) async fn me(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    account(req, state).await
}

/// `GET /me/`: seed 004's user endpoint, the same as `/userinfo`.
#[utoipa::path(
    tag = "spring-oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Account),
        ApiErrors,
    ),
)]
#[get("/me/")]
pub(crate) async fn me_slash(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    account(req, state).await
}

async fn account(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let bearer = bearer::authenticate(&req, &state).await?;
    crate::edge::cors::allow_for_bearer(&req, &state, &bearer.claims.client_id).await?;
    respond(&state, bearer).await
}

/// The account the token acts for (checked enabled by `verify_access`).
async fn respond(state: &AppState, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let Bearer { claims, user } = bearer;
    let user =
        user.ok_or_else(|| OAuthError::invalid_token("this token does not belong to a user"))?;
    // A token with `openid`: OpenID Connect Core section 5.3.2, the
    // claims its scopes release. Any other: the account as the dialects'
    // clients read it.
    if claims.scope.contains(auth_core::grants::id_token::OPENID) {
        let (profile, email) = auth_core::grants::id_token::released_claims(&user, &claims.scope);
        return Ok(HttpResponse::Ok().json(OpenIdUserInfo {
            sub: user.id.to_string(),
            name: profile.name,
            given_name: profile.given_name,
            family_name: profile.family_name,
            preferred_username: profile.preferred_username,
            updated_at: profile.updated_at.map(|t| t.timestamp()),
            email: email.as_ref().map(|e| e.address.clone()),
            email_verified: email.map(|e| e.verified),
            groups: state.grants.groups_claim(user.id, &claims.scope).await?,
        }));
    }
    Ok(HttpResponse::Ok().json(UserInfo {
        sub: user.id.to_string(),
        username: user.username.as_str(),
        preferred_username: user.username.as_str(),
        email: user.email.as_ref().map(|e| e.as_str()),
        given_name: user.given_name.as_deref(),
        family_name: user.family_name.as_deref(),
        scope: claims.scope.to_string(),
        client_id: claims.client_id.as_str(),
    }))
}
