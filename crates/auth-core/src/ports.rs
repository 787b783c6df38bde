//! Ports: the traits through which the core reaches storage, cryptography,
//! randomness and time. Adapters live in other crates.
//!
//! Every step that must not race is a single port method (for example
//! `TokenRepository::rotate_refresh`), implemented by the store as one
//! conditional statement, so two requests cannot both win.
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{CryptoError, StoreError, UpstreamError};
use crate::throttle::{AttemptSource, ThrottleKey};
use crate::types::{
    AccessClaims, AccessTokenRecord, AccountChange, AuthorizationCode, BrowserSession, Ceremony,
    Client, ClientId, ClientRecord, DeviceAuthorization, DevicePoll, DeviceStatus, Digest, Email,
    EmailLink, Factor, FactorId, FamilyId, FederatedLink, IdTokenClaims, IdTokenHint,
    IssuedFromCode, KeyAlgorithm, Letter, LinkEffect, LinkPurpose, LoginName, NewClient, NewUser,
    OpaqueToken, OutboxEntry, PasskeyRecord, Password, PasswordHash, ProviderName, Redeemed,
    RefreshTokenRecord, Scope, SigningKey, TotpRecord, UpstreamDevice, UpstreamIdentity,
    UpstreamSubject, User, UserId, UserListing, UserRecord, Version, Written,
};

/// The current time. Flows take `now` as an argument; only the edges ask a clock.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// A source of unguessable values.
pub trait RandomSource: Send + Sync {
    /// A 256-bit random token, URL-safe.
    fn token(&self) -> OpaqueToken;
    /// A random UUID (version 4).
    fn uuid(&self) -> Uuid;
}

/// Digests of bearer secrets; verification compares in constant time.
pub trait SecretDigest: Send + Sync {
    /// The digest under which `secret` is stored.
    fn digest(&self, secret: &str) -> Digest;
    /// Whether `secret` has the digest `expected`, compared in constant time.
    fn verify(&self, secret: &str, expected: &Digest) -> bool;
}

/// Password hashing. Implementations must not block the async executor.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password for storage (argon2id in production).
    async fn hash(&self, password: &Password) -> Result<PasswordHash, CryptoError>;
    /// Verifies `password` against `hash`. With `None` (unknown user) it still
    /// spends the time of one verification and returns `false`, so response
    /// time does not reveal whether an account exists.
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, CryptoError>;
}

/// Why an access token was not accepted. Deliberately coarse: a resource
/// server needs to know "no", and the log may want to know why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("the token is malformed")]
    /// Not a token of a known format.
    Malformed,
    #[error("the token was signed by an unknown key")]
    /// Its key id names no published key.
    UnknownKey,
    #[error("the token signature or claims are invalid")]
    /// The signature or a claim (issuer, audience, not-before) is wrong.
    Invalid,
    #[error("the token has expired")]
    /// Its `exp` has passed.
    Expired,
}

/// A public verification key as published in the key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// PASERK `k4.pid`.
    pub key_id: String,
    /// PASERK `k4.public`.
    pub paserk: String,
}

/// Issues and verifies self-contained access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// Whether `token` is of this codec's format (its shape only, nothing
    /// verified): the core asks each codec instead of knowing any format,
    /// and looks up a token no codec recognises as a reference.
    fn recognises(&self, token: &str) -> bool;
    /// Signs `claims` into a self-contained access token.
    fn issue(&self, claims: &AccessClaims) -> Result<String, CryptoError>;
    /// Verifies a self-contained access token's signature and times against `now`.
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenRejection>;
    /// The keys resource servers should trust, current first.
    fn public_keys(&self) -> Vec<PublicKey>;
}

/// Signs OpenID Connect ID tokens as JWS and publishes the keys.
pub trait IdTokenSigner: Send + Sync {
    /// A compact JWS of `claims`, by the key of `algorithm` current at
    /// their issue time; `CryptoError::NoSigningKey` if there is none.
    fn sign_id_token(
        &self,
        claims: &IdTokenClaims,
        algorithm: KeyAlgorithm,
    ) -> Result<String, CryptoError>;
    /// Every JWS key as a public JWK (JSON), current first.
    fn public_jwks(&self) -> Vec<String>;
    /// The algorithms there are keys for.
    fn algorithms(&self) -> Vec<KeyAlgorithm>;
    /// Reads an ID token this server signed, given back as `id_token_hint`:
    /// the signature must be by a published key; expiry is not checked (a
    /// hint may be an expired token), the issuer is left to the caller.
    fn read_hint(&self, token: &str) -> Result<IdTokenHint, TokenRejection>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// The accounts: who may sign in, and with what.
pub trait UserRepository: Send + Sync {
    /// Fails with `StoreError::Conflict` when the username or email is taken.
    async fn create(&self, user: &NewUser) -> Result<(), StoreError>;
    /// Finds a user by username or email (both stored lower-cased).
    async fn find_by_login(&self, login: &LoginName) -> Result<Option<User>, StoreError>;
    /// The account with this id.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// Every account, for the operator's listing.
    async fn list(&self) -> Result<Vec<User>, StoreError>;
    /// Disables or enables an account in one atomic step. Disabling also
    /// signs it out everywhere (as [`Self::sign_out_everywhere`]), so
    /// enabling it again brings none of its tokens back. `false` when no
    /// such user exists.
    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Replaces an account's password hash and, in the same step, signs it
    /// out everywhere (as [`Self::sign_out_everywhere`]): whoever held the
    /// old password holds nothing afterwards. `false` when no such user
    /// exists.
    async fn set_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Ends everything an account holds, in one atomic step: its browser
    /// sessions are deleted, its refresh tokens revoked at `now`, its
    /// reference access tokens deleted, and its token generation raised so
    /// that its self-contained access tokens are refused too. A client's
    /// own tokens are untouched. `None` when no such user exists, else how
    /// many sessions ended.
    async fn sign_out_everywhere(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError>;
    /// Deletes an account and, in the same step, everything that is its:
    /// sessions, refresh tokens, codes, device authorizations, linked
    /// upstream identities, mail links. `false` when no such user exists.
    async fn delete(&self, id: UserId) -> Result<bool, StoreError>;
    /// Marks the account's email verified or not, as an operator vouches.
    /// `false` when no such user exists.
    async fn set_email_verified(&self, id: UserId, verified: bool) -> Result<bool, StoreError>;
    /// Takes `email` from the account, in one step, if it is still its
    /// unverified address and not also its username: the address is no
    /// longer its email nor a login name. `false` when any of that no
    /// longer holds (nothing changed).
    async fn release_unverified_email(&self, id: UserId, email: &Email)
    -> Result<bool, StoreError>;
    /// The account with this id, with its version.
    async fn record(&self, id: UserId) -> Result<Option<UserRecord>, StoreError>;
    /// One page of accounts in creation order (`created_at`, then id): the
    /// position and the search are bound as parameters, never spliced.
    async fn page(&self, listing: &UserListing) -> Result<Vec<UserRecord>, StoreError>;
    /// Applies `change` in one atomic write if the account's version is
    /// still `expected`, making a new version stamped `now`; disabling signs
    /// it out everywhere in the same write (as [`Self::set_disabled`]).
    async fn change(
        &self,
        id: UserId,
        expected: Version,
        change: &AccountChange,
        now: DateTime<Utc>,
    ) -> Result<Written<UserRecord>, StoreError>;
    /// Deletes the account (as [`Self::delete`]) if its version is still
    /// `expected`.
    async fn delete_version(
        &self,
        id: UserId,
        expected: Version,
    ) -> Result<Written<()>, StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// The links mail carries and the outbox that carries them: a letter is
/// written in the same step as the link it holds, so a link is never made
/// without its letter, nor a letter promised and lost.
pub trait MailRepository: Send + Sync {
    /// Stores `link` and the letters `mail` (the one that carries it, and
    /// any notice that goes with it), in one step; the account's older
    /// links of the same purpose are deleted in it (a new link supersedes
    /// them).
    async fn issue_link(&self, link: &EmailLink, mail: &[OutboxEntry]) -> Result<(), StoreError>;
    /// Stores a link that no mail carries (the operator prints it); older
    /// links of its purpose are deleted, as [`Self::issue_link`] does.
    async fn store_link(&self, link: &EmailLink) -> Result<(), StoreError>;
    /// Puts a letter that carries no link in the outbox.
    async fn enqueue(&self, mail: &OutboxEntry) -> Result<(), StoreError>;
    /// The live link with this digest and purpose, without using it up.
    async fn find_link(
        &self,
        digest: &Digest,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<EmailLink>, StoreError>;
    /// Uses up the live link with this digest and purpose (one conditional
    /// delete: of two requests racing, one wins) and applies `effect` in the
    /// same step, with `notice` put in the outbox when it worked.
    async fn redeem_link<'a>(
        &self,
        digest: &Digest,
        purpose: LinkPurpose,
        effect: &LinkEffect,
        notice: Option<&'a OutboxEntry>,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, StoreError>;
    /// Letters a sender may take at `now`, oldest first, at most `limit`.
    async fn due_mail(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Takes a letter for sending until `lease_until`: a conditional update
    /// that holds only if nobody took it since it was read (its attempts
    /// are still `seen_attempts`), so two senders never both send it.
    async fn claim_mail(
        &self,
        id: Uuid,
        seen_attempts: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Puts a letter back for another attempt at `at`.
    async fn retry_mail(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Removes a letter: delivered, or given up on.
    async fn remove_mail(&self, id: Uuid) -> Result<(), StoreError>;
}

/// Why a letter was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another try: the server could not be reached, or answered 4xx.
    #[error("transient: {0}")]
    Transient(String),
    /// Never going to work: the server refused the letter with 5xx.
    #[error("permanent: {0}")]
    Permanent(String),
}

#[async_trait]
/// Delivers letters (SMTP, in the binary).
pub trait MailTransport: Send + Sync {
    /// Renders and sends `letter`, identified by `id` (its `Message-ID`);
    /// the server's answer on success.
    async fn send(&self, id: Uuid, letter: &Letter) -> Result<String, SendError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// The registered clients.
pub trait ClientRepository: Send + Sync {
    /// Fails with `StoreError::Conflict` when the id is taken.
    async fn create(&self, client: &NewClient) -> Result<(), StoreError>;
    /// The client with this id.
    async fn find(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    /// Every client, for the operator's listing.
    async fn list(&self) -> Result<Vec<Client>, StoreError>;
    /// Replaces the registration with `client.id` (every field but the id
    /// and the creation time); `false` when there is none.
    async fn update(&self, client: &Client) -> Result<bool, StoreError>;
    /// Removes a client and, in the same step, everything issued to it:
    /// refresh tokens, stored access tokens, codes and device
    /// authorizations. `false` when there is none.
    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError>;
    /// Whether any client may call the admin API (until one may, the API
    /// is not there at all).
    async fn any_admin(&self) -> Result<bool, StoreError>;
    /// Every client with its version, in creation order (then by id).
    async fn client_records(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// The client with this id and its version, read from the store itself
    /// (never from a cache).
    async fn client_record(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError>;
    /// Replaces the registration (as [`Self::update`]) if its version is
    /// still `expected`.
    async fn update_client_version(
        &self,
        client: &Client,
        expected: Version,
    ) -> Result<Written<()>, StoreError>;
    /// Removes the client (as [`Self::delete`]) if its version is still
    /// `expected`.
    async fn delete_client_version(
        &self,
        id: &ClientId,
        expected: Version,
    ) -> Result<Written<()>, StoreError>;
}

/// The result of trying to rotate a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was active and is now retired; the new one is stored.
    Rotated,
    /// The old token was no longer active when the statement ran (another
    /// request rotated it first, or it was revoked or expired): nothing changed.
    NotActive,
}

/// The result of trying to supersede a token's unseen successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Superseded {
    /// The successor was replaced; the access token issued with it (if its
    /// id was recorded) is revoked.
    Replaced {
        /// The access token issued with the successor, now revoked.
        revoked_access: Option<Uuid>,
    },
    /// The successor was already presented (or revoked): nothing changed.
    NotActive,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// Refresh tokens and stored (reference) access tokens, and the revocation
/// list of self-contained ones. Every step a race could split is one method.
pub trait TokenRepository: Send + Sync {
    /// Stores one refresh token on its own (the grants store theirs through
    /// [`TokenRepository::insert_grant`]); for set-up and tests.
    async fn insert_refresh(&self, token: &RefreshTokenRecord) -> Result<(), StoreError>;
    /// The refresh token with this digest, whatever its state.
    async fn find_refresh(&self, digest: &Digest)
    -> Result<Option<RefreshTokenRecord>, StoreError>;
    /// Finds a refresh token together with who it may still act for (see
    /// [`RefreshOwner`]). One lookup where the refresh grant would
    /// otherwise need two.
    async fn find_refresh_with_owner(
        &self,
        digest: &Digest,
    ) -> Result<Option<(RefreshTokenRecord, RefreshOwner)>, StoreError>;
    /// Atomically retires `old` (only if it is still active at `now`) and
    /// stores `new`, with the reference access token issued in the same
    /// answer, if any. All of it happens or none of it.
    async fn rotate_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError>;
    /// Stores a new grant's refresh token and reference access token
    /// together, or neither. With `cleared`, the throttle key of the login
    /// that earned the grant, that key's attempts are forgotten in the same
    /// write (as [`ThrottleRepository::clear`] does), or not at all.
    async fn insert_grant<'a>(
        &self,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
        cleared: Option<&'a ThrottleKey>,
    ) -> Result<(), StoreError>;
    /// A retry of the rotation of `old` whose answer was lost: atomically
    /// supersedes `old`'s successor, only if that successor was never
    /// presented (not rotated, not revoked), revokes the access token that
    /// was issued with it, and stores `new` in its place, so at most one
    /// successor of a token, and one answer, is ever live. `NotActive` when
    /// the successor was used: the retry is a replay.
    async fn supersede_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Superseded, StoreError>;
    /// Revokes a grant: every refresh token of the family (returns how many
    /// were newly revoked), every reference access token issued in it
    /// (deleted, and forgotten by every node's cache), and every
    /// self-contained one (the family is listed on the revocation list until
    /// `listed_until`, when the last of them has expired). One atomic step.
    async fn revoke_family(
        &self,
        family: FamilyId,
        now: DateTime<Utc>,
        listed_until: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Puts an access token id on the revocation list until it expires, and
    /// deletes a stored reference token with that id: afterwards the token
    /// is refused whichever way it is checked.
    async fn revoke_access(
        &self,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Whether a self-contained access token is revoked: its own id, or its
    /// family's, on the revocation list. One lookup for both.
    async fn is_access_revoked(
        &self,
        token_id: Uuid,
        family: Option<FamilyId>,
    ) -> Result<bool, StoreError>;
    /// Stores a reference access token.
    async fn insert_access(&self, token: &AccessTokenRecord) -> Result<(), StoreError>;
    /// The reference access token with this digest.
    async fn find_access(&self, digest: &Digest) -> Result<Option<AccessTokenRecord>, StoreError>;
    /// The live refresh tokens of `user` (not rotated, not revoked, not
    /// expired at `now`): one per grant the account holds.
    async fn live_refresh_of(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<RefreshTokenRecord>, StoreError>;
}

/// What [`ThrottleRepository::reserve_login`] found and decided.
#[derive(Debug, Clone)]
pub struct LoginReservation {
    /// The account the login names, if any.
    pub user: Option<User>,
    /// Whether the attempt was counted and may go ahead.
    pub allowed: bool,
}

/// Attempt counters shared by every node (see `throttle`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ThrottleRepository: Send + Sync {
    /// Counts one attempt for `key` unless `limit` attempts were already
    /// counted in its window, which starts with the first attempt and lasts
    /// `window`. `true` if this attempt may go ahead. A single conditional
    /// statement: parallel attempts cannot slip past the limit.
    async fn reserve(
        &self,
        key: &ThrottleKey,
        limit: u32,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The account `login` names (as [`UserRepository::find_by_login`]),
    /// and one attempt reserved (as [`Self::reserve`]) against its key,
    /// [`login_key`](crate::throttle::login_key): the account's whatever
    /// name reached it, or the name's when it names none. A database may do
    /// both in one statement: a sign-in's lookup costs no round trip of its
    /// own.
    /// The key is the one of the attempt's `source`, so one address's
    /// failures lock out that address, not the account's owner.
    async fn reserve_login(
        &self,
        login: &LoginName,
        source: AttemptSource,
        limit: u32,
        window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<LoginReservation, StoreError>;
    /// Gives back one reserved attempt (it turned out not to count). A count
    /// given back to zero starts a new window at the next attempt.
    async fn release(&self, key: &ThrottleKey) -> Result<(), StoreError>;
    /// Forgets every attempt of `key` (a successful login); the next attempt
    /// starts a new window.
    async fn clear(&self, key: &ThrottleKey) -> Result<(), StoreError>;
}

#[async_trait]
/// The signing keys, sealed at rest.
pub trait KeyRepository: Send + Sync {
    /// All stored signing keys, latest activation first.
    async fn list(&self) -> Result<Vec<SigningKey>, StoreError>;
    /// Stores a new key.
    async fn insert(&self, key: &SigningKey) -> Result<(), StoreError>;
    /// Removes a retired key; returns whether it existed.
    async fn delete(&self, key_id: &str) -> Result<bool, StoreError>;
}

/// Whether the service's dependencies answer; for readiness probes.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Ok` when the store answers now.
    async fn ready(&self) -> Result<(), StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// Authorization codes, stored as digests.
pub trait AuthorizationCodeRepository: Send + Sync {
    /// Stores a new code.
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;
    /// The code with this digest, used or not.
    async fn find_code(&self, digest: &Digest) -> Result<Option<AuthorizationCode>, StoreError>;
    /// Redeems a code in one atomic step: marks it used (only if it is not
    /// yet: a single conditional statement, `true` for the one request that
    /// wins), records what the redemption issues so a second redemption
    /// always finds what to revoke, and stores those tokens. All of it or
    /// none of it.
    async fn consume_code<'a>(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
        issued: &IssuedFromCode,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
    ) -> Result<bool, StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
/// Browser sessions (single sign-on), stored as digests of their cookies.
pub trait SessionRepository: Send + Sync {
    /// Stores a new session.
    async fn create_session(&self, session: &BrowserSession) -> Result<(), StoreError>;
    /// The session with this digest, expired or not (the caller judges).
    async fn find_session(&self, digest: &Digest) -> Result<Option<BrowserSession>, StoreError>;
    /// Records that the session was seen at `now` (its idle timeout restarts).
    async fn touch_session(&self, digest: &Digest, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Ends the session with this digest (logout); a missing one is no error.
    async fn delete_session(&self, digest: &Digest) -> Result<(), StoreError>;
    /// Ends every browser session of `user`; how many there were.
    async fn delete_user_sessions(&self, user: UserId) -> Result<u64, StoreError>;
    /// Every stored session of `user`, expired or not (the caller judges).
    async fn sessions_of(&self, user: UserId) -> Result<Vec<BrowserSession>, StoreError>;
    /// Ends the session `digest` only if it is `user`'s: `false` when no
    /// session of `user` has that digest. One conditional statement.
    async fn delete_session_of(&self, user: UserId, digest: &Digest) -> Result<bool, StoreError>;
    /// The scope `user` consented to for `client`, if they did.
    async fn find_consent(
        &self,
        user: UserId,
        client: &ClientId,
    ) -> Result<Option<Scope>, StoreError>;
    /// Remembers that `user` consented to `scope` for `client` at `now`,
    /// replacing what was remembered.
    async fn remember_consent(
        &self,
        user: UserId,
        client: &ClientId,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Forgets `user`'s consent for `client`; none is no error.
    async fn forget_consent(&self, user: UserId, client: &ClientId) -> Result<(), StoreError>;
    /// Remembers the browser whose device cookie has `digest` as one that
    /// signed in to `user` (until `expires_at`). Each cookie is a new
    /// random value: the same one again is a conflict.
    async fn remember_device(
        &self,
        digest: &Digest,
        user: UserId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Whether the browser whose device cookie has `digest` signed in to
    /// `user` before and is still remembered at `now`.
    async fn is_known_device(
        &self,
        digest: &Digest,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// How many expired rows one sweep deleted, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Refresh tokens past their expiry.
    pub refresh_tokens: u64,
    /// Reference access tokens past their expiry.
    pub access_tokens: u64,
    /// Revocation-list entries whose token has expired anyway.
    pub revoked_access_tokens: u64,
    /// Authorization codes past their expiry.
    pub authorization_codes: u64,
    /// Browser sessions past their absolute lifetime.
    pub sessions: u64,
    /// Device authorizations past their expiry.
    pub device_authorizations: u64,
    /// Throttle counters whose window has ended.
    pub throttle_counters: u64,
    /// Upstream sign-ins past their expiry.
    pub upstream_flows: u64,
    /// Remembered browsers (device cookies) past their lifetime.
    pub known_devices: u64,
    /// Mail links past their expiry.
    pub email_links: u64,
    /// WebAuthn ceremonies begun and never finished.
    pub webauthn_ceremonies: u64,
}

impl SweepReport {
    /// All rows deleted, of every kind.
    pub fn total(&self) -> u64 {
        self.refresh_tokens
            + self.access_tokens
            + self.revoked_access_tokens
            + self.authorization_codes
            + self.sessions
            + self.device_authorizations
            + self.throttle_counters
            + self.upstream_flows
            + self.known_devices
            + self.email_links
            + self.webauthn_ceremonies
    }
}

/// Deletes rows that can no longer matter: expired tokens, codes, sessions
/// and revocation entries.
#[async_trait]
pub trait Sweeper: Send + Sync {
    /// Deletes everything expired before `now`, `batch` rows per statement,
    /// so no statement holds a lock for long.
    async fn sweep_expired(
        &self,
        now: DateTime<Utc>,
        batch: i64,
    ) -> Result<SweepReport, StoreError>;
}

#[async_trait]
/// Device authorizations (RFC 8628), by device code and by user code.
pub trait DeviceAuthorizationRepository: Send + Sync {
    /// Stores a new device authorization; a taken device or user code is a conflict.
    async fn insert_device(&self, d: &DeviceAuthorization) -> Result<(), StoreError>;
    /// The device authorization with this device code digest.
    async fn find_device(
        &self,
        device_digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError>;
    /// The device authorization whose user code has this digest.
    async fn find_by_user_code(
        &self,
        user_code_digest: &Digest,
    ) -> Result<Option<DeviceAuthorization>, StoreError>;
    /// Records the user's decision, only while the authorization is pending
    /// and unexpired; `true` if this call decided it.
    async fn decide_device(
        &self,
        user_code_digest: &Digest,
        decision: DeviceStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records a poll and the interval the device must keep from now on.
    async fn record_poll(
        &self,
        device_digest: &Digest,
        now: DateTime<Utc>,
        interval: chrono::Duration,
    ) -> Result<(), StoreError>;
    /// Marks an approved authorization redeemed and stores the tokens it
    /// issues, in one atomic step; `true` for the one poll that wins.
    async fn redeem_device<'a>(
        &self,
        device_digest: &Digest,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
    ) -> Result<bool, StoreError>;
}

/// Seals small payloads (an upstream flow's state, a device session) so the
/// party holding one can neither read, forge nor alter it: authenticated
/// encryption under a server key, bound to `purpose` so a payload sealed
/// for one use is refused for another.
pub trait Sealer: Send + Sync {
    /// Seals `plaintext` for `purpose`; the result is safe to hand out.
    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, CryptoError>;
    /// Fails for anything not sealed by this server for `purpose`.
    fn unseal(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, CryptoError>;
}

/// What the core sends an upstream provider to begin a web sign-in.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamRequest<'a> {
    /// The sealed flow state the provider hands back to the callback.
    pub state: &'a str,
    /// RFC 7636 S256 challenge of the flow's verifier.
    pub code_challenge: &'a str,
    /// OpenID Connect's `nonce` (ignored by plain OAuth providers).
    pub nonce: &'a str,
    /// Our callback, registered with the provider.
    pub redirect_uri: &'a str,
}

/// What the callback hands back to the provider to finish a web sign-in.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamCallback<'a> {
    /// The provider's authorization code from the callback.
    pub code: &'a str,
    /// The flow's PKCE verifier (RFC 7636), unsealed from the state.
    pub code_verifier: &'a str,
    /// The nonce the ID token must carry (OpenID Connect).
    pub nonce: &'a str,
    /// The callback the code was issued for, sent again at redemption.
    pub redirect_uri: &'a str,
    /// RFC 9207's `iss` parameter, when the provider sent one.
    pub issuer: Option<&'a str>,
    /// What an ID token's times are checked against.
    pub now: DateTime<Utc>,
}

/// Who a refresh token acts for, as its lookup found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOwner {
    /// A client's own token (no account).
    Client,
    /// An enabled account, now in this token generation.
    User(crate::types::TokenGeneration),
    /// The account it was issued to is gone or disabled.
    Unusable,
}

/// An upstream identity provider (GitHub, an OpenID provider). Every call
/// is bounded in time and size by the adapter; a provider that cannot be
/// reached, answers 5xx or nonsense is an [`UpstreamError::Failed`].
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// The name on the hosted login page's button ("GitHub").
    fn display_name(&self) -> &str;
    /// The origin (`https://github.com`) the browser is sent to: a page
    /// whose form leads there must allow it (CSP `form-action`).
    fn browser_origin(&self) -> String;
    /// Whatever must be known before [`Self::authorization_url`] (an
    /// OpenID provider's discovered endpoints).
    async fn prepare(&self) -> Result<(), UpstreamError> {
        Ok(())
    }
    /// Where to send the person's browser.
    fn authorization_url(&self, request: &UpstreamRequest<'_>) -> Result<String, UpstreamError>;
    /// Redeems the code the provider sent to the callback and tells who
    /// signed in.
    async fn finish(
        &self,
        callback: &UpstreamCallback<'_>,
    ) -> Result<UpstreamIdentity, UpstreamError>;
    /// Begins a device authorization (RFC 8628) at the provider.
    async fn start_device(&self, now: DateTime<Utc>) -> Result<UpstreamDevice, UpstreamError>;
    /// Polls it once.
    async fn poll_device(&self, device_code: &OpaqueToken) -> Result<DevicePoll, UpstreamError>;
    /// The identity behind a token presented to us (seed 003's exchange),
    /// only if the provider issued it to this server's own registration:
    /// a token issued to any other app names its holder as well, and must
    /// not sign them in here. Times are checked against `now`.
    async fn identity(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<UpstreamIdentity, UpstreamError>;
}

/// What [`FederationRepository::unlink`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// The identity is no longer linked.
    Removed,
    /// The account had no identity at that provider.
    NotLinked,
    /// Kept: it is the account's only way to sign in.
    LastSignIn,
}

impl Unlinked {
    /// The rule every store applies inside its one step: an account
    /// (`has_password`: `None` if there is none) with `linked` identities at
    /// the provider and `others` elsewhere loses them only if it can still
    /// sign in afterwards.
    pub fn decide(has_password: Option<bool>, linked: u64, others: u64) -> Self {
        match has_password {
            Some(_) if linked == 0 => Self::NotLinked,
            None => Self::NotLinked,
            Some(false) if others == 0 => Self::LastSignIn,
            Some(_) => Self::Removed,
        }
    }
}

/// Upstream identities linked to accounts, and the sign-ins under way.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FederationRepository: Send + Sync {
    /// The account `subject` at `provider` is linked to.
    async fn find_linked_user(
        &self,
        provider: &ProviderName,
        subject: &UpstreamSubject,
    ) -> Result<Option<User>, StoreError>;
    /// Creates the account and its link as one write; a name already taken
    /// or an identity already linked is a conflict and nothing is stored.
    async fn create_linked_user(
        &self,
        user: &NewUser,
        link: &FederatedLink,
    ) -> Result<(), StoreError>;
    /// Links an identity to an existing account; a conflict if it is
    /// linked already (to anyone).
    async fn link(&self, link: &FederatedLink) -> Result<(), StoreError>;
    /// The identities linked to `user`.
    async fn links_of(&self, user: UserId) -> Result<Vec<FederatedLink>, StoreError>;
    /// Removes `user`'s identity at `provider`, unless it is the account's
    /// last way to sign in (no password and no other link): decided and
    /// done in one step, so two unlinks racing cannot both pass the check.
    async fn unlink(&self, user: UserId, provider: &ProviderName) -> Result<Unlinked, StoreError>;
    /// Records a sign-in under way, to be finished once.
    async fn insert_flow(&self, flow: &UpstreamFlow) -> Result<(), StoreError>;
    /// Records who signed in on a flow still open and not yet finished;
    /// `false` when it is unknown, expired or finished already.
    async fn finish_flow(
        &self,
        id: Uuid,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Takes (deletes and returns) an open flow, finished or not, so that
    /// only one caller ever gets it.
    async fn take_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError>;
    /// Takes a finished flow; `None` when it is unknown, expired or not
    /// finished (see [`Self::find_flow`]).
    async fn take_finished_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError>;
    /// Records a device flow's poll: the next may come at `schedule`.
    async fn schedule_poll(&self, id: Uuid, schedule: PollSchedule) -> Result<(), StoreError>;
    /// An open flow, finished or not.
    async fn find_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError>;
}

/// When a device flow may poll its provider next, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    /// How long to wait between polls (grown by `slow_down`).
    pub interval: chrono::Duration,
    /// The earliest moment the provider may be polled again.
    pub next_poll_at: DateTime<Utc>,
}

/// A sign-in through an upstream provider, from its start until its token
/// is handed out. Its secrets (the PKCE verifier, the nonce, the device
/// code) are not here: they travel sealed in the flow's `state` or session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFlow {
    /// The flow's id, sealed into its state or session.
    pub id: Uuid,
    /// The provider it signs in through.
    pub provider: ProviderName,
    /// Who signed in, once the callback has run.
    pub user_id: Option<UserId>,
    /// A device flow's polling schedule, once it has polled.
    pub polling: Option<PollSchedule>,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When its state or session stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// Groups and their members. A group's name is unique (a second one is
/// [`StoreError::Conflict`]); deleting an account or a group takes its
/// memberships with it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GroupRepository: Send + Sync {
    /// Stores a new group.
    async fn create_group(&self, group: &crate::types::Group) -> Result<(), StoreError>;
    /// The group named `name`.
    async fn find_group(
        &self,
        name: &crate::types::GroupName,
    ) -> Result<Option<crate::types::Group>, StoreError>;
    /// The groups with these ids that exist, in no particular order.
    async fn groups_by_id(
        &self,
        ids: &[crate::types::GroupId],
    ) -> Result<Vec<crate::types::Group>, StoreError>;
    /// Every group, by name.
    async fn list_groups(&self) -> Result<Vec<crate::types::Group>, StoreError>;
    /// Changes a group's name, description and `updated_at` if it is
    /// still the version last changed at `seen` (its `updated_at`, which
    /// every change raises: the group's version); `false` if it is gone or
    /// changed since.
    async fn update_group(
        &self,
        group: &crate::types::Group,
        seen: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes a group and its memberships, if it is still the version last
    /// changed at `seen` where one is named; `false` if it is gone (or
    /// changed since).
    async fn delete_group(
        &self,
        id: crate::types::GroupId,
        seen: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError>;
    /// Makes `user` a member; `false` if they were one already.
    async fn add_member(
        &self,
        group: crate::types::GroupId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Ends a membership; `false` if there was none.
    async fn remove_member(
        &self,
        group: crate::types::GroupId,
        user: UserId,
    ) -> Result<bool, StoreError>;
    /// The members of a group, oldest membership first.
    async fn members_of(&self, group: crate::types::GroupId) -> Result<Vec<UserId>, StoreError>;
    /// The groups `user` is in, by name.
    async fn groups_of(&self, user: UserId) -> Result<Vec<crate::types::Group>, StoreError>;
    /// Whether `user` is in any of `groups` (one indexed lookup).
    async fn in_any_group(
        &self,
        user: UserId,
        groups: &[crate::types::GroupId],
    ) -> Result<bool, StoreError>;
}

/// Second factors and what their ceremonies need kept: TOTP authenticators,
/// WebAuthn credentials, recovery codes, the per-account WebAuthn user
/// handle and the ceremonies begun. Each step that must not race (a TOTP
/// step, a signature counter, a recovery code, a ceremony) is one
/// conditional statement.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FactorRepository: Send + Sync {
    /// `user`'s confirmed factors, oldest first.
    async fn factors_of(&self, user: UserId) -> Result<Vec<Factor>, StoreError>;
    /// Whether `user` has a confirmed factor.
    async fn has_factors(&self, user: UserId) -> Result<bool, StoreError>;
    /// `user`'s TOTP authenticators, confirmed or not.
    async fn totp_of(&self, user: UserId) -> Result<Vec<TotpRecord>, StoreError>;
    /// Stores an unconfirmed authenticator, dropping `user`'s earlier
    /// unconfirmed ones (an enrolment abandoned).
    async fn add_totp(&self, record: &TotpRecord) -> Result<(), StoreError>;
    /// Accepts `step` for the authenticator `id` of `user` only if it is
    /// later than the last step accepted: confirms it if it was not, and
    /// stores `recovery` as the account's recovery codes in the same write
    /// (its first factor). `false` when the step was used (a replay, or
    /// another node won) or the authenticator is gone. With `cleared`, the
    /// throttle key of the sign-in the step completes, that key's attempts
    /// are forgotten in the same write, only if the step is accepted (as
    /// [`TokenRepository::insert_grant`] does for a login).
    async fn accept_totp_step<'a>(
        &self,
        user: UserId,
        id: FactorId,
        step: i64,
        recovery: &[Digest],
        cleared: Option<&'a crate::throttle::ThrottleKey>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Registers a WebAuthn credential, with `recovery` as the account's
    /// recovery codes in the same write (when it is the first factor). A
    /// credential id registered to any account is a conflict.
    async fn add_passkey(
        &self,
        record: &PasskeyRecord,
        recovery: &[Digest],
    ) -> Result<(), StoreError>;
    /// `user`'s WebAuthn credentials.
    async fn passkeys_of(&self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError>;
    /// The credential with this id, whoever's it is.
    async fn find_passkey(&self, credential_id: &str) -> Result<Option<PasskeyRecord>, StoreError>;
    /// Stores a credential's use: its new counter and record, only if its
    /// counter is still `seen` (so two uses of one assertion cannot both
    /// count). `false` when it changed or the credential is gone.
    async fn record_passkey_use(
        &self,
        id: FactorId,
        seen: u32,
        counter: u32,
        record: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Removes one factor of `user`; what was removed, if it existed. The
    /// last factor takes the recovery codes with it.
    async fn remove_factor(&self, user: UserId, id: FactorId)
    -> Result<Option<Factor>, StoreError>;
    /// Removes every factor and recovery code of `user`; how many factors.
    async fn remove_all_factors(&self, user: UserId) -> Result<u64, StoreError>;
    /// Replaces `user`'s recovery codes (the old ones stop working).
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes: &[Digest],
    ) -> Result<(), StoreError>;
    /// Uses up the recovery code with `digest` of `user`: `false` when it
    /// is not one of theirs (or was used).
    async fn use_recovery_code(&self, user: UserId, digest: &Digest) -> Result<bool, StoreError>;
    /// How many unused recovery codes `user` has.
    async fn recovery_codes_left(&self, user: UserId) -> Result<u64, StoreError>;
    /// `user`'s WebAuthn user handle: the stored one, or `fresh` stored now.
    async fn user_handle(&self, user: UserId, fresh: Uuid) -> Result<Uuid, StoreError>;
    /// The account whose user handle is `handle`.
    async fn user_of_handle(&self, handle: Uuid) -> Result<Option<UserId>, StoreError>;
    /// Keeps a ceremony's state until it is taken or expires.
    async fn store_ceremony(&self, ceremony: &Ceremony) -> Result<(), StoreError>;
    /// Takes the ceremony with `digest` (deleting it): `None` when unknown,
    /// taken already, or expired at `now`.
    async fn take_ceremony(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<Option<Ceremony>, StoreError>;
}

/// TOTP arithmetic (RFC 6238: SHA-1, six digits, 30-second steps, one step
/// of skew either way).
pub trait OneTimePasswords: Send + Sync {
    /// The time step `code` is right for at `at`, if it is right for one
    /// within the skew.
    fn matching_step(&self, secret: &[u8], code: &str, at: DateTime<Utc>) -> Option<i64>;
    /// The `otpauth://` URI an authenticator app reads (from a QR code).
    fn provisioning_uri(&self, secret: &[u8], issuer: &str, account: &str) -> String;
    /// The secret as an authenticator app's manual entry takes it (base32).
    fn manual_key(&self, secret: &[u8]) -> String;
}

/// A WebAuthn credential the browser registered, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    /// Its id, base64url.
    pub credential_id: String,
    /// The adapter's record of it.
    pub record: String,
    /// Its signature counter at registration.
    pub counter: u32,
}

/// A WebAuthn assertion, checked against a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The credential that signed, base64url.
    pub credential_id: String,
    /// The signature counter it reported.
    pub counter: u32,
    /// The credential's record, updated by the assertion.
    pub record: String,
    /// The authenticator verified its user (PIN, biometrics).
    pub user_verified: bool,
    /// The credential may be synced to other devices (a software key).
    pub backed_up: bool,
}

/// The browser's answer to a passwordless sign-in, identified: whose
/// credential it claims to be, before the signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The user handle the authenticator returned.
    pub user_handle: Uuid,
    /// The credential id, base64url.
    pub credential_id: String,
}

/// Why a WebAuthn ceremony failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// What the browser sent is not a valid answer to the ceremony.
    #[error("the security key's answer was not accepted: {0}")]
    Refused(String),
    /// The credential answered with a signature counter that did not grow
    /// (a cloned key?): its id, base64url.
    #[error("the security key's signature counter went back")]
    CounterRegressed(String),
    /// The adapter failed (a state it cannot read, a broken configuration).
    #[error("the WebAuthn ceremony failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// WebAuthn ceremonies (the relying party's side): options for the browser
/// and the state to keep, then the browser's answer checked against that
/// state. Options and answers are the browser's JSON; states and records
/// are opaque to the core.
pub trait Passkeys: Send + Sync {
    /// Begins registering a credential for the account with `handle`,
    /// excluding the ones it has: (options, state).
    fn start_registration(
        &self,
        handle: Uuid,
        name: &str,
        display_name: &str,
        exclude: &[PasskeyRecord],
    ) -> Result<(String, String), PasskeyError>;
    /// Checks the browser's registration against `state`.
    fn finish_registration(&self, response: &str, state: &str) -> Result<NewPasskey, PasskeyError>;
    /// Begins an assertion by one of `credentials` (a second factor):
    /// (options, state).
    fn start_authentication(
        &self,
        credentials: &[PasskeyRecord],
    ) -> Result<(String, String), PasskeyError>;
    /// Begins an assertion by any discoverable credential, user verification
    /// required (a passkey sign-in): (options, state).
    fn start_discoverable(&self) -> Result<(String, String), PasskeyError>;
    /// Whose credential a passwordless answer claims to be.
    fn identify(&self, response: &str) -> Result<Claimed, PasskeyError>;
    /// Checks an assertion against `state` and the account's `credentials`.
    fn finish_authentication(
        &self,
        response: &str,
        state: &str,
        credentials: &[PasskeyRecord],
    ) -> Result<Assertion, PasskeyError>;
}

/// The adapters a grant needs, as trait objects: the web layer and the
/// binary wire concrete ones in, tests wire fakes.
#[derive(Clone)]
pub struct Ports {
    /// The accounts.
    pub users: Arc<dyn UserRepository>,
    /// The registered clients.
    pub clients: Arc<dyn ClientRepository>,
    /// Refresh tokens, reference access tokens and the revocation list.
    pub tokens: Arc<dyn TokenRepository>,
    /// Authorization codes.
    pub codes: Arc<dyn AuthorizationCodeRepository>,
    /// Device authorizations (RFC 8628).
    pub devices: Arc<dyn DeviceAuthorizationRepository>,
    /// Browser sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// Mail links and the outbox.
    pub mail: Arc<dyn MailRepository>,
    /// Attempt counters shared by every node.
    pub throttles: Arc<dyn ThrottleRepository>,
    /// Second factors, recovery codes and WebAuthn ceremonies.
    pub factors: Arc<dyn FactorRepository>,
    /// Groups and memberships.
    pub groups: Arc<dyn GroupRepository>,
    /// TOTP arithmetic.
    pub otp: Arc<dyn OneTimePasswords>,
    /// Hashes and verifies passwords.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Issues and verifies PASETO access tokens.
    pub codec: Arc<dyn TokenCodec>,
    /// Signs OpenID Connect ID tokens.
    pub id_tokens: Arc<dyn IdTokenSigner>,
    /// Issues and verifies JWT access tokens (RFC 9068).
    pub jwt: Arc<dyn TokenCodec>,
    /// Digests secrets for storage and compares them in constant time.
    pub digest: Arc<dyn SecretDigest>,
    /// Random tokens and ids.
    pub random: Arc<dyn RandomSource>,
}
