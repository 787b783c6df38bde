//! The pages mail leads to: "Forgot password?" (`/password/forgot`), and
//! the pages that open a mailed link: a recovery (`/password/reset`), an
//! invitation (`/invitation`) and an address's confirmation
//! (`/email/verify`).
//!
//! A link's `GET` only shows a page; the link is used up by that page's
//! form post, so a mail scanner that fetches every link uses up none. The
//! token travels in the query and then in a hidden field, never in a
//! cookie or a log line; these pages load nothing from elsewhere and send
//! no `Referer` (the global headers). The rules (what a link does, the
//! throttles, the neutral answer) are the core's (`auth_core::mail`).
use actix_web::http::StatusCode;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth_core::events::SecurityEvent;
use auth_core::mail::RecoveryError;
use auth_core::types::{LinkPurpose, LoginName, Password, Redeemed};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::edge::body::expose;
use crate::edge::browser::{Csrf, PagePost};
use crate::edge::error::ApiError;
use crate::edge::responses::{AddressChangeResponses, PageResponses};
use crate::edge::security::with_event;
use crate::state::AppState;

/// A page with a title, a message and, where it helps, a way on.
#[derive(Serialize)]
struct Notice<'a> {
    title: &'a str,
    message: &'a str,
    link_href: Option<&'a str>,
    link_text: Option<&'a str>,
}

fn notice(state: &AppState, status: StatusCode, notice: &Notice<'_>) -> HttpResponse {
    state.pages.render(status, "notice.html", notice)
}

/// The answer to a link that does nothing (unknown, used, expired).
fn dead_link(state: &AppState) -> HttpResponse {
    let page = notice(
        state,
        StatusCode::BAD_REQUEST,
        &Notice {
            title: "This link does not work",
            message: "It was used already, has expired, or was replaced by a newer one. \
                      Ask for a new one.",
            link_href: Some("/password/forgot"),
            link_text: Some("Ask for a new link"),
        },
    );
    with_event(page, Some(SecurityEvent::LinkRefused))
}

/// A page with a form: its CSRF token, and the cookie when the browser had none.
fn with_csrf<T: Serialize>(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    name: &str,
    build: impl FnOnce(String) -> T,
) -> HttpResponse {
    let csrf = Csrf::of(req, state);
    let mut response = state.pages.render(status, name, &build(csrf.token(state)));
    if let Some(c) = csrf.cookie(state) {
        let _ = response.add_cookie(&c);
    }
    response
}

#[derive(Serialize)]
struct ForgotPage<'a> {
    title: &'static str,
    csrf: String,
    error: Option<&'a str>,
}

/// `GET /password/forgot`: asks for a username or an email.
#[utoipa::path(tag = "pages", responses(PageResponses))]
#[get("/password/forgot")]
pub(crate) async fn forgot_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !state.accounts.mail_enabled() {
        return Ok(no_mail(&state));
    }
    Ok(with_csrf(
        &req,
        &state,
        StatusCode::OK,
        "forgot.html",
        |csrf| ForgotPage {
            title: "Forgot your password?",
            csrf,
            error: None,
        },
    ))
}

/// Without a mail server nothing can be sent: the operator makes the link.
fn no_mail(state: &AppState) -> HttpResponse {
    notice(
        state,
        StatusCode::FORBIDDEN,
        &Notice {
            title: "Password recovery is not available",
            message: "This server does not send mail. Ask your administrator for a link \
                      to set a new password.",
            link_href: Some("/login"),
            link_text: Some("Back to sign-in"),
        },
    )
}

/// The recovery request form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ForgotForm {
    /// A username or an email address.
    login: Option<String>,
}

/// `POST /password/forgot`: the same page for a name that names an
/// account and one that does not: the request is counted against the
/// throttles (per address and per name, known or not), then the account is
/// looked up and its link and letter written to the outbox in one write;
/// no request waits on the mail server.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<ForgotForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/password/forgot")]
pub(crate) async fn forgot(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: ForgotForm = Csrf::read_form(&req, payload, &state).await?;
    let raw = form.login.unwrap_or_default();
    if raw.trim().is_empty() {
        return Ok(with_csrf(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            "forgot.html",
            |csrf| ForgotPage {
                title: "Forgot your password?",
                csrf,
                error: Some("Type your username or your email address."),
            },
        ));
    }
    let login = LoginName::lookup(&raw);
    let now = crate::edge::now::of(&req, &state);
    let peer = crate::edge::security::peer(&req);
    match state.accounts.reserve_recovery(&login, &peer, now).await {
        Ok(()) => {}
        Err(RecoveryError::NoMail) => return Ok(no_mail(&state)),
        Err(RecoveryError::Throttled) => {
            let page = notice(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &Notice {
                    title: "Too many requests",
                    message: "Too many recovery links were asked for just now. Wait an hour \
                              and try again, or check the mail already sent.",
                    link_href: Some("/login"),
                    link_text: Some("Back to sign-in"),
                },
            );
            return Ok(with_event(page, Some(SecurityEvent::RecoveryThrottled)));
        }
        Err(RecoveryError::Flow(e)) => return Err(e.into()),
    }
    // Written before answering, so a crash after the answer loses no
    // promised mail; the SMTP conversation is the outbox's, not ours. What
    // the write adds to the time of a name that has an account is one
    // write, which the per-name throttle lets a prober sample three times
    // an hour.
    state.accounts.mail_recovery(&login, now).await?;
    Ok(notice(
        &state,
        StatusCode::OK,
        &Notice {
            title: "Check your mail",
            message: "If an account has that name and an email address, a link to set a new \
                      password is on its way there. It works once, for 30 minutes.",
            link_href: Some("/login"),
            link_text: Some("Back to sign-in"),
        },
    ))
}

/// A link page's query: the token from the mail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LinkParams {
    /// The token the mailed link carries.
    #[param(value_type = String)]
    token: Option<SecretString>,
}

#[derive(Serialize)]
struct SetPasswordPage<'a> {
    title: &'a str,
    lead: &'a str,
    action: &'a str,
    button: &'a str,
    csrf: String,
    token: String,
    username: String,
    min_password: usize,
    error: Option<String>,
}

/// The words of the page that sets a password through a link of `purpose`.
fn set_password_words(purpose: LinkPurpose) -> (&'static str, &'static str, &'static str) {
    match purpose {
        LinkPurpose::Invite => (
            "Choose your password",
            "Welcome. Choose the password you will sign in with.",
            "Set my password",
        ),
        _ => (
            "Choose a new password",
            "Every session and application signed in to your account will be signed out.",
            "Change my password",
        ),
    }
}

/// Shows the form of a live link of `purpose` (`/password/reset`,
/// `/invitation`), or says the link does not work.
async fn set_password_page(
    req: &HttpRequest,
    state: &AppState,
    purpose: LinkPurpose,
    token: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let now = crate::edge::now::of(req, state);
    let Some((_, user)) = state.accounts.open_link(purpose, &token, now).await? else {
        return Ok(dead_link(state));
    };
    let (title, lead, button) = set_password_words(purpose);
    Ok(with_csrf(req, state, status, "set_password.html", |csrf| {
        SetPasswordPage {
            title,
            lead,
            action: purpose.path(),
            button,
            csrf,
            token,
            username: user.username.as_str().to_owned(),
            min_password: state.min_password_length,
            error,
        }
    }))
}

/// The form that sets a password through a link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SetPasswordForm {
    #[schema(value_type = String)]
    token: Option<SecretString>,
    #[schema(value_type = String)]
    new_password: Option<SecretString>,
    #[schema(value_type = String)]
    confirm_password: Option<SecretString>,
}

/// Sets the password through a link of `purpose`: the password rules of
/// registration, then one step that uses the link up, sets the password,
/// signs the account out everywhere and verifies its address. The person
/// is not signed in: they sign in with the new password.
async fn set_password(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
    purpose: LinkPurpose,
) -> Result<HttpResponse, ApiError> {
    let form: SetPasswordForm = Csrf::read_form(&req, payload, &state).await?;
    let token = form.token.map(expose).unwrap_or_default();
    let new = form.new_password.map(expose).unwrap_or_default();
    let confirm = form.confirm_password.map(expose).unwrap_or_default();
    let refuse = |message: String| {
        set_password_page(
            &req,
            &state,
            purpose,
            token.clone(),
            Some(message),
            StatusCode::BAD_REQUEST,
        )
    };
    if new != confirm {
        return refuse("The new password and its confirmation differ.".into()).await;
    }
    let password =
        match Password::parse(new).and_then(|p| p.require_min_chars(state.min_password_length)) {
            Ok(p) => p,
            Err(e) => return refuse(format!("The password: {e}.")).await,
        };
    let now = crate::edge::now::of(&req, &state);
    match state
        .accounts
        .set_password_by_link(purpose, &token, &password, now)
        .await?
    {
        Redeemed::Done(user) => {
            let page = notice(
                &state,
                StatusCode::OK,
                &Notice {
                    title: "Your password is set",
                    message: "Sign in with your new password. Every other session and \
                              application was signed out.",
                    link_href: Some("/login"),
                    link_text: Some("Sign in"),
                },
            );
            Ok(with_event(
                page,
                Some(SecurityEvent::PasswordSetByLink { user }),
            ))
        }
        Redeemed::Invalid | Redeemed::AddressTaken => Ok(dead_link(&state)),
    }
}

/// `GET /password/reset`: the form a recovery link opens.
#[utoipa::path(tag = "pages", params(LinkParams), responses(PageResponses))]
#[get("/password/reset")]
pub(crate) async fn reset_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    opened_password_link(&req, &state, LinkPurpose::Reset).await
}

/// `POST /password/reset`: sets the new password.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<SetPasswordForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/password/reset")]
pub(crate) async fn reset(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_password(req, payload, state, LinkPurpose::Reset).await
}

/// `GET /invitation`: the form an invitation opens.
#[utoipa::path(tag = "pages", params(LinkParams), responses(PageResponses))]
#[get("/invitation")]
pub(crate) async fn invitation_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    opened_password_link(&req, &state, LinkPurpose::Invite).await
}

/// The form of the link of `purpose` in the request's query.
async fn opened_password_link(
    req: &HttpRequest,
    state: &AppState,
    purpose: LinkPurpose,
) -> Result<HttpResponse, ApiError> {
    let query: LinkParams = crate::edge::body::read_query(req)?;
    let token = query.token.map(expose).unwrap_or_default();
    set_password_page(req, state, purpose, token, None, StatusCode::OK).await
}

/// `POST /invitation`: sets the first password.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<SetPasswordForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/invitation")]
pub(crate) async fn accept_invitation(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_password(req, payload, state, LinkPurpose::Invite).await
}

#[derive(Serialize)]
struct ConfirmPage {
    title: &'static str,
    lead: &'static str,
    action: &'static str,
    button: &'static str,
    csrf: String,
    token: String,
    address: String,
}

/// The button page of a live link of `purpose` (verify, change): opening
/// the link alone changes nothing.
async fn confirm_page(
    req: &HttpRequest,
    state: &AppState,
    purpose: LinkPurpose,
) -> Result<HttpResponse, ApiError> {
    let query: LinkParams = crate::edge::body::read_query(req)?;
    let token = query.token.map(expose).unwrap_or_default();
    let now = crate::edge::now::of(req, state);
    let Some((link, _)) = state.accounts.open_link(purpose, &token, now).await? else {
        return Ok(dead_link(state));
    };
    let (title, lead, button) = match purpose {
        LinkPurpose::Change => (
            "Confirm your new email address",
            "Make this your account's address:",
            "Change my address",
        ),
        _ => (
            "Confirm your email address",
            "Confirm that this is your address:",
            "Confirm my address",
        ),
    };
    Ok(with_csrf(
        req,
        state,
        StatusCode::OK,
        "verify_email.html",
        |csrf| ConfirmPage {
            title,
            lead,
            action: purpose.path(),
            button,
            csrf,
            token,
            address: link.address.as_str().to_owned(),
        },
    ))
}

/// `GET /email/verify`: a button that confirms the address.
#[utoipa::path(tag = "pages", params(LinkParams), responses(PageResponses))]
#[get("/email/verify")]
pub(crate) async fn verify_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    confirm_page(&req, &state, LinkPurpose::Verify).await
}

/// `GET /email/change`: a button that makes the new address the account's.
#[utoipa::path(tag = "pages", params(LinkParams), responses(PageResponses))]
#[get("/email/change")]
pub(crate) async fn change_page(
    req: HttpRequest,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    confirm_page(&req, &state, LinkPurpose::Change).await
}

/// `POST /email/change`: makes the address the link went to the account's
/// email and login name, verified; the old one no longer signs in.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<VerifyForm>, content_type = "application/x-www-form-urlencoded"),
    responses(AddressChangeResponses),
)]
#[post("/email/change")]
pub(crate) async fn change(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: VerifyForm = Csrf::read_form(&req, payload, &state).await?;
    let token = form.token.map(expose).unwrap_or_default();
    let now = crate::edge::now::of(&req, &state);
    match state.accounts.confirm_email_change(&token, now).await? {
        Redeemed::Done(user) => {
            let page = notice(
                &state,
                StatusCode::OK,
                &Notice {
                    title: "Your address is changed",
                    message: "Sign in with the new address from now on; the old one no \
                              longer signs in.",
                    link_href: Some("/account"),
                    link_text: Some("Your account"),
                },
            );
            Ok(with_event(page, Some(SecurityEvent::EmailChanged { user })))
        }
        Redeemed::AddressTaken => Ok(notice(
            &state,
            StatusCode::CONFLICT,
            &Notice {
                title: "That address is taken",
                message: "Another account has that address by now, so yours stays as it \
                          was. The link is used up.",
                link_href: Some("/account"),
                link_text: Some("Your account"),
            },
        )),
        Redeemed::Invalid => Ok(dead_link(&state)),
    }
}
/// The confirmation form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct VerifyForm {
    #[schema(value_type = String)]
    token: Option<SecretString>,
}

/// `POST /email/verify`: confirms the address.
#[utoipa::path(
    tag = "pages",
    request_body(content = PagePost<VerifyForm>, content_type = "application/x-www-form-urlencoded"),
    responses(PageResponses),
)]
#[post("/email/verify")]
pub(crate) async fn verify(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form: VerifyForm = Csrf::read_form(&req, payload, &state).await?;
    let token = form.token.map(expose).unwrap_or_default();
    let now = crate::edge::now::of(&req, &state);
    match state.accounts.verify_email(&token, now).await? {
        Redeemed::Done(user) => {
            let page = notice(
                &state,
                StatusCode::OK,
                &Notice {
                    title: "Your address is confirmed",
                    message: "Thank you. Applications you sign in to now see it as verified.",
                    link_href: Some("/account"),
                    link_text: Some("Your account"),
                },
            );
            Ok(with_event(
                page,
                Some(SecurityEvent::EmailVerified { user }),
            ))
        }
        Redeemed::Invalid | Redeemed::AddressTaken => Ok(dead_link(&state)),
    }
}
