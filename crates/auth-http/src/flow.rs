//! The browser flow shared by the hosted pages: the pending authorization
//! request carried through them, and what happens once the user is known
//! (consent, a code, or seed 000's token redirect).
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use auth_core::authorize::{
    AuthorizationRequest, Consent, ConsentStep, Refusal, SignedIn, ValidRequest,
};
use auth_core::types::RedirectUri;
use serde::Serialize;

use crate::AppState;
use crate::browser::Csrf;
use crate::error::ApiError;

/// Which flow a hosted page belongs to.
pub(crate) const FLOW_AUTHORIZE: &str = "authorize";
/// Seed 000's redirect login.
pub(crate) const FLOW_LEGACY: &str = "legacy";
/// The device grant's code entry page.
pub(crate) const FLOW_DEVICE: &str = "device";

/// An authorization request's parameters (RFC 6749 section 4.1.1, RFC 7636
/// section 4.3, OpenID Connect Core section 3.1.2.1), as `GET /authorize`
/// takes them in its query and `POST /authorize` in its form body.
#[derive(utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes what the handlers parse, for the OpenAPI document"
)]
pub(crate) struct AuthorizationParams {
    /// `code`.
    response_type: Option<String>,
    client_id: Option<String>,
    /// Exactly as registered (a loopback redirect may use any port).
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    /// `S256`, or `plain` where the client is allowed it.
    code_challenge_method: Option<String>,
    /// Prefills the login form's name (`GET /authorize` only).
    login_hint: Option<String>,
    /// OpenID Connect: echoed in the ID token.
    nonce: Option<String>,
    /// OpenID Connect: `none`, or any of `login`, `consent`, `select_account`.
    prompt: Option<String>,
    /// OpenID Connect: the oldest sign-in accepted, in seconds.
    max_age: Option<u32>,
    /// OpenID Connect: an ID token naming the user the client expects.
    id_token_hint: Option<String>,
}

/// The pending request's fields a hosted page carries as hidden inputs.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "describes the form the handler parses, for the OpenAPI document"
)]
pub(crate) struct PendingFields {
    /// `authorize`, `legacy` (seed 000) or `device`.
    flow: Option<String>,
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    id_token_hint: Option<String>,
    /// The device grant's user code, when login came from `/device`.
    user_code: Option<String>,
}

/// The authorization request a browser is in the middle of, carried through
/// the hosted pages as hidden fields and re-validated at every step (it came
/// from the browser, so it is never trusted).
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending {
    pub flow: Option<String>,
    /// The authorization request's own parameters, as the browser sent them.
    pub request: AuthorizationRequest,
    /// The device grant's user code, when login came from `/device`.
    pub user_code: Option<String>,
}

impl Pending {
    pub(crate) fn is_legacy(&self) -> bool {
        self.flow.as_deref() == Some(FLOW_LEGACY)
    }

    pub(crate) fn has_client(&self) -> bool {
        self.request
            .client_id
            .as_deref()
            .is_some_and(|c| !c.is_empty())
    }

    /// The non-empty fields, as hidden inputs.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let r = &self.request;
        let all = [
            ("flow", &self.flow),
            ("client_id", &r.client_id),
            ("redirect_uri", &r.redirect_uri),
            ("response_type", &r.response_type),
            ("scope", &r.scope),
            ("state", &r.state),
            ("code_challenge", &r.code_challenge),
            ("code_challenge_method", &r.code_challenge_method),
            ("nonce", &r.nonce),
            ("prompt", &r.prompt),
            ("max_age", &r.max_age),
            ("id_token_hint", &r.id_token_hint),
            ("user_code", &self.user_code),
        ];
        all.into_iter()
            .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| (k, v.clone())))
            .collect()
    }

    /// The fields as a query string, for links between the hosted pages.
    pub(crate) fn query(&self) -> String {
        serde_urlencoded::to_string(self.fields()).unwrap_or_default()
    }
}

/// A redirect to a client's URI with `params` added to its query.
pub(crate) fn redirect_with(
    uri: &RedirectUri,
    params: &[(&str, &str)],
    status: StatusCode,
) -> HttpResponse {
    let location = match url::Url::parse(uri.as_str()) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => uri.as_str().to_owned(),
    };
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// What a browser that followed a link with a malformed query or form is
/// shown: a page saying why, titled `title`; any other error (an outage, a
/// body too large) is answered as usual.
pub(crate) fn invalid_link(
    state: &AppState,
    title: &str,
    error: ApiError,
) -> Result<HttpResponse, ApiError> {
    match error {
        ApiError::OAuth(e) => {
            Ok(state
                .pages
                .error(StatusCode::BAD_REQUEST, title, e.description()))
        }
        other => Err(other),
    }
}

/// Delivers a refusal: an error page when the client or redirect URI is not
/// trusted, else a redirect carrying `error`, `error_description`, `state`.
pub(crate) fn refusal_response(
    state: &AppState,
    refusal: Refusal,
) -> Result<HttpResponse, ApiError> {
    match refusal {
        Refusal::Untrusted(message) => Ok(state.pages.error(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            &message,
        )),
        Refusal::Redirect {
            redirect_uri,
            error,
            state: client_state,
        } => {
            let mut params = vec![
                ("error", error.code().as_str()),
                ("error_description", error.description()),
            ];
            if let Some(s) = client_state.as_deref() {
                params.push(("state", s));
            }
            params.push(("iss", state.issuer()));
            Ok(redirect_with(&redirect_uri, &params, StatusCode::FOUND))
        }
        Refusal::Failed(e) => Err(e.into()),
    }
}

/// Issues a code and sends the browser back to the client with it.
pub(crate) async fn code_redirect(
    state: &AppState,
    valid: &ValidRequest,
    who: SignedIn,
    consent: Consent,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let (code, _) = state
        .tokens
        .issue_code(valid, who, consent, state.clock.now())
        .await?;
    let mut params = vec![("code", code.expose())];
    if let Some(s) = valid.state.as_deref() {
        params.push(("state", s));
    }
    // RFC 9207: the response names its issuer, so a client talking to
    // several servers can tell which one answered (mix-up attacks).
    params.push(("iss", state.issuer()));
    Ok(redirect_with(&valid.redirect_uri, &params, status))
}

#[derive(Serialize)]
struct ConsentPage<'a> {
    title: &'static str,
    client_name: &'a str,
    username: String,
    scopes: Vec<String>,
    pending: Vec<(&'static str, String)>,
    csrf: String,
}

/// What happens once the browser's user is known: seed 000's token
/// redirect, consent for a third-party client, or a code at once.
pub(crate) async fn proceed(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    who: SignedIn,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    if pending.is_legacy() {
        return crate::dialects::redirect_login::complete(state, pending, who.user).await;
    }
    if pending.flow.as_deref() == Some(FLOW_DEVICE) {
        let query = serde_urlencoded::to_string([(
            "user_code",
            pending.user_code.as_deref().unwrap_or(""),
        )])
        .unwrap_or_default();
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/device?{query}")))
            .finish());
    }
    // Signed in for no client: on to the account page.
    if !pending.has_client() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/account"))
            .finish());
    }
    let valid = match state.tokens.validate_authorization(&pending.request).await {
        Ok(v) => v,
        Err(r) => return refusal_response(state, r),
    };
    if let Err(r) = state.tokens.require_hinted_subject(&valid, &who) {
        return refusal_response(state, r);
    }
    // `prompt=consent` asks even where the operator would not; a consent
    // remembered from before spares the page.
    match state.tokens.consent_step(&valid, who.user).await? {
        ConsentStep::Skip => {
            return code_redirect(state, &valid, who, Consent::NotAsked, status).await;
        }
        ConsentStep::Refuse(r) => return refusal_response(state, r),
        ConsentStep::Ask => {}
    }
    let username = crate::browser::username_of(state, who.user).await?;
    let csrf = Csrf::of(req, state);
    let mut response = state.pages.render_for(
        StatusCode::OK,
        "consent.html",
        &ConsentPage {
            title: "Allow access?",
            client_name: &valid.client.name,
            username,
            scopes: valid
                .scope
                .iter()
                .map(|s| auth_core::types::describe_scope(s, &state.scope_descriptions))
                .collect(),
            pending: pending.fields(),
            csrf: csrf.token(state),
        },
        Some(&valid.redirect_uri),
    );
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

impl Pending {
    /// Takes the pending request's fields out of parsed parameters.
    pub(crate) fn take_from(params: &mut crate::body::FormParams) -> Self {
        Self {
            flow: params.take("flow"),
            request: AuthorizationRequest {
                client_id: params.take("client_id"),
                redirect_uri: params.take("redirect_uri"),
                response_type: params.take("response_type"),
                scope: params.take("scope"),
                state: params.take("state"),
                code_challenge: params.take("code_challenge"),
                code_challenge_method: params.take("code_challenge_method"),
                nonce: params.take("nonce"),
                prompt: params.take("prompt"),
                max_age: params.take("max_age"),
                id_token_hint: params.take("id_token_hint"),
            },
            user_code: params.take("user_code"),
        }
    }
}
