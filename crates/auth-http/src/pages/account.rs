//! The front door (`GET /`) and the account holder's page (`/account`):
//! profile, password change, sessions, applications, linked identities.
//!
//! Hosted-page rules as for the login pages: every form post goes through
//! [`Csrf::read_form`] (origin check and CSRF token) before anything else,
//! the account is always the browser's live session's, and every answer is
//! a page or a redirect back to the page (post/redirect/get), never JSON.
//! The rules themselves (what the current password must be, which sessions
//! and grants are the account's, when an identity may be unlinked) are the
//! core's (`auth_core::own_account`, `Federation::unlink`).
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Data, Path, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::authorize::SignedIn;
use auth_core::federation::FederationError;
use auth_core::mail::EmailChangeError;
use auth_core::own_account::{AccountOverview, PasswordChangeError, SessionHandle};
use auth_core::types::ClientId;
use chrono::{DateTime, Utc};
use serde::Serialize;

use secrecy::SecretString;
use serde::Deserialize;

use crate::edge::body::expose;
use crate::edge::browser::{Csrf, current_sign_in, session_cookie, session_cookie_of};
use crate::edge::browser::{NoFields, PagePost};
use crate::edge::error::ApiError;
use crate::edge::responses::PageResponses;
use crate::state::AppState;

/// What a redirect back to the page may announce: the query names one of
/// these, never free text, so nothing a link carries is shown.
const NOTICES: [(&str, &str); 7] = [
    (
        "password",
        "Your password was changed. Every other session was signed out and \
         every application must sign in again.",
    ),
    ("session", "The session was signed out."),
    (
        "application",
        "The application's access was taken back; it must ask you again.",
    ),
    ("unlinked", "The identity was unlinked from your account."),
    (
        "linked",
        "The identity was linked: you can sign in with it.",
    ),
    (
        "email",
        "A link was sent to the new address: the change takes effect when it is \
         opened. Your current address was told.",
    ),
    ("verify", "A confirmation link was sent to your address."),
];

/// The text of the notice named `key`.
fn notice_text(key: &str) -> &'static str {
    NOTICES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, text)| *text)
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

#[derive(Serialize)]
struct FrontDoor {
    title: &'static str,
    issuer: String,
    username: Option<String>,
    csrf: String,
    registration_open: bool,
}

/// `GET /`: what this server is, and the way in.
#[utoipa::path(tag = "pages", responses(PageResponses))]
#[get("/")]
pub(crate) async fn front_door(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let username = match current_sign_in(&req, &state).await? {
        Some(who) => Some(crate::edge::browser::username_of(&state, who.user).await?),
        None => None,
    };
    let csrf = Csrf::of(&req, &state);
    let page = FrontDoor {
        title: "Portcullis",
        issuer: state.issuer().to_owned(),
        username,
        csrf: csrf.token(&state),
        registration_open: state.accounts.registration_open(),
    };
    let mut response = state.pages.render(StatusCode::OK, "index.html", &page);
    if let Some(c) = csrf.cookie(&state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

/// `GET /account`'s query: which notice to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccountParams {
    /// `password`, `session`, `application`, `unlinked` or `linked`.
    notice: Option<String>,
}

/// `GET /account`: the account page; without a session, the login page
/// (which comes back here).
#[utoipa::path(tag = "pages", params(AccountParams), responses(PageResponses))]
#[get("/account")]
pub(crate) async fn account_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(viewer) = Viewer::of(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let query: AccountParams = crate::edge::body::read_query(&req)?;
    let notice = query
        .notice
        .and_then(|n| NOTICES.iter().find(|(k, _)| *k == n).map(|(_, text)| *text));
    viewer.show(notice, None, StatusCode::OK).await
}

/// The signed-in browser a page is for: its live session and cookie.
struct Viewer<'a> {
    req: &'a HttpRequest,
    state: &'a AppState,
    who: SignedIn,
    cookie: String,
}

impl<'a> Viewer<'a> {
    /// The browser's viewer, if it is signed in.
    async fn of(req: &'a HttpRequest, state: &'a AppState) -> Result<Option<Self>, ApiError> {
        let Some(who) = current_sign_in(req, state).await? else {
            return Ok(None);
        };
        Ok(session_cookie_of(req, state).map(|c| Self {
            req,
            state,
            who,
            cookie: c.value().to_owned(),
        }))
    }

    /// The account page with `notice` or `error` above it.
    async fn show(
        &self,
        notice: Option<&str>,
        error: Option<&str>,
        status: StatusCode,
    ) -> Result<HttpResponse, ApiError> {
        let shown = Shown { notice, error };
        render(self.req, self.state, &self.who, &self.cookie, shown, status).await
    }

    /// The account page again, saying why a post changed nothing.
    async fn refuse(&self, status: StatusCode, message: &str) -> Result<HttpResponse, ApiError> {
        self.show(None, Some(message), status).await
    }
}

/// A notice or an error shown above the page.
struct Shown<'a> {
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct SessionRow {
    handle: String,
    created_at: String,
    last_seen_at: String,
    current: bool,
    /// The browser and its system, read from its User-Agent.
    device: String,
    address: Option<String>,
    method: Option<String>,
}

/// "Firefox 133.0 on Linux", from a User-Agent (woothee's reading).
fn device_of(user_agent: Option<&str>) -> String {
    let Some(parsed) = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua)) else {
        return "an unknown browser".into();
    };
    let name = if parsed.name == "UNKNOWN" {
        "an unknown browser".to_owned()
    } else if parsed.version == "UNKNOWN" {
        parsed.name.to_owned()
    } else {
        format!("{} {}", parsed.name, parsed.version)
    };
    if parsed.os == "UNKNOWN" {
        name
    } else {
        format!("{name} on {}", parsed.os)
    }
}

#[derive(Serialize)]
struct ApplicationRow {
    client_id: String,
    name: String,
    runs_at: Option<String>,
    scope: String,
    grants: usize,
    last_used_at: String,
}

#[derive(Serialize)]
struct ProviderRow {
    name: String,
    display_name: String,
    /// Whether an identity at the provider is linked.
    linked: bool,
    /// Its login name there, as the person knows it (not the internal id).
    login: Option<String>,
}

#[derive(Serialize)]
struct AccountPage<'a> {
    title: &'static str,
    wide: bool,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    csrf: String,
    username: String,
    email: Option<String>,
    email_verified: bool,
    /// Whether links can be mailed (a change of address, a confirmation).
    mail_enabled: bool,
    name: Option<String>,
    created_at: String,
    has_password: bool,
    min_password: usize,
    sessions: Vec<SessionRow>,
    applications: Vec<ApplicationRow>,
    providers: Vec<ProviderRow>,
    /// Linking asks for the password: the session signed in too long ago.
    link_needs_password: bool,
    /// Linking needs a new sign-in (no password to ask for).
    link_needs_sign_in: bool,
    /// After a password change: the identities that also sign in to the
    /// account, for the person to check.
    linked_after_password_change: Vec<String>,
}

/// A moment as the page shows it, in UTC.
fn shown(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    cookie: &str,
    shown_above: Shown<'_>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let now = crate::edge::now::of(req, state);
    let Some(overview) = state.accounts.account_overview(who, cookie, now).await? else {
        return Ok(see_other("/login"));
    };
    let links = state
        .federation
        .links_of(who.user)
        .await
        .map_err(federation_fault)?;
    let AccountOverview {
        user,
        sessions,
        applications,
    } = overview;
    let name = [user.given_name.as_deref(), user.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let providers = state
        .federation
        .providers()
        .map(|(name, display)| ProviderRow {
            name: name.to_string(),
            display_name: display.to_owned(),
            linked: links.iter().any(|l| &l.provider == name),
            login: links
                .iter()
                .find(|l| &l.provider == name)
                .and_then(|l| l.login.clone()),
        })
        .collect();
    let stale = now - who.authenticated_at > auth_core::federation::LINK_REAUTHENTICATION;
    let has_password = user.password_hash.is_some();
    let password_changed = shown_above
        .notice
        .is_some_and(|n| n == notice_text("password"));
    let linked_after_password_change = if password_changed {
        state
            .federation
            .providers()
            .filter(|(name, _)| links.iter().any(|l| &l.provider == *name))
            .map(|(_, display)| display.to_owned())
            .collect()
    } else {
        Vec::new()
    };
    let csrf = Csrf::of(req, state);
    let page = AccountPage {
        title: "Your account",
        wide: true,
        notice: shown_above.notice,
        error: shown_above.error,
        csrf: csrf.token(state),
        username: user.username.to_string(),
        email: user.email.as_ref().map(|e| e.as_str().to_owned()),
        email_verified: user.email_verified,
        mail_enabled: state.accounts.mail_enabled(),
        name: (!name.is_empty()).then_some(name),
        created_at: shown(user.created_at),
        has_password,
        min_password: state.min_password_length,
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                handle: s.handle.encode(),
                created_at: shown(s.created_at),
                last_seen_at: shown(s.last_seen_at),
                current: s.current,
                device: device_of(s.origin.user_agent.as_deref()),
                address: s.origin.address,
                method: s.origin.method,
            })
            .collect(),
        applications: applications
            .into_iter()
            .map(|a| ApplicationRow {
                client_id: a.client_id.to_string(),
                name: a.name,
                runs_at: a.runs_at,
                scope: a.scope.to_string(),
                grants: a.grants,
                last_used_at: shown(a.last_used_at),
            })
            .collect(),
        providers,
        link_needs_password: stale && has_password,
        link_needs_sign_in: stale && !has_password,
        linked_after_password_change,
    };
    // The link buttons lead to the providers.
    let targets = state.federation.browser_origins();
    let mut response = state
        .pages
        .render_with_targets(status, "account.html", &page, &targets);
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    Ok(response)
}

/// A federation failure that is not the person's doing.
fn federation_fault(e: FederationError) -> ApiError {
    match e {
        FederationError::Flow(f) => f.into(),
        other => ApiError::Internal(Box::new(other)),
    }
}

/// The password change form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct PasswordForm {
    #[schema(value_type = String)]
    current_password: Option<SecretString>,
    #[schema(value_type = String)]
    new_password: Option<SecretString>,
    #[schema(value_type = String)]
    confirm_password: Option<SecretString>,
}

/// `POST /account/password`: changes the password (the current one
/// required); every other session ends, every refresh token is revoked,
/// and this browser gets a new session.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<PasswordForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/password")]
pub(crate) async fn change_password(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: PasswordForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(viewer) = Viewer::of(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let current = form.current_password.map(expose).unwrap_or_default();
    let new = form.new_password.map(expose).unwrap_or_default();
    let confirm = form.confirm_password.map(expose).unwrap_or_default();
    if new != confirm {
        let message = "The new password and its confirmation differ.".to_owned();
        return viewer.refuse(StatusCode::BAD_REQUEST, &message).await;
    }
    let changed = state
        .accounts
        .change_password(
            &viewer.who,
            current,
            new,
            state.min_password_length,
            &crate::edge::security::peer(&req),
            crate::edge::now::of(&req, &state),
        )
        .await;
    match changed {
        Ok((session, event)) => {
            let mut response = see_other("/account?notice=password");
            let _ = response.add_cookie(&session_cookie(&state, session.into_inner()));
            Ok(crate::edge::security::with_event(response, Some(event)))
        }
        Err(PasswordChangeError::WrongCurrent(event)) => {
            let message = "The current password is incorrect.".to_owned();
            let page = viewer.refuse(StatusCode::UNAUTHORIZED, &message).await?;
            Ok(crate::edge::security::with_event(page, Some(event)))
        }
        Err(PasswordChangeError::Throttled(event)) => {
            let message = "Too many failed attempts. Wait a few minutes and try again.".to_owned();
            let page = viewer
                .refuse(StatusCode::TOO_MANY_REQUESTS, &message)
                .await?;
            Ok(crate::edge::security::with_event(page, Some(event)))
        }
        Err(PasswordChangeError::Invalid(why)) => {
            viewer
                .refuse(StatusCode::BAD_REQUEST, &format!("The {why}."))
                .await
        }
        Err(PasswordChangeError::NoPassword) => {
            let message =
                "This account signs in through a provider and has no password.".to_owned();
            viewer.refuse(StatusCode::BAD_REQUEST, &message).await
        }
        Err(PasswordChangeError::Flow(e)) => Err(e.into()),
    }
}

/// The form that ends one session.
/// The address change form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct EmailForm {
    /// The new address.
    new_email: Option<String>,
    /// Required when the account has a password.
    #[schema(value_type = String)]
    current_password: Option<SecretString>,
}

/// `POST /account/email`: asks to change the address. A link goes to the
/// new one (the change happens when it is opened) and a notice to the old.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<EmailForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/email")]
pub(crate) async fn change_email(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: EmailForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(viewer) = Viewer::of(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let raw = form.new_email.unwrap_or_default();
    let Ok(new) = auth_core::types::Email::parse(raw.trim()) else {
        let message = "That is not an email address.".to_owned();
        return viewer.refuse(StatusCode::BAD_REQUEST, &message).await;
    };
    let asked = state
        .accounts
        .request_email_change(
            &viewer.who,
            new,
            form.current_password.map(expose),
            &crate::edge::security::peer(&req),
            crate::edge::now::of(&req, &state),
        )
        .await;
    match asked {
        Ok(()) => Ok(see_other("/account?notice=email")),
        Err(EmailChangeError::Unchanged) => {
            let message = "That is already your address.".to_owned();
            viewer.refuse(StatusCode::BAD_REQUEST, &message).await
        }
        Err(EmailChangeError::NoMail) => {
            let message = "This server does not send mail: ask your administrator.".to_owned();
            viewer.refuse(StatusCode::FORBIDDEN, &message).await
        }
        Err(EmailChangeError::WrongPassword(event)) => {
            let message = "The current password is incorrect.".to_owned();
            let page = viewer.refuse(StatusCode::UNAUTHORIZED, &message).await?;
            Ok(crate::edge::security::with_event(page, Some(event)))
        }
        Err(EmailChangeError::Throttled(event)) => {
            let message = "Too many failed attempts. Wait a few minutes and try again.".to_owned();
            let page = viewer
                .refuse(StatusCode::TOO_MANY_REQUESTS, &message)
                .await?;
            Ok(crate::edge::security::with_event(page, Some(event)))
        }
        Err(EmailChangeError::Flow(e)) => Err(e.into()),
    }
}

/// `POST /account/email/verify`: mails the account's address a new
/// confirmation link (the older one stops working).
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<NoFields>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/email/verify")]
pub(crate) async fn resend_verification(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let _: NoFields = Csrf::read_form(&req, payload, &state).await?;
    let Some(viewer) = Viewer::of(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    state
        .accounts
        .resend_verification(viewer.who.user, crate::edge::now::of(&req, &state))
        .await?;
    Ok(see_other("/account?notice=verify"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct EndSessionForm {
    /// The session's handle, as the page lists it.
    #[schema(value_type = String)]
    session: Option<String>,
}

/// `POST /account/sessions/end`: signs one of the account's sessions out
/// (this browser's own too: then it is signed out).
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<EndSessionForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/sessions/end")]
pub(crate) async fn end_session(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: EndSessionForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(viewer) = Viewer::of(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let handle = form.session.as_deref().and_then(SessionHandle::parse);
    let ended = match &handle {
        Some(handle) => state.accounts.end_own_session(&viewer.who, handle).await?,
        None => false,
    };
    if !ended {
        return viewer
            .refuse(
                StatusCode::BAD_REQUEST,
                "That session is not one of yours, or it has ended already.",
            )
            .await;
    }
    // Its own session ended: the browser is signed out.
    if handle.as_ref() == Some(&state.accounts.session_handle(&viewer.cookie)) {
        let mut response = see_other("/login");
        let _ = response.add_cookie(&crate::edge::browser::cleared_session_cookie(&state));
        return Ok(response);
    }
    Ok(see_other("/account?notice=session"))
}

/// The form that takes back an application's access.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RevokeApplicationForm {
    /// The application's client id, as the page lists it.
    #[schema(value_type = String)]
    client_id: Option<String>,
}

/// `POST /account/applications/revoke`: revokes every grant the
/// application holds of this account (its refresh tokens and the access
/// tokens issued with them).
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<RevokeApplicationForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/applications/revoke")]
pub(crate) async fn revoke_application(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: RevokeApplicationForm = Csrf::read_form(&req, payload, &state).await?;
    let Some(viewer) = Viewer::of(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let client = form.client_id.and_then(|c| ClientId::parse(&c).ok());
    let (ended, event) = match &client {
        Some(client) => {
            state
                .accounts
                .revoke_application(&viewer.who, client, crate::edge::now::of(&req, &state))
                .await?
        }
        None => (0, None),
    };
    if ended == 0 {
        return viewer
            .refuse(
                StatusCode::BAD_REQUEST,
                "That application holds no access to your account.",
            )
            .await;
    }
    Ok(crate::edge::security::with_event(
        see_other("/account?notice=application"),
        event,
    ))
}

/// `POST /account/upstream/{provider}/unlink`: unlinks the account's
/// identity at the provider, unless it is the only way to sign in.
#[utoipa::path(
    tag = "pages",
    params(("provider" = String, Path, description = "A configured provider: `github`")),
    request_body(content = PagePost<NoFields>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/account/upstream/{provider}/unlink")]
pub(crate) async fn unlink(
    req: HttpRequest,
    provider: Path<String>,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let NoFields {} = Csrf::read_form(&req, payload, &state).await?;
    let Some(viewer) = Viewer::of(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    match state.federation.unlink(viewer.who.user, &provider).await {
        Ok(Some(event)) => Ok(crate::edge::security::with_event(
            see_other("/account?notice=unlinked"),
            Some(event),
        )),
        Ok(None) => {
            viewer
                .refuse(
                    StatusCode::BAD_REQUEST,
                    "No identity at that provider is linked to your account.",
                )
                .await
        }
        Err(FederationError::Invalid(why)) => {
            viewer
                .refuse(StatusCode::BAD_REQUEST, &format!("{}.", capitalized(&why)))
                .await
        }
        Err(FederationError::UnknownProvider(_)) => {
            viewer
                .refuse(
                    StatusCode::BAD_REQUEST,
                    "This server does not sign in through that provider.",
                )
                .await
        }
        Err(e) => Err(federation_fault(e)),
    }
}

/// `s` with its first letter in upper case, for a sentence on the page.
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
