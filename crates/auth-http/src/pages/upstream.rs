//! Signing in, and linking an account, through an upstream provider from
//! the hosted pages: the login page's "Sign in with ..." buttons post here
//! (CSRF token, origin check), the browser goes to the provider with a
//! sealed `state` bound to it by a cookie, and the provider sends it back
//! to the callback, which signs it in and continues the authorization
//! request it was in the middle of, exactly as a password login does.
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::FlowError;
use auth_core::federation::{
    CallbackContext, FederationError, ProviderAnswer, WebOutcome, WebPurpose,
};

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::edge::body::{FormParams, present, read_query};
use crate::edge::browser::{Csrf, PagePost, cookie_name, current_sign_in};
use crate::edge::error::{ApiError, FailureKind};
use crate::edge::pending::{FLOW_AUTHORIZE, Pending, PendingFields};
use crate::edge::responses::UpstreamPageResponses;
use crate::pages::flow::refusal_response;
use crate::state::AppState;

/// The cookie binding an upstream flow to the browser that began it.
const BINDING_COOKIE: &str = "portcullis_upstream";

/// Our callback for `provider`, as registered with it.
fn callback_uri(state: &AppState, provider: &str) -> String {
    format!("{}/login/upstream/{provider}/callback", state.issuer())
}

fn binding_cookie(state: &AppState, value: String) -> Cookie<'static> {
    // Lax: the provider's redirect back is a top-level GET navigation.
    Cookie::build(cookie_name(state, BINDING_COOKIE), value)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(
            auth_core::federation::WEB_FLOW_LIFETIME.num_seconds(),
        ))
        .finish()
}

fn cleared_binding_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = binding_cookie(state, String::new());
    c.make_removal();
    c
}

/// Sends the browser to the provider, bound to it by the cookie.
fn to_provider(state: &AppState, started: auth_core::federation::WebStart) -> HttpResponse {
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, started.url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    if let Some(binding) = started.binding {
        let _ = response.add_cookie(&binding_cookie(state, binding.into_inner()));
    }
    response
}

/// A federation failure as a page.
fn failure_page(state: &AppState, e: FederationError) -> Result<HttpResponse, ApiError> {
    let title = "Signing in through the provider failed";
    let status = FailureKind::of_federation(&e).status();
    let page = |message: &str| Ok(state.pages.error(status, title, message));
    match e {
        FederationError::Refused(e) | FederationError::Flow(FlowError::OAuth(e)) => {
            page(e.description())
        }
        FederationError::UnknownProvider(_) => {
            page("This server does not sign in through that provider.")
        }
        FederationError::Invalid(why) => page(&why),
        FederationError::Pending => page("The sign-in at the provider is not finished."),
        FederationError::Throttled => {
            page("Too many sign-ins from this address just now. Try again in a few minutes.")
        }
        FederationError::Upstream(why) => {
            // Debug-formatted: a provider's text cannot forge a log line.
            tracing::warn!(error = ?why, "upstream provider failed");
            page("The provider could not be reached just now. Try again in a moment.")
        }
        // An outage or a fault: the standard answer, which logs the cause.
        FederationError::Flow(e) => Err(e.into()),
    }
}

/// A failed callback's page, its security event logged.
fn refused_page(
    req: &HttpRequest,
    state: &AppState,
    e: FederationError,
) -> Result<HttpResponse, ApiError> {
    if let FederationError::Refused(refusal) = &e
        && let Some(event) = refusal.event()
    {
        crate::edge::security::log(event, req);
    }
    failure_page(state, e)
}

/// The form of a "Sign in with ..." button: the pending request's fields.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct UpstreamForm {
    #[schema(inline)]
    #[serde(flatten)]
    pending: crate::edge::pending::PendingFields,
}

/// The link button's form: the password again, when the session is too
/// old to link without it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct LinkForm {
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
}

/// What the provider sends the browser back with (RFC 6749 section
/// 4.1.2 and 4.1.2.1, RFC 9207).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackParams {
    /// The provider's authorization code.
    #[param(value_type = Option<String>)]
    pub(crate) code: Option<SecretString>,
    /// The state of the flow.
    pub(crate) state: Option<String>,
    /// The provider's refusal.
    pub(crate) error: Option<String>,
    /// RFC 9207: the provider's issuer.
    pub(crate) iss: Option<String>,
}

/// `POST /login/upstream/{provider}`: the login page's button.
#[utoipa::path(
    tag = "pages",
    params(("provider" = String, Path, description = "A configured provider: `github`")),
    request_body(content = PagePost<UpstreamForm>, content_type = "application/x-www-form-urlencoded"),
    responses(UpstreamPageResponses),
)]
#[post("/login/upstream/{provider}")]
pub(crate) async fn start(
    req: HttpRequest,
    provider: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: UpstreamForm = Csrf::read_form(&req, payload, &state).await?;
    let pending = Pending::from(form.pending);
    // Refuse a request that could not be continued before leaving for the
    // provider.
    if pending.is_legacy() {
        if let Err(page) = crate::dialects::redirect_login::validate(&state, &pending).await? {
            return Ok(*page);
        }
    } else if pending.flow.as_deref() == Some(FLOW_AUTHORIZE)
        && let Err(refusal) = state.sign_in.validate_authorization(&pending.request).await
    {
        return refusal_response(&state, refusal);
    }
    match state
        .federation
        .begin_web(
            &state.sign_in,
            &provider,
            WebPurpose::SignIn,
            &callback_uri(&state, &provider),
            Some(pending.query()),
            crate::edge::now::of(&req, &state),
        )
        .await
    {
        Ok(started) => Ok(to_provider(&state, started)),
        Err(e) => failure_page(&state, e),
    }
}

/// `POST /account/upstream/{provider}/link`: links the signed-in account
/// to the person's identity at the provider, the only way an upstream
/// identity joins an existing account.
#[utoipa::path(
    tag = "pages",
    params(("provider" = String, Path, description = "A configured provider: `github`")),
    request_body(content = PagePost<LinkForm>, content_type = "application/x-www-form-urlencoded"),
    responses(UpstreamPageResponses),
)]
#[post("/account/upstream/{provider}/link")]
pub(crate) async fn link(
    req: HttpRequest,
    provider: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: LinkForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(state.pages.error(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "Sign in to your account, then link it to the provider.",
        ));
    };
    match state
        .federation
        .begin_link(
            &state.sign_in,
            &who,
            auth_core::federation::Reauthentication {
                password: present(form.password).map(crate::edge::body::password),
                from: &crate::edge::security::peer(&req),
            },
            &provider,
            &callback_uri(&state, &provider),
            crate::edge::now::of(&req, &state),
        )
        .await
    {
        Ok(started) => Ok(to_provider(&state, started)),
        Err(e) => refused_page(&req, &state, e),
    }
}

/// `GET /login/upstream/{provider}/callback`: the provider sends the
/// browser back here.
#[utoipa::path(
    tag = "pages",
    params(
        ("provider" = String, Path, description = "A configured provider: `github`"),
        CallbackParams,
    ),
    responses(UpstreamPageResponses),
)]
#[get("/login/upstream/{provider}/callback")]
pub(crate) async fn callback(
    req: HttpRequest,
    provider: Path<String>,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let title = "Signing in through the provider failed";
    let params: CallbackParams = match read_query(&req) {
        Ok(p) => p,
        Err(e) => {
            return Ok(state
                .pages
                .error(StatusCode::BAD_REQUEST, title, e.description()));
        }
    };
    if let Some(error) = present(params.error) {
        return refused_page(
            &req,
            &state,
            auth_core::federation::declined_upstream(&error),
        );
    }
    let (Some(code), Some(flow_state)) = (present(params.code), present(params.state)) else {
        return Ok(state.pages.error(
            StatusCode::BAD_REQUEST,
            title,
            "The provider's answer has no code or no state.",
        ));
    };
    let binding = req.cookie(&cookie_name(&state, BINDING_COOKIE));
    let signed_in = current_sign_in(&req, &state).await?.map(|s| s.user);
    let outcome = state
        .federation
        .finish_web(
            &state.sign_in,
            ProviderAnswer {
                provider: &provider,
                state: &flow_state,
                code: code.expose_secret(),
                issuer: params.iss.as_deref(),
            },
            CallbackContext {
                browser: true,
                binding: binding.as_ref().map(|c| c.value()),
                signed_in,
            },
            crate::edge::now::of(&req, &state),
        )
        .await;
    // The binding cookie goes once its flow is done; a refused callback
    // (another flow's state, say) leaves the browser's own flow standing.
    let mut response = match outcome {
        Ok(WebOutcome::SignedIn {
            user,
            return_to,
            event,
        }) => {
            if let Some(event) = &event {
                crate::edge::security::log(event, &req);
            }
            // The pending request this flow left with, carried through
            // the provider as a query string sealed in the state.
            let carried: PendingFields =
                FormParams::parse_into(return_to.unwrap_or_default().as_bytes())
                    .unwrap_or_default();
            let pending = Pending::from(carried);
            let method = state
                .federation
                .providers()
                .find(|(name, _)| name.as_str() == provider.as_str())
                .map_or_else(|| provider.to_string(), |(_, display)| display.to_owned());
            crate::pages::sign_in::signed_in(
                &req,
                &state,
                &pending,
                user.id,
                &method,
                auth_core::types::AuthMethods::of(&[auth_core::types::AuthMethod::Federated]),
            )
            .await?
        }
        Ok(WebOutcome::Linked { user, provider, .. }) => {
            crate::edge::security::log(
                &auth_core::events::SecurityEvent::IdentityLinked { user },
                &req,
            );
            state.pages.render(
                StatusCode::OK,
                "linked.html",
                &serde_json::json!({ "title": "Account linked", "provider": provider.as_str() }),
            )
        }
        // Only a polled flow asks for confirmation, and the core refuses
        // a polled flow's state at this callback.
        Ok(WebOutcome::Confirm(_)) => {
            return Err(ApiError::Internal(
                "a browser's flow asked for a polled flow's confirmation".into(),
            ));
        }
        Err(e) => return refused_page(&req, &state, e),
    };
    let _ = response.add_cookie(&cleared_binding_cookie(&state));
    Ok(response)
}
