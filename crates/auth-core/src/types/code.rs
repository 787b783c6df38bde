//! Authorization codes and browser sessions as stored (by digest only).
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ClientId, CodeChallenge, Digest, FamilyId, RedirectUri, Scope, UserId};

/// An issued authorization code (RFC 6749 section 4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// The SHA-256 digest of the code; the code itself is never stored.
    pub digest: Digest,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The account that signed in.
    pub user_id: UserId,
    /// The redirect URI of the request; the redemption must name the same.
    pub redirect_uri: RedirectUri,
    /// The scope granted.
    pub scope: Scope,
    /// The PKCE challenge the redemption's verifier must meet.
    pub challenge: Option<CodeChallenge>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it can no longer be redeemed (300 seconds after issue).
    pub expires_at: DateTime<Utc>,
    /// When it was redeemed; a second redemption is a replay.
    pub consumed_at: Option<DateTime<Utc>>,
    /// What redeeming the code issued, so that a replay can revoke it
    /// (RFC 6749 section 4.1.2: "SHOULD revoke ... all tokens previously
    /// issued based on that authorization code").
    pub issued: Option<IssuedFromCode>,
    /// The authorization request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// When the user authenticated, for the ID token's `auth_time`.
    pub auth_time: Option<DateTime<Utc>>,
    /// How they authenticated, for the ID token's `amr` and `acr`.
    pub methods: super::AuthMethods,
}

/// The tokens one redemption of a code produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedFromCode {
    /// The refresh token family it started, if any.
    pub family: Option<FamilyId>,
    /// The access token's id, for the revocation list.
    pub access_token_id: Uuid,
    /// When that access token expires (how long it stays listed).
    pub access_expires_at: DateTime<Utc>,
}

/// A signed-in browser (the SSO session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    /// The SHA-256 digest of the session id in the cookie.
    pub digest: Digest,
    /// The account signed in.
    pub user_id: UserId,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
    /// When it was last seen (written at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// Where and how it signed in, for its owner to tell it apart.
    pub origin: SessionOrigin,
    /// How it authenticated (RFC 8176 methods): what a client's required
    /// level is checked against.
    pub methods: super::AuthMethods,
}

/// Where a browser session signed in: shown to its owner, never a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOrigin {
    /// The browser's `User-Agent`, at most 256 characters.
    pub user_agent: Option<String>,
    /// The client address.
    pub address: Option<String>,
    /// How it signed in: `password`, or the provider's name.
    pub method: Option<String>,
}

impl SessionOrigin {
    /// An origin with `user_agent` cut to 256 characters and stripped of
    /// control characters (it is the browser's to write).
    pub fn new(user_agent: Option<&str>, address: &str, method: &str) -> Self {
        Self {
            user_agent: user_agent
                .map(|ua| ua.chars().filter(|c| !c.is_control()).take(256).collect()),
            address: Some(address.to_owned()),
            method: Some(method.to_owned()),
        }
    }
}
