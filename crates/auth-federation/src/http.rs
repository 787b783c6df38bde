//! The one way this crate talks to a provider: HTTPS through reqwest with
//! rustls, a deadline on every call, no redirects followed, and answers
//! read up to a size limit.
use std::time::Duration;

use auth_core::error::UpstreamError;
use reqwest::header::{ACCEPT, HeaderValue, USER_AGENT};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

/// Bounds on every upstream call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From connecting to the last byte of the answer.
    pub timeout: Duration,
    /// The largest answer read; a longer one is a failure.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_body_bytes: 256 * 1024,
        }
    }
}

/// An HTTP client with [`Limits`].
#[derive(Debug, Clone)]
pub struct UpstreamHttp {
    client: reqwest::Client,
    limits: Limits,
}

/// An answer read whole: its status and body.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self, who: &str) -> Result<T, UpstreamError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| UpstreamError::Failed(format!("{who} answered with unexpected JSON: {e}")))
    }
}

impl UpstreamHttp {
    pub fn new(limits: Limits) -> Result<Self, UpstreamError> {
        let client = reqwest::Client::builder()
            // A redirect from a token or user endpoint is not an answer; and
            // following one could send a credential elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .build()
            .map_err(|e| UpstreamError::Failed(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client, limits })
    }

    pub(crate) fn get(&self, url: &str) -> RequestBuilder {
        self.with_defaults(self.client.get(url))
    }

    pub(crate) fn post(&self, url: &str) -> RequestBuilder {
        self.with_defaults(self.client.post(url))
    }

    fn with_defaults(&self, request: RequestBuilder) -> RequestBuilder {
        request
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static("portcullis"))
    }

    /// Sends `request` and reads the answer, refusing redirects, 5xx and
    /// bodies over the limit. Other statuses are the caller's to judge.
    pub(crate) async fn send(
        &self,
        who: &str,
        request: RequestBuilder,
    ) -> Result<Answer, UpstreamError> {
        let failed = |what: String| UpstreamError::Failed(format!("{who} {what}"));
        let mut response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                failed("did not answer in time".into())
            } else {
                failed(format!("could not be reached: {}", without_url(&e)))
            }
        })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(failed(format!("answered with a redirect ({status})")));
        }
        if status.is_server_error() {
            return Err(failed(format!("answered {status}")));
        }
        let limit = self.limits.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(failed("sent an answer larger than allowed".into()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            if e.is_timeout() {
                failed("did not answer in time".into())
            } else {
                failed(format!("broke off its answer: {}", without_url(&e)))
            }
        })? {
            if body.len() + chunk.len() > limit {
                return Err(failed("sent an answer larger than allowed".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }
}

/// Whether `token` can be a bearer token at all (RFC 6750 section 2.1's
/// characters, at most 4 KiB): anything else is refused before it reaches
/// a header.
pub(crate) fn is_token(token: &str) -> bool {
    (1..=4096).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
}

/// reqwest's message without the URL, which may carry a query with a
/// credential in it.
fn without_url(e: &reqwest::Error) -> String {
    let mut e = std::error::Error::source(e);
    let mut last = String::from("connection failed");
    while let Some(cause) = e {
        last = cause.to_string();
        e = cause.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_checked_before_they_reach_a_header() {
        assert!(is_token("gho_16C7e42F292c6912E7710c838347Ae178B4a"));
        assert!(is_token("v4.public.eyJ-_~+/="));
        for bad in ["", "a b", "a\nb", "é", "a\u{0}", &"a".repeat(4097)] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }
}
