//! The hosted pages: `GET /authorize`, login, registration, consent, logout.
//! Plain HTML forms that work without JavaScript; every post is checked for
//! its CSRF token before anything else happens.
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::FlowError;
use auth_core::accounts::{RegistrationError, UserSpec, register_user_from};
use auth_core::authorize::{SignInStep, SignedIn};
use auth_core::events::SecurityEvent;
use auth_core::types::{AuthMethod, AuthMethods, Email, Password, RedirectUri, Username};
use serde::Serialize;

use secrecy::SecretString;
use serde::Deserialize;

use crate::edge::body::{expose, read_query};
use crate::edge::browser::{
    Csrf, NoFields, PagePost, Started, cleared_session_cookie, current_sign_in, current_user,
    session_cookie_of,
};
use crate::edge::error::{ApiError, FailureKind};
use crate::edge::pending::{
    AuthorizationParams, FLOW_AUTHORIZE, FLOW_LEGACY, Pending, PendingFields,
};
use crate::edge::responses::PageResponses;
use crate::pages::flow::{proceed, refusal_response};
use crate::state::AppState;

/// The client a page is shown for, and where its form's redirect may end:
/// the validated redirect URI of the pending request (seed 000's or a
/// standard one). An invalid request gets neither; its post is refused anyway.
async fn page_client(state: &AppState, pending: &Pending) -> (Option<String>, Option<RedirectUri>) {
    if !pending.has_client() {
        return (None, None);
    }
    if pending.is_legacy() {
        return match crate::dialects::redirect_login::validate(state, pending).await {
            Ok(Ok(request)) => (Some(request.client.name), Some(request.redirect_uri)),
            _ => (None, None),
        };
    }
    match state.sign_in.validate_authorization(&pending.request).await {
        Ok(valid) => (Some(valid.client.name), Some(valid.redirect_uri)),
        Err(_) => (None, None),
    }
}

#[derive(Serialize, Default)]
struct FormPage<'a> {
    title: &'static str,
    client_name: Option<String>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    username: &'a str,
    email: &'a str,
    given_name: &'a str,
    family_name: &'a str,
    min_password: usize,
    pending: Vec<(&'static str, String)>,
    csrf: String,
    query: String,
    /// The upstream providers' buttons: (name, display name).
    providers: Vec<(String, String)>,
    /// Whether the login page offers "Create one".
    registration_open: bool,
    /// "Forgot password?": only where mail can be sent.
    recovery_open: bool,
    /// "Sign in with a passkey", and passkeys offered in the name field.
    passkeys: bool,
}

/// Renders the login or register page for `pending`, setting the CSRF
/// cookie if the browser has none yet.
async fn form_page(
    req: &HttpRequest,
    state: &AppState,
    template: &str,
    status: StatusCode,
    pending: &Pending,
    fill: FormPage<'_>,
) -> HttpResponse {
    let csrf = Csrf::of(req, state);
    let (client_name, redirect_to) = page_client(state, pending).await;
    let page = FormPage {
        title: if template == "login.html" {
            "Sign in"
        } else {
            "Create an account"
        },
        client_name,
        min_password: state.min_password_length,
        pending: pending.fields(),
        csrf: csrf.token(state),
        query: pending.query(),
        providers: state
            .federation
            .providers()
            .map(|(name, display)| (name.to_string(), display.to_owned()))
            .collect(),
        registration_open: state.accounts.registration_open(),
        recovery_open: state.accounts.mail_enabled(),
        passkeys: state.sign_in.passkeys_enabled(),
        ..fill
    };
    // The forms lead to the client (after a password) or to a provider.
    let mut targets = state.federation.browser_origins();
    targets.extend(
        redirect_to
            .as_ref()
            .and_then(crate::pages::render::csp_source),
    );
    let mut response = state
        .pages
        .render_with_targets(status, template, &page, &targets);
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    response
}

/// The login page for `pending`, as another page's first step.
pub(crate) async fn login_form(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
) -> HttpResponse {
    form_page(
        req,
        state,
        "login.html",
        StatusCode::OK,
        pending,
        FormPage::default(),
    )
    .await
}

/// `GET /authorize` (RFC 6749 section 4.1.1).
#[utoipa::path(tag = "pages", params(AuthorizationParams), responses(PageResponses))]
#[get("/authorize")]
pub(crate) async fn authorize(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = read_query(&req).map_err(ApiError::from);
    authorization_request(&req, &state, params).await
}

/// `POST /authorize` with the request's parameters in a form body (OpenID
/// Connect Core section 3.1.2.1): the same request as a `GET`. Browsers do
/// not send the session cookie (`SameSite=Lax`) with a form posted from
/// another site, so a signed-in user posted here by a client sees the login
/// page rather than single sign-on.
#[utoipa::path(
    tag = "pages",
    request_body(content = AuthorizationParams, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/authorize")]
pub(crate) async fn authorize_post(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = crate::edge::body::read_form(&req, payload, state.limits.max_body_bytes).await;
    authorization_request(&req, &state, params).await
}

async fn authorization_request(
    req: &HttpRequest,
    state: &AppState,
    params: Result<AuthorizationParams, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let params = match params {
        Ok(p) => p,
        Err(e) => {
            return crate::pages::flow::invalid_link(state, "This sign-in link is not valid", e);
        }
    };
    // OpenID Connect Core section 3.1.2.1: a hint of who is signing in,
    // shown in the login form (never trusted: the user may change it).
    let login_hint = params.login_hint;
    let mut pending = Pending::from(PendingFields::from(params.request));
    pending.flow = Some(FLOW_AUTHORIZE.into());
    let valid = match state.sign_in.validate_authorization(&pending.request).await {
        Ok(valid) => valid,
        Err(refusal) => return refusal_response(state, refusal),
    };
    let session = current_sign_in(req, state).await?;
    match state
        .sign_in
        .sign_in_step(&valid, session, crate::edge::now::of(req, state))
    {
        // Single sign-on: the browser is already signed in.
        SignInStep::Continue(who) => proceed(req, state, &pending, who, StatusCode::FOUND).await,
        SignInStep::Refuse(refusal) => refusal_response(state, refusal),
        SignInStep::Login => Ok(form_page(
            req,
            state,
            "login.html",
            StatusCode::OK,
            &pending,
            FormPage {
                username: login_hint.as_deref().unwrap_or_default(),
                ..FormPage::default()
            },
        )
        .await),
    }
}

/// `GET /login`: the login page. With `client_id` and no `flow` it is seed
/// 000's redirect login.
#[utoipa::path(tag = "pages", params(LoginPageParams), responses(PageResponses))]
#[get("/login")]
pub(crate) async fn login_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params: LoginPageParams = read_query(&req)?;
    let notice = params.notice;
    let mut pending = Pending::from(params.pending);
    if pending.flow.is_none() && pending.has_client() {
        // Only seed 000 sends a client here directly; with that dialect off
        // the request is refused by `validate` below like any bad link.
        pending.flow = Some(FLOW_LEGACY.into());
    }
    if pending.is_legacy()
        && let Err(page) = crate::dialects::redirect_login::validate(&state, &pending).await?
    {
        return Ok(*page);
    }
    if !pending.has_client()
        && let Some(user) = current_user(&req, &state).await?
    {
        return signed_in_page(&req, &state, user).await;
    }
    let notice = match notice.as_deref() {
        Some("registered") => Some("Your account was created. Sign in to continue."),
        Some("check_mail") => Some(
            "Your account is ready: sign in to continue. We sent a link to your email \
             address to confirm it.",
        ),
        _ => None,
    };
    Ok(form_page(
        &req,
        &state,
        "login.html",
        StatusCode::OK,
        &pending,
        FormPage {
            notice,
            ..FormPage::default()
        },
    )
    .await)
}

async fn signed_in_page(
    req: &HttpRequest,
    state: &AppState,
    user: auth_core::types::UserId,
) -> Result<HttpResponse, ApiError> {
    #[derive(Serialize)]
    struct Page {
        title: &'static str,
        username: String,
        csrf: String,
    }
    let username = crate::edge::browser::username_of(state, user).await?;
    let csrf = Csrf::of(req, state);
    let mut response = state.pages.render(
        StatusCode::OK,
        "signed_in.html",
        &Page {
            title: "Signed in",
            username,
            csrf: csrf.token(state),
        },
    );
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

/// `GET /login`'s query: the pending request, and a notice to show.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginPageParams {
    /// `registered` shows that the account was just created.
    notice: Option<String>,
    #[serde(flatten)]
    pending: PendingFields,
}

impl utoipa::IntoParams for LoginPageParams {
    fn into_params(
        parameter_in: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut params = vec![crate::edge::pending::query_parameter(
            "notice",
            "`registered` shows that the account was just created.",
        )];
        params.extend(PendingFields::into_params(parameter_in));
        params
    }
}

/// The login form: the credentials, and the pending authorization
/// request's fields carried as hidden inputs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginForm {
    username: Option<String>,
    #[schema(value_type = String)]
    password: Option<SecretString>,
    #[schema(inline)]
    #[serde(flatten)]
    pending: PendingFields,
}

/// `POST /login`: checks the credentials, starts a session (a new id: no
/// fixation) and continues the pending request.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<LoginForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/login")]
pub(crate) async fn login(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: LoginForm = Csrf::read_form(&req, payload, &state).await?;
    let username = form.username.unwrap_or_default();
    let password = crate::edge::body::password(form.password.unwrap_or_default());
    let pending = Pending::from(form.pending);
    if pending.is_legacy()
        && let Err(page) = crate::dialects::redirect_login::validate(&state, &pending).await?
    {
        return Ok(*page);
    }
    let refuse = |message: &'static str, status: StatusCode| {
        let fill = FormPage {
            error: Some(message),
            username: &username,
            ..FormPage::default()
        };
        form_page(&req, &state, "login.html", status, &pending, fill)
    };
    let now = crate::edge::now::of(&req, &state);
    let login = match state
        .sign_in
        .verify_browser_credentials(
            &auth_core::types::LoginName::lookup(&username),
            password,
            &crate::edge::security::peer(&req),
            crate::edge::browser::device_cookie_of(&req, &state).as_deref(),
            now,
        )
        .await
    {
        Ok(login) => login,
        Err(e) => {
            let kind = FailureKind::of_sign_in(&e);
            let message = match kind {
                FailureKind::Throttled => {
                    "Too many failed attempts. Wait a few minutes and try again."
                }
                FailureKind::Refused => "The username or password is incorrect.",
                // An outage or a fault: the standard answer.
                _ => return Err(e.into()),
            };
            if let FlowError::OAuth(refusal) = &e
                && let Some(event) = refusal.event()
            {
                crate::edge::security::log(event, &req);
            }
            return Ok(refuse(message, kind.status()).await);
        }
    };
    let user = login.user.id;
    let password = AuthMethods::of(&[AuthMethod::Password]);
    let mut response = signed_in(&req, &state, &pending, user, "password", password).await?;
    // The browser is remembered: its own failed-login count from now on.
    if let Some(device) = login.device_cookie {
        let _ = response.add_cookie(&crate::edge::browser::device_cookie(
            &state,
            device.into_inner(),
        ));
    }
    Ok(crate::edge::security::with_event(
        response,
        Some(SecurityEvent::LoginSucceeded { user }),
    ))
}

/// The login page again, saying `message`: a sign-in that must start over.
pub(crate) async fn login_error(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    message: &str,
    status: StatusCode,
) -> HttpResponse {
    let fill = FormPage {
        error: Some(message),
        ..FormPage::default()
    };
    form_page(req, state, "login.html", status, pending, fill).await
}

/// Starts the session and continues the flow, setting the cookie on
/// whatever response the flow gives; or, where the account's second factor
/// is due, shows its step (nothing is signed in until it is right).
pub(crate) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    pending: &Pending,
    user: auth_core::types::UserId,
    method: &str,
    methods: AuthMethods,
) -> Result<HttpResponse, ApiError> {
    let now = crate::edge::now::of(req, state);
    let session =
        match crate::edge::browser::new_session(req, state, user, method, methods, now).await? {
            Started::Session(cookie) => cookie,
            Started::SecondStep(sealed, factors) => {
                return crate::pages::second_step::second_step_page(
                    req,
                    state,
                    pending,
                    sealed,
                    &factors,
                    None,
                    StatusCode::OK,
                )
                .await;
            }
        };
    let csrf = Csrf::renew(req, state);
    let who = SignedIn {
        user,
        authenticated_at: now,
        methods,
    };
    let mut response = proceed(req, state, pending, who, StatusCode::SEE_OTHER).await?;
    let _ = response.add_cookie(&session);
    let _ = response.add_cookie(&csrf);
    Ok(response)
}

/// `GET /register`: the registration page.
#[utoipa::path(tag = "pages", params(PendingFields), responses(PageResponses))]
#[get("/register")]
pub(crate) async fn register_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !state.accounts.registration_open() {
        return Ok(registration_closed(&state));
    }
    let pending = Pending::from(read_query::<PendingFields>(&req)?);
    Ok(form_page(
        &req,
        &state,
        "register.html",
        StatusCode::OK,
        &pending,
        FormPage::default(),
    )
    .await)
}

/// `POST /register` with a form body: the hosted registration page. For
/// seed 000's redirect login the user is sent back to the login page, as
/// its document describes; otherwise registration signs the user in.
pub(crate) async fn register_form(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: RegisterForm = Csrf::read_form(&req, payload, &state).await?;
    let username = form.username.unwrap_or_default();
    let email = form.email.unwrap_or_default();
    let password = form.password.map(expose).unwrap_or_default();
    let given_name = form.given_name.unwrap_or_default();
    let family_name = form.family_name.unwrap_or_default();
    let pending = Pending::from(form.pending);
    let refuse = |message: String| {
        let (req, state, pending) = (&req, &state, &pending);
        let (username, email, given_name, family_name) =
            (&username, &email, &given_name, &family_name);
        async move {
            let fill = FormPage {
                error: Some(&message),
                username,
                email,
                given_name,
                family_name,
                ..FormPage::default()
            };
            Ok::<_, ApiError>(
                form_page(
                    req,
                    state,
                    "register.html",
                    StatusCode::BAD_REQUEST,
                    pending,
                    fill,
                )
                .await,
            )
        }
    };
    let spec = match parse_registration(
        &state,
        &username,
        &email,
        &password,
        &given_name,
        &family_name,
    ) {
        Ok(spec) => spec,
        Err(message) => return refuse(message).await,
    };
    let peer = crate::edge::security::peer(&req);
    let user = match register_user_from(
        &state.accounts,
        &peer,
        spec,
        crate::edge::now::of(&req, &state),
    )
    .await
    {
        Ok(user) => user,
        // With mail, an address that has an account answers as a success
        // does (its owner is told by mail), so the page reveals nothing.
        Err(RegistrationError::AddressInUse) if state.accounts.mail_enabled() => {
            return Ok(registered_check_mail(&pending));
        }
        Err(RegistrationError::Conflict(auth_core::error::LOOK_ALIKE)) => {
            return refuse(
                "That username looks like one already registered (letters from another \
                 script, or characters that look alike). Choose another."
                    .into(),
            )
            .await;
        }
        Err(RegistrationError::Conflict(_) | RegistrationError::AddressInUse) => {
            return refuse("That username or email is already registered.".into()).await;
        }
        Err(RegistrationError::Invalid(m)) => return refuse(m).await,
        Err(RegistrationError::Throttled) => {
            let mut page =
                refuse("Too many accounts were created just now. Try again later.".into()).await?;
            *page.status_mut() = FailureKind::Throttled.status();
            return Ok(page);
        }
        Err(RegistrationError::Closed) => return Ok(registration_closed(&state)),
        Err(RegistrationError::Flow(e)) => return Err(e.into()),
    };
    if state.accounts.mail_enabled() {
        return Ok(registered_check_mail(&pending));
    }
    if pending.is_legacy() {
        let location = format!("/login?notice=registered&{}", pending.query());
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish());
    }
    let password = AuthMethods::of(&[AuthMethod::Password]);
    signed_in(&req, &state, &pending, user.id, "password", password).await
}

/// A registration's answer where mail is set up, the same whether it
/// created the account or its address had one (whose owner was mailed):
/// on to the login page, which says a link is on its way. The person signs
/// in with the new password; being signed in at once would tell the two
/// apart.
fn registered_check_mail(pending: &Pending) -> HttpResponse {
    let location = format!("/login?notice=check_mail&{}", pending.query());
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The page for a registration where self-registration is closed.
fn registration_closed(state: &AppState) -> HttpResponse {
    state.pages.error(
        FailureKind::Forbidden.status(),
        "Registration is closed",
        "This server does not let people create their own accounts. Ask its operator for one.",
    )
}

fn parse_registration(
    state: &AppState,
    username: &str,
    email: &str,
    password: &str,
    given_name: &str,
    family_name: &str,
) -> Result<UserSpec, String> {
    let name = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.chars().take(100).collect::<String>())
    };
    Ok(UserSpec {
        username: Username::parse(username).map_err(|e| format!("Username: {e}."))?,
        email: Some(Email::parse(email).map_err(|e| format!("Email: {e}."))?),
        password: Password::parse(password)
            .and_then(|p| p.require_min_chars(state.min_password_length))
            .map_err(|e| format!("Password: {e}."))?,
        given_name: name(given_name),
        family_name: name(family_name),
    })
}

/// The hosted registration page's form (after its CSRF token).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RegisterForm {
    #[schema(value_type = String)]
    pub(crate) username: Option<String>,
    #[schema(value_type = String)]
    pub(crate) email: Option<String>,
    #[schema(value_type = String)]
    pub(crate) password: Option<SecretString>,
    pub(crate) given_name: Option<String>,
    pub(crate) family_name: Option<String>,
    #[schema(inline)]
    #[serde(flatten)]
    pub(crate) pending: PendingFields,
}

/// The consent form: `allow` issues the code, anything else denies.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ConsentForm {
    decision: Option<String>,
    #[schema(inline)]
    #[serde(flatten)]
    pending: PendingFields,
}

/// `POST /consent`: the user's decision for a third-party client.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<ConsentForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/consent")]
pub(crate) async fn consent(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: ConsentForm = Csrf::read_form(&req, payload, &state).await?;
    let decision = form.decision;
    let pending = Pending::from(form.pending);
    let valid = match state.sign_in.validate_authorization(&pending.request).await {
        Ok(v) => v,
        Err(r) => return refusal_response(&state, r),
    };
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(form_page(
            &req,
            &state,
            "login.html",
            StatusCode::OK,
            &pending,
            FormPage::default(),
        )
        .await);
    };
    match decision.as_deref() {
        Some("allow") => {
            let consent = auth_core::authorize::Consent::Given;
            crate::pages::flow::code_redirect(
                &state,
                &valid,
                who,
                consent,
                StatusCode::SEE_OTHER,
                crate::edge::now::of(&req, &state),
            )
            .await
        }
        _ => refusal_response(
            &state,
            auth_core::authorize::Refusal::Redirect {
                redirect_uri: valid.redirect_uri,
                error: auth_core::OAuthError::new(
                    auth_core::ErrorCode::AccessDenied,
                    "the user denied the request",
                ),
                state: valid.state,
            },
        )
        .map(|mut r| {
            *r.status_mut() = StatusCode::SEE_OTHER;
            r
        }),
    }
}

/// `POST /logout`: ends the session.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<NoFields>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/logout")]
pub(crate) async fn logout(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The form carries nothing but its CSRF token.
    let NoFields {} = Csrf::read_form(&req, payload, &state).await?;
    if let Some(c) = session_cookie_of(&req, &state) {
        state.sign_in.end_session(c.value()).await?;
    }
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish();
    let _ = response.add_cookie(&cleared_session_cookie(&state));
    Ok(response)
}
