//! `/admin/v1/groups`: groups and their members, by the same core
//! operations as the CLI's `group` commands. A group's version is the time
//! of its last change, which every change raises.
use actix_web::http::{StatusCode, header};
use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use auth_core::admin::AdminArea;
use auth_core::groups::GroupUpdate;
use auth_core::types::Group;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Listing;
use super::guard::{caller, json_object, logged, now};
use super::precondition::{IfMatch, etag};
use super::problem::{Problem, Problems};
use crate::state::AppState;

/// A group.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct GroupResource {
    id: String,
    /// Unique, in its normal form.
    name: String,
    description: String,
    /// RFC 3339.
    created: String,
    /// RFC 3339.
    #[serde(rename = "lastModified")]
    last_modified: String,
    /// The ETag of this version.
    version: String,
}

fn version(group: &Group) -> String {
    etag(group.updated_at.timestamp_micros())
}

fn resource(group: &Group) -> GroupResource {
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    GroupResource {
        id: group.id.to_string(),
        name: group.name.as_str().to_owned(),
        description: group.description.as_str().to_owned(),
        created: rfc3339(group.created_at),
        last_modified: rfc3339(group.updated_at),
        version: version(group),
    }
}

fn answer(status: StatusCode, group: &Group) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, version(group)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(resource(group))
}

/// The group with the id in the path (a name is not an id here).
async fn group(state: &AppState, id: &str) -> Result<Group, Problem> {
    if auth_core::types::GroupId::parse(id).is_none() {
        return Err(Problem::not_found("no group has this id"));
    }
    Ok(state.accounts.find_group(id).await?)
}

/// Lists every group, by name (one page: groups are few).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups:read"])),
    responses((status = 200, description = "Every group", body = Listing<GroupResource>), Problems),
)]
#[get("/admin/v1/groups")]
pub(crate) async fn list(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Groups.read()).await?;
    let groups = state.accounts.list_groups().await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Listing {
            items: groups.iter().map(resource).collect(),
            next: None,
        }))
}

/// `POST /admin/v1/groups`'s body.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewGroup {
    name: String,
    #[serde(default)]
    description: String,
}

/// Creates a group.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups"])),
    request_body = NewGroup,
    responses((status = 201, description = "The group, with its ETag and Location", body = GroupResource), Problems),
)]
#[post("/admin/v1/groups")]
pub(crate) async fn create(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Groups.write()).await?;
    let body: NewGroup =
        serde_json::from_value(Value::Object(json_object(&req, payload, &state).await?))
            .map_err(|e| Problem::bad_request(format!("the body is not a group: {e}")))?;
    let (group, event) = state
        .accounts
        .create_group(&body.name, &body.description, now(&req, &state))
        .await?;
    let mut response = answer(StatusCode::CREATED, &group);
    if let Ok(location) =
        header::HeaderValue::from_str(&format!("{}/admin/v1/groups/{}", state.issuer(), group.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(logged(response, &who, event))
}

/// Reads a group.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups:read"])),
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, description = "The group, with its ETag", body = GroupResource), Problems),
)]
#[get("/admin/v1/groups/{id}")]
pub(crate) async fn read(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Groups.read()).await?;
    Ok(answer(StatusCode::OK, &group(&state, &id).await?))
}

/// `PATCH /admin/v1/groups/{id}`'s body: what changes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupPatch {
    name: Option<String>,
    description: Option<String>,
}

/// Renames a group or changes its description; its members and the
/// clients that admit it stay.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups"])),
    params(
        ("id" = String, Path, description = "The group's id"),
        ("If-Match" = String, Header, description = "The ETag of the version changed, or *"),
    ),
    request_body(content = GroupPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The group as changed, with its new ETag", body = GroupResource), Problems),
)]
#[patch("/admin/v1/groups/{id}")]
pub(crate) async fn change(
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Groups.write()).await?;
    let condition = IfMatch::of(&req)?;
    let body: GroupPatch =
        serde_json::from_value(Value::Object(json_object(&req, payload, &state).await?))
            .map_err(|e| Problem::bad_request(format!("the body is not a group's change: {e}")))?;
    let current = group(&state, &id).await?;
    condition.check(&version(&current))?;
    let (group, event) = state
        .accounts
        .update_group(
            &current.id.to_string(),
            GroupUpdate {
                name: body.name.as_deref(),
                description: body.description.as_deref(),
                seen: Some(current.updated_at),
            },
            now(&req, &state),
        )
        .await?;
    Ok(logged(answer(StatusCode::OK, &group), &who, event))
}

/// Deletes a group and its memberships; refused (409) while a client
/// admits its members.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups"])),
    params(
        ("id" = String, Path, description = "The group's id"),
        ("If-Match" = String, Header, description = "The ETag of the version deleted, or *"),
    ),
    responses((status = 204, description = "Deleted"), Problems),
)]
#[delete("/admin/v1/groups/{id}")]
pub(crate) async fn delete(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Groups.write()).await?;
    let condition = IfMatch::of(&req)?;
    let current = group(&state, &id).await?;
    condition.check(&version(&current))?;
    let event = state
        .accounts
        .delete_group(&current.id.to_string(), Some(current.updated_at))
        .await?;
    Ok(logged(HttpResponse::NoContent().finish(), &who, event))
}

/// A member of a group.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Member {
    /// The account's id.
    id: String,
    user_name: String,
}

/// Lists a group's members, oldest membership first.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups:read"])),
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 200, description = "The members", body = Listing<Member>), Problems),
)]
#[get("/admin/v1/groups/{id}/members")]
pub(crate) async fn members(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Groups.read()).await?;
    let group = group(&state, &id).await?;
    let members = state
        .accounts
        .group_members(&group.id.to_string())
        .await?
        .members;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Listing {
            items: members
                .iter()
                .map(|u| Member {
                    id: u.id.to_string(),
                    user_name: u.username.as_str().to_owned(),
                })
                .collect(),
            next: None,
        }))
}

/// `POST /admin/v1/groups/{id}/members`'s body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewMember {
    /// The account's id.
    id: String,
}

/// Adds an account to a group (a member already stays one).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups"])),
    params(("id" = String, Path, description = "The group's id")),
    request_body = NewMember,
    responses((status = 204, description = "The account is a member"), Problems),
)]
#[post("/admin/v1/groups/{id}/members")]
pub(crate) async fn add_member(
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Groups.write()).await?;
    let body: NewMember =
        serde_json::from_value(Value::Object(json_object(&req, payload, &state).await?))
            .map_err(|_| Problem::bad_request("the body must be {\"id\": ACCOUNT_ID}"))?;
    let member =
        account_id(&body.id).ok_or_else(|| Problem::bad_request("no account has this id"))?;
    let group = group(&state, &id).await?;
    let event = state
        .accounts
        .add_to_group(&group.id.to_string(), &member, now(&req, &state))
        .await?;
    Ok(logged(HttpResponse::NoContent().finish(), &who, event))
}

/// An account id in its canonical form (so that a username never stands in
/// for one).
fn account_id(raw: &str) -> Option<String> {
    raw.parse::<uuid::Uuid>().ok().map(|id| id.to_string())
}

/// Removes an account from a group; its refresh tokens at clients that no
/// longer admit it end.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:groups"])),
    params(
        ("id" = String, Path, description = "The group's id"),
        ("user" = String, Path, description = "The account's id"),
        ("If-Match" = String, Header, description = "* (a membership has no version of its own)"),
    ),
    responses((status = 204, description = "The account is no member"), Problems),
)]
#[delete("/admin/v1/groups/{id}/members/{user}")]
pub(crate) async fn remove_member(
    req: HttpRequest,
    path: Path<(String, String)>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Groups.write()).await?;
    let (id, user) = path.into_inner();
    super::precondition::any_version(&req)?;
    let member = account_id(&user).ok_or_else(|| Problem::not_found("no account has this id"))?;
    let group = group(&state, &id).await?;
    let event = state
        .accounts
        .remove_from_group(&group.id.to_string(), &member, now(&req, &state))
        .await
        .map_err(|e| match e {
            auth_core::groups::GroupError::NoSuchUser(_) => {
                Problem::not_found("no account has this id")
            }
            other => other.into(),
        })?;
    Ok(logged(HttpResponse::NoContent().finish(), &who, event))
}
