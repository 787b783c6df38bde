//! Row types and their conversion to and from domain types. A row that does
//! not convert is corrupt: it becomes a backend error, never a panic.
use auth_core::error::StoreError;
use auth_core::policy::RefreshMode;
use auth_core::types::{
    AccessTokenRecord, AuthMethods, AuthorizationCode, BrowserSession, ChallengeMethod, Client,
    ClientAuth, ClientId, ClientMfa, CodeChallenge, Dialect, Digest, Email, FamilyId, GrantType,
    GroupId, IssuedAccess, IssuedFromCode, KeyAlgorithm, OpaqueToken, PasswordHash, RedirectUri,
    RefreshTokenRecord, Scope, SessionOrigin, SigningKey, Subject, TokenFormat, TokenGeneration,
    User, UserId, Username, WebOrigin,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{
    access_tokens, authorization_codes, clients, refresh_tokens, sessions, signing_keys, users,
};

#[derive(Debug, thiserror::Error)]
#[error("corrupt {table} row: {detail}")]
pub(crate) struct CorruptRow {
    table: &'static str,
    detail: String,
}

pub(crate) fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::backend(CorruptRow {
        table,
        detail: detail.to_string(),
    })
}

pub(crate) fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub token_generation: i32,
    pub email_verified: bool,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.as_str().to_owned(),
            email: u.email.as_ref().map(|e| e.as_str().to_owned()),
            password_hash: u.password_hash.as_ref().map(|h| h.as_str().to_owned()),
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            disabled: u.disabled,
            created_at: naive(u.created_at),
            token_generation: generation_column(u.token_generation),
            email_verified: u.email_verified,
        }
    }
}

/// A token generation as its `INTEGER` column holds it: a count that grows
/// by one per sign-out everywhere cannot reach 2^31 in practice, and one
/// that did would stay at the top, refusing nothing old as new.
pub(crate) fn generation_column(generation: TokenGeneration) -> i32 {
    i32::try_from(generation.get()).unwrap_or(i32::MAX)
}

fn generation_of(column: i32, table: &'static str) -> Result<TokenGeneration, StoreError> {
    u32::try_from(column)
        .map(TokenGeneration::new)
        .map_err(|e| corrupt(table, e))
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("users", e);
        Ok(User {
            id: UserId::new(Uuid::parse_str(&r.id).map_err(|e| bad(&e))?),
            username: Username::parse(&r.username).map_err(|e| bad(&e))?,
            email: r
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|e| bad(&e))?,
            password_hash: r.password_hash.map(PasswordHash::new),
            given_name: r.given_name,
            family_name: r.family_name,
            disabled: r.disabled,
            created_at: utc(r.created_at),
            token_generation: generation_of(r.token_generation, "users")?,
            email_verified: r.email_verified,
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = clients)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub(crate) struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_digest: Option<Vec<u8>>,
    /// Space-separated: a URI cannot contain a space.
    pub redirect_uris: String,
    pub grant_types: String,
    pub scope: String,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_mode: Option<String>,
    /// An update keeps the registration's creation time.
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub first_party: bool,
    pub legacy_token_redirect: bool,
    pub allow_plain_pkce: bool,
    /// The JWS `alg` of its ID tokens; `NULL` (clients from before) is RS256.
    pub id_token_algorithm: Option<String>,
    /// Space-separated, as `redirect_uris`.
    pub post_logout_redirect_uris: String,
    pub token_format: String,
    /// Space-separated client ids: a client id holds no space.
    pub audiences: String,
    /// Space-separated dialect names.
    pub dialects: String,
    /// Space-separated origins; `NULL`: derived from the redirect URIs.
    pub allowed_origins: Option<String>,
    pub require_verified_email: bool,
    pub mfa: String,
    /// Space-separated group ids.
    pub allowed_groups: String,
    pub admin: bool,
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> Self {
        let join = |items: Vec<&str>| items.join(" ");
        Self {
            id: c.id.as_str().to_owned(),
            name: c.name.clone(),
            secret_digest: match &c.auth {
                ClientAuth::Confidential { secret_digest } => {
                    Some(secret_digest.as_bytes().to_vec())
                }
                ClientAuth::Public => None,
            },
            redirect_uris: join(c.redirect_uris.iter().map(RedirectUri::as_str).collect()),
            grant_types: join(c.grant_types.iter().map(|g| g.as_str()).collect()),
            scope: c.scope.to_string(),
            access_token_ttl_secs: c.access_token_ttl.map(|d| d.num_seconds()),
            refresh_mode: c.refresh_mode.map(|m| m.as_str().to_owned()),
            created_at: naive(c.created_at),
            first_party: c.first_party,
            legacy_token_redirect: c.speaks(Dialect::RedirectLogin),
            allow_plain_pkce: c.allow_plain_pkce,
            id_token_algorithm: Some(c.id_token_algorithm.as_str().to_owned()),
            post_logout_redirect_uris: join(
                c.post_logout_redirect_uris
                    .iter()
                    .map(RedirectUri::as_str)
                    .collect(),
            ),
            token_format: c.token_format.as_str().to_owned(),
            audiences: join(c.audiences.iter().map(ClientId::as_str).collect()),
            dialects: join(c.dialects.iter().map(|d| d.as_str()).collect()),
            require_verified_email: c.require_verified_email,
            admin: c.admin,
            mfa: c.mfa.as_str().to_owned(),
            allowed_groups: c
                .allowed_groups
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            allowed_origins: c
                .allowed_origins
                .as_ref()
                .map(|all| join(all.iter().map(WebOrigin::as_str).collect())),
        }
    }
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("clients", e);
        let auth = match r.secret_digest {
            Some(bytes) => ClientAuth::Confidential {
                secret_digest: Digest::from_slice(&bytes).ok_or_else(|| bad(&"digest length"))?,
            },
            None => ClientAuth::Public,
        };
        Ok(Client {
            id: ClientId::parse(&r.id).map_err(|e| bad(&e))?,
            name: r.name,
            auth,
            redirect_uris: r
                .redirect_uris
                .split_whitespace()
                .map(RedirectUri::from_stored)
                .collect(),
            post_logout_redirect_uris: r
                .post_logout_redirect_uris
                .split_whitespace()
                .map(RedirectUri::from_stored)
                .collect(),
            grant_types: r
                .grant_types
                .split_whitespace()
                .map(str::parse::<GrantType>)
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&e))?,
            scope: Scope::parse(&r.scope).map_err(|e| bad(&e))?,
            access_token_ttl: r.access_token_ttl_secs.map(chrono::Duration::seconds),
            refresh_mode: r
                .refresh_mode
                .map(|m| RefreshMode::parse(&m).ok_or_else(|| bad(&m)))
                .transpose()?,
            first_party: r.first_party,
            dialects: r
                .dialects
                .split_whitespace()
                .map(|d| Dialect::parse(d).ok_or_else(|| bad(&d)))
                .collect::<Result<_, _>>()?,
            allow_plain_pkce: r.allow_plain_pkce,
            id_token_algorithm: match r.id_token_algorithm {
                Some(a) => a.parse().map_err(|e: String| bad(&e))?,
                None => KeyAlgorithm::Rs256,
            },
            token_format: TokenFormat::parse(&r.token_format)
                .ok_or_else(|| bad(&r.token_format))?,
            audiences: r
                .audiences
                .split_whitespace()
                .map(ClientId::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&e))?,
            require_verified_email: r.require_verified_email,
            admin: r.admin,
            mfa: ClientMfa::parse(&r.mfa).ok_or_else(|| bad(&"unknown mfa setting"))?,
            allowed_groups: r
                .allowed_groups
                .split_whitespace()
                .map(|g| GroupId::parse(g).ok_or_else(|| bad(&g)))
                .collect::<Result<_, _>>()?,
            allowed_origins: r
                .allowed_origins
                .map(|all| {
                    all.split_whitespace()
                        .map(WebOrigin::parse)
                        .collect::<Result<_, _>>()
                })
                .transpose()
                .map_err(|e| bad(&e))?,
            created_at: utc(r.created_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
// None is NULL, not "the column's default": the statement's text then
// never depends on the values, so Diesel prepares it once per connection
// and finds it again by type instead of rebuilding the SQL each time.
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct RefreshRow {
    pub digest: Vec<u8>,
    pub family_id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub rotated_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub family_expires_at: NaiveDateTime,
    pub parent_digest: Option<Vec<u8>>,
    pub superseded_at: Option<NaiveDateTime>,
    pub access_token_id: Option<String>,
    pub access_expires_at: Option<NaiveDateTime>,
}

impl From<&RefreshTokenRecord> for RefreshRow {
    fn from(r: &RefreshTokenRecord) -> Self {
        Self {
            digest: r.digest.as_bytes().to_vec(),
            family_id: r.family.as_uuid().to_string(),
            client_id: r.client_id.as_str().to_owned(),
            user_id: r.user_id.map(|u| u.to_string()),
            scope: r.scope.to_string(),
            issued_at: naive(r.issued_at),
            expires_at: naive(r.expires_at),
            family_expires_at: naive(r.family_expires_at),
            parent_digest: r.parent.as_ref().map(|d| d.as_bytes().to_vec()),
            superseded_at: r.superseded_at.map(naive),
            access_token_id: r.issued_with.map(|a| a.token_id.to_string()),
            access_expires_at: r.issued_with.map(|a| naive(a.expires_at)),
            rotated_at: r.rotated_at.map(naive),
            revoked_at: r.revoked_at.map(naive),
        }
    }
}

impl TryFrom<RefreshRow> for RefreshTokenRecord {
    type Error = StoreError;

    fn try_from(r: RefreshRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("refresh_tokens", e);
        Ok(RefreshTokenRecord {
            digest: Digest::from_slice(&r.digest).ok_or_else(|| bad(&"digest length"))?,
            family: FamilyId::new(Uuid::parse_str(&r.family_id).map_err(|e| bad(&e))?),
            client_id: ClientId::parse(&r.client_id).map_err(|e| bad(&e))?,
            user_id: r
                .user_id
                .map(|u| Uuid::parse_str(&u).map(UserId::new))
                .transpose()
                .map_err(|e| bad(&e))?,
            scope: Scope::parse(&r.scope).map_err(|e| bad(&e))?,
            issued_at: utc(r.issued_at),
            expires_at: utc(r.expires_at),
            family_expires_at: utc(r.family_expires_at),
            parent: r
                .parent_digest
                .map(|d| Digest::from_slice(&d).ok_or_else(|| bad(&"parent digest length")))
                .transpose()?,
            superseded_at: r.superseded_at.map(utc),
            issued_with: match (r.access_token_id, r.access_expires_at) {
                (Some(id), Some(at)) => Some(IssuedAccess {
                    token_id: Uuid::parse_str(&id).map_err(|e| bad(&e))?,
                    expires_at: utc(at),
                }),
                _ => None,
            },
            rotated_at: r.rotated_at.map(utc),
            revoked_at: r.revoked_at.map(utc),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct KeyRow {
    pub key_id: String,
    pub public_paserk: String,
    pub secret_paserk: String,
    pub created_at: NaiveDateTime,
    /// `NULL` for keys from before rotation existed: active since creation.
    pub activates_at: Option<NaiveDateTime>,
    pub algorithm: String,
}

impl From<&SigningKey> for KeyRow {
    fn from(k: &SigningKey) -> Self {
        Self {
            key_id: k.key_id.clone(),
            public_paserk: k.public_key.clone(),
            secret_paserk: k.secret_key.expose().to_owned(),
            created_at: naive(k.created_at),
            activates_at: Some(naive(k.activates_at)),
            algorithm: k.algorithm.as_str().to_owned(),
        }
    }
}

impl TryFrom<KeyRow> for SigningKey {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(SigningKey {
            algorithm: r
                .algorithm
                .parse()
                .map_err(|e: String| corrupt("signing_keys", e))?,
            key_id: r.key_id,
            public_key: r.public_paserk,
            secret_key: OpaqueToken::new(r.secret_paserk),
            created_at: utc(r.created_at),
            activates_at: utc(r.activates_at.unwrap_or(r.created_at)),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
// None is NULL, not "the column's default": the statement's text then
// never depends on the values, so Diesel prepares it once per connection
// and finds it again by type instead of rebuilding the SQL each time.
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct CodeRow {
    pub digest: Vec<u8>,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub consumed_at: Option<NaiveDateTime>,
    pub issued_family_id: Option<String>,
    pub issued_access_token_id: Option<String>,
    pub issued_access_expires_at: Option<NaiveDateTime>,
    pub nonce: Option<String>,
    pub auth_time: Option<NaiveDateTime>,
    pub amr: String,
}

impl From<&AuthorizationCode> for CodeRow {
    fn from(c: &AuthorizationCode) -> Self {
        Self {
            digest: c.digest.as_bytes().to_vec(),
            client_id: c.client_id.as_str().to_owned(),
            user_id: c.user_id.to_string(),
            redirect_uri: c.redirect_uri.as_str().to_owned(),
            scope: c.scope.to_string(),
            code_challenge: c.challenge.as_ref().map(|ch| ch.value().to_owned()),
            code_challenge_method: c
                .challenge
                .as_ref()
                .map(|ch| ch.method().as_str().to_owned()),
            issued_at: naive(c.issued_at),
            expires_at: naive(c.expires_at),
            consumed_at: c.consumed_at.map(naive),
            issued_family_id: c
                .issued
                .and_then(|i| i.family)
                .map(|f| f.as_uuid().to_string()),
            issued_access_token_id: c.issued.map(|i| i.access_token_id.to_string()),
            issued_access_expires_at: c.issued.map(|i| naive(i.access_expires_at)),
            nonce: c.nonce.clone(),
            auth_time: c.auth_time.map(naive),
            amr: c.methods.to_stored(),
        }
    }
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;

    fn try_from(r: CodeRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("authorization_codes", e);
        let uuid = |s: &str| Uuid::parse_str(s).map_err(|e| bad(&e));
        let challenge = match (r.code_challenge, r.code_challenge_method) {
            (Some(value), Some(method)) => Some(
                ChallengeMethod::parse(&method)
                    .and_then(|m| CodeChallenge::parse(&value, m))
                    .map_err(|e| bad(&e))?,
            ),
            _ => None,
        };
        let issued = match (r.issued_access_token_id, r.issued_access_expires_at) {
            (Some(id), Some(at)) => Some(IssuedFromCode {
                family: r
                    .issued_family_id
                    .map(|f| uuid(&f).map(FamilyId::new))
                    .transpose()?,
                access_token_id: uuid(&id)?,
                access_expires_at: utc(at),
            }),
            _ => None,
        };
        Ok(AuthorizationCode {
            digest: Digest::from_slice(&r.digest).ok_or_else(|| bad(&"digest length"))?,
            client_id: ClientId::parse(&r.client_id).map_err(|e| bad(&e))?,
            user_id: UserId::new(uuid(&r.user_id)?),
            redirect_uri: RedirectUri::from_stored(&r.redirect_uri),
            scope: Scope::parse(&r.scope).map_err(|e| bad(&e))?,
            challenge,
            issued_at: utc(r.issued_at),
            expires_at: utc(r.expires_at),
            consumed_at: r.consumed_at.map(utc),
            issued,
            nonce: r.nonce,
            auth_time: r.auth_time.map(utc),
            methods: AuthMethods::from_stored(&r.amr),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
// None is NULL, not "the column's default": the statement's text then
// never depends on the values, so Diesel prepares it once per connection
// and finds it again by type instead of rebuilding the SQL each time.
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct SessionRow {
    pub digest: Vec<u8>,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub signed_in_with: Option<String>,
    pub amr: String,
}

impl From<&BrowserSession> for SessionRow {
    fn from(s: &BrowserSession) -> Self {
        Self {
            digest: s.digest.as_bytes().to_vec(),
            user_id: s.user_id.to_string(),
            created_at: naive(s.created_at),
            expires_at: naive(s.expires_at),
            last_seen_at: naive(s.last_seen_at),
            user_agent: s.origin.user_agent.clone(),
            address: s.origin.address.clone(),
            signed_in_with: s.origin.method.clone(),
            amr: s.methods.to_stored(),
        }
    }
}

impl TryFrom<SessionRow> for BrowserSession {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("sessions", e);
        Ok(BrowserSession {
            digest: Digest::from_slice(&r.digest).ok_or_else(|| bad(&"digest length"))?,
            user_id: UserId::new(Uuid::parse_str(&r.user_id).map_err(|e| bad(&e))?),
            created_at: utc(r.created_at),
            expires_at: utc(r.expires_at),
            last_seen_at: utc(r.last_seen_at),
            origin: SessionOrigin {
                user_agent: r.user_agent,
                address: r.address,
                method: r.signed_in_with,
            },
            methods: AuthMethods::from_stored(&r.amr),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = access_tokens)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
// None is NULL, not "the column's default": the statement's text then
// never depends on the values, so Diesel prepares it once per connection
// and finds it again by type instead of rebuilding the SQL each time.
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct AccessRow {
    pub digest: Vec<u8>,
    pub token_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub family_id: Option<String>,
    pub generation: i32,
}

impl From<&AccessTokenRecord> for AccessRow {
    fn from(a: &AccessTokenRecord) -> Self {
        Self {
            digest: a.digest.as_bytes().to_vec(),
            token_id: a.token_id.to_string(),
            client_id: a.client_id.as_str().to_owned(),
            subject: a.subject.to_string(),
            scope: a.scope.to_string(),
            issued_at: naive(a.issued_at),
            expires_at: naive(a.expires_at),
            family_id: a.family.map(|f| f.as_uuid().to_string()),
            generation: generation_column(a.generation),
        }
    }
}

impl TryFrom<AccessRow> for AccessTokenRecord {
    type Error = StoreError;

    fn try_from(r: AccessRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("access_tokens", e);
        let client_id = ClientId::parse(&r.client_id).map_err(|e| bad(&e))?;
        Ok(AccessTokenRecord {
            digest: Digest::from_slice(&r.digest).ok_or_else(|| bad(&"digest length"))?,
            token_id: Uuid::parse_str(&r.token_id).map_err(|e| bad(&e))?,
            subject: Subject::from_claim(&r.subject, &client_id)
                .ok_or_else(|| bad(&"subject names neither the client nor an account"))?,
            client_id,
            scope: Scope::parse(&r.scope).map_err(|e| bad(&e))?,
            issued_at: utc(r.issued_at),
            expires_at: utc(r.expires_at),
            family: r
                .family_id
                .map(|f| Uuid::parse_str(&f).map(FamilyId::new))
                .transpose()
                .map_err(|e| bad(&e))?,
            generation: generation_of(r.generation, "access_tokens")?,
        })
    }
}
