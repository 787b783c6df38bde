//! Tokens as the core sees them: access token claims, refresh token records,
//! signing keys, and what a successful grant hands back.
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ClientId, Digest, OpaqueToken, Scope, TokenGeneration, UserId};

/// Whom an access token acts for: an account, or, for a client's own
/// token (client credentials), the client. On the wire it is the `sub`
/// claim, the account's id or the client's id; [`Subject::from_claim`] is
/// the one place that reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An account's token.
    User(UserId),
    /// A client's own token.
    Client(ClientId),
}

impl Subject {
    /// Reads a `sub` claim back, knowing the token's client: the client's
    /// own id names the client (client ids may be UUIDs too), anything
    /// else must be an account's id. `None` for neither.
    pub fn from_claim(sub: &str, client: &ClientId) -> Option<Self> {
        if sub == client.as_str() {
            return Some(Self::Client(client.clone()));
        }
        Uuid::parse_str(sub)
            .ok()
            .map(|id| Self::User(UserId::new(id)))
    }

    /// The account, for an account's token.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Self::User(id) => Some(*id),
            Self::Client(_) => None,
        }
    }
}

impl std::fmt::Display for Subject {
    /// The `sub` claim.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(id) => id.fmt(f),
            Self::Client(id) => f.write_str(id.as_str()),
        }
    }
}

/// The claims of a self-contained access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// The issuer identifier (`iss`).
    pub issuer: String,
    /// Whom it acts for (`sub`).
    pub subject: Subject,
    /// The client the token was issued to; also its audience.
    pub client_id: ClientId,
    /// What the token allows.
    pub scope: Scope,
    /// When it was issued (`iat`).
    pub issued_at: DateTime<Utc>,
    /// When it expires (`exp`).
    pub expires_at: DateTime<Utc>,
    /// Unique id, used by the revocation list.
    pub token_id: Uuid,
    /// The refresh token family (the grant) the token was issued in, if
    /// any: revoking the family revokes the token too (RFC 7009 section 2.1).
    pub family: Option<FamilyId>,
    /// The token generation of the account it acts for (`gen`; the first,
    /// 0, when absent and for a client's own token).
    pub generation: TokenGeneration,
    /// With the `groups` scope, the account's groups by name, sorted, as
    /// they were when the token was issued (`groups`).
    pub groups: Option<Vec<String>>,
}

/// Refresh tokens of one lineage share a family id: replaying a rotated token
/// revokes the whole family (OAuth 2.0 Security BCP section 4.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FamilyId(Uuid);

impl FamilyId {
    /// The family with this id.
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }
    /// Its id.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

/// A stored refresh token (by digest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The SHA-256 digest of the token; the token itself is never stored.
    pub digest: Digest,
    /// The sign-in it belongs to, shared by every rotation.
    pub family: FamilyId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The account it acts for; `None` for a client's own.
    pub user_id: Option<UserId>,
    /// What it allows (the grant's scope, kept across rotations).
    pub scope: Scope,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When this token expires: a lifetime after its issue, but never after
    /// its family ends.
    pub expires_at: DateTime<Utc>,
    /// When the family ends, however often it is rotated: every successor
    /// inherits it from the token it replaces.
    pub family_expires_at: DateTime<Utc>,
    /// When it was presented and replaced by a successor.
    pub rotated_at: Option<DateTime<Utc>>,
    /// When it was revoked (by a client, a replay, the account's holder or an operator).
    pub revoked_at: Option<DateTime<Utc>>,
    /// The token this one replaced, if it was issued by a refresh.
    pub parent: Option<Digest>,
    /// Set (with `revoked_at`) when a retry of its parent replaced it
    /// before it was ever presented: whoever presents it later held a copy.
    pub superseded_at: Option<DateTime<Utc>>,
    /// The access token issued in the same answer, when a refresh issued
    /// it: superseding this token revokes that one too (the client never
    /// saw either).
    pub issued_with: Option<IssuedAccess>,
}

/// An access token's id and expiry, as the revocation list needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedAccess {
    /// The access token's `jti`.
    pub token_id: Uuid,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// A stored reference (opaque) access token, by digest only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// The SHA-256 digest of the token; the token itself is never stored.
    pub digest: Digest,
    /// Its id, as on the revocation list.
    pub token_id: Uuid,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// Whom it acts for.
    pub subject: Subject,
    /// What it allows.
    pub scope: Scope,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The refresh token family it was issued in, if any.
    pub family: Option<FamilyId>,
    /// The token generation of the account it acts for.
    pub generation: TokenGeneration,
}

impl AccessTokenRecord {
    /// The claims a self-contained token would have carried.
    pub fn claims(&self, issuer: &str) -> AccessClaims {
        AccessClaims {
            issuer: issuer.to_owned(),
            subject: self.subject.clone(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            token_id: self.token_id,
            family: self.family,
            generation: self.generation,
            // A reference token's groups are looked up when it is checked.
            groups: None,
        }
    }
}

/// What a signing key signs with, and so what it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// PASETO v4.public (Ed25519): access tokens.
    PasetoV4Public,
    /// JWS RS256 (RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys): ID tokens;
    /// OpenID Connect Core section 15.1 requires a provider to offer it.
    Rs256,
    /// JWS EdDSA (Ed25519): ID tokens for clients that register for it.
    EdDsa,
}

impl KeyAlgorithm {
    /// Every algorithm, each with a key ring of its own.
    pub const ALL: [Self; 3] = [Self::PasetoV4Public, Self::Rs256, Self::EdDsa];

    /// The name stored and shown: PASETO's version and purpose, or the JWS
    /// `alg` value (RFC 7518 section 3.1, RFC 8037 section 3.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasetoV4Public => "paseto-v4-public",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Whether keys of this algorithm sign JWS (ID tokens) rather than PASETO.
    pub fn is_jws(self) -> bool {
        !matches!(self, Self::PasetoV4Public)
    }
}

impl std::str::FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("unknown key algorithm {s:?} (expected paseto-v4-public, RS256 or EdDSA)")
            })
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signing key as stored: its id, algorithm, public key and secret key
/// material. A PASETO key is named by its PASERK id (`k4.pid`) and kept as
/// PASERKs; a JWS key is named by its RFC 7638 thumbprint, its public key
/// is its public JWK, its secret a PKCS#8 document in base64url.
#[derive(Clone)]
pub struct SigningKey {
    /// Its id: the PASERK id or the RFC 7638 thumbprint.
    pub key_id: String,
    /// What it signs with.
    pub algorithm: KeyAlgorithm,
    /// The public key as published (PASERK `k4.public` or a JWK).
    pub public_key: String,
    /// As stored: sealed (a PASETO v4.local token under the key-encryption
    /// key) or, once unsealed for use, the secret key.
    pub secret_key: OpaqueToken,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When the key starts signing. Until then it is only published, so
    /// resource servers that cache the key set know it before they meet it.
    pub activates_at: DateTime<Utc>,
}

impl SigningKey {
    /// Whether it may sign at `now` (its activation has come).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.activates_at <= now
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// What a successful grant hands back to the web layer.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The access token to hand the client.
    pub access_token: OpaqueToken,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// From issue to expiry.
    pub expires_in: chrono::Duration,
    /// The refresh token, when the grant issues one.
    pub refresh_token: Option<OpaqueToken>,
    /// The scope granted.
    pub scope: Scope,
    /// The account the tokens act for; `None` for a client's own.
    pub user_id: Option<UserId>,
    /// The access token's `jti`, for the revocation list.
    pub token_id: Uuid,
    /// The refresh token's family, when one was issued or kept.
    pub family: Option<FamilyId>,
    /// The OpenID Connect ID token, when `openid` was granted.
    pub id_token: Option<OpaqueToken>,
    /// What the issue amounts to for the security log, when it is worth a
    /// line: a password that signed in, an account an upstream sign-in
    /// created.
    pub event: Option<crate::events::SecurityEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_reads_back_as_it_was_written() {
        let app = ClientId::parse("app").unwrap();
        let uuid_client = ClientId::parse("0191c1d2-0000-7000-8000-000000000009").unwrap();
        let user = UserId::new(Uuid::parse_str("0191c1d2-0000-7000-8000-000000000001").unwrap());
        for (subject, client) in [
            (Subject::User(user), &app),
            (Subject::Client(app.clone()), &app),
            // A client whose id is a UUID is still the client.
            (Subject::Client(uuid_client.clone()), &uuid_client),
        ] {
            let claim = subject.to_string();
            assert_eq!(Subject::from_claim(&claim, client), Some(subject));
        }
        assert_eq!(Subject::from_claim("someone", &app), None);
        assert_eq!(Subject::User(user).user(), Some(user));
        assert_eq!(Subject::Client(app).user(), None);
    }
}
