//! Throttling of failed logins, per login name.
//!
//! After `max_failures` failed attempts within `window`, further attempts
//! for that login are refused until the window has passed since the first
//! failure. Unknown and known logins are throttled alike, so the throttle
//! reveals nothing about accounts. The state lives in this process: with
//! several nodes each keeps its own count.
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::minutes(15),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    since: DateTime<Utc>,
}

/// Bounded: past this many tracked logins, stale entries are dropped.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

fn key(login: &str) -> String {
    login.trim().to_lowercase()
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::default(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> R) -> R {
        let mut guard = match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub fn is_blocked(&self, login: &str, now: DateTime<Utc>) -> bool {
        let policy = self.policy;
        self.with(|m| {
            m.get(&key(login))
                .is_some_and(|e| e.failures >= policy.max_failures && now - e.since < policy.window)
        })
    }

    pub fn record_failure(&self, login: &str, now: DateTime<Utc>) {
        let policy = self.policy;
        self.with(|m| {
            if m.len() >= MAX_TRACKED {
                m.retain(|_, e| now - e.since < policy.window);
            }
            let e = m.entry(key(login)).or_insert(Entry {
                failures: 0,
                since: now,
            });
            if now - e.since >= policy.window {
                *e = Entry {
                    failures: 0,
                    since: now,
                };
            }
            e.failures += 1;
        });
    }

    pub fn clear(&self, login: &str) {
        self.with(|m| m.remove(&key(login)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::fakes::t0;

    #[test]
    fn blocks_after_the_limit_until_the_window_passes() {
        let t = LoginThrottle::new(ThrottlePolicy {
            max_failures: 3,
            window: Duration::minutes(10),
        });
        for i in 0..3 {
            assert!(!t.is_blocked("Alice", t0()), "attempt {i}");
            t.record_failure("alice", t0() + Duration::seconds(i));
        }
        assert!(t.is_blocked("ALICE", t0() + Duration::minutes(5)));
        assert!(!t.is_blocked("bob", t0()));
        assert!(!t.is_blocked("alice", t0() + Duration::minutes(10)));
        t.record_failure("bob", t0());
        t.clear("bob");
        assert!(!t.is_blocked("bob", t0()));
    }
}
