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
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidToken,
    /// OpenID Connect Core section 3.1.2.6, for `prompt=none`.
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
}

impl ErrorCode {
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

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn unsupported_grant_type(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnsupportedGrantType, d)
    }
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn invalid_token(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidToken, d)
    }
    pub fn access_denied(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::AccessDenied, d)
    }
}

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
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }

    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// What a cryptographic port can fail with (never "wrong password": that is a
/// `false`, not an error).
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("no signing key is available")]
    NoSigningKey,
    #[error("cryptographic operation failed: {0}")]
    Failed(String),
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
