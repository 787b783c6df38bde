//! `GET /userinfo`, `GET /me` and `GET /me/`: the account behind a bearer token.
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use auth_core::OAuthError;
use auth_core::types::UserId;
use serde::Serialize;

use crate::AppState;
use crate::bearer;
use crate::error::ApiError;
use crate::openapi::ApiErrors;

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
        (status = 200, description = "The account", body = UserInfo),
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

/// `GET /me`: the same as `/userinfo`.
#[utoipa::path(
    tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = UserInfo),
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
        (status = 200, description = "The account", body = UserInfo),
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
    let claims = bearer::authenticate(&req, &state).await?;
    let no_user = || OAuthError::invalid_token("this token does not belong to a user");
    let id = claims
        .subject
        .parse()
        .map(UserId::new)
        .map_err(|_| no_user())?;
    let user = state
        .user(id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(no_user)?;
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
