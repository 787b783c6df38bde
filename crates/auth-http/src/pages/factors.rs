//! Second factors on the hosted pages: the second step of a sign-in (an
//! authenticator code, a recovery code or a security key), the sign-in with
//! a passkey alone, and the account's own security page (enrolling an
//! authenticator app or a passkey, recovery codes, removing a factor).
//!
//! Every form is checked for its CSRF token and origin first; the WebAuthn
//! options are fetched by `/assets/passkeys.js` with a form post that
//! carries the same token. The rules are the core's (`auth_core::factors`).
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::factors::{FactorAnswer, FactorError, PendingSecondStep};
use auth_core::types::{FactorId, FactorKind, UserId};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::edge::browser::{
    Csrf, NoFields, PagePost, cleared_second_step_cookie, current_sign_in, second_step_of,
    session_cookie, session_cookie_of,
};
use crate::edge::error::{ApiError, FailureKind};
use crate::edge::pending::{Pending, PendingFields};
use crate::edge::responses::PageResponses;
use crate::state::AppState;

/// How the second step is answered, as the page posts it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SecondFactorForm {
    /// `totp`, `recovery` or `passkey`.
    method: Option<String>,
    /// The six-digit code, or a recovery code.
    #[schema(value_type = String)]
    code: Option<SecretString>,
    /// The WebAuthn ceremony's id (`passkey`).
    ceremony: Option<String>,
    /// The browser's WebAuthn answer, JSON (`passkey`).
    response: Option<String>,
    #[schema(inline)]
    #[serde(flatten)]
    pending: PendingFields,
}

/// The sign-in this browser has waiting for its second step.
fn waiting(req: &HttpRequest, state: &AppState) -> Option<PendingSecondStep> {
    let sealed = second_step_of(req, state)?;
    state
        .sign_in
        .pending_second_step(&sealed, crate::edge::now::of(req, state))
}

/// `POST /login/second-factor`: the second step's answer. Right: the
/// session starts (recording both factors) and the pending request goes
/// on. Wrong: the page again, the attempt counted against the account.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<SecondFactorForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/login/second-factor")]
pub(crate) async fn second_factor(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: SecondFactorForm = Csrf::read_form(&req, payload, &state).await?;
    let pending = Pending::from(form.pending);
    let Some(step) = waiting(&req, &state) else {
        return Ok(crate::pages::sign_in::login_error(
            &req,
            &state,
            &pending,
            "Your sign-in took too long. Sign in again.",
            StatusCode::BAD_REQUEST,
        )
        .await);
    };
    let code = form.code.as_ref().map(|c| c.expose_secret().to_owned());
    let code = code.as_deref().unwrap_or_default();
    let answer = match form.method.as_deref() {
        Some("totp") => FactorAnswer::Totp(code),
        Some("recovery") => FactorAnswer::RecoveryCode(code),
        Some("passkey") => FactorAnswer::Passkey {
            ceremony: form.ceremony.as_deref().unwrap_or_default(),
            response: form.response.as_deref().unwrap_or_default(),
        },
        _ => {
            return crate::pages::second_step::ask_second_factor(
                &req,
                &state,
                &pending,
                step.user,
                step.methods,
                Some("Choose how to confirm it is you."),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let now = crate::edge::now::of(&req, &state);
    match state.sign_in.verify_second_factor(step, answer, now).await {
        Ok((methods, event)) => {
            let mut response = crate::pages::sign_in::signed_in(
                &req, &state, &pending, step.user, "password", methods,
            )
            .await?;
            let _ = response.add_cookie(&cleared_second_step_cookie(&state));
            if let Some(event) = &event {
                crate::edge::security::log(event, &req);
            }
            Ok(crate::edge::security::with_event(
                response,
                Some(auth_core::events::SecurityEvent::LoginSucceeded { user: step.user }),
            ))
        }
        Err(e) => {
            if let Some(event) = e.event() {
                crate::edge::security::log(event, &req);
            }
            let (message, status) = refusal(e)?;
            crate::pages::second_step::ask_second_factor(
                &req,
                &state,
                &pending,
                step.user,
                step.methods,
                Some(message),
                status,
            )
            .await
        }
    }
}

/// What the page says of a refused factor, and its status; a failure of
/// the server's is an error instead.
fn refusal(e: FactorError) -> Result<(&'static str, StatusCode), ApiError> {
    Ok(match e {
        FactorError::Wrong(_) => (
            "That was not accepted. Check the code (or the key) and try again.",
            FailureKind::Refused.status(),
        ),
        FactorError::Throttled(_) => (
            "Too many failed attempts. Wait a few minutes and try again.",
            FailureKind::Throttled.status(),
        ),
        FactorError::Expired => ("That step expired. Try again.", StatusCode::BAD_REQUEST),
        FactorError::Invalid(_) | FactorError::NotFound | FactorError::Taken => (
            "That was not accepted. Try another way.",
            StatusCode::BAD_REQUEST,
        ),
        FactorError::Unavailable => (
            "Security keys are not available on this server.",
            StatusCode::BAD_REQUEST,
        ),
        FactorError::Flow(f) => return Err(f.into()),
    })
}

/// A WebAuthn ceremony's start, as `/assets/passkeys.js` reads it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CeremonyOptions {
    /// The id to post back with the answer.
    ceremony: String,
    /// The options for `navigator.credentials` (WebAuthn's JSON form).
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

fn ceremony_json(start: auth_core::factors::CeremonyStart) -> HttpResponse {
    let options = serde_json::from_str(&start.options).unwrap_or(serde_json::Value::Null);
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CeremonyOptions {
            ceremony: start.id,
            options,
        })
}

fn ceremony_refused(e: FactorError) -> Result<HttpResponse, ApiError> {
    match e {
        FactorError::Flow(f) => Err(f.into()),
        FactorError::Unavailable | FactorError::NotFound => Err(ApiError::NotOffered(
            "passkeys are not set up here, or the account has none",
        )),
        other => Err(ApiError::OAuth(auth_core::OAuthError::invalid_request(
            other.to_string(),
        ))),
    }
}

/// `POST /login/second-factor/options`: a security-key assertion for the
/// sign-in waiting for its second step.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<NoFields>, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = CeremonyOptions), PageResponses),
)]
#[post("/login/second-factor/options")]
pub(crate) async fn second_factor_options(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let NoFields {} = Csrf::read_form(&req, payload, &state).await?;
    let Some(step) = waiting(&req, &state) else {
        return Err(ApiError::OAuth(auth_core::OAuthError::invalid_request(
            "no sign-in is waiting for a second step",
        )));
    };
    match state
        .sign_in
        .begin_passkey_step(step, crate::edge::now::of(&req, &state))
        .await
    {
        Ok(start) => Ok(ceremony_json(start)),
        Err(e) => ceremony_refused(e),
    }
}

/// `POST /login/passkey/options`: a sign-in with a passkey alone (no
/// account named: the authenticator offers its discoverable credentials).
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<NoFields>, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = CeremonyOptions), PageResponses),
)]
#[post("/login/passkey/options")]
pub(crate) async fn passkey_options(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let NoFields {} = Csrf::read_form(&req, payload, &state).await?;
    match state
        .sign_in
        .begin_passkey_sign_in(crate::edge::now::of(&req, &state))
        .await
    {
        Ok(start) => Ok(ceremony_json(start)),
        Err(e) => ceremony_refused(e),
    }
}

/// A passkey sign-in's answer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct PasskeyForm {
    /// The ceremony's id.
    ceremony: Option<String>,
    /// The browser's WebAuthn answer, JSON.
    response: Option<String>,
    #[schema(inline)]
    #[serde(flatten)]
    pending: PendingFields,
}

/// `POST /login/passkey`: signs in with a passkey alone (user verification
/// required: the key and its PIN or biometrics are two factors).
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<PasskeyForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/login/passkey")]
pub(crate) async fn passkey_sign_in(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: PasskeyForm = Csrf::read_form(&req, payload, &state).await?;
    let pending = Pending::from(form.pending);
    let now = crate::edge::now::of(&req, &state);
    match state
        .sign_in
        .finish_passkey_sign_in(
            form.ceremony.as_deref().unwrap_or_default(),
            form.response.as_deref().unwrap_or_default(),
            now,
        )
        .await
    {
        Ok((user, methods)) => {
            let response =
                crate::pages::sign_in::signed_in(&req, &state, &pending, user, "passkey", methods)
                    .await?;
            Ok(crate::edge::security::with_event(
                response,
                Some(auth_core::events::SecurityEvent::LoginSucceeded { user }),
            ))
        }
        Err(e) => {
            if let Some(event) = e.event() {
                crate::edge::security::log(event, &req);
            }
            let (_, status) = refusal(e)?;
            Ok(crate::pages::sign_in::login_error(
                &req,
                &state,
                &pending,
                "That passkey was not accepted. Try again, or sign in with your password.",
                status,
            )
            .await)
        }
    }
}

#[derive(Serialize)]
struct FactorRow {
    id: String,
    kind: &'static str,
    label: String,
    created_at: String,
    last_used_at: Option<String>,
}

#[derive(Serialize)]
struct SecurityPage<'a> {
    title: &'static str,
    wide: bool,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    csrf: String,
    factors: Vec<FactorRow>,
    recovery_codes_left: u64,
    available: bool,
    passkeys: bool,
    return_to: Option<String>,
}

/// Where an enrolment may send the browser afterwards: back to a pending
/// authorization request or device approval on this server, nowhere else.
fn safe_return(raw: Option<&str>) -> Option<String> {
    raw.filter(|r| {
        (r.starts_with("/authorize?") || r.starts_with("/device?"))
            && !r.contains(['\r', '\n', '\\'])
    })
    .map(str::to_owned)
}

/// The account's security page with `notice` or `error`.
async fn security_page(
    req: &HttpRequest,
    state: &AppState,
    user: UserId,
    shown: (Option<&str>, Option<&str>),
    return_to: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let overview = state.accounts.factor_overview(user).await?;
    let csrf = Csrf::of(req, state);
    let mut response = state.pages.render(
        status,
        "security.html",
        &SecurityPage {
            title: "Sign-in security",
            wide: true,
            notice: shown.0,
            error: shown.1,
            csrf: csrf.token(state),
            factors: overview
                .factors
                .iter()
                .map(|f| FactorRow {
                    id: f.id.to_string(),
                    kind: match f.kind {
                        FactorKind::Totp => "Authenticator app",
                        FactorKind::Passkey => "Passkey or security key",
                    },
                    label: f.label.as_str().to_owned(),
                    created_at: f.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    last_used_at: f
                        .last_used_at
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                })
                .collect(),
            recovery_codes_left: overview.recovery_codes_left,
            available: state.accounts.factors_enabled(),
            passkeys: state.accounts.passkeys_enabled(),
            return_to,
        },
    );
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// `GET /account/security`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SecurityParams {
    /// A pending `/authorize?...` request to return to after enrolling
    /// (an application that requires a second factor sent the person here).
    return_to: Option<String>,
    /// `added` or `removed`: what the last post did.
    notice: Option<String>,
}

/// `GET /account/security`: the account's second factors and recovery
/// codes, and the forms that add and remove them.
#[utoipa::path(tag = "pages", params(SecurityParams), responses(PageResponses))]
#[get("/account/security")]
pub(crate) async fn security(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let query: SecurityParams = crate::edge::body::read_query(&req)?;
    let return_to = safe_return(query.return_to.as_deref());
    let notice = match (&return_to, query.notice.as_deref()) {
        (Some(_), _) => Some(
            "The application you are signing in to requires a second factor. Add one below; \
             you will be taken back to it.",
        ),
        (None, Some("added")) => Some("Added. From now on you sign in with it."),
        (None, Some("removed")) => Some("Removed."),
        _ => None,
    };
    security_page(
        &req,
        &state,
        who.user,
        (notice, None),
        return_to,
        StatusCode::OK,
    )
    .await
}

/// A label for a new factor, and where to go afterwards.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct LabelForm {
    /// What to call it ("Phone", "YubiKey").
    label: Option<String>,
    /// A pending `/authorize?...` request to return to.
    return_to: Option<String>,
}

#[derive(Serialize)]
struct TotpPage<'a> {
    title: &'static str,
    error: Option<&'a str>,
    csrf: String,
    id: String,
    label: String,
    qr_svg: String,
    uri: String,
    manual_key: String,
    return_to: Option<String>,
}

/// The otpauth URI as a QR code, drawn here as SVG (no script, nothing
/// fetched).
fn qr_svg(uri: &str) -> String {
    qrcode::QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// `POST /account/totp`: begins enrolling an authenticator app: the page
/// shows its QR code and asks for a first code.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<LabelForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/totp")]
pub(crate) async fn begin_totp(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: LabelForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let return_to = safe_return(form.return_to.as_deref());
    let label = form.label.unwrap_or_default();
    let now = crate::edge::now::of(&req, &state);
    match state.accounts.begin_totp(&who, &label, now).await {
        Ok(enrolment) => Ok(totp_page(&req, &state, &enrolment, &label, None, return_to)),
        Err(FactorError::Flow(f)) => Err(f.into()),
        Err(e) => {
            let message = format!("Could not add it: {e}.");
            security_page(
                &req,
                &state,
                who.user,
                (None, Some(&message)),
                return_to,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

fn totp_page(
    req: &HttpRequest,
    state: &AppState,
    enrolment: &auth_core::factors::TotpEnrolment,
    label: &str,
    error: Option<&str>,
    return_to: Option<String>,
) -> HttpResponse {
    let csrf = Csrf::of(req, state);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = state.pages.render(
        status,
        "totp_enrol.html",
        &TotpPage {
            title: "Add an authenticator app",
            error,
            csrf: csrf.token(state),
            id: enrolment.id.to_string(),
            label: label.trim().to_owned(),
            qr_svg: qr_svg(&enrolment.uri),
            uri: enrolment.uri.clone(),
            manual_key: enrolment.manual_key.clone(),
            return_to,
        },
    );
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    response
}

/// The first code of an authenticator being enrolled.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ConfirmTotpForm {
    /// The factor being enrolled.
    id: Option<String>,
    /// A code the app shows now.
    #[schema(value_type = String)]
    code: Option<SecretString>,
    /// A pending `/authorize?...` request to return to.
    return_to: Option<String>,
}

#[derive(Serialize)]
struct CodesPage<'a> {
    title: &'static str,
    notice: Option<&'a str>,
    codes: Vec<String>,
    continue_to: String,
}

/// The page that shows recovery codes, once.
fn codes_page(state: &AppState, codes: Vec<String>, continue_to: String) -> HttpResponse {
    state.pages.render(
        StatusCode::OK,
        "recovery_codes.html",
        &CodesPage {
            title: "Your recovery codes",
            notice: None,
            codes,
            continue_to,
        },
    )
}

/// What a browser that just enrolled a factor is shown next: its first
/// recovery codes, else the security page (or the application waiting).
/// Its session now counts what the enrolment proved (a TOTP code is a
/// second factor used now): renewed under a new id, as at any sign-in.
async fn enrolled(
    req: &HttpRequest,
    state: &AppState,
    done: auth_core::factors::Enrolled,
    return_to: Option<String>,
) -> Result<HttpResponse, ApiError> {
    crate::edge::security::log(&done.event, req);
    let continue_to = return_to.unwrap_or_else(|| "/account/security?notice=added".into());
    let mut response = match done.recovery_codes {
        Some(codes) => codes_page(state, codes, continue_to),
        None => see_other(&continue_to),
    };
    if !done.proved.is_empty()
        && let Some(cookie) = session_cookie_of(req, state)
    {
        let now = crate::edge::now::of(req, state);
        if let Some(renewed) = state
            .sign_in
            .upgrade_session(cookie.value(), done.proved, now)
            .await?
        {
            let _ = response.add_cookie(&session_cookie(state, renewed.into_inner()));
        }
    }
    Ok(response)
}

/// `POST /account/totp/confirm`: a first code makes the authenticator
/// count; with the account's first factor come its recovery codes.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<ConfirmTotpForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/totp/confirm")]
pub(crate) async fn confirm_totp(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: ConfirmTotpForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let return_to = safe_return(form.return_to.as_deref());
    let id = form.id.as_deref().and_then(FactorId::parse);
    let code = form.code.as_ref().map(|c| c.expose_secret().to_owned());
    let now = crate::edge::now::of(&req, &state);
    let result = match id {
        Some(id) => {
            state
                .accounts
                .confirm_totp(&who, id, code.as_deref().unwrap_or_default(), now)
                .await
        }
        None => Err(FactorError::Expired),
    };
    match result {
        Ok(done) => enrolled(&req, &state, done, return_to).await,
        Err(e) => {
            if let Some(event) = e.event() {
                crate::edge::security::log(event, &req);
            }
            let (message, status) = match e {
                FactorError::Expired => (
                    "That enrolment expired or was replaced. Start again.",
                    StatusCode::BAD_REQUEST,
                ),
                other => refusal(other)?,
            };
            security_page(
                &req,
                &state,
                who.user,
                (None, Some(message)),
                return_to,
                status,
            )
            .await
        }
    }
}

/// Names one factor of the account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct FactorForm {
    /// The factor's id, as the page lists it.
    id: Option<String>,
}

/// `POST /account/factors/remove`: removes one of the account's factors
/// (the last one takes the recovery codes with it).
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<FactorForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/factors/remove")]
pub(crate) async fn remove_factor(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: FactorForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let now = crate::edge::now::of(&req, &state);
    let result = match form.id.as_deref().and_then(FactorId::parse) {
        Some(id) => state.accounts.remove_own_factor(&who, id, now).await,
        None => Err(FactorError::NotFound),
    };
    match result {
        Ok(event) => {
            crate::edge::security::log(&event, &req);
            Ok(see_other("/account/security?notice=removed"))
        }
        Err(e) => {
            let message = "That is not one of your factors, or it was removed already.";
            refused_on_security_page(&req, &state, who.user, e, message).await
        }
    }
}

/// The security page saying `message` (400) for a refused change; a
/// fault of the server's is its own answer.
async fn refused_on_security_page(
    req: &HttpRequest,
    state: &AppState,
    user: UserId,
    e: FactorError,
    message: &str,
) -> Result<HttpResponse, ApiError> {
    if let FactorError::Flow(f) = e {
        return Err(f.into());
    }
    let shown = (None, Some(message));
    security_page(req, state, user, shown, None, StatusCode::BAD_REQUEST).await
}

/// `POST /account/recovery-codes`: a new set of recovery codes (the old
/// set stops working), shown once.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<NoFields>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/recovery-codes")]
pub(crate) async fn regenerate_codes(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let NoFields {} = Csrf::read_form(&req, payload, &state).await?;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    match state.accounts.regenerate_recovery_codes(&who).await {
        Ok(codes) => Ok(codes_page(&state, codes, "/account/security".into())),
        Err(e) => {
            let message = "Add a second factor first; recovery codes come with it.";
            refused_on_security_page(&req, &state, who.user, e, message).await
        }
    }
}

/// `POST /account/passkeys/options`: begins registering a passkey or
/// security key (the account's own are excluded).
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<NoFields>, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = CeremonyOptions), PageResponses),
)]
#[post("/account/passkeys/options")]
pub(crate) async fn passkey_registration_options(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let NoFields {} = Csrf::read_form(&req, payload, &state).await?;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Err(ApiError::Forbidden);
    };
    match state
        .accounts
        .begin_passkey_registration(&who, crate::edge::now::of(&req, &state))
        .await
    {
        Ok(start) => Ok(ceremony_json(start)),
        Err(e) => ceremony_refused(e),
    }
}

/// A passkey registration's answer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RegisterPasskeyForm {
    /// What to call it.
    label: Option<String>,
    /// The ceremony's id.
    ceremony: Option<String>,
    /// The browser's WebAuthn answer, JSON.
    response: Option<String>,
    /// A pending `/authorize?...` request to return to.
    return_to: Option<String>,
}

/// `POST /account/passkeys`: registers the passkey the browser made.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<RegisterPasskeyForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/passkeys")]
pub(crate) async fn register_passkey(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: RegisterPasskeyForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(who) = current_sign_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let return_to = safe_return(form.return_to.as_deref());
    let now = crate::edge::now::of(&req, &state);
    match state
        .accounts
        .finish_passkey_registration(
            &who,
            form.ceremony.as_deref().unwrap_or_default(),
            form.label.as_deref().unwrap_or_default(),
            form.response.as_deref().unwrap_or_default(),
            now,
        )
        .await
    {
        Ok(done) => enrolled(&req, &state, done, return_to).await,
        Err(FactorError::Flow(f)) => Err(f.into()),
        Err(e) => {
            let message = match &e {
                FactorError::Taken => "That security key is registered already.".to_owned(),
                FactorError::Expired => "The registration took too long. Try again.".to_owned(),
                other => format!("The security key was not registered: {other}."),
            };
            security_page(
                &req,
                &state,
                who.user,
                (None, Some(&message)),
                return_to,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// `GET /assets/passkeys.js`: the pages' one script (WebAuthn needs one),
/// served from here so the pages' policy allows only this server's.
#[utoipa::path(tag = "pages", responses((status = 200, description = "The script", content_type = "text/javascript")))]
#[get("/assets/passkeys.js")]
pub(crate) async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(include_str!("templates/passkeys.js"))
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn an_enrolment_returns_only_to_a_pending_request_here() {
        assert_eq!(
            safe_return(Some("/authorize?client_id=a&state=b")).as_deref(),
            Some("/authorize?client_id=a&state=b")
        );
        for elsewhere in [
            "https://evil.example/authorize?x",
            "//evil.example/authorize?x",
            "/authorize",
            "/account",
            "/authorize?x\r\nSet-Cookie: a=b",
            "/authorize?x\\evil",
        ] {
            assert_eq!(safe_return(Some(elsewhere)), None, "{elsewhere}");
        }
        assert_eq!(safe_return(None), None);
    }
}
