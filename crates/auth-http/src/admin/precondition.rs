//! Conditional writes (RFC 9110 section 13.1.1): a resource's ETag is its
//! version, strong; `PATCH`, `PUT` and `DELETE` must carry `If-Match`
//! naming it (or `*`, any current version). The handler compares it with
//! what it read and makes the write conditional on that version, so a
//! change between the read and the write is a 412 too.
use actix_web::HttpRequest;
use actix_web::http::header;

use super::problem::Problem;

/// An `If-Match` header, read.
pub(crate) enum IfMatch {
    /// `*`: any current version.
    Any,
    /// The entity tags listed (their quoted values).
    Tags(Vec<String>),
}

impl IfMatch {
    /// The request's `If-Match`; 428 without one, 400 for one that is
    /// not a list of entity tags.
    pub(crate) fn of(req: &HttpRequest) -> Result<Self, Problem> {
        let Some(value) = req.headers().get(header::IF_MATCH) else {
            return Err(Problem::precondition_required());
        };
        let value = value
            .to_str()
            .map_err(|_| Problem::bad_request("If-Match is not a list of entity tags"))?
            .trim();
        if value == "*" {
            return Ok(Self::Any);
        }
        let mut tags = Vec::new();
        for tag in value.split(',').map(str::trim) {
            // A weak tag never matches under If-Match's strong comparison
            // (RFC 9110 section 8.8.3.2); it is well-formed, though.
            let strong = tag.strip_prefix("W/").map_or(Some(tag), |_| None);
            let quoted = tag.trim_start_matches("W/");
            if quoted.len() < 2 || !quoted.starts_with('"') || !quoted.ends_with('"') {
                return Err(Problem::bad_request(
                    "If-Match is not a list of entity tags",
                ));
            }
            if let Some(strong) = strong {
                tags.push(strong.to_owned());
            }
        }
        Ok(Self::Tags(tags))
    }

    /// Whether it matches the current `etag`; 412 if not.
    pub(crate) fn check(&self, etag: &str) -> Result<(), Problem> {
        match self {
            Self::Any => Ok(()),
            Self::Tags(tags) if tags.iter().any(|t| t == etag) => Ok(()),
            Self::Tags(_) => Err(Problem::stale()),
        }
    }
}

/// The strong ETag of a version number.
pub(crate) fn etag(version: impl std::fmt::Display) -> String {
    format!("\"{version}\"")
}

/// A deletion of what has no version of its own (a membership, a grant, a
/// factor, every session): `If-Match: *`, 428 without, 412 for a tag.
pub(crate) fn any_version(req: &HttpRequest) -> Result<(), Problem> {
    match IfMatch::of(req)? {
        IfMatch::Any => Ok(()),
        IfMatch::Tags(_) => Err(Problem::new(
            actix_web::http::StatusCode::PRECONDITION_FAILED,
            "this has no version of its own: If-Match: *",
        )),
    }
}
