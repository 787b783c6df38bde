//! The one time of a request: read from the clock once, on first use, and
//! the same for everything the request does after, so that a session
//! started, a code issued and the log of it never disagree by the
//! milliseconds between two reads.
use actix_web::HttpMessage as _;
use actix_web::HttpRequest;
use auth_core::ports::Clock;
use chrono::{DateTime, Utc};

use crate::state::AppState;

/// The time a request was first asked for, kept in its extensions.
#[derive(Clone, Copy)]
struct RequestTime(DateTime<Utc>);

/// The time of `req`.
pub(crate) fn of(req: &HttpRequest, state: &AppState) -> DateTime<Utc> {
    at(req, &*state.clock)
}

/// The time of `req` by `clock`: its first reading, kept.
fn at(req: &HttpRequest, clock: &dyn Clock) -> DateTime<Utc> {
    if let Some(RequestTime(t)) = req.extensions().get::<RequestTime>() {
        return *t;
    }
    let t = clock.now();
    req.extensions_mut().insert(RequestTime(t));
    t
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use actix_web::test::TestRequest;

    use super::*;

    /// A clock a second later at every reading.
    struct Ticking(AtomicI64);

    impl Clock for Ticking {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp(self.0.fetch_add(1, Ordering::SeqCst), 0).unwrap_or_default()
        }
    }

    #[test]
    fn a_request_reads_the_clock_once() {
        let clock = Ticking(AtomicI64::new(1_800_000_000));
        let (first, second) = (
            TestRequest::default().to_http_request(),
            TestRequest::default().to_http_request(),
        );
        let t = at(&first, &clock);
        assert_eq!(at(&first, &clock), t, "the same request, the same time");
        assert_eq!(at(&first, &clock), t);
        assert_ne!(
            at(&second, &clock),
            t,
            "another request reads the clock anew"
        );
    }
}
