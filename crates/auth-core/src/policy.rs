//! Token lifetimes and refresh behaviour.
use chrono::Duration;

use crate::types::Client;

/// What presenting a refresh token does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMode {
    /// Each use returns a new refresh token and retires the old one; replaying
    /// a retired token revokes the family. The default.
    Rotate,
    /// The refresh token stays the same for its lifetime, for dialects whose
    /// documents promise that.
    Reuse,
}

impl RefreshMode {
    /// The mode's name in settings and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rotate => "rotate",
            Self::Reuse => "reuse",
        }
    }

    /// The mode named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rotate" => Some(Self::Rotate),
            "reuse" => Some(Self::Reuse),
            _ => None,
        }
    }
}

/// Server-wide token policy; a client may override parts of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// How long an access token lives (one hour by default).
    pub access_token_ttl: Duration,
    /// How long a refresh token lives from its issue (each rotation issues a new one).
    pub refresh_token_ttl: Duration,
    /// How long a refresh token family lives at most from the grant that
    /// started it, however often it is rotated; then the user signs in again.
    pub refresh_family_lifetime: Duration,
    /// How long an authorization code may be redeemed (300 seconds).
    pub authorization_code_ttl: Duration,
    /// Whether refresh tokens rotate (the default) or stay.
    pub refresh_mode: RefreshMode,
    /// The retry window: how long after a rotation the old refresh token may
    /// be presented again without counting as a replay, for a client that
    /// never received the answer (a crash, a timeout, a reset connection).
    /// It gets a fresh pair, and the successor it never saw is superseded,
    /// so at most one successor is ever live; a superseded token presented
    /// later revokes the family. Zero turns retries off.
    pub refresh_grace: Duration,
    /// How long a browser stays signed in at most.
    pub session_lifetime: Duration,
    /// How long a browser stays signed in without being seen.
    pub session_idle_timeout: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::hours(1),
            refresh_token_ttl: Duration::days(90),
            refresh_family_lifetime: Duration::days(365),
            authorization_code_ttl: Duration::seconds(300),
            refresh_mode: RefreshMode::Rotate,
            refresh_grace: Duration::seconds(10),
            session_lifetime: Duration::hours(12),
            session_idle_timeout: Duration::hours(2),
        }
    }
}

impl TokenPolicy {
    /// The access token lifetime for `client`: its own, or the policy's.
    pub fn access_ttl_for(&self, client: &Client) -> Duration {
        client.access_token_ttl.unwrap_or(self.access_token_ttl)
    }

    /// The refresh mode for `client`: its own, or the policy's.
    pub fn refresh_mode_for(&self, client: &Client) -> RefreshMode {
        client.refresh_mode.unwrap_or(self.refresh_mode)
    }
}
