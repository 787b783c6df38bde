//! The claims of an OpenID Connect ID token.
use chrono::{DateTime, Utc};

use super::ClientId;

/// OpenID Connect Core section 2 (registered claims) and section 5.1
/// (standard claims, released by scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenClaims {
    pub issuer: String,
    /// The same subject as in access tokens and userinfo: the user id.
    pub subject: String,
    /// The client; also `azp`.
    pub audience: ClientId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the user last authenticated (section 2, `auth_time`).
    pub auth_time: Option<DateTime<Utc>>,
    /// Exactly the `nonce` of the authorization request; none invented.
    pub nonce: Option<String>,
    /// `at_hash` (section 3.1.3.6): the left half of the SHA-256 of the
    /// access token issued with it, base64url.
    pub access_token_hash: Option<String>,
    /// Released with the `profile` scope.
    pub profile: IdTokenProfile,
    /// Released with the `email` scope, when the account has an email.
    pub email: Option<IdTokenEmail>,
}

/// What an `id_token_hint` says, once its signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

/// The `profile` scope's claims this server knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdTokenProfile {
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub preferred_username: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The `email` scope's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenEmail {
    pub address: String,
    /// This server does not verify addresses yet: always `false`.
    pub verified: bool,
}
