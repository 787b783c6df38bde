//! Authorization codes and browser sessions as stored (by digest only).
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ClientId, CodeChallenge, Digest, FamilyId, RedirectUri, Scope, UserId};

/// An issued authorization code (RFC 6749 section 4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub digest: Digest,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub redirect_uri: RedirectUri,
    pub scope: Scope,
    pub challenge: Option<CodeChallenge>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
    /// What redeeming the code issued, so that a replay can revoke it
    /// (RFC 6749 section 4.1.2: "SHOULD revoke ... all tokens previously
    /// issued based on that authorization code").
    pub issued: Option<IssuedFromCode>,
    /// The authorization request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// When the user authenticated, for the ID token's `auth_time`.
    pub auth_time: Option<DateTime<Utc>>,
}

/// The tokens one redemption of a code produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedFromCode {
    pub family: Option<FamilyId>,
    pub access_token_id: Uuid,
    pub access_expires_at: DateTime<Utc>,
}

/// A signed-in browser (the SSO session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub digest: Digest,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}
