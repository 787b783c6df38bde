//! The claims of an OpenID Connect ID token.
use chrono::{DateTime, Utc};

use super::{ClientId, UserId};

/// OpenID Connect Core section 2 (registered claims) and section 5.1
/// (standard claims, released by scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// The issuer (`iss`).
    pub issuer: String,
    /// The same subject as in access tokens and userinfo: the account.
    pub subject: UserId,
    /// The client; also `azp`.
    pub audience: ClientId,
    /// When it was issued (`iat`).
    pub issued_at: DateTime<Utc>,
    /// When it expires (`exp`, five minutes after issue).
    pub expires_at: DateTime<Utc>,
    /// When the user last authenticated (section 2, `auth_time`).
    pub auth_time: Option<DateTime<Utc>>,
    /// How the user authenticated (RFC 8176 `amr`); empty: not said.
    pub amr: Vec<&'static str>,
    /// The level that sign-in reached (`acr`).
    pub acr: Option<&'static str>,
    /// Exactly the `nonce` of the authorization request; none invented.
    pub nonce: Option<String>,
    /// `at_hash` (section 3.1.3.6): the left half of the SHA-256 of the
    /// access token issued with it, base64url.
    pub access_token_hash: Option<String>,
    /// Released with the `profile` scope.
    pub profile: IdTokenProfile,
    /// Released with the `email` scope, when the account has an email.
    pub email: Option<IdTokenEmail>,
    /// Released with the `groups` scope: the account's groups by name,
    /// sorted (empty when it is in none).
    pub groups: Option<Vec<String>>,
}

/// What an `id_token_hint` says, once its signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    /// Its `iss`: must be this server.
    pub issuer: String,
    /// Its `sub`: the account it was issued for.
    pub subject: UserId,
    /// Its `aud`: the client it was issued to.
    pub audience: String,
}

/// The `profile` scope's claims this server knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdTokenProfile {
    /// The full name: given and family names joined.
    pub name: Option<String>,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub family_name: Option<String>,
    /// The username.
    pub preferred_username: Option<String>,
    /// When the profile last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The `email` scope's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenEmail {
    /// The account's email.
    pub address: String,
    /// This server does not verify addresses yet: always `false`.
    pub verified: bool,
}
