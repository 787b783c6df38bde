//! RFC 9457 problem details: how the admin API refuses. One type for every
//! admin handler, built from the core's errors by one table each.
use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use auth_core::admin::{AdminRefusal, AdminUserError, CursorError};
use auth_core::groups::GroupError;
use serde::Serialize;
use utoipa::IntoResponses;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::edge::error::ApiError;

/// The media type of a problem (RFC 9457 section 3).
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// A problem as the body carries it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProblemBody {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The status's reason phrase.
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What went wrong with this request.
    detail: String,
}

/// An admin API refusal.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub(crate) struct Problem {
    status: StatusCode,
    detail: String,
    /// A failure of ours, logged with its cause and not shown.
    cause: Option<String>,
    /// A bearer challenge (RFC 6750 section 3) for a 401 or 403.
    challenge: Option<&'static str>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            cause: None,
            challenge: None,
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 412: the `If-Match` names a version that is not the current one.
    pub(crate) fn stale() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "the resource changed since the version If-Match names; read it again",
        )
    }

    /// 428: a write that must name the version it changes did not.
    pub(crate) fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "this write needs If-Match with the resource's ETag (or *)",
        )
    }

    fn challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Self {
        let status = e.status_code();
        let mut problem = Self::new(status, e.to_string());
        match &e {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => {
                problem.cause = Some(cause.to_string());
                problem.detail = e.to_string();
            }
            ApiError::OAuth(oauth) => {
                problem.detail = oauth.description().to_owned();
                if status == StatusCode::UNAUTHORIZED {
                    problem = problem
                        .challenge("Bearer realm=\"portcullis-admin\", error=\"invalid_token\"");
                }
            }
            _ => {}
        }
        problem
    }
}

impl From<auth_core::FlowError> for Problem {
    fn from(e: auth_core::FlowError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<AdminRefusal> for Problem {
    fn from(e: AdminRefusal) -> Self {
        match e {
            AdminRefusal::Flow(e) => e.into(),
            AdminRefusal::MissingScope(_) => Self::new(StatusCode::FORBIDDEN, e.to_string())
                .challenge("Bearer realm=\"portcullis-admin\", error=\"insufficient_scope\""),
            AdminRefusal::PersonsToken | AdminRefusal::NotAdmin => {
                Self::new(StatusCode::FORBIDDEN, e.to_string())
            }
        }
    }
}

impl From<CursorError> for Problem {
    fn from(e: CursorError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<AdminUserError> for Problem {
    fn from(e: AdminUserError) -> Self {
        use auth_core::accounts::RegistrationError as R;
        match e {
            AdminUserError::NotFound => Self::not_found("no account has this id"),
            AdminUserError::Stale => Self::stale(),
            AdminUserError::Cursor(e) => e.into(),
            AdminUserError::Invalid(m) => Self::bad_request(m),
            AdminUserError::Registration(R::Conflict(what)) => {
                Self::new(StatusCode::CONFLICT, format!("{what} already exists"))
            }
            AdminUserError::Registration(R::AddressInUse) => {
                Self::new(StatusCode::CONFLICT, "email already exists")
            }
            AdminUserError::Registration(R::Flow(e)) | AdminUserError::Flow(e) => e.into(),
            AdminUserError::Registration(other) => Self::bad_request(other.to_string()),
            AdminUserError::Absent => Self::not_found("no such resource"),
        }
    }
}

impl From<GroupError> for Problem {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::Invalid(_) => Self::bad_request(e.to_string()),
            GroupError::Taken(_) | GroupError::InUse(_) => {
                Self::new(StatusCode::CONFLICT, e.to_string())
            }
            GroupError::NotFound(_) => Self::not_found("no group has this id"),
            GroupError::NoSuchUser(_) => Self::bad_request("no account has this id"),
            GroupError::Stale => Self::stale(),
            GroupError::Flow(e) => e.into(),
        }
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(error = %cause, "admin request failed");
        }
        let mut response = HttpResponse::build(self.status);
        response
            .content_type(PROBLEM_JSON)
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(challenge) = self.challenge {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        response.body(
            serde_json::to_string(&ProblemBody {
                kind: "about:blank",
                title: self.status.canonical_reason().unwrap_or("Error"),
                status: self.status.as_u16(),
                detail: self.detail.clone(),
            })
            .unwrap_or_default(),
        )
    }
}

/// The refusals every admin route can give, as problems.
pub(crate) struct Problems;

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ProblemBody")))
                .build(),
        )
        .build()
        .into()
}

impl IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "The request is invalid"),
            ("401", "No valid bearer token"),
            (
                "403",
                "The token is a person's, or lacks the scope, or its client is no admin client",
            ),
            (
                "404",
                "No such resource (or no admin API on this server yet)",
            ),
            ("409", "A name is taken, or the resource is in use"),
            ("412", "If-Match names another version than the current one"),
            ("413", "The body is larger than the limit"),
            ("415", "The body is not JSON"),
            ("428", "A write without If-Match"),
            ("503", "The database cannot be reached just now"),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_owned(), problem(description)))
        .collect()
    }
}
