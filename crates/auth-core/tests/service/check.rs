//! Tests as tables: a list of cases, each with what it expects, run through
//! one call and checked alike, the case named when one fails.
use std::fmt::Debug;
use std::future::Future;

use auth_core::error::{ErrorCode, FlowError};

/// What a case expects of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// It succeeds.
    Ok,
    /// It is refused with this OAuth error code.
    Refused(ErrorCode),
}

/// The OAuth error code of a refusal; any other answer fails the test.
pub fn code_of(r: Result<impl Debug, FlowError>) -> ErrorCode {
    match r {
        Err(FlowError::OAuth(e)) => e.code(),
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

/// Runs every case through `run` and checks its answer against what the
/// case expects.
pub async fn check<C, T, F, Fut>(cases: impl IntoIterator<Item = (C, Expect)>, mut run: F)
where
    C: Debug,
    T: Debug,
    F: FnMut(C) -> Fut,
    Fut: Future<Output = Result<T, FlowError>>,
{
    for (case, expect) in cases {
        let name = format!("{case:?}");
        let answer = run(case).await;
        match (expect, answer) {
            (Expect::Ok, Ok(_)) => {}
            (Expect::Refused(code), Err(FlowError::OAuth(e))) if e.code() == code => {}
            (expect, answer) => panic!("{name}: expected {expect:?}, got {answer:?}"),
        }
    }
}
