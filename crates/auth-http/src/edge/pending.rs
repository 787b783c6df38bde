//! The authorization request a browser is in the middle of, carried
//! through the hosted pages as hidden fields (and, for seed 000, through
//! its redirect login): its fields, its flow, and its parsing.
use auth_core::authorize::{AuthorizationRequest, ValidRedirectLogin};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// Which flow a hosted page belongs to.
pub(crate) const FLOW_AUTHORIZE: &str = "authorize";
/// Seed 000's redirect login.
pub(crate) const FLOW_LEGACY: &str = "legacy";
/// The device grant's code entry page.
pub(crate) const FLOW_DEVICE: &str = "device";

/// An authorization request's own parameters (RFC 6749 section 4.1.1, RFC
/// 7636 section 4.3, OpenID Connect Core section 3.1.2.1), parsed as the
/// browser sent them: the core validates them (and again at every step,
/// since they come back from the browser each time).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub(crate) struct RequestFields {
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
    /// OpenID Connect: echoed in the ID token.
    nonce: Option<String>,
    /// OpenID Connect: `none`, or any of `login`, `consent`, `select_account`.
    prompt: Option<String>,
    /// OpenID Connect: the oldest sign-in accepted, in seconds (the core
    /// refuses what is not a number, by redirect).
    #[schema(value_type = Option<u32>)]
    #[param(value_type = Option<u32>)]
    max_age: Option<String>,
    /// OpenID Connect: an ID token naming the user the client expects.
    id_token_hint: Option<String>,
    /// OpenID Connect: the authentication levels the client accepts,
    /// space-separated (see `acr_values_supported`).
    acr_values: Option<String>,
}

impl From<RequestFields> for AuthorizationRequest {
    fn from(f: RequestFields) -> Self {
        let present = crate::edge::body::present;
        Self {
            client_id: present(f.client_id),
            redirect_uri: present(f.redirect_uri),
            response_type: present(f.response_type),
            scope: present(f.scope),
            state: present(f.state),
            code_challenge: present(f.code_challenge),
            code_challenge_method: present(f.code_challenge_method),
            nonce: present(f.nonce),
            prompt: present(f.prompt),
            max_age: present(f.max_age),
            id_token_hint: present(f.id_token_hint),
            acr_values: present(f.acr_values),
        }
    }
}

/// `GET /authorize`'s query and `POST /authorize`'s form body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct AuthorizationParams {
    #[serde(flatten)]
    #[schema(inline)]
    pub(crate) request: RequestFields,
    /// Prefills the login form's name (OpenID Connect Core section
    /// 3.1.2.1; never trusted: the person may change it).
    pub(crate) login_hint: Option<String>,
}

/// The pending request's fields a hosted page carries as hidden inputs.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct PendingFields {
    /// `authorize`, `legacy` (seed 000) or `device`.
    flow: Option<String>,
    #[serde(flatten)]
    #[schema(inline)]
    request: RequestFields,
    /// The device grant's user code, when login came from `/device`.
    user_code: Option<String>,
}

// utoipa's `IntoParams` derive does not expand a flattened field into its
// parameters (it names one parameter after the field), so the queries made
// of `RequestFields` and a few fields more list their parameters here.

/// An optional string parameter in the query.
pub(crate) fn query_parameter(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

impl IntoParams for AuthorizationParams {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = RequestFields::into_params(parameter_in);
        params.push(query_parameter(
            "login_hint",
            "Prefills the login form's name (never trusted: the person may change it).",
        ));
        params
    }
}

impl IntoParams for PendingFields {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![query_parameter(
            "flow",
            "`authorize`, `legacy` (seed 000) or `device`.",
        )];
        params.extend(RequestFields::into_params(parameter_in));
        params.push(query_parameter(
            "user_code",
            "The device grant's user code, when login came from `/device`.",
        ));
        params
    }
}

impl From<RequestFields> for PendingFields {
    /// A request as `/authorize` received it: no flow yet, no user code.
    fn from(request: RequestFields) -> Self {
        Self {
            request,
            ..Self::default()
        }
    }
}

impl From<PendingFields> for Pending {
    fn from(f: PendingFields) -> Self {
        let present = crate::edge::body::present;
        Self {
            flow: present(f.flow),
            request: f.request.into(),
            user_code: present(f.user_code),
            valid_redirect_login: std::cell::OnceCell::new(),
        }
    }
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
    /// Seed 000's request once the core found it valid in this request:
    /// validated once per request (a login post reads it before the
    /// password, for its page, and to issue the tokens), never carried
    /// from one request to the next.
    pub(crate) valid_redirect_login: std::cell::OnceCell<ValidRedirectLogin>,
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
            ("acr_values", &r.acr_values),
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
