//! The one time of a request: read from the clock once, on first use, and
//! the same for everything the request does after, so that a session
//! started, a code issued and the log of it never disagree by the
//! milliseconds between two reads.
use actix_web::HttpMessage as _;
use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::state::AppState;

/// The time a request was first asked for, kept in its extensions.
#[derive(Clone, Copy)]
struct RequestTime(DateTime<Utc>);

/// The time of `req`.
pub(crate) fn of(req: &HttpRequest, state: &AppState) -> DateTime<Utc> {
    if let Some(RequestTime(t)) = req.extensions().get::<RequestTime>() {
        return *t;
    }
    let t = state.clock.now();
    req.extensions_mut().insert(RequestTime(t));
    t
}
