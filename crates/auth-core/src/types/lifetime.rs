//! Lifetimes an operator sets, each bounded by a documented range so that no
//! setting can overflow a timestamp or make a token live for centuries.
use chrono::Duration;

/// Which lifetime, and the range it must lie in (whole seconds, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeRange {
    /// The setting's name, for the error message.
    pub what: &'static str,
    /// The shortest allowed, in seconds.
    pub min_secs: i64,
    /// The longest allowed, in seconds.
    pub max_secs: i64,
}

const DAY: i64 = 86_400;

impl LifetimeRange {
    /// An access token: one second to one year.
    pub const ACCESS_TOKEN: Self = Self::new("access token lifetime", 1, 366 * DAY);
    /// A refresh token: one minute to ten years.
    pub const REFRESH_TOKEN: Self = Self::new("refresh token lifetime", 60, 3_653 * DAY);
    /// A refresh token family, from its grant to its end: one minute to ten
    /// years.
    pub const REFRESH_FAMILY: Self = Self::new("refresh family lifetime", 60, 3_653 * DAY);
    /// How long a rotated refresh token may be presented again: up to an hour.
    pub const REFRESH_GRACE: Self = Self::new("refresh grace period", 0, 3_600);
    /// A browser session, and its idle timeout: one minute to one year.
    pub const SESSION: Self = Self::new("session lifetime", 60, 366 * DAY);
    /// A throttle's window: one second to one day (the sweep deletes
    /// counters whose window has ended).
    pub const THROTTLE_WINDOW: Self = Self::new("throttle window", 1, DAY);
    /// How long a rotated-in signing key is published before it signs.
    pub const KEY_ACTIVATION_DELAY: Self = Self::new("key activation delay", 0, 30 * DAY);

    const fn new(what: &'static str, min_secs: i64, max_secs: i64) -> Self {
        Self {
            what,
            min_secs,
            max_secs,
        }
    }

    /// The lifetime of `secs` seconds, if it lies in the range.
    pub fn seconds(self, secs: i64) -> Result<Duration, LifetimeError> {
        if (self.min_secs..=self.max_secs).contains(&secs) {
            Ok(Duration::seconds(secs))
        } else {
            Err(LifetimeError { range: self, secs })
        }
    }
}

/// A lifetime outside its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {} must be between {} and {} seconds; {secs} is not",
    range.what,
    range.min_secs,
    range.max_secs
)]
pub struct LifetimeError {
    /// The range broken.
    pub range: LifetimeRange,
    /// The value given.
    pub secs: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_named() {
        let r = LifetimeRange::ACCESS_TOKEN;
        assert_eq!(r.seconds(1), Ok(Duration::seconds(1)));
        assert_eq!(r.seconds(366 * DAY), Ok(Duration::seconds(366 * DAY)));
        for bad in [0, -1, 366 * DAY + 1, 9_000_000_000_000, i64::MAX, i64::MIN] {
            let e = r.seconds(bad).unwrap_err();
            assert!(e.to_string().contains("access token lifetime"), "{e}");
        }
        assert!(LifetimeRange::REFRESH_GRACE.seconds(0).is_ok());
    }
}
