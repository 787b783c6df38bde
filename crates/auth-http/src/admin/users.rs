//! `/admin/v1/users`: accounts, shaped like SCIM's User resource
//! (RFC 7643 section 4.1) so that a SCIM facade can follow without a second
//! model.
use actix_web::http::{StatusCode, header};
use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use auth_core::accounts::UserSpec;
use auth_core::admin::{AdminArea, PageRequest};
use auth_core::types::{AccountChange, Email, Password, UserId, UserRecord, Username};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Listing;
use super::guard::{caller, json_object, logged, now};
use super::precondition::{IfMatch, etag};
use super::problem::{Problem, Problems};
use crate::state::AppState;

const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// An account.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserResource {
    /// Always the SCIM core User schema.
    schemas: [&'static str; 1],
    id: String,
    user_name: String,
    name: Name,
    /// The account's email, if it has one (the primary, and only, one).
    emails: Vec<EmailValue>,
    /// Whether its email address counts as verified.
    email_verified: bool,
    /// `false` while the account is disabled.
    active: bool,
    meta: Meta,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Name {
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EmailValue {
    value: String,
    primary: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta {
    /// `User`.
    resource_type: &'static str,
    /// RFC 3339.
    created: String,
    /// RFC 3339: the last change (the creation, if none since).
    last_modified: String,
    /// The ETag of this version: what `If-Match` names.
    version: String,
    /// This resource's URL.
    location: String,
}

fn location(state: &AppState, id: UserId) -> String {
    format!("{}/admin/v1/users/{id}", state.issuer())
}

fn resource(state: &AppState, record: &UserRecord) -> UserResource {
    let user = &record.user;
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    UserResource {
        schemas: [SCHEMA],
        id: user.id.to_string(),
        user_name: user.username.as_str().to_owned(),
        name: Name {
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
        },
        emails: user
            .email
            .iter()
            .map(|e| EmailValue {
                value: e.as_str().to_owned(),
                primary: true,
            })
            .collect(),
        email_verified: user.email_verified,
        active: !user.disabled,
        meta: Meta {
            resource_type: "User",
            created: rfc3339(user.created_at),
            last_modified: rfc3339(record.updated_at.unwrap_or(user.created_at)),
            version: etag(record.version.get()),
            location: location(state, user.id),
        },
    }
}

/// An account's answer: its resource, with its ETag.
fn answer(status: StatusCode, state: &AppState, record: &UserRecord) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(record.version.get())))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(resource(state, record))
}

/// An account id from the path; anything else names no account.
pub(crate) fn user_id(raw: &str) -> Result<UserId, Problem> {
    raw.parse::<uuid::Uuid>()
        .map(UserId::new)
        .map_err(|_| Problem::not_found("no account has this id"))
}

/// `GET /admin/v1/users`'s query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// How many accounts at most (1 to 200, 50 by default).
    limit: Option<String>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
    /// Only accounts whose username or email starts with this (in any case).
    search: Option<String>,
}

/// Lists accounts in creation order, a page at a time.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users:read"])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of accounts; `Link: <...>; rel=\"next\"` when there are more",
         body = Listing<UserResource>),
        Problems,
    ),
)]
#[get("/admin/v1/users")]
pub(crate) async fn list(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Users.read()).await?;
    let query: ListQuery =
        crate::edge::body::read_query(&req).map_err(|e| Problem::bad_request(e.description()))?;
    let limit = super::limit(query.limit.as_deref())?;
    let page = state
        .accounts
        .list_users(
            PageRequest {
                after: query.after.as_deref(),
                limit,
            },
            query.search.as_deref(),
        )
        .await?;
    let items = page.items.iter().map(|r| resource(&state, r)).collect();
    Ok(super::page_answer(
        &state,
        "/admin/v1/users",
        limit,
        query.search.as_deref(),
        items,
        page.next,
    ))
}

/// `POST /admin/v1/users`'s body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewUser {
    user_name: String,
    /// At most one; its `value` is the account's email.
    #[serde(default)]
    emails: Vec<NewEmail>,
    #[schema(value_type = String)]
    password: secrecy::SecretString,
    #[serde(default)]
    name: Option<NewName>,
    /// The operator vouches for the address.
    #[serde(default)]
    email_verified: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewEmail {
    value: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewName {
    given_name: Option<String>,
    family_name: Option<String>,
}

/// Creates an account.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users"])),
    request_body = NewUser,
    responses(
        (status = 201, description = "The account, with its ETag and Location", body = UserResource),
        Problems,
    ),
)]
#[post("/admin/v1/users")]
pub(crate) async fn create(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Users.write()).await?;
    let body: NewUser =
        serde_json::from_value(Value::Object(json_object(&req, payload, &state).await?))
            .map_err(|e| Problem::bad_request(format!("the body is not an account: {e}")))?;
    let invalid = |e: &dyn std::fmt::Display| Problem::bad_request(e.to_string());
    let email = match body.emails.as_slice() {
        [] => None,
        [one] => Some(Email::parse(&one.value).map_err(|e| invalid(&e))?),
        _ => return Err(Problem::bad_request("an account has at most one email")),
    };
    let password = Password::parse(secrecy::ExposeSecret::expose_secret(&body.password))
        .and_then(|p| p.require_min_chars(state.min_password_length))
        .map_err(|e| invalid(&e))?;
    let (given_name, family_name) = body
        .name
        .map(|n| (n.given_name, n.family_name))
        .unwrap_or_default();
    let spec = UserSpec {
        username: Username::parse(&body.user_name).map_err(|e| invalid(&e))?,
        email,
        password,
        given_name,
        family_name,
    };
    let (record, event) = state
        .accounts
        .create_user_record(spec, body.email_verified, now(&req, &state))
        .await?;
    let mut response = answer(StatusCode::CREATED, &state, &record);
    response.headers_mut().insert(
        header::LOCATION,
        header::HeaderValue::from_str(&location(&state, record.user.id))
            .map_err(|_| Problem::bad_request("no location"))?,
    );
    Ok(logged(response, &who, event))
}

/// Reads an account.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users:read"])),
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 200, description = "The account, with its ETag", body = UserResource), Problems),
)]
#[get("/admin/v1/users/{id}")]
pub(crate) async fn read(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Users.read()).await?;
    let record = state.accounts.user_record(user_id(&id)?).await?;
    Ok(answer(StatusCode::OK, &state, &record))
}

/// `PATCH /admin/v1/users/{id}`'s body, a JSON merge patch of the fields an
/// operator may change (documentation only: the handler reads it strictly).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
pub(crate) struct UserPatch {
    /// `false` disables the account (and signs it out everywhere).
    active: Option<bool>,
    /// `givenName`, `familyName`: a string, or `null` to remove it.
    name: Option<NamePatch>,
    email_verified: Option<bool>,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
pub(crate) struct NamePatch {
    given_name: Option<String>,
    family_name: Option<String>,
}

/// The change a merge patch asks for; anything it cannot change is a 400.
fn account_change(patch: &Map<String, Value>) -> Result<AccountChange, Problem> {
    let mut wanted = AccountChange::default();
    let boolean = |key: &str, value: &Value| {
        value
            .as_bool()
            .ok_or_else(|| Problem::bad_request(format!("{key} must be true or false")))
    };
    for (key, value) in patch {
        match key.as_str() {
            "active" => wanted.disabled = Some(!boolean(key, value)?),
            "emailVerified" => wanted.email_verified = Some(boolean(key, value)?),
            "name" => {
                let Some(name) = value.as_object() else {
                    return Err(Problem::bad_request("name must be an object"));
                };
                for (part, value) in name {
                    let field = match part.as_str() {
                        "givenName" => &mut wanted.given_name,
                        "familyName" => &mut wanted.family_name,
                        other => {
                            return Err(Problem::bad_request(format!(
                                "name.{other} is not a field of an account"
                            )));
                        }
                    };
                    *field = Some(match value {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        _ => {
                            return Err(Problem::bad_request(format!(
                                "name.{part} must be a string or null"
                            )));
                        }
                    });
                }
            }
            // A SCIM client sends the schema along; it changes nothing.
            "schemas" => {}
            other => {
                return Err(Problem::bad_request(format!(
                    "{other} cannot be changed here (active, name and emailVerified can)"
                )));
            }
        }
    }
    Ok(wanted)
}

/// Changes an account: `active`, `name`, `emailVerified`.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users"])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("If-Match" = String, Header, description = "The ETag of the version changed, or *"),
    ),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The account as changed, with its new ETag", body = UserResource), Problems),
)]
#[patch("/admin/v1/users/{id}")]
pub(crate) async fn change(
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Users.write()).await?;
    let id = user_id(&id)?;
    let condition = IfMatch::of(&req)?;
    let wanted = account_change(&json_object(&req, payload, &state).await?)?;
    let current = state.accounts.user_record(id).await?;
    condition.check(&etag(current.version.get()))?;
    let (record, event) = state
        .accounts
        .change_user(id, current.version, &wanted, now(&req, &state))
        .await?;
    Ok(logged(answer(StatusCode::OK, &state, &record), &who, event))
}

/// Deletes an account and everything that is its.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users"])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("If-Match" = String, Header, description = "The ETag of the version deleted, or *"),
    ),
    responses((status = 204, description = "Deleted"), Problems),
)]
#[delete("/admin/v1/users/{id}")]
pub(crate) async fn delete(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Users.write()).await?;
    let id = user_id(&id)?;
    let condition = IfMatch::of(&req)?;
    let current = state.accounts.user_record(id).await?;
    condition.check(&etag(current.version.get()))?;
    let event = state
        .accounts
        .delete_user_record(id, current.version)
        .await?;
    Ok(logged(HttpResponse::NoContent().finish(), &who, event))
}

/// `POST /admin/v1/users/{id}/password`'s body.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewPassword {
    #[schema(value_type = String)]
    password: secrecy::SecretString,
}

/// Sets an account's password; it is signed out everywhere.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:users"])),
    params(("id" = String, Path, description = "The account's id")),
    request_body = NewPassword,
    responses((status = 204, description = "Set; every session and token of the account ended"), Problems),
)]
#[post("/admin/v1/users/{id}/password")]
pub(crate) async fn set_password(
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Users.write()).await?;
    let id = user_id(&id)?;
    let body: NewPassword =
        serde_json::from_value(Value::Object(json_object(&req, payload, &state).await?))
            .map_err(|_| Problem::bad_request("the body must be {\"password\": \"...\"}"))?;
    let password = Password::parse(secrecy::ExposeSecret::expose_secret(&body.password))
        .and_then(|p| p.require_min_chars(state.min_password_length))
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    let event = state
        .accounts
        .set_password_of(id, &password, now(&req, &state))
        .await?;
    Ok(logged(HttpResponse::NoContent().finish(), &who, event))
}

/// How many sessions ended.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Ended {
    ended: u64,
}

/// Signs an account out everywhere: its sessions end, its refresh and
/// access tokens stop working.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:sessions"])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("If-Match" = String, Header, description = "*"),
    ),
    responses((status = 200, description = "Signed out everywhere", body = Ended), Problems),
)]
#[delete("/admin/v1/users/{id}/sessions")]
pub(crate) async fn sign_out(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Sessions.write()).await?;
    super::precondition::any_version(&req)?;
    let (ended, event) = state
        .accounts
        .sign_out_user(user_id(&id)?, now(&req, &state))
        .await?;
    Ok(logged(
        HttpResponse::Ok().json(Ended { ended }),
        &who,
        event,
    ))
}
