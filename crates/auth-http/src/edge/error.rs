//! The mapping of errors to HTTP responses. Every `ErrorCode` is matched by
//! name, so a new one cannot silently become a 500.
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use auth_core::error::{ErrorCode, FlowError, OAuthError, StoreError};
use auth_core::events::SecurityEvent;
use auth_core::federation::FederationError;
use serde::Serialize;

/// What kind of failure an error is, and so its status: the one table the
/// JSON endpoints ([`ApiError`]), the hosted pages and the seed dialects
/// take their statuses from. A dialect changes a status only where its
/// document names another (seed 003 answers a provider's failure with
/// 500), and says so where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// 400: the request itself is wrong.
    Invalid,
    /// 401: a sign-in or a credential was refused (or is not finished).
    Refused,
    /// 403: a form post without a valid CSRF token.
    Forbidden,
    /// 413: the body is larger than the configured limit.
    TooLarge,
    /// 415: the body is not in a format the endpoint takes.
    UnsupportedMediaType,
    /// 429: a throttle refused the request before any work was done.
    Throttled,
    /// 502: an upstream provider could not be asked.
    Upstream,
    /// 500: storage or cryptography failed here.
    Internal,
    /// 503: the database cannot be reached just now.
    Unavailable,
}

impl FailureKind {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::Invalid => StatusCode::BAD_REQUEST,
            Self::Refused => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream => StatusCode::BAD_GATEWAY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A sign-in's failure: its refusal, or what failed on the way. A
    /// password refused for too many attempts is `Throttled`.
    pub(crate) fn of_sign_in(e: &FlowError) -> Self {
        match e {
            FlowError::OAuth(e) => match e.event() {
                Some(SecurityEvent::LoginThrottled { .. }) => Self::Throttled,
                _ => Self::Refused,
            },
            FlowError::Store(StoreError::Unavailable(_)) => Self::Unavailable,
            FlowError::Store(_) | FlowError::Crypto(_) => Self::Internal,
        }
    }

    /// A federated sign-in's failure (the hosted pages' and seed 003's).
    pub(crate) fn of_federation(e: &FederationError) -> Self {
        match e {
            FederationError::UnknownProvider(_) | FederationError::Invalid(_) => Self::Invalid,
            FederationError::Refused(_) | FederationError::Pending => Self::Refused,
            FederationError::Throttled => Self::Throttled,
            FederationError::Upstream(_) => Self::Upstream,
            // The core refused what the sign-in would have issued.
            FederationError::Flow(e) => Self::of_sign_in(e),
        }
    }
}

/// An error as the web layer answers it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An RFC 6749 error: 400, 401 for `invalid_client` and `invalid_token`.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// 413: the body is larger than the configured limit.
    #[error("request body exceeds {0} bytes")]
    TooLarge(usize),
    /// 403: a form post without a valid CSRF token.
    #[error("the form's CSRF token is missing or invalid")]
    Forbidden,
    /// 429: a throttle refused the request before any work was done.
    #[error("{0}")]
    Throttled(&'static str),
    /// 403: what the request asks for is not offered here (self-registration
    /// on a server where it is closed).
    #[error("{0}")]
    NotOffered(&'static str),
    /// 415: the body is not in a format this endpoint takes.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// 500: storage or cryptography failed. Logged with its cause; the client
    /// sees only that something went wrong on our side.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 503: the database cannot be reached just now; nothing was changed.
    /// Logged with its cause; the client is told to retry.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::OAuth(e) => Self::OAuth(e),
            FlowError::Store(e @ StoreError::Unavailable(_)) => Self::Unavailable(Box::new(e)),
            FlowError::Store(e) => Self::Internal(Box::new(e)),
            FlowError::Crypto(e) => Self::Internal(Box::new(e)),
        }
    }
}

/// RFC 6749 section 5.2's error body, which every JSON endpoint answers a
/// refusal with.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    /// The error code: `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `access_denied`, `invalid_token`, `authorization_pending`,
    /// `slow_down`, `expired_token`, `temporarily_unavailable`, ...
    error: &'a str,
    /// A sentence for the developer.
    error_description: &'a str,
}

/// RFC 6749 section 5.2 and RFC 6750 section 3.1: 401 for a client or a
/// token that failed authentication, 400 for the rest of the refusals.
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => FailureKind::Refused.status(),
        ErrorCode::AccessDenied
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidGrant
        | ErrorCode::UnauthorizedClient
        | ErrorCode::UnsupportedGrantType
        | ErrorCode::InvalidScope
        | ErrorCode::UnsupportedResponseType
        | ErrorCode::AuthorizationPending
        | ErrorCode::SlowDown
        | ErrorCode::ExpiredToken
        | ErrorCode::LoginRequired
        | ErrorCode::ConsentRequired
        | ErrorCode::InteractionRequired
        | ErrorCode::UnmetAuthenticationRequirements => FailureKind::Invalid.status(),
        ErrorCode::ServerError => FailureKind::Internal.status(),
        ErrorCode::TemporarilyUnavailable => FailureKind::Unavailable.status(),
    }
}

impl<'a> ErrorBody<'a> {
    /// An `invalid_request` body, for refusals answered with another status
    /// than 400 (a conflict).
    pub(crate) fn invalid_request(description: &'a str) -> Self {
        Self {
            error: ErrorCode::InvalidRequest.as_str(),
            error_description: description,
        }
    }
}

impl ApiError {
    /// The security event the refusal amounts to, if any.
    pub(crate) fn event(&self) -> Option<&auth_core::events::SecurityEvent> {
        match self {
            Self::OAuth(e) => e.event(),
            _ => None,
        }
    }

    fn parts(&self) -> (ErrorCode, &str) {
        match self {
            Self::OAuth(e) => (e.code(), e.description()),
            Self::TooLarge(_) => (ErrorCode::InvalidRequest, "the request body is too large"),
            Self::Forbidden => (
                ErrorCode::AccessDenied,
                "the form's CSRF token is missing or invalid; reload the page and try again",
            ),
            Self::UnsupportedMediaType(m) => (ErrorCode::InvalidRequest, m),
            Self::Throttled(m) => (ErrorCode::TemporarilyUnavailable, m),
            Self::NotOffered(m) => (ErrorCode::AccessDenied, m),
            Self::Internal(_) => (
                ErrorCode::ServerError,
                "the server could not complete the request",
            ),
            Self::Unavailable(_) => (
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable; try again shortly",
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::OAuth(e) => status_of(e.code()),
            Self::TooLarge(_) => FailureKind::TooLarge.status(),
            Self::Forbidden => FailureKind::Forbidden.status(),
            Self::UnsupportedMediaType(_) => FailureKind::UnsupportedMediaType.status(),
            Self::Throttled(_) => FailureKind::Throttled.status(),
            Self::NotOffered(_) => FailureKind::Forbidden.status(),
            Self::Internal(_) => FailureKind::Internal.status(),
            Self::Unavailable(_) => FailureKind::Unavailable.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) | Self::Unavailable(cause) = self {
            let mut chain = cause.to_string();
            let mut source = cause.source();
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %chain, "request failed");
        }
        let (code, description) = self.parts();
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
        match code {
            // RFC 6749 section 5.2: a 401 for a failed client authentication
            // carries a challenge for the scheme the client can use.
            ErrorCode::InvalidClient => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"portcullis\""),
                ));
            }
            // RFC 6750 section 3.
            ErrorCode::InvalidToken => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"portcullis\", error=\"invalid_token\"",
                    ),
                ));
            }
            _ => {}
        }
        let mut response = response.json(ErrorBody {
            error: code.as_str(),
            error_description: description,
        });
        if let Some(event) = self.event() {
            crate::edge::security::attach(&mut response, event.clone());
        }
        response
    }
}

/// A failure that is the server's, not the person's.
pub(crate) fn factor_failure(e: auth_core::factors::FactorError) -> ApiError {
    match e {
        auth_core::factors::FactorError::Flow(f) => f.into(),
        other => ApiError::from(auth_core::FlowError::Crypto(
            auth_core::error::CryptoError::Failed(other.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_a_503_and_a_fault_a_500_and_neither_says_why() {
        let outage = ApiError::from(FlowError::Store(StoreError::unavailable(
            std::io::Error::other("connection refused to db.internal:5432"),
        )));
        assert_eq!(outage.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(outage.parts().0, ErrorCode::TemporarilyUnavailable);
        assert!(!outage.parts().1.contains("db.internal"));
        let fault = ApiError::from(FlowError::Store(StoreError::backend(
            std::io::Error::other("syntax error"),
        )));
        assert_eq!(fault.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!fault.parts().1.contains("syntax"));
    }

    #[test]
    fn a_federated_sign_in_fails_by_one_table() {
        let outage = || FlowError::Store(StoreError::unavailable(std::io::Error::other("down")));
        let cases = [
            (
                FederationError::UnknownProvider("x".into()),
                StatusCode::BAD_REQUEST,
            ),
            (
                FederationError::Invalid("x".into()),
                StatusCode::BAD_REQUEST,
            ),
            (
                FederationError::Refused(OAuthError::invalid_grant("no")),
                StatusCode::UNAUTHORIZED,
            ),
            (FederationError::Pending, StatusCode::UNAUTHORIZED),
            (FederationError::Throttled, StatusCode::TOO_MANY_REQUESTS),
            (
                FederationError::Upstream("x".into()),
                StatusCode::BAD_GATEWAY,
            ),
            (
                FederationError::Flow(outage()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(
                FailureKind::of_federation(&error).status(),
                status,
                "{error:?}"
            );
        }
        let throttled = OAuthError::invalid_grant("wait")
            .with_event(SecurityEvent::LoginThrottled { user: None });
        assert_eq!(
            FailureKind::of_sign_in(&FlowError::OAuth(throttled)),
            FailureKind::Throttled
        );
        assert_eq!(
            FailureKind::of_sign_in(&FlowError::OAuth(OAuthError::invalid_grant("no"))),
            FailureKind::Refused
        );
    }
}
