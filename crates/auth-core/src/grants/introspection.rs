//! What a presented token is, for bearer authentication, introspection
//! (RFC 7662) and revocation (RFC 7009).
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::grants::refresh_token::RefreshState;
use crate::ports::TokenCodec;
use crate::types::{AccessClaims, Client, ClientId, Scope, Subject, User, UserId};

use crate::service::Grants;

/// A verified access token and the account it acts for.
#[derive(Debug, Clone)]
pub struct Bearer {
    /// The token's verified claims.
    pub claims: AccessClaims,
    /// The token's user, enabled; `None` for a token a client holds for
    /// itself.
    pub user: Option<User>,
}

/// Which kind of token a hint or a lookup named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An access token (self-contained or reference).
    Access,
    /// A refresh token.
    Refresh,
}

impl TokenKind {
    /// RFC 7009 / RFC 7662 `token_type_hint`; an unknown hint is ignored.
    pub fn from_hint(hint: Option<&str>) -> Option<Self> {
        match hint {
            Some("access_token") => Some(Self::Access),
            Some("refresh_token") => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// An active token's facts, as introspection reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToken {
    /// Which kind of token it is.
    pub kind: TokenKind,
    /// The client it was issued to.
    pub client_id: String,
    /// Whom it acts for.
    pub subject: Subject,
    /// The account it acts for, if any.
    pub user_id: Option<UserId>,
    /// The owner's username, for a user's token.
    pub username: Option<String>,
    /// What it allows.
    pub scope: Scope,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// With the `groups` scope, the account's groups by name, sorted, as
    /// they are now (introspection is where a resource server learns of a
    /// change before the token expires).
    pub groups: Option<Vec<String>>,
}

impl Grants {
    /// The codec of `token`'s format when it is self-contained (a JWT or a
    /// PASETO, as the codecs themselves recognise it); `None` for a
    /// reference token, which is looked up.
    fn codec_for(&self, token: &str) -> Option<&dyn TokenCodec> {
        [&self.ports.jwt, &self.ports.codec]
            .into_iter()
            .find(|codec| codec.recognises(token))
            .map(|codec| &**codec)
    }

    /// Verifies a bearer access token: its signature or stored record, its
    /// expiry, the revocation list, that its client still exists and that
    /// the account it acts for exists and is enabled. Every use of a bearer
    /// token (userinfo, introspection, a dialect's token info, an
    /// embedder's routes) goes through this one check.
    pub async fn verify_access(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Bearer, FlowError> {
        let invalid =
            || OAuthError::invalid_token("the access token is invalid, expired or revoked");
        let claims = if let Some(codec) = self.codec_for(token) {
            let claims = codec.verify(token, now).map_err(|_| invalid())?;
            // A self-contained token stays valid until it expires unless its
            // own id or its grant's family is on the revocation list.
            if self
                .ports
                .tokens
                .is_access_revoked(claims.token_id, claims.family)
                .await?
            {
                return Err(invalid().into());
            }
            claims
        } else {
            // Revoking a reference token deletes its row, so the lookup is
            // the revocation check too.
            let digest = self.ports.digest.digest(token);
            let record = self
                .ports
                .tokens
                .find_access(&digest)
                .await?
                .ok_or_else(invalid)?;
            if record.expires_at <= now {
                return Err(invalid().into());
            }
            record.claims(&self.issuer)
        };
        // A deleted client's tokens stop working, whatever a cache in front
        // of the store still remembers.
        if self.ports.clients.find(&claims.client_id).await?.is_none() {
            return Err(invalid().into());
        }
        // A user's token acts only while the account exists and is enabled,
        // and only if it was issued in the account's current token
        // generation: ending every token of an account raises it.
        let user = match claims.subject.user() {
            None => None,
            Some(id) => match self.ports.users.find_by_id(id).await? {
                Some(user)
                    if !user.disabled && claims.generation.is_current(user.token_generation) =>
                {
                    Some(user)
                }
                _ => return Err(invalid().into()),
            },
        };
        Ok(Bearer { claims, user })
    }

    /// A bearer token of `client`'s own: a valid token issued to another
    /// client is refused alike (a dialect's "what is my token" answers only
    /// about the tokens that dialect issued).
    pub async fn verify_access_of(
        &self,
        client: &Client,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, FlowError> {
        let bearer = self.verify_access(token, now).await?;
        if bearer.claims.client_id != client.id {
            return Err(OAuthError::invalid_token("the token was not issued by this API").into());
        }
        Ok(bearer.claims)
    }

    /// RFC 7662: the facts of an active token, for an authenticated
    /// `caller`; `None` for anything expired, revoked, malformed or unknown,
    /// and for a token the caller does not serve (issued to another client
    /// that is not one of its audiences), so introspection tells a client
    /// nothing about other clients' tokens. Section 2.1: the caller is a
    /// protected resource that authenticates, so a public client is refused.
    pub async fn introspect(
        &self,
        caller: &Client,
        token: &str,
        hint: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<ActiveToken>, FlowError> {
        if caller.is_public() {
            return Err(OAuthError::invalid_client(
                "introspection needs a confidential client (a resource server with a secret)",
            )
            .into());
        }
        let found = self.active_token(token, hint, now).await?;
        // A deleted client's tokens are not found: its access tokens are
        // refused by `verify_access`, its refresh tokens went with it.
        // A refresh token is its client's alone: a resource server serves
        // access tokens, and must never learn of (or probe for) the
        // credential that mints them.
        let Some(mut active) = found.filter(|active| {
            ClientId::parse(&active.client_id).is_ok_and(|holder| match active.kind {
                TokenKind::Access => caller.serves(&holder),
                TokenKind::Refresh => holder == caller.id,
            })
        }) else {
            return Ok(None);
        };
        // A user's token is active only while the account exists and is
        // enabled (an access token's account was checked by `verify_access`).
        if let (Some(id), None) = (active.user_id, &active.username) {
            match self.ports.users.find_by_id(id).await? {
                Some(user) if !user.disabled => active.username = Some(user.username.to_string()),
                _ => return Ok(None),
            }
        }
        if let Some(id) = active.user_id {
            active.groups = self.groups_claim(id, &active.scope).await?;
        }
        Ok(Some(active))
    }

    /// The facts of an active token, whoever holds it.
    async fn active_token(
        &self,
        token: &str,
        hint: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<ActiveToken>, FlowError> {
        // The hint only orders the lookups (RFC 7662 section 2.1).
        let order = match TokenKind::from_hint(hint) {
            Some(TokenKind::Refresh) => [TokenKind::Refresh, TokenKind::Access],
            _ => [TokenKind::Access, TokenKind::Refresh],
        };
        for kind in order {
            let found = match kind {
                TokenKind::Access => match self.verify_access(token, now).await {
                    Ok(Bearer { claims: c, user }) => Some(ActiveToken {
                        kind,
                        client_id: c.client_id.to_string(),
                        user_id: user.as_ref().map(|u| u.id),
                        username: user.map(|u| u.username.to_string()),
                        subject: c.subject,
                        scope: c.scope,
                        issued_at: c.issued_at,
                        expires_at: c.expires_at,
                        groups: None,
                    }),
                    Err(FlowError::OAuth(_)) => None,
                    Err(e) => return Err(e),
                },
                TokenKind::Refresh => {
                    let digest = self.ports.digest.digest(token);
                    match self.ports.tokens.find_refresh(&digest).await? {
                        Some(r) if RefreshState::of(&r, now) == RefreshState::Active => {
                            Some(ActiveToken {
                                kind,
                                client_id: r.client_id.to_string(),
                                subject: r.user_id.map_or_else(
                                    || Subject::Client(r.client_id.clone()),
                                    Subject::User,
                                ),
                                user_id: r.user_id,
                                username: None,
                                scope: r.scope,
                                issued_at: r.issued_at,
                                expires_at: r.expires_at,
                                groups: None,
                            })
                        }
                        _ => None,
                    }
                }
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// RFC 7009: revokes a token issued to `client`. A refresh token takes
    /// its whole family with it; an access token enters the revocation list
    /// until it expires. Unknown tokens are not an error (section 2.2).
    pub async fn revoke(
        &self,
        client: &Client,
        token: &str,
        hint: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let not_yours =
            || OAuthError::unauthorized_client("the token was not issued to this client");
        let digest = self.ports.digest.digest(token);
        let refresh_first = TokenKind::from_hint(hint) == Some(TokenKind::Refresh)
            || self.codec_for(token).is_none();
        if refresh_first && let Some(r) = self.ports.tokens.find_refresh(&digest).await? {
            if r.client_id != client.id {
                return Err(not_yours().into());
            }
            self.revoke_grant(r.family, client, now).await?;
            return Ok(());
        }
        // Expired access tokens need no revocation; a forged one is unknown.
        let claims = if let Some(codec) = self.codec_for(token) {
            codec.verify(token, now).ok()
        } else {
            self.ports
                .tokens
                .find_access(&digest)
                .await?
                .filter(|r| r.expires_at > now)
                .map(|r| r.claims(&self.issuer))
        };
        match claims {
            Some(c) if c.client_id != client.id => Err(not_yours().into()),
            Some(c) => {
                self.ports
                    .tokens
                    .revoke_access(c.token_id, c.expires_at)
                    .await?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}
