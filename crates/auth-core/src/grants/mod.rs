//! The token endpoint's grants, one module each, run by [`Grants`]; the
//! token issuing they share is [`Core`]'s.
//!
//! A grant is a pure decision over what the store returned (see the state
//! machine in `refresh_token`) followed by the port call that decision names.
//! Tokens are signed first; then one port call commits the grant whole (the
//! conditional step that decides it, such as `rotate_refresh` or
//! `consume_code`, with every row it issues), never a read-then-write here.
pub mod authorization_code;
mod client_auth;
mod client_credentials;
pub mod device_code;
pub mod id_token;
pub mod introspection;
mod password;
pub mod refresh_token;
mod request;

use chrono::{DateTime, Utc};

pub use client_auth::ClientCredentials;
pub use password::BrowserLogin;
pub use request::{GrantRequest, Login};

use crate::service::{Core, Grants};

use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::policy::TokenPolicy;
use crate::types::{
    AccessClaims, AccessTokenRecord, Client, ClientId, Dialect, FamilyId, GrantType, IssuedTokens,
    OpaqueToken, RefreshTokenRecord, Scope, Subject, TokenFormat, TokenGeneration, TokenOwner,
    UserId,
};

impl Core {
    /// The token policy in force (lifetimes, refresh mode, sessions).
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// The issuer identifier, as configured.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client registered as `id`, if any.
    pub async fn client(&self, id: &crate::types::ClientId) -> Result<Option<Client>, FlowError> {
        Ok(self.ports.clients.find(id).await?)
    }

    /// The account with this id, if it exists.
    pub async fn user(&self, id: UserId) -> Result<Option<crate::types::User>, FlowError> {
        Ok(self.ports.users.find_by_id(id).await?)
    }

    /// The public keys resource servers should trust, current first.
    pub fn public_keys(&self) -> Vec<crate::ports::PublicKey> {
        self.ports.codec.public_keys()
    }

    /// The public JWKs ID tokens are verified with, current first.
    pub fn id_token_keys(&self) -> Vec<String> {
        self.ports.id_tokens.public_jwks()
    }

    /// The JWS algorithms ID tokens can be signed with.
    pub fn id_token_algorithms(&self) -> Vec<crate::types::KeyAlgorithm> {
        self.ports.id_tokens.algorithms()
    }

    /// Revokes a grant (RFC 7009 section 2.1, RFC 6749 section 4.1.2 and
    /// 10.4): its refresh tokens and every access token issued in it, on
    /// every node. Self-contained tokens of the family are refused until the
    /// longest of them has expired.
    pub(crate) async fn revoke_grant(
        &self,
        family: FamilyId,
        client: &Client,
        now: DateTime<Utc>,
    ) -> Result<u64, FlowError> {
        let listed_until = now + self.policy.access_ttl_for(client);
        Ok(self
            .ports
            .tokens
            .revoke_family(family, now, listed_until)
            .await?)
    }

    /// Issues an access token for `subject` in the grant `family`, in the
    /// client's token format, and stores it if it is a reference token.
    async fn access_token(
        &self,
        client: &Client,
        subject: TokenFor,
        scope: &Scope,
        family: Option<FamilyId>,
        now: DateTime<Utc>,
    ) -> Result<SignedAccess, FlowError> {
        let groups = match subject {
            TokenFor::User(owner) => self.groups_claim(owner.id, scope).await?,
            TokenFor::Client => None,
        };
        let prepared = self.prepare_access(client, subject, scope, family, groups, now)?;
        self.store_access(prepared).await
    }

    /// Signs (or draws) an access token without storing anything, so a
    /// grant can sign before it commits; `groups` is the account's
    /// `groups` claim ([`Core::groups_claim`]), read before.
    pub(crate) fn prepare_access(
        &self,
        client: &Client,
        subject: TokenFor,
        scope: &Scope,
        family: Option<FamilyId>,
        groups: Option<Vec<String>>,
        now: DateTime<Utc>,
    ) -> Result<PreparedAccess, FlowError> {
        let ttl = self.policy.access_ttl_for(client);
        let (subject, generation) = match subject {
            TokenFor::Client => (
                Subject::Client(client.id.clone()),
                TokenGeneration::default(),
            ),
            TokenFor::User(owner) => (Subject::User(owner.id), owner.generation),
        };
        let claims = AccessClaims {
            issuer: self.issuer.clone(),
            subject,
            generation,
            client_id: client.id.clone(),
            scope: scope.clone(),
            issued_at: now,
            expires_at: now + ttl,
            token_id: self.ports.random.uuid(),
            family,
            groups,
        };
        let (token, record) = match client.token_format {
            TokenFormat::Paseto => (OpaqueToken::new(self.ports.codec.issue(&claims)?), None),
            TokenFormat::Jwt => (OpaqueToken::new(self.ports.jwt.issue(&claims)?), None),
            TokenFormat::Reference => {
                let token = self.ports.random.token();
                let record = AccessTokenRecord {
                    digest: self.ports.digest.digest(token.expose()),
                    token_id: claims.token_id,
                    client_id: claims.client_id.clone(),
                    subject: claims.subject.clone(),
                    scope: claims.scope.clone(),
                    issued_at: claims.issued_at,
                    expires_at: claims.expires_at,
                    family,
                    generation,
                };
                (token, Some(record))
            }
        };
        Ok(PreparedAccess {
            signed: SignedAccess {
                token,
                expires_at: claims.expires_at,
                expires_in: ttl,
                token_id: claims.token_id,
            },
            record,
        })
    }

    /// Stores a prepared reference token; a self-contained one needs nothing.
    pub(crate) async fn store_access(
        &self,
        prepared: PreparedAccess,
    ) -> Result<SignedAccess, FlowError> {
        if let Some(record) = &prepared.record {
            self.ports.tokens.insert_access(record).await?;
        }
        Ok(prepared.signed)
    }

    /// A fresh refresh token record and the token it stands for: in a new
    /// family (`predecessor` is `None`), or succeeding `predecessor` in its
    /// family, with the same scope (RFC 6749 section 6: "the new refresh
    /// token ... scope MUST be identical to that of the refresh token
    /// included by the client") and the same end of the family.
    pub(crate) fn new_refresh(
        &self,
        client: &Client,
        user_id: Option<UserId>,
        scope: &Scope,
        predecessor: Option<&RefreshTokenRecord>,
        now: DateTime<Utc>,
    ) -> (OpaqueToken, RefreshTokenRecord) {
        let token = self.ports.random.token();
        let (family, family_expires_at, scope) = match predecessor {
            Some(p) => (p.family, p.family_expires_at, p.scope.clone()),
            None => (
                FamilyId::new(self.ports.random.uuid()),
                now + self.policy.refresh_family_lifetime,
                scope.clone(),
            ),
        };
        let record = RefreshTokenRecord {
            digest: self.ports.digest.digest(token.expose()),
            family,
            client_id: client.id.clone(),
            user_id,
            scope,
            issued_at: now,
            expires_at: (now + self.policy.refresh_token_ttl).min(family_expires_at),
            family_expires_at,
            rotated_at: None,
            revoked_at: None,
            parent: predecessor.map(|p| p.digest),
            superseded_at: None,
            issued_with: None,
        };
        (token, record)
    }

    /// Signs a new grant's tokens without storing anything: a refresh token
    /// in a new family when the client may refresh, and the access token
    /// that names that family (so revoking the grant reaches it).
    pub(crate) fn prepare_grant(
        &self,
        client: &Client,
        owner: TokenOwner,
        scope: Scope,
        groups: Option<Vec<String>>,
        now: DateTime<Utc>,
    ) -> Result<PreparedGrant, FlowError> {
        let refresh = client
            .allows(GrantType::RefreshToken)
            .then(|| self.new_refresh(client, Some(owner.id), &scope, None, now));
        let family = refresh.as_ref().map(|(_, record)| record.family);
        let access =
            self.prepare_access(client, TokenFor::User(owner), &scope, family, groups, now)?;
        Ok(PreparedGrant {
            refresh,
            access,
            scope,
            user: owner.id,
        })
    }

    /// Issues the token of a sign-in through an upstream provider (seed
    /// 003): the client must be registered for the external-login dialect;
    /// the token is one access token with the client's scope, no refresh
    /// token, and a reference token whatever the client's format, since
    /// the dialect looks it up by id and it must be revocable.
    pub(crate) async fn issue_federated(
        &self,
        client: &Client,
        user: TokenOwner,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, FlowError> {
        require_dialect(client, Dialect::ExternalLogin)?;
        let reference = Client {
            token_format: TokenFormat::Reference,
            ..client.clone()
        };
        let signed = self
            .access_token(&reference, TokenFor::User(user), &client.scope, None, now)
            .await?;
        Ok(signed.into_issued(None, None, client.scope.clone(), Some(user.id)))
    }

    /// Issues the tokens for a user: an access token, and a refresh token in
    /// a new family when the client may refresh. Only a grant that has
    /// passed its gate calls this; a login that earned it passes its
    /// throttle key in `cleared`, to be reset in the same write.
    pub(crate) async fn tokens_for_user(
        &self,
        client: &Client,
        owner: TokenOwner,
        scope: Scope,
        cleared: Option<&crate::throttle::ThrottleKey>,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, FlowError> {
        let groups = self.groups_claim(owner.id, &scope).await?;
        let grant = self.prepare_grant(client, owner, scope, groups, now)?;
        // Both rows in one step: a failure leaves no half-issued grant.
        self.ports
            .tokens
            .insert_grant(grant.refresh_row(), grant.access_row(), cleared)
            .await?;
        Ok(grant.into_issued())
    }
}

/// The token endpoint: client authentication and every grant.
impl Grants {
    /// Runs one grant for an authenticated client.
    pub async fn exchange(
        &self,
        client: &Client,
        request: GrantRequest,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, FlowError> {
        let grant = request.grant_type();
        if !client.allows(grant) {
            return Err(OAuthError::unauthorized_client(format!(
                "this client is not allowed to use the {grant} grant"
            ))
            .with_event(SecurityEvent::ClientRefused {
                client: client.id.clone(),
            })
            .into());
        }
        match request {
            GrantRequest::Password {
                login,
                password,
                scope,
                from,
            } => password::run(self, client, &login, password, scope, &from, now).await,
            GrantRequest::ClientCredentials { scope } => {
                client_credentials::run(self, client, scope, now).await
            }
            GrantRequest::RefreshToken {
                refresh_token,
                scope,
            } => refresh_token::run(self, client, &refresh_token, scope, now).await,
            GrantRequest::DeviceCode { device_code } => {
                device_code::poll(self, client, &device_code, now).await
            }
            GrantRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                authorization_code::redeem(self, client, &code, redirect_uri, code_verifier, now)
                    .await
            }
        }
    }

    /// Runs one grant for a client speaking `dialect`: the client must have
    /// been registered for it, and then the request passes the same gate as
    /// a standard one.
    pub async fn exchange_in(
        &self,
        dialect: Dialect,
        client: &Client,
        request: GrantRequest,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, FlowError> {
        require_dialect(client, dialect)?;
        self.exchange(client, request, now).await
    }

    /// The client a dialect whose requests carry no secret acts for: it must
    /// be registered for the dialect, and be public (a confidential client
    /// authenticates, which such a request cannot do).
    pub async fn dialect_client(
        &self,
        dialect: Dialect,
        client_id: &ClientId,
    ) -> Result<Client, FlowError> {
        let client = self
            .authenticate_client(&ClientCredentials {
                client_id: client_id.clone(),
                secret: None,
            })
            .await?;
        require_dialect(&client, dialect)?;
        Ok(client)
    }
}

/// Who an access token acts for: the client itself, or an account in its
/// current token generation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenFor {
    /// A client's own token (client credentials).
    Client,
    /// A user's token.
    User(TokenOwner),
}

/// A new grant's tokens, signed and not yet stored: the grant's decisive
/// step stores its rows in the same atomic write.
pub(crate) struct PreparedGrant {
    refresh: Option<(OpaqueToken, RefreshTokenRecord)>,
    access: PreparedAccess,
    scope: Scope,
    user: UserId,
}

impl PreparedGrant {
    pub(crate) fn refresh_row(&self) -> Option<&RefreshTokenRecord> {
        self.refresh.as_ref().map(|(_, record)| record)
    }

    pub(crate) fn access_row(&self) -> Option<&AccessTokenRecord> {
        self.access.record.as_ref()
    }

    /// The access token, for the `at_hash` of an ID token issued with it.
    pub(crate) fn access_token(&self) -> &OpaqueToken {
        &self.access.signed.token
    }

    /// What a code's redemption records, for revocation on replay.
    pub(crate) fn issued_from_code(&self) -> crate::types::IssuedFromCode {
        crate::types::IssuedFromCode {
            family: self.refresh_row().map(|r| r.family),
            access_token_id: self.access.signed.token_id,
            access_expires_at: self.access.signed.expires_at,
        }
    }

    /// The answer, once the grant's rows are stored.
    pub(crate) fn into_issued(self) -> IssuedTokens {
        let family = self.refresh_row().map(|r| r.family);
        let refresh_token = self.refresh.map(|(token, _)| token);
        self.access
            .signed
            .into_issued(refresh_token, family, self.scope, Some(self.user))
    }
}

/// An access token signed or drawn, with the row a reference token needs.
pub(crate) struct PreparedAccess {
    pub(crate) signed: SignedAccess,
    pub(crate) record: Option<AccessTokenRecord>,
}

impl PreparedAccess {
    pub(crate) fn issued(&self) -> crate::types::IssuedAccess {
        crate::types::IssuedAccess {
            token_id: self.signed.token_id,
            expires_at: self.signed.expires_at,
        }
    }
}

/// A signed access token and its facts.
pub(crate) struct SignedAccess {
    token: OpaqueToken,
    expires_at: DateTime<Utc>,
    expires_in: chrono::Duration,
    token_id: uuid::Uuid,
}

impl SignedAccess {
    pub(crate) fn into_issued(
        self,
        refresh_token: Option<OpaqueToken>,
        family: Option<FamilyId>,
        scope: Scope,
        user_id: Option<UserId>,
    ) -> IssuedTokens {
        IssuedTokens {
            access_token: self.token,
            expires_at: self.expires_at,
            expires_in: self.expires_in,
            refresh_token,
            scope,
            user_id,
            token_id: self.token_id,
            family,
            id_token: None,
            event: None,
        }
    }
}

/// Refuses a client that was not registered for `dialect`.
pub(crate) fn require_dialect(client: &Client, dialect: Dialect) -> Result<(), OAuthError> {
    if client.speaks(dialect) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized_client(format!(
            "this client is not registered for the {dialect} API"
        ))
        .with_event(SecurityEvent::ClientRefused {
            client: client.id.clone(),
        }))
    }
}

/// RFC 6749 section 3.3: an omitted scope means the client's registered
/// scope; a requested scope must lie within it. Every grant and every
/// authorization request resolves scope here.
pub(crate) fn resolve_scope(
    requested: Option<Scope>,
    allowed: &Scope,
) -> Result<Scope, OAuthError> {
    match requested {
        None => Ok(allowed.clone()),
        Some(s) if s.is_subset(allowed) => Ok(s),
        Some(_) => Err(OAuthError::invalid_scope(
            "the requested scope exceeds what this client may ask for",
        )),
    }
}
