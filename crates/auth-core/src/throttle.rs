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
use crate::types::{LoginName, UserId};

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
        }
    }
}

/// The start of an account's login key; its id follows. A store that
/// finds the account and counts the attempt in one statement
/// ([`ThrottleRepository::reserve_login`]) builds the key from it.
pub const LOGIN_ACCOUNT_PREFIX: &str = "login:user:";

/// The key a login's attempts from the client address `from` count
/// against: the account, however it is named (username or email), or the
/// name itself when it names none (so unknown names are throttled alike
/// and reveal nothing), at that address. Five wrong passwords from one
/// address lock that address out, not the account's owner elsewhere.
pub fn login_key(user: Option<UserId>, login: &str, from: &str) -> String {
    format!("{}{}{from}", account_key(user, login), ADDRESS_SEPARATOR)
}

/// Between a login key's account and its address: a character no account
/// id or login name holds.
pub const ADDRESS_SEPARATOR: &str = " ";

/// The key every address's attempts on one account count against too,
/// with a limit ten times the per-address one: what a distributed guess
/// runs into.
pub fn account_key(user: Option<UserId>, login: &str) -> String {
    match user {
        Some(id) => format!("{LOGIN_ACCOUNT_PREFIX}{id}"),
        None => format!("login:name:{login}"),
    }
}

/// [`ThrottleRepository::reserve_login`] in two steps, the lookup then the
/// reservation: for a store that cannot do both in one statement.
pub async fn reserve_login_stepwise<S>(
    store: &S,
    login: &LoginName,
    from: &str,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<LoginReservation, StoreError>
where
    S: UserRepository + ThrottleRepository + ?Sized,
{
    let user = store.find_by_login(login).await?;
    let key = login_key(user.as_ref().map(|u| u.id), login.as_str(), from);
    let allowed = store.reserve(&key, limit, window, now).await?;
    Ok(LoginReservation { user, allowed })
}

/// The key a user's device-code attempts count against.
pub(crate) fn device_code_key(user: UserId) -> String {
    format!("device-code:{user}")
}

/// The key seed 003's upstream calls from `address` count against.
pub(crate) fn upstream_key(address: &str) -> String {
    format!("upstream:address:{address}")
}

/// The key registrations from `address` count against, or with `None` the
/// one every registration counts against.
pub(crate) fn registration_key(address: Option<&str>) -> String {
    match address {
        Some(a) => format!("register:address:{a}"),
        None => "register:all".to_owned(),
    }
}
