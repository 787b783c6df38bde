//! Throttles: how many attempts a key may make within a window.
//!
//! The counters live behind [`ThrottleRepository`], in the database, so
//! every node and every restart shares them. An attempt is *reserved* before
//! the work it guards (hashing a password, looking up a code): one
//! conditional statement counts it only while the key is under its limit,
//! so a burst of parallel attempts is counted as strictly as a sequence.
use chrono::{DateTime, Duration, Utc};

use crate::error::StoreError;
use crate::ports::{LoginReservation, ThrottleRepository, UserRepository};
use crate::types::{Digest, LoginName, UserId};

/// At most `max_attempts` within `window`, which starts at the first
/// attempt counted; then refused until the window has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Attempts allowed within the window.
    pub max_attempts: u32,
    /// How long the window lasts from its first attempt.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            window: Duration::minutes(15),
        }
    }
}

/// The throttle policies of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttles {
    /// Failed logins, per account (or per login name that names none).
    pub login: ThrottlePolicy,
    /// Wrong device user codes, per signed-in user.
    pub device_code: ThrottlePolicy,
    /// Self-service registrations per client address.
    pub registration_per_address: ThrottlePolicy,
    /// Self-service registrations in total.
    pub registration_total: ThrottlePolicy,
    /// Seed 003's calls that ask a provider or store a flow, per client
    /// address: each costs an upstream round trip or a row.
    pub upstream_per_address: ThrottlePolicy,
    /// Password recovery requests per client address.
    pub recovery_per_address: ThrottlePolicy,
    /// Password recovery requests per login name: a flood of mail to one
    /// person is refused however many addresses send it.
    pub recovery_per_name: ThrottlePolicy,
    /// Wrong second factors per account: a six-digit code has a million
    /// values, so a handful of guesses per window is all it may get.
    pub second_factor: ThrottlePolicy,
}

impl Default for Throttles {
    fn default() -> Self {
        Self {
            login: ThrottlePolicy::default(),
            device_code: ThrottlePolicy::default(),
            registration_per_address: ThrottlePolicy {
                max_attempts: 10,
                window: Duration::hours(1),
            },
            registration_total: ThrottlePolicy {
                max_attempts: 1_000,
                window: Duration::hours(1),
            },
            upstream_per_address: ThrottlePolicy {
                max_attempts: 30,
                window: Duration::minutes(10),
            },
            recovery_per_address: ThrottlePolicy {
                max_attempts: 10,
                window: Duration::hours(1),
            },
            recovery_per_name: ThrottlePolicy {
                max_attempts: 3,
                window: Duration::hours(1),
            },
            second_factor: ThrottlePolicy::default(),
        }
    }
}

/// What a throttle counts attempts against. A store keeps each variant in
/// columns of its own (see `auth-store`'s `throttles.rs`), never as a
/// string format, so no key is spelled out twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A sign-in's attempts on `account` from `source`, or from every
    /// source (`None`): the account-wide count a distributed guess runs
    /// into.
    Login {
        /// The account, however it was named; or the name, when it names
        /// none (so unknown names are throttled alike and reveal nothing).
        account: LoginTarget,
        /// Where the attempts come from.
        source: Option<AttemptSource>,
    },
    /// Wrong device user codes typed by a signed-in account.
    DeviceCode(UserId),
    /// Seed 003's calls that ask a provider or store a flow, from a client
    /// address.
    Upstream(String),
    /// Self-service registrations from a client address, or (`None`) in
    /// total.
    Registration(Option<String>),
    /// Password recovery requests from a client address.
    RecoveryFrom(String),
    /// Password recovery requests for a login name, whether or not it
    /// names an account (so the limit reveals nothing).
    RecoveryOf(LoginName),
    /// Wrong second factors (codes, recovery codes, keys) of an account.
    SecondFactor(UserId),
}

/// Whose sign-in attempts a [`ThrottleKey::Login`] counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginTarget {
    /// An account, by whichever name (or its id) it was reached.
    Account(UserId),
    /// A login name that names no account.
    Name(LoginName),
}

/// Where a sign-in attempt comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttemptSource {
    /// A client address.
    Address(String),
    /// A browser, by the digest of the device cookie it presented (OWASP's
    /// device cookies).
    Device(Digest),
}

impl LoginTarget {
    /// Whom a sign-in as `login` counts against: the account it found,
    /// however it was named (username or email), or the name itself when
    /// it names none.
    pub fn of(user: Option<UserId>, login: &LoginName) -> Self {
        match user {
            Some(id) => Self::Account(id),
            None => Self::Name(login.clone()),
        }
    }

    /// The key of the attempts from `source`; with `None`, the key every
    /// source's attempts count against too (with a limit ten times the
    /// per-source one: what a distributed guess runs into).
    pub fn key(&self, source: Option<AttemptSource>) -> ThrottleKey {
        ThrottleKey::Login {
            account: self.clone(),
            source,
        }
    }
}

/// The key a login's attempts from `source` count against. Five wrong
/// passwords from one address lock out that address, not the account's
/// owner elsewhere.
pub fn login_key(user: Option<UserId>, login: &LoginName, source: AttemptSource) -> ThrottleKey {
    LoginTarget::of(user, login).key(Some(source))
}

/// [`ThrottleRepository::reserve_login`] in two steps, the lookup then the
/// reservation: for a store that cannot do both in one statement.
pub async fn reserve_login_stepwise<S>(
    store: &S,
    login: &LoginName,
    source: AttemptSource,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<LoginReservation, StoreError>
where
    S: UserRepository + ThrottleRepository + ?Sized,
{
    let user = store.find_by_login(login).await?;
    let key = login_key(user.as_ref().map(|u| u.id), login, source);
    let allowed = store.reserve(&key, limit, window, now).await?;
    Ok(LoginReservation { user, allowed })
}
