//! Errors of the core: the RFC 6749 error vocabulary and the errors of ports.
//!
//! HTTP status codes are deliberately absent: mapping to a status is the web
//! layer's business.
use std::borrow::Cow;

use crate::events::SecurityEvent;

/// The error codes of RFC 6749 section 5.2 and 4.1.2.1, RFC 8628 section 3.5
/// and RFC 6750 section 3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong or missing secret).
    InvalidClient,
    /// The grant (code, refresh token, credentials) is invalid, expired, revoked or another client's.
    InvalidGrant,
    /// The client is not allowed this grant type or request.
    UnauthorizedClient,
    /// The server does not know the grant type.
    UnsupportedGrantType,
    /// The scope asked for is malformed or beyond what the client may have.
    InvalidScope,
    /// The user or the server refused the request.
    AccessDenied,
    /// The authorization endpoint does not serve this `response_type`.
    UnsupportedResponseType,
    /// An unexpected fault on the server's side.
    ServerError,
    /// The server cannot answer just now (an outage, a throttle); try again later.
    TemporarilyUnavailable,
    /// RFC 8628: the user has not finished at the verification page yet.
    AuthorizationPending,
    /// RFC 8628: the device polls too often; add 5 seconds to its interval.
    SlowDown,
    /// RFC 8628: the device code expired before the user approved it.
    ExpiredToken,
    /// RFC 6750: the access token is invalid, expired or revoked.
    InvalidToken,
    /// OpenID Connect Core section 3.1.2.6, for `prompt=none`.
    LoginRequired,
    /// OpenID Connect: `prompt=none`, but the user has not consented.
    ConsentRequired,
    /// OpenID Connect: `prompt=none`, but the user must sign in or act first.
    InteractionRequired,
    /// OpenID Connect Unmet Authentication Requirements 1.0: the level the
    /// request asked for (`acr_values`) cannot be met for this user.
    UnmetAuthenticationRequirements,
}

impl ErrorCode {
    /// The code as the wire spells it (`invalid_grant`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error the client is meant to see: an RFC error code and a sentence
/// saying what was wrong. The description never contains secrets. It may
/// carry the security event the refusal amounts to, for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    code: ErrorCode,
    description: Cow<'static, str>,
    event: Option<Box<SecurityEvent>>,
}

impl OAuthError {
    /// An error with `code` and a human-readable `description`.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            event: None,
        }
    }

    /// The same error, recording that it amounts to `event`.
    pub fn with_event(mut self, event: SecurityEvent) -> Self {
        self.event = Some(Box::new(event));
        self
    }

    /// The security event this refusal amounts to, if any.
    pub fn event(&self) -> Option<&SecurityEvent> {
        self.event.as_deref()
    }

    /// The RFC error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The `error_description`: says what was wrong, never anything secret.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// An `invalid_request` error.
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    /// An `invalid_client` error.
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    /// An `invalid_grant` error.
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    /// An `unauthorized_client` error.
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    /// An `unsupported_grant_type` error.
    pub fn unsupported_grant_type(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnsupportedGrantType, d)
    }
    /// An `invalid_scope` error.
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    /// An `invalid_token` error.
    pub fn invalid_token(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    /// An `access_denied` error.
    pub fn access_denied(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::AccessDenied, d)
    }
}

/// What [`StoreError::Conflict`] names when a new login name looks like
/// an existing one (their UTS #39 skeletons are equal).
pub const LOOK_ALIKE: &str = "a name that looks like this one";

/// What a storage port can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken: the named thing already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The backend failed; the cause is kept for the log, never for clients.
    #[error("storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database cannot be reached (refused or lost connections, a
    /// stopped writer): an outage that passes, not a fault of the request.
    /// Nothing was written.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A backend fault, wrapping its cause.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }

    /// An outage, wrapping its cause.
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// What a cryptographic port can fail with (never "wrong password": that is a
/// `false`, not an error).
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("no signing key is available")]
    /// No key may sign now (none made yet, or every key is retired).
    NoSigningKey,
    #[error("cryptographic operation failed: {0}")]
    /// The primitive failed; the message says which and why.
    Failed(String),
}

/// What we say when a provider answered an OAuth error `code`: a fixed
/// sentence per code RFC 6749 and its extensions define (the code's
/// characters are the provider's, so an unknown one is not repeated), and
/// never the provider's own description, which whoever crafts a callback
/// link could fill with text of their choosing for our page to show.
pub fn provider_refusal(code: &str) -> &'static str {
    match code {
        "access_denied" => "you declined the sign-in at the provider",
        "login_required"
        | "interaction_required"
        | "consent_required"
        | "account_selection_required" => "the provider needs you to sign in there first",
        "temporarily_unavailable" | "server_error" | "slow_down" => {
            "the provider could not complete the sign-in just now; try again in a moment"
        }
        "invalid_grant" | "bad_verification_code" | "expired_token" => {
            "the provider's code was not valid (used, expired or for another sign-in); start again"
        }
        "invalid_request"
        | "invalid_scope"
        | "unauthorized_client"
        | "unsupported_response_type"
        | "redirect_uri_mismatch"
        | "incorrect_client_credentials"
        | "invalid_client" => {
            "the provider refused this server's request; an operator should check the \
             registration at the provider"
        }
        _ => "the provider did not authorize the sign-in",
    }
}

/// What an upstream identity provider can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The provider refused: a wrong or used code, a revoked token, an
    /// ID token that does not check out. The person is not signed in.
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
    /// The provider could not be asked: unreachable, too slow, a 5xx, a
    /// redirect, or an answer too large or not understood.
    #[error("the provider could not be reached or answered nonsense: {0}")]
    Failed(String),
    /// The provider does not offer this flow.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Everything a flow can end with other than success.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The request was refused; the client sees this.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// Storage failed; the client sees a generic server error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A cryptographic primitive failed; the client sees a generic server error.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
