//! The mapping of errors to HTTP responses. Every `ErrorCode` is matched by
//! name, so a new one cannot silently become a 500.
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use auth_core::error::{ErrorCode, FlowError, OAuthError, StoreError};
use serde::Serialize;

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

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
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
        | ErrorCode::InteractionRequired => StatusCode::BAD_REQUEST,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
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
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
}
