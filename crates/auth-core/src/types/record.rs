//! What the admin API reads and writes of an account besides the account
//! itself: its version, which a conditional write names (the ETag an
//! `If-Match` carries back), and when it last changed.
use chrono::{DateTime, Utc};

use super::{User, UserId};

/// A resource's version: any change makes a new one, whichever path made
/// it, so a write conditional on the version a caller saw fails if anything
/// changed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    /// The version numbered `n`.
    pub fn new(n: u64) -> Self {
        Self(n)
    }

    /// Its number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An account with its version and the time of its last change.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The account.
    pub user: User,
    /// Its version.
    pub version: Version,
    /// When it last changed; `None` if never since it was created.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A client's registration with its version.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    /// The registration.
    pub client: super::Client,
    /// Its version.
    pub version: Version,
}

/// What an operator changes of an account in one conditional write; a field
/// left `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    /// First name (`Some(None)` removes it).
    pub given_name: Option<Option<String>>,
    /// Last name (`Some(None)` removes it).
    pub family_name: Option<Option<String>>,
    /// Disabled (`true`) or enabled; disabling signs the account out
    /// everywhere in the same write.
    pub disabled: Option<bool>,
    /// Whether its email address counts as verified.
    pub email_verified: Option<bool>,
}

impl AccountChange {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What became of a write conditional on a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    /// It was made; here is the result.
    Done(T),
    /// The resource changed since the version named: nothing was written.
    Stale,
    /// There is no such resource.
    Missing,
}

/// One page of the account listing, in creation order: the accounts after
/// `after` (the creation time and id of the last one seen), at most `limit`,
/// whose username or email starts with `search` where given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    /// Where the previous page ended.
    pub after: Option<(DateTime<Utc>, UserId)>,
    /// How many accounts at most.
    pub limit: u32,
    /// A prefix of the username or email, in the form login names are
    /// stored in (lower case).
    pub search: Option<String>,
}
