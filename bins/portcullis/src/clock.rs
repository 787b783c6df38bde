//! The wall clock, the one place the server reads the time of day.
use auth_core::ports::Clock;
use chrono::{DateTime, Utc};

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
