//! A request id on a span around every request: every log line written
//! while the request is served (security events included) carries it, and
//! the response names it in `X-Request-Id`, so an operator can find a
//! person's failed sign-in in the log from what the browser saw.
//!
//! An id a proxy in front already gave the request (`X-Request-Id`) is
//! kept when it is short and plain (letters, digits, `-`, `_`, `.`, `:`;
//! nothing that could break a log line); otherwise this node makes one:
//! a random prefix per process and a counter, unique across nodes without
//! a random draw per request.
use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use tracing::Instrument as _;

/// The header that carries the id, in and out.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id taken from a request.
const MAX_LENGTH: usize = 64;

/// This process's prefix: random, so two nodes' ids do not collide.
fn node_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned())
}

/// A new id: `prefix-counter`.
fn next_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n:x}", node_prefix())
}

/// The id a request came with, if it is one we keep.
fn given_id(value: &HeaderValue) -> Option<String> {
    let id = value.to_str().ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    (!id.is_empty() && id.len() <= MAX_LENGTH && id.chars().all(plain)).then(|| id.to_owned())
}

/// Middleware body for `App::wrap_fn`, the outermost: opens the request's
/// span (`request{id=...}`) around everything the request runs, and names
/// the id in the response.
pub fn traced<S, B>(
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
{
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(given_id)
        .unwrap_or_else(next_id);
    let span = tracing::info_span!("request", id = %id);
    // The handler's future is made inside the span too: whatever it logs
    // while being set up carries the id.
    let call = span.in_scope(|| service.call(req));
    async move {
        let mut response = call.await?;
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(X_REQUEST_ID, value);
        }
        Ok(response)
    }
    .instrument(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_id_is_kept_only_when_short_and_plain() {
        let check = |raw: &str, kept: bool| {
            let value = HeaderValue::from_str(raw).ok();
            assert_eq!(value.as_ref().and_then(given_id).is_some(), kept, "{raw:?}");
        };
        check("3f2a-17", true);
        check("req_1.2:3", true);
        check("", false);
        check("two words", false);
        check("a\"b", false);
        check("x=1 event=forged", false);
        check(&"a".repeat(MAX_LENGTH), true);
        check(&"a".repeat(MAX_LENGTH + 1), false);
    }

    #[test]
    fn made_ids_share_the_node_prefix_and_never_repeat() {
        let (a, b) = (next_id(), next_id());
        assert_ne!(a, b);
        assert_eq!(a.split('-').next(), b.split('-').next());
        assert_eq!(a.split('-').next().map(str::len), Some(8));
    }
}
