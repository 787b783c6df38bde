//! `/admin/v1/clients`: client registrations, by the same core operations
//! and rules as the CLI's `client` commands. A secret is in an answer once:
//! when the client is registered, and when it is rotated.
use actix_web::http::{StatusCode, header};
use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use auth_core::accounts::ClientSpec;
use auth_core::admin::{AdminArea, AdminClientError, PageRequest};
use auth_core::policy::RefreshMode;
use auth_core::types::{
    ClientId, ClientMfa, ClientRecord, Dialect, GrantType, KeyAlgorithm, LifetimeRange,
    RedirectUri, Scope, TokenFormat, WebOrigin,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Listing;
use super::guard::{caller, json_object, logged, now};
use super::precondition::{IfMatch, etag};
use super::problem::{Problem, Problems};
use crate::state::AppState;

/// A client's registration.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientResource {
    id: String,
    name: String,
    /// No secret; PKCE required.
    public: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    scope: String,
    /// Seconds; `null`: the server's default.
    access_token_ttl: Option<i64>,
    /// `rotate` or `reuse`; `null`: the server's default.
    refresh_mode: Option<String>,
    first_party: bool,
    dialects: Vec<String>,
    allow_plain_pkce: bool,
    id_token_algorithm: String,
    token_format: String,
    audiences: Vec<String>,
    /// `null`: derived from the redirect URIs.
    allowed_origins: Option<Vec<String>>,
    require_verified_email: bool,
    /// `optional`, `required` or `password-grant-allowed`.
    mfa: String,
    /// Group ids; empty admits everyone.
    allowed_groups: Vec<String>,
    admin: bool,
    /// RFC 3339.
    created: String,
    /// The ETag of this version.
    version: String,
    /// Only in the answer that made it: the secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

fn strings<T>(items: &[T], f: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| f(i).to_owned()).collect()
}

fn resource(record: &ClientRecord, secret: Option<String>) -> ClientResource {
    let c = &record.client;
    ClientResource {
        id: c.id.as_str().to_owned(),
        name: c.name.clone(),
        public: c.is_public(),
        redirect_uris: strings(&c.redirect_uris, RedirectUri::as_str),
        post_logout_redirect_uris: strings(&c.post_logout_redirect_uris, RedirectUri::as_str),
        grant_types: c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        scope: c.scope.to_string(),
        access_token_ttl: c.access_token_ttl.map(|d| d.num_seconds()),
        refresh_mode: c.refresh_mode.map(|m| m.as_str().to_owned()),
        first_party: c.first_party,
        dialects: c.dialects.iter().map(|d| d.as_str().to_owned()).collect(),
        allow_plain_pkce: c.allow_plain_pkce,
        id_token_algorithm: c.id_token_algorithm.as_str().to_owned(),
        token_format: c.token_format.as_str().to_owned(),
        audiences: strings(&c.audiences, ClientId::as_str),
        allowed_origins: c
            .allowed_origins
            .as_ref()
            .map(|all| strings(all, WebOrigin::as_str)),
        require_verified_email: c.require_verified_email,
        mfa: c.mfa.as_str().to_owned(),
        allowed_groups: c.allowed_groups.iter().map(ToString::to_string).collect(),
        admin: c.admin,
        created: c
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        version: etag(record.version.get()),
        client_secret: secret,
    }
}

fn answer(status: StatusCode, record: &ClientRecord, secret: Option<String>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(record.version.get())))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(resource(record, secret))
}

impl From<AdminClientError> for Problem {
    fn from(e: AdminClientError) -> Self {
        use auth_core::accounts::RegistrationError as R;
        match e {
            AdminClientError::NotFound | AdminClientError::Absent => {
                Problem::not_found("no client has this id")
            }
            AdminClientError::Stale => Problem::stale(),
            AdminClientError::Cursor(e) => e.into(),
            AdminClientError::Registration(R::Conflict(what)) => {
                Problem::new(StatusCode::CONFLICT, format!("{what} already exists"))
            }
            AdminClientError::Registration(R::Flow(e)) | AdminClientError::Flow(e) => e.into(),
            AdminClientError::Registration(other) => Problem::bad_request(other.to_string()),
        }
    }
}

fn client_id(raw: &str) -> Result<ClientId, Problem> {
    ClientId::parse(raw).map_err(|_| Problem::not_found("no client has this id"))
}

/// A registration (`POST`) or a change of one (`PATCH`, a merge patch):
/// what the CLI's `client create` flags say, by the resource's names
/// (documentation only: the handler reads it strictly).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
pub(crate) struct ClientBody {
    /// Only when registering; generated if absent.
    id: Option<String>,
    name: Option<String>,
    /// Only when registering.
    public: Option<bool>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    scope: Option<String>,
    access_token_ttl: Option<i64>,
    refresh_mode: Option<String>,
    first_party: Option<bool>,
    dialects: Option<Vec<String>>,
    allow_plain_pkce: Option<bool>,
    id_token_algorithm: Option<String>,
    token_format: Option<String>,
    audiences: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    require_verified_email: Option<bool>,
    mfa: Option<String>,
    /// Group names or ids.
    allowed_groups: Option<Vec<String>>,
    admin: Option<bool>,
    /// Accept a private-use scheme that is not a reverse domain name.
    bare_native_schemes: Option<bool>,
}

fn bad(key: &str, what: &str) -> Problem {
    Problem::bad_request(format!("{key} must be {what}"))
}

fn boolean(key: &str, value: &Value) -> Result<bool, Problem> {
    value.as_bool().ok_or_else(|| bad(key, "true or false"))
}

fn text<'v>(key: &str, value: &'v Value) -> Result<&'v str, Problem> {
    value.as_str().ok_or_else(|| bad(key, "a string"))
}

fn strings_of<'v>(key: &str, value: &'v Value) -> Result<Vec<&'v str>, Problem> {
    value
        .as_array()
        .ok_or_else(|| bad(key, "a list of strings"))?
        .iter()
        .map(|v| v.as_str().ok_or_else(|| bad(key, "a list of strings")))
        .collect()
}

fn each<T, E: std::fmt::Display>(
    key: &str,
    value: &Value,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, Problem> {
    strings_of(key, value)?
        .into_iter()
        .map(|raw| parse(raw).map_err(|e| Problem::bad_request(format!("{key}: {raw}: {e}"))))
        .collect()
}

fn named<T>(key: &str, value: &Value, parse: impl Fn(&str) -> Option<T>) -> Result<T, Problem> {
    let raw = text(key, value)?;
    parse(raw).ok_or_else(|| Problem::bad_request(format!("{key}: {raw} is not one of its values")))
}

/// `spec` with what `body` says; `creating` allows `id` and `public`.
async fn apply(
    state: &AppState,
    mut spec: ClientSpec,
    body: &Map<String, Value>,
    creating: bool,
) -> Result<ClientSpec, Problem> {
    for (key, value) in body {
        let key = key.as_str();
        match key {
            "id" if creating => {
                spec.id = Some(
                    ClientId::parse(text(key, value)?)
                        .map_err(|e| Problem::bad_request(format!("id: {e}")))?,
                );
            }
            "public" if creating => spec.public = boolean(key, value)?,
            "name" => spec.name = text(key, value)?.to_owned(),
            "redirectUris" => spec.redirect_uris = each(key, value, RedirectUri::parse)?,
            "postLogoutRedirectUris" => {
                spec.post_logout_redirect_uris = each(key, value, RedirectUri::parse)?;
            }
            "grantTypes" => spec.grant_types = each(key, value, GrantType::from_operator)?,
            "scope" => {
                spec.scope = Scope::parse(text(key, value)?)
                    .map_err(|e| Problem::bad_request(format!("scope: {e}")))?;
            }
            "accessTokenTtl" => {
                spec.access_token_ttl = match value {
                    Value::Null => None,
                    _ => Some(
                        value
                            .as_i64()
                            .ok_or_else(|| bad(key, "a number of seconds"))
                            .and_then(|s| {
                                LifetimeRange::ACCESS_TOKEN
                                    .seconds(s)
                                    .map_err(|e| Problem::bad_request(format!("{key}: {e}")))
                            })?,
                    ),
                }
            }
            "refreshMode" => {
                spec.refresh_mode = match value {
                    Value::Null => None,
                    _ => Some(named(key, value, RefreshMode::parse)?),
                }
            }
            "firstParty" => spec.first_party = boolean(key, value)?,
            "dialects" => {
                spec.dialects = each(key, value, |d| Dialect::parse(d).ok_or("no such dialect"))?;
            }
            "allowPlainPkce" => spec.allow_plain_pkce = boolean(key, value)?,
            "idTokenAlgorithm" => {
                spec.id_token_algorithm = text(key, value)?
                    .parse::<KeyAlgorithm>()
                    .map_err(|_| bad(key, "RS256 or EdDSA"))?;
            }
            "tokenFormat" => spec.token_format = named(key, value, TokenFormat::parse)?,
            "audiences" => spec.audiences = each(key, value, ClientId::parse)?,
            "allowedOrigins" => {
                spec.allowed_origins = match value {
                    Value::Null => None,
                    _ => Some(each(key, value, WebOrigin::parse)?),
                }
            }
            "requireVerifiedEmail" => spec.require_verified_email = boolean(key, value)?,
            "mfa" => spec.mfa = named(key, value, ClientMfa::parse)?,
            "allowedGroups" => {
                let names: Vec<String> = strings_of(key, value)?
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                spec.allowed_groups = state.accounts.group_ids(&names).await?;
            }
            "admin" => spec.admin = boolean(key, value)?,
            "bareNativeSchemes" => spec.bare_native_schemes = boolean(key, value)?,
            // The answer's own fields, sent back with a change: what they
            // say is the server's to keep.
            "created" | "version" | "clientSecret" if !creating => {}
            other => {
                return Err(Problem::bad_request(format!(
                    "{other} is not a field of a client{}",
                    if creating { "" } else { " that can change" }
                )));
            }
        }
    }
    Ok(spec)
}

/// A new registration's starting point: what `client create` defaults to.
fn blank() -> ClientSpec {
    ClientSpec {
        id: None,
        name: String::new(),
        public: false,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: Vec::new(),
        scope: Scope::default(),
        access_token_ttl: None,
        refresh_mode: None,
        first_party: false,
        dialects: Vec::new(),
        allow_plain_pkce: false,
        id_token_algorithm: KeyAlgorithm::Rs256,
        token_format: TokenFormat::Paseto,
        audiences: Vec::new(),
        allowed_origins: None,
        bare_native_schemes: false,
        require_verified_email: false,
        mfa: ClientMfa::Optional,
        allowed_groups: Vec::new(),
        admin: false,
    }
}

/// `GET /admin/v1/clients`'s query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// How many clients at most (1 to 200, 50 by default).
    limit: Option<String>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// Lists clients in registration order, a page at a time.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:clients:read"])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of clients; `Link: <...>; rel=\"next\"` when there are more",
         body = Listing<ClientResource>),
        Problems,
    ),
)]
#[get("/admin/v1/clients")]
pub(crate) async fn list(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Clients.read()).await?;
    let query: ListQuery =
        crate::edge::body::read_query(&req).map_err(|e| Problem::bad_request(e.description()))?;
    let limit = super::limit(query.limit.as_deref())?;
    let page = state
        .accounts
        .list_client_records(PageRequest {
            after: query.after.as_deref(),
            limit,
        })
        .await?;
    let items = page.items.iter().map(|r| resource(r, None)).collect();
    Ok(super::page_answer(
        &state,
        "/admin/v1/clients",
        limit,
        None,
        items,
        page.next,
    ))
}

/// Registers a client; a confidential one's secret is in the answer, once.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:clients"])),
    request_body = ClientBody,
    responses(
        (status = 201, description = "The client, with its ETag and Location (and `clientSecret`, once)",
         body = ClientResource),
        Problems,
    ),
)]
#[post("/admin/v1/clients")]
pub(crate) async fn create(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Clients.write()).await?;
    let body = json_object(&req, payload, &state).await?;
    let spec = apply(&state, blank(), &body, true).await?;
    let (record, secret, event) = state
        .accounts
        .create_client_record(spec, now(&req, &state))
        .await?;
    let mut response = answer(StatusCode::CREATED, &record, secret.map(|s| s.into_inner()));
    if let Ok(location) = header::HeaderValue::from_str(&format!(
        "{}/admin/v1/clients/{}",
        state.issuer(),
        record.client.id
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(logged(response, &who, event))
}

/// Reads a client's registration.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:clients:read"])),
    params(("id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The client, with its ETag", body = ClientResource), Problems),
)]
#[get("/admin/v1/clients/{id}")]
pub(crate) async fn read(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller(&req, &state, AdminArea::Clients.read()).await?;
    let record = state.accounts.client_record(&client_id(&id)?).await?;
    Ok(answer(StatusCode::OK, &record, None))
}

/// Changes a client's registration (a merge patch of its fields; `id` and
/// `public` cannot change).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:clients"])),
    params(
        ("id" = String, Path, description = "The client's id"),
        ("If-Match" = String, Header, description = "The ETag of the version changed, or *"),
    ),
    request_body(content = ClientBody, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The client as changed, with its new ETag", body = ClientResource), Problems),
)]
#[patch("/admin/v1/clients/{id}")]
pub(crate) async fn change(
    req: HttpRequest,
    id: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Clients.write()).await?;
    let id = client_id(&id)?;
    let condition = IfMatch::of(&req)?;
    let body = json_object(&req, payload, &state).await?;
    let current = state.accounts.client_record(&id).await?;
    condition.check(&etag(current.version.get()))?;
    let spec = apply(&state, ClientSpec::of(&current.client), &body, false).await?;
    let (record, event) = state
        .accounts
        .change_client(&id, current.version, spec)
        .await?;
    Ok(logged(answer(StatusCode::OK, &record, None), &who, event))
}

/// Deletes a client; everything issued to it stops working at once.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:clients"])),
    params(
        ("id" = String, Path, description = "The client's id"),
        ("If-Match" = String, Header, description = "The ETag of the version deleted, or *"),
    ),
    responses((status = 204, description = "Deleted"), Problems),
)]
#[delete("/admin/v1/clients/{id}")]
pub(crate) async fn delete(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Clients.write()).await?;
    let id = client_id(&id)?;
    let condition = IfMatch::of(&req)?;
    let current = state.accounts.client_record(&id).await?;
    condition.check(&etag(current.version.get()))?;
    let event = state
        .accounts
        .delete_client_record(&id, current.version)
        .await?;
    Ok(logged(HttpResponse::NoContent().finish(), &who, event))
}

/// Gives a confidential client a new secret, in the answer once; the old
/// one stops working at once.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = ["admin:clients"])),
    params(("id" = String, Path, description = "The client's id")),
    responses((status = 200, description = "The client with its new `clientSecret` and ETag", body = ClientResource), Problems),
)]
#[post("/admin/v1/clients/{id}/secret")]
pub(crate) async fn rotate_secret(
    req: HttpRequest,
    id: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let who = caller(&req, &state, AdminArea::Clients.write()).await?;
    let (secret, record, event) = state.accounts.rotate_secret_of(&client_id(&id)?).await?;
    Ok(logged(
        answer(StatusCode::OK, &record, Some(secret.into_inner())),
        &who,
        event,
    ))
}
