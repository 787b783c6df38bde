//! What an account holds, under `/admin/v1/users/{id}/`: its sessions,
//! the grants applications hold, its second factors and its linked
//! identities; each listed, and ended by the same core operations as the
//! account page's. A deletion here names no version of its own: it takes
//! `If-Match: *`.
use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, post};
use auth_core::admin::AdminArea;
use auth_core::federation::FederationError;
use auth_core::types::{ClientId, FactorId};
use serde::Serialize;

use super::Listing;
use super::guard::{caller, logged, now};
use super::precondition::any_version;
use super::problem::{Problem, Problems};
use super::users::user_id;
use crate::state::AppState;

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn listing<T: Serialize>(items: Vec<T>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Listing { items, next: None })
}

/// A browser session.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionResource {
    created: String,
    last_seen: String,
    expires: String,
    /// `password`, or the upstream provider's name.
    method: Option<String>,
    user_agent: Option<String>,
    address: Option<String>,
}

/// Lists an account's live browser sessions, the newest first.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:sessions:read"])),
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 200, description = "Its sessions", body = Listing<SessionResource>), Problems),
)]
#[get("/admin/v1/users/{id}/sessions")]
pub(crate) async fn sessions(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Sessions.read()).await?;
    let sessions = state
        .accounts
        .sessions_of_user(user_id(&id)?, now(&req, &state))
        .await?;
    Ok(listing(
        sessions
            .into_iter()
            .map(|s| SessionResource {
                created: rfc3339(s.created_at),
                last_seen: rfc3339(s.last_seen_at),
                expires: rfc3339(s.expires_at),
                method: s.origin.method,
                user_agent: s.origin.user_agent,
                address: s.origin.address,
            })
            .collect(),
    ))
}

/// The grants one application holds of an account.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrantResource {
    client_id: String,
    name: String,
    /// What its grants allow, together.
    scope: String,
    /// How many separate grants (sign-ins, devices).
    grants: usize,
    last_used: String,
}

/// Lists the applications holding live grants of an account.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:sessions:read"])),
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 200, description = "Its grants, by application", body = Listing<GrantResource>), Problems),
)]
#[get("/admin/v1/users/{id}/grants")]
pub(crate) async fn grants(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Sessions.read()).await?;
    let applications = state
        .accounts
        .grants_of_user(user_id(&id)?, now(&req, &state))
        .await?;
    Ok(listing(
        applications
            .into_iter()
            .map(|a| GrantResource {
                client_id: a.client_id.as_str().to_owned(),
                name: a.name,
                scope: a.scope.to_string(),
                grants: a.grants,
                last_used: rfc3339(a.last_used_at),
            })
            .collect(),
    ))
}

/// Takes back every grant one application holds of an account (its
/// refresh tokens and the access tokens issued with them) and its consent.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:sessions"])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("client" = String, Path, description = "The application's client id"),
        ("If-Match" = String, Header, description = "*"),
    ),
    responses((status = 204, description = "No grant of it is left"), Problems),
)]
#[delete("/admin/v1/users/{id}/grants/{client}")]
pub(crate) async fn revoke_grants(
    req: HttpRequest,
    path: Path<(String, String)>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Sessions.write()).await?;
    any_version(&req)?;
    let (id, client) = path.into_inner();
    let client =
        ClientId::parse(&client).map_err(|_| Problem::not_found("no client has this id"))?;
    let (_, event) = state
        .accounts
        .revoke_grants_of(user_id(&id)?, &client, now(&req, &state))
        .await?;
    let response = HttpResponse::NoContent().finish();
    Ok(match event {
        Some(event) => logged(response, &who, event),
        None => response,
    })
}

/// A second factor.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialResource {
    id: String,
    /// `totp` or `passkey`.
    kind: String,
    label: String,
    created: String,
    last_used: Option<String>,
}

/// An account's second factors.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Credentials {
    items: Vec<CredentialResource>,
    /// Unused recovery codes.
    recovery_codes_left: u64,
}

/// Lists an account's second factors.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users:read"])),
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 200, description = "Its factors", body = Credentials), Problems),
)]
#[get("/admin/v1/users/{id}/credentials")]
pub(crate) async fn credentials(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Users.read()).await?;
    let overview = state.accounts.credentials_of(user_id(&id)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Credentials {
            items: overview
                .factors
                .into_iter()
                .map(|f| CredentialResource {
                    id: f.id.as_uuid().to_string(),
                    kind: f.kind.as_str().to_owned(),
                    label: f.label.as_str().to_owned(),
                    created: rfc3339(f.created_at),
                    last_used: f.last_used_at.map(rfc3339),
                })
                .collect(),
            recovery_codes_left: overview.recovery_codes_left,
        }))
}

/// Removes one second factor of an account (its owner is told by mail
/// where mail is set up).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users"])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("factor" = String, Path, description = "The factor's id"),
        ("If-Match" = String, Header, description = "*"),
    ),
    responses((status = 204, description = "Removed"), Problems),
)]
#[delete("/admin/v1/users/{id}/credentials/{factor}")]
pub(crate) async fn remove_credential(
    req: HttpRequest,
    path: Path<(String, String)>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Users.write()).await?;
    any_version(&req)?;
    let (id, factor) = path.into_inner();
    let factor = FactorId::parse(&factor).ok_or_else(|| Problem::not_found("no such factor"))?;
    let event = state
        .accounts
        .remove_credential(user_id(&id)?, factor, now(&req, &state))
        .await?;
    Ok(logged(HttpResponse::NoContent().finish(), &who, event))
}

/// How many factors a reset removed.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Removed {
    removed: u64,
}

/// Removes every second factor and recovery code of an account: it signs
/// in with its password alone until it enrols again.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users"])),
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 200, description = "Reset", body = Removed), Problems),
)]
#[post("/admin/v1/users/{id}/credentials/reset")]
pub(crate) async fn reset_credentials(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Users.write()).await?;
    let (removed, event) = state
        .accounts
        .reset_credentials(user_id(&id)?, now(&req, &state))
        .await?;
    Ok(logged(
        HttpResponse::Ok().json(Removed { removed }),
        &who,
        event,
    ))
}

/// An identity at an upstream provider linked to the account.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdentityResource {
    provider: String,
    /// Its stable id at the provider.
    subject: String,
    /// Its login name there when it was linked, to recognise it by.
    login: Option<String>,
    linked: String,
}

fn federation_problem(e: FederationError) -> Problem {
    match e {
        FederationError::UnknownProvider(_) => Problem::not_found("no such provider"),
        FederationError::Invalid(m) => Problem::new(StatusCode::CONFLICT, m),
        FederationError::Flow(e) => e.into(),
        other => Problem::bad_request(other.to_string()),
    }
}

/// Lists the upstream identities linked to an account.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users:read"])),
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 200, description = "Its identities", body = Listing<IdentityResource>), Problems),
)]
#[get("/admin/v1/users/{id}/identities")]
pub(crate) async fn identities(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Users.read()).await?;
    let user = state.accounts.user_record(user_id(&id)?).await?.user;
    let links = state
        .federation
        .links_of(user.id)
        .await
        .map_err(federation_problem)?;
    Ok(listing(
        links
            .into_iter()
            .map(|l| IdentityResource {
                provider: l.provider.as_str().to_owned(),
                subject: l.subject.as_str().to_owned(),
                login: l.login,
                linked: rfc3339(l.created_at),
            })
            .collect(),
    ))
}

/// Unlinks an account's identity at a provider; refused (409) while it is
/// the account's only way to sign in.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users"])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("provider" = String, Path, description = "The provider's name"),
        ("If-Match" = String, Header, description = "*"),
    ),
    responses((status = 204, description = "Unlinked"), Problems),
)]
#[delete("/admin/v1/users/{id}/identities/{provider}")]
pub(crate) async fn unlink(
    req: HttpRequest,
    path: Path<(String, String)>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Users.write()).await?;
    any_version(&req)?;
    let (id, provider) = path.into_inner();
    let user = state.accounts.user_record(user_id(&id)?).await?.user;
    match state
        .federation
        .unlink(user.id, &provider)
        .await
        .map_err(federation_problem)?
    {
        Some(event) => Ok(logged(HttpResponse::NoContent().finish(), &who, event)),
        None => Err(Problem::not_found("no identity of this provider is linked")),
    }
}
