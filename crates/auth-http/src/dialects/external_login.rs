//! Seed 003, "external login": sign-in through an upstream provider
//! (GitHub), answered with the document's token objects
//! `{data:{id, accountId, createdAt, expiresAt}, secret:{value}}` and its
//! errors: 400 `{"errors":[...]}`, 401 `{"error": ...}`, 500
//! `{"error": ...}` (and 503 with the same body while the database is
//! unreachable). The requests name no client: the dialect acts for the
//! configured one (`AppState::external_login_client`). The rules (which
//! account an identity signs in, what is issued) are the core's
//! (`auth_core::federation`).
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post};
use auth_core::FlowError;
use auth_core::federation::{
    CallbackContext, Confirmed, DeviceStep, FederationError, ProviderAnswer, WebOutcome,
};
use auth_core::types::{Client, Dialect, IssuedTokens};
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::edge::body::{expose, media_type, present, read_limited};
use crate::edge::browser::Csrf;
use crate::edge::error::{ApiError, FailureKind};
use crate::edge::responses::PageResponses;
use crate::state::AppState;

/// The provider the document's device flow and callback name.
const GITHUB: &str = "github";

/// An error in the document's shapes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoginApiError {
    /// 400: what is wrong with the request, one sentence per issue.
    #[error("invalid request: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// 401: the sign-in failed (or is not finished yet).
    #[error(transparent)]
    Failed(FederationError),
    /// 500: the provider could not be asked.
    #[error("{0}")]
    External(String),
    /// 429: too many calls from this address just now.
    #[error("too many sign-ins from this address just now; try again in a few minutes")]
    Throttled,
    /// 500: something failed here (storage, cryptography); the cause is
    /// logged, the body says only that.
    #[error("internal error")]
    Internal,
    /// 503: the database is unreachable; nothing was changed.
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

/// The document's 400 body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Issues {
    errors: Vec<String>,
}

/// The document's 401 and 500 body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Failure {
    error: String,
}

impl From<FederationError> for LoginApiError {
    /// Classified by the shared table ([`FailureKind::of_federation`]), then
    /// put in the document's shapes.
    fn from(e: FederationError) -> Self {
        match (FailureKind::of_federation(&e), e) {
            (_, FederationError::UnknownProvider(name)) => Self::Invalid(vec![format!(
                "provider {:?} is not supported",
                name.chars().take(32).collect::<String>()
            )]),
            (_, FederationError::Invalid(why)) => Self::Invalid(vec![why]),
            (_, FederationError::Upstream(why)) => Self::External(why),
            (FailureKind::Throttled, _) => Self::Throttled,
            (FailureKind::Unavailable, cause) => {
                tracing::error!(error = %cause, "request failed");
                Self::Unavailable
            }
            (FailureKind::Internal, cause) => {
                tracing::error!(error = %cause, "request failed");
                Self::Internal
            }
            (_, refused) => Self::Failed(refused),
        }
    }
}

impl LoginApiError {
    /// The shared kind of this failure.
    fn failure(&self) -> FailureKind {
        match self {
            Self::Invalid(_) => FailureKind::Invalid,
            Self::Failed(_) => FailureKind::Refused,
            Self::External(_) => FailureKind::Upstream,
            Self::Throttled => FailureKind::Throttled,
            Self::Internal => FailureKind::Internal,
            Self::Unavailable => FailureKind::Unavailable,
        }
    }
}

impl From<FlowError> for LoginApiError {
    fn from(e: FlowError) -> Self {
        FederationError::Flow(e).into()
    }
}

impl ResponseError for LoginApiError {
    fn status_code(&self) -> StatusCode {
        match self.failure() {
            // The document answers a provider that could not be asked with
            // 500, where the shared table says 502.
            FailureKind::Upstream => StatusCode::INTERNAL_SERVER_ERROR,
            failure => failure.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        let mut response = match self {
            Self::Invalid(issues) => response.json(Issues {
                errors: issues.clone(),
            }),
            Self::Failed(e) => response.json(Failure {
                error: match e {
                    FederationError::Refused(e) => e.description().to_owned(),
                    FederationError::Flow(FlowError::OAuth(e)) => e.description().to_owned(),
                    other => other.to_string(),
                },
            }),
            Self::External(why) => response.json(Failure {
                error: format!("external service call failed: {why}"),
            }),
            Self::Internal => response.json(Failure {
                error: "the server could not complete the request".into(),
            }),
            Self::Throttled => response.json(Failure {
                error: self.to_string(),
            }),
            Self::Unavailable => response.json(Failure {
                error: "the service is temporarily unavailable; try again shortly".into(),
            }),
        };
        let event = match self {
            Self::Failed(FederationError::Refused(e))
            | Self::Failed(FederationError::Flow(FlowError::OAuth(e))) => e.event(),
            _ => None,
        };
        if let Some(event) = event {
            crate::edge::security::attach(&mut response, event.clone());
        }
        response
    }
}

/// The document's token object.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenObject {
    data: TokenData,
    secret: Secret,
}

/// What a token is: its id, its account, and its lifetime.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenData {
    id: String,
    account_id: String,
    created_at: String,
    expires_at: String,
}

/// The token itself, a bearer token for every other endpoint.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Secret {
    value: String,
}

/// `GET /v1/login/oauth2/web/authorize`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct WebStart {
    url: String,
    state: String,
}

/// `POST /login/oauth2/device/start`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceStart {
    url: String,
    user_code: String,
    expires: String,
    encoded_session: String,
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn token_object(issued: &IssuedTokens) -> HttpResponse {
    let created = issued.expires_at - issued.expires_in;
    let response = no_store(TokenObject {
        data: TokenData {
            id: issued.token_id.to_string(),
            account_id: issued.user_id.map(|u| u.to_string()).unwrap_or_default(),
            created_at: timestamp(created),
            expires_at: timestamp(issued.expires_at),
        },
        secret: Secret {
            value: issued.access_token.expose().to_owned(),
        },
    });
    crate::edge::security::with_event(response, issued.event.clone())
}

fn no_store(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Counts this call against the per-address throttle of the calls that
/// ask the provider or store a flow (the core's rule).
async fn admit(req: &HttpRequest, state: &AppState) -> Result<(), LoginApiError> {
    let peer = crate::edge::security::peer(req);
    Ok(state
        .federation
        .admit_caller(&state.sign_in, &peer, crate::edge::now::of(req, state))
        .await?)
}

/// The configured client, which must be registered for this dialect.
async fn client(state: &AppState) -> Result<Client, LoginApiError> {
    let id = state.external_login_client.as_ref().ok_or_else(|| {
        LoginApiError::Invalid(vec![
            "the external login API is not enabled on this server".into(),
        ])
    })?;
    Ok(state
        .grants
        .dialect_client(Dialect::ExternalLogin, id)
        .await?)
}

/// The query as the endpoint's own struct; a malformed or repeated
/// parameter is an issue in the document's shape.
fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, LoginApiError> {
    crate::edge::body::read_query(req)
        .map_err(|e| LoginApiError::Invalid(vec![e.description().to_owned()]))
}

/// The required parameters, in order, or every missing one as an issue.
fn required<const N: usize>(
    values: [(Option<String>, &str); N],
) -> Result<[String; N], LoginApiError> {
    let mut issues = Vec::new();
    let values = values.map(|(value, name)| match present(value) {
        Some(v) => v,
        None => {
            issues.push(format!("{name} is required"));
            String::new()
        }
    });
    if issues.is_empty() {
        Ok(values)
    } else {
        Err(LoginApiError::Invalid(issues))
    }
}

/// `POST /v1/oauth2`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExchangeQuery {
    /// The provider: `github`.
    #[param(value_type = String)]
    provider: Option<String>,
    /// An access token the provider issued.
    #[serde(rename = "access-token")]
    #[param(rename = "access-token", value_type = String)]
    access_token: Option<SecretString>,
}

/// `GET /v1/login/oauth2/web/authorize`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WebAuthorizeQuery {
    /// The provider: `github`.
    #[param(value_type = String)]
    provider: Option<String>,
    /// Where the callback sends the browser afterwards; one of the
    /// client's redirect URIs.
    redirect: Option<String>,
}

/// `GET /v1/login/oauth2/web/poll`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PollQuery {
    /// The state from the authorize call.
    #[param(value_type = String)]
    state: Option<String>,
}

/// Our callback for `provider`, as registered with it.
fn callback(state: &AppState, provider: &str) -> String {
    format!("{}/v1/login/oauth2/web/callback/{provider}", state.issuer())
}

/// `POST /v1/oauth2?provider=github&access-token=...`: a token for the
/// account behind an access token the provider issued.
#[utoipa::path(
    tag = "external-login",
    params(ExchangeQuery),
    responses(
        (status = 200, description = "A token", body = TokenObject),
        (status = 400, description = "What is wrong with the request", body = Issues),
        (status = 401, description = "The sign-in failed", body = Failure),
        (status = 500, description = "The provider could not be asked", body = Failure),
        (status = 429, description = "Too many calls from this address just now", body = Failure),
    ),
)]
#[post("/v1/oauth2")]
pub(crate) async fn exchange(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, LoginApiError> {
    let q: ExchangeQuery = query(&req)?;
    let [provider, access_token] = required([
        (q.provider, "provider"),
        (q.access_token.map(expose), "access-token"),
    ])?;
    let client = client(&state).await?;
    admit(&req, &state).await?;
    let issued = state
        .federation
        .exchange_token(
            &state.sign_in,
            &client,
            &provider,
            &access_token,
            crate::edge::now::of(&req, &state),
        )
        .await?;
    Ok(token_object(&issued))
}

/// `GET /v1/login/token`: what the presented token is.
#[utoipa::path(
    tag = "external-login",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token", body = TokenData),
        (status = 401, description = "No token, or not one of this API's", body = Failure),
    ),
)]
#[get("/v1/login/token")]
pub(crate) async fn token_info(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, LoginApiError> {
    let client = client(&state).await?;
    let refused = |why: String| {
        LoginApiError::Failed(FederationError::Refused(
            auth_core::OAuthError::invalid_token(why),
        ))
    };
    let token = crate::edge::bearer::presented(&req)
        .map_err(|_| refused("a valid bearer token is required".into()))?;
    let claims = match state
        .grants
        .verify_access_of(&client, token, crate::edge::now::of(&req, &state))
        .await
    {
        Ok(claims) => claims,
        Err(FlowError::OAuth(e)) => return Err(refused(e.description().to_owned())),
        Err(e) => return Err(e.into()),
    };
    Ok(no_store(TokenData {
        id: claims.token_id.to_string(),
        account_id: claims.subject.to_string(),
        created_at: timestamp(claims.issued_at),
        expires_at: timestamp(claims.expires_at),
    }))
}

/// `POST /login/oauth2/device/start`: begins GitHub's device flow.
#[utoipa::path(
    tag = "external-login",
    responses(
        (status = 200, description = "Where to enter which code, and the sealed session", body = DeviceStart),
        (status = 500, description = "The provider could not be asked", body = Failure),
        (status = 429, description = "Too many calls from this address just now", body = Failure),
    ),
)]
#[post("/login/oauth2/device/start")]
pub(crate) async fn device_start(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, LoginApiError> {
    client(&state).await?;
    admit(&req, &state).await?;
    let started = state
        .federation
        .start_device(&state.sign_in, GITHUB, crate::edge::now::of(&req, &state))
        .await?;
    Ok(no_store(DeviceStart {
        url: started.verification_uri,
        user_code: started.user_code,
        expires: timestamp(started.expires_at),
        encoded_session: started.session,
    }))
}

/// `POST /login/oauth2/device/complete` with the `encodedSession` as a
/// JSON string: waits (up to the configured bound) for the person to
/// finish at GitHub, polling as often as GitHub allows.
#[utoipa::path(
    tag = "external-login",
    request_body(content = String, content_type = "application/json", description = "The encodedSession"),
    responses(
        (status = 200, description = "A token", body = TokenObject),
        (status = 400, description = "What is wrong with the request", body = Issues),
        (status = 401, description = "Refused, expired, used, or not finished in time: call again", body = Failure),
        (status = 500, description = "The provider could not be asked", body = Failure),
        (status = 429, description = "Too many calls from this address just now", body = Failure),
    ),
)]
#[post("/login/oauth2/device/complete")]
pub(crate) async fn device_complete(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, LoginApiError> {
    let not_a_string = || {
        LoginApiError::Invalid(vec![
            "the body must be the encodedSession as a JSON string".into(),
        ])
    };
    if media_type(&req) != "application/json" {
        return Err(not_a_string());
    }
    let body = read_limited(payload, state.limits.max_body_bytes)
        .await
        .map_err(|_| not_a_string())?;
    let session: String = serde_json::from_slice(&body).map_err(|_| not_a_string())?;
    if session.is_empty() {
        return Err(not_a_string());
    }
    let client = client(&state).await?;
    admit(&req, &state).await?;
    // The wait is measured on the monotonic clock, and the time handed to
    // the core moves on with it from the request's start (so an injected
    // clock that stands still, as in tests, still sees the wait pass).
    let (started, start) = (
        std::time::Instant::now(),
        crate::edge::now::of(&req, &state),
    );
    let wait = state
        .upstream_device_wait
        .to_std()
        .unwrap_or(std::time::Duration::ZERO);
    loop {
        let elapsed = started.elapsed();
        let now = start + chrono::Duration::from_std(elapsed).unwrap_or(chrono::TimeDelta::MAX);
        match state
            .federation
            .complete_device(&state.sign_in, &client, &session, now)
            .await?
        {
            DeviceStep::Issued(issued) => return Ok(token_object(&issued)),
            DeviceStep::Pending { interval } => {
                let interval = interval
                    .to_std()
                    .unwrap_or(std::time::Duration::from_secs(5));
                if elapsed + interval > wait {
                    return Err(LoginApiError::Failed(FederationError::Pending));
                }
                actix_web::rt::time::sleep(interval).await;
            }
        }
    }
}

/// `GET /v1/login/oauth2/web/authorize?provider=github[&redirect=...]`:
/// where to send the person, and the `state` to poll with. `redirect`
/// must be one of the client's registered redirect URIs (anything else
/// would make this server an open redirector).
#[utoipa::path(
    tag = "external-login",
    params(WebAuthorizeQuery),
    responses(
        (status = 200, description = "The provider's authorization URL and the state", body = WebStart),
        (status = 400, description = "What is wrong with the request", body = Issues),
        (status = 500, description = "The flow could not be started", body = Failure),
        (status = 429, description = "Too many calls from this address just now", body = Failure),
    ),
)]
#[get("/v1/login/oauth2/web/authorize")]
pub(crate) async fn web_authorize(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, LoginApiError> {
    let q: WebAuthorizeQuery = query(&req)?;
    let [provider] = required([(q.provider, "provider")])?;
    let client = client(&state).await?;
    admit(&req, &state).await?;
    let started = state
        .federation
        .begin_polled_web(
            &state.sign_in,
            &client,
            &provider,
            &callback(&state, &provider),
            present(q.redirect).as_deref(),
            crate::edge::now::of(&req, &state),
        )
        .await?;
    Ok(no_store(WebStart {
        url: started.url,
        state: started.state,
    }))
}

/// `GET /v1/login/oauth2/web/callback/github?code=...&state=...`: the
/// provider sends the browser here. Nothing is signed in yet: the page
/// asks the person, on our origin, whether they mean to sign in to this
/// application as the account the provider named (whoever started the
/// flow receives the token, so a link someone else sent must not finish
/// it with one click). Failures answer in the document's shapes.
#[utoipa::path(
    tag = "external-login",
    params(
        ("provider" = String, Path, description = "The provider: `github`"),
        crate::pages::upstream::CallbackParams,
    ),
    responses(
        (status = 200, description = "The confirmation page: sign in to the application as this account?", content_type = "text/html"),
        (status = 400, description = "What is wrong with the request", body = Issues),
        (status = 401, description = "The sign-in failed", body = Failure),
        (status = 500, description = "The provider could not be asked", body = Failure),
        (status = 429, description = "Too many calls from this address just now", body = Failure),
    ),
)]
#[get("/v1/login/oauth2/web/callback/{provider}")]
pub(crate) async fn web_callback(
    req: HttpRequest,
    provider: actix_web::web::Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, LoginApiError> {
    let q: crate::pages::upstream::CallbackParams = query(&req)?;
    let client = client(&state).await?;
    // The person refused at the provider (RFC 6749 section 4.1.2.1).
    if let Some(error) = present(q.error) {
        return Err(auth_core::federation::declined_upstream(&error).into());
    }
    let [code, flow_state] = required([(q.code.map(expose), "code"), (q.state, "state")])?;
    admit(&req, &state).await?;
    let finished = state
        .federation
        .finish_web(
            &state.sign_in,
            ProviderAnswer {
                provider: &provider,
                state: &flow_state,
                code: &code,
                issuer: q.iss.as_deref(),
            },
            CallbackContext {
                browser: false,
                binding: None,
                signed_in: None,
            },
            crate::edge::now::of(&req, &state),
        )
        .await?;
    let WebOutcome::Confirm(pending) = finished else {
        return Err(LoginApiError::Internal);
    };
    let csrf = Csrf::of(&req, &state);
    let mut page = state.pages.render(
        StatusCode::OK,
        "confirm_polled.html",
        &serde_json::json!({
            "title": format!("Sign in to {}?", client.name),
            "application": client.name,
            "account": pending.account,
            "provider": pending.provider,
            "confirmation": pending.sealed,
            "csrf": csrf.token(&state),
        }),
    );
    if let Some(c) = csrf.cookie(&state) {
        let _ = page.add_cookie(&c);
    }
    Ok(page)
}

/// The confirmation page's form: the sealed confirmation and the answer.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct ConfirmForm {
    /// The sealed confirmation the page carried.
    #[schema(value_type = String)]
    confirmation: Option<String>,
    /// `allow` signs in; anything else refuses and ends the flow.
    #[schema(value_type = String)]
    decision: Option<String>,
}

/// `POST /v1/login/oauth2/web/confirm`: the person's answer on the
/// confirmation page (CSRF token and origin checked). `allow` signs the
/// provider's account in and leaves the token for the poll, then goes on
/// to the `redirect` given to the authorize call, if any; anything else
/// ends the flow, and its poll gets nothing.
#[utoipa::path(
    tag = "external-login",
    request_body(content = crate::edge::browser::PagePost<ConfirmForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/v1/login/oauth2/web/confirm")]
pub(crate) async fn web_confirm(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: ConfirmForm = Csrf::read_form(&req, payload, &state).await?;
    let client = match client(&state).await {
        Ok(client) => client,
        Err(e) => return Ok(failure_page(&req, &state, e)),
    };
    let Some(confirmation) = crate::edge::body::present(form.confirmation) else {
        return Ok(state.pages.error(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The form has no confirmation.",
        ));
    };
    let approve = form.decision.as_deref() == Some("allow");
    let answered = state
        .federation
        .confirm_polled(
            &state.sign_in,
            &confirmation,
            approve,
            crate::edge::now::of(&req, &state),
        )
        .await;
    let done = |title: &str, message: String, status| {
        state.pages.render(
            status,
            "polled_done.html",
            &serde_json::json!({ "title": title, "message": message, "application": client.name }),
        )
    };
    Ok(match answered {
        Ok(Confirmed::SignedIn {
            return_to: Some(target),
            event,
            ..
        }) => crate::edge::security::with_event(
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
            event,
        ),
        Ok(Confirmed::SignedIn { user, event, .. }) => crate::edge::security::with_event(
            done(
                "Signed in",
                format!(
                    "You are signed in to {} as {}.",
                    client.name,
                    user.username.as_str()
                ),
                StatusCode::OK,
            ),
            event,
        ),
        Ok(Confirmed::Declined) => done(
            "Sign-in refused",
            format!("Nobody was signed in to {}.", client.name),
            StatusCode::OK,
        ),
        Err(e) => failure_page(&req, &state, e.into()),
    })
}

/// A confirmation that failed, as a page: the browser shows it, not a
/// program. A refusal's security event is logged.
fn failure_page(req: &HttpRequest, state: &AppState, e: LoginApiError) -> HttpResponse {
    let title = "Sign-in failed";
    let status = e.status_code();
    match e {
        LoginApiError::Invalid(issues) => state.pages.error(status, title, &issues.join(" ")),
        LoginApiError::Failed(e) => {
            let message = match &e {
                FederationError::Refused(refusal) => {
                    if let Some(event) = refusal.event() {
                        crate::edge::security::log(event, req);
                    }
                    refusal.description().to_owned()
                }
                other => other.to_string(),
            };
            state.pages.error(status, title, &message)
        }
        LoginApiError::External(_) | LoginApiError::Internal => {
            state
                .pages
                .error(status, title, "The server could not complete the sign-in.")
        }
        LoginApiError::Throttled => state.pages.error(
            status,
            title,
            "Too many sign-ins from this address just now. Try again in a few minutes.",
        ),
        LoginApiError::Unavailable => state.pages.error(
            status,
            title,
            "The service is temporarily unavailable; try again shortly.",
        ),
    }
}

/// `GET /v1/login/oauth2/web/poll?state=...`: the token of a finished web
/// sign-in, handed out once; 401 while it is not finished.
#[utoipa::path(
    tag = "external-login",
    params(PollQuery),
    responses(
        (status = 200, description = "A token", body = TokenObject),
        (status = 400, description = "What is wrong with the request", body = Issues),
        (status = 401, description = "Not finished yet, or the state is unknown, expired or used", body = Failure),
    ),
)]
#[get("/v1/login/oauth2/web/poll")]
pub(crate) async fn web_poll(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, LoginApiError> {
    let q: PollQuery = query(&req)?;
    let [flow_state] = required([(q.state, "state")])?;
    let client = client(&state).await?;
    let issued = state
        .federation
        .poll_web(
            &state.sign_in,
            &client,
            &flow_state,
            crate::edge::now::of(&req, &state),
        )
        .await?;
    Ok(token_object(&issued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_upstream_failure_reads_as_an_external_service_failing() {
        let body = |e: LoginApiError| {
            let response = e.error_response();
            let status = response.status();
            let bytes = futures_executor(actix_web::body::to_bytes(response.into_body()))
                .unwrap_or_default();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        };
        let (status, text) = body(FederationError::Upstream("GitHub answered 502".into()).into());
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            text.contains("external service call failed: GitHub answered 502"),
            "{text}"
        );
        let fault = FlowError::Store(auth_core::error::StoreError::backend(
            std::io::Error::other("syntax error"),
        ));
        let (status, text) = body(FederationError::Flow(fault).into());
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !text.contains("external") && !text.contains("syntax"),
            "{text}"
        );
        let outage = FlowError::Store(auth_core::error::StoreError::unavailable(
            std::io::Error::other("refused"),
        ));
        let (status, _) = body(FederationError::Flow(outage).into());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    /// Drives a body future that is ready at once (a JSON body in memory).
    fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
        actix_web::rt::System::new().block_on(f)
    }
}
