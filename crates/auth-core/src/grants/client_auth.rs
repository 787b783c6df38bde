//! Client authentication (RFC 6749 section 2.3).
use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::types::{Client, ClientAuth, ClientId, OpaqueToken};

use crate::service::Grants;

/// What a request presented to identify its client, after the web layer has
/// taken it from the Basic header or the body (never both).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The client id presented.
    pub client_id: ClientId,
    /// Its secret, for a confidential client; `None` for a public one.
    pub secret: Option<OpaqueToken>,
}

impl Grants {
    /// Authenticates a client. Every failure is the same `invalid_client`, so
    /// the answer does not tell which client ids exist.
    pub async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Client, FlowError> {
        let failed = || {
            OAuthError::invalid_client("client authentication failed").with_event(
                SecurityEvent::ClientAuthFailed {
                    client: credentials.client_id.clone(),
                },
            )
        };
        let client = self.ports.clients.find(&credentials.client_id).await?;
        let Some(client) = client else {
            return Err(failed().into());
        };
        match (&client.auth, &credentials.secret) {
            (ClientAuth::Confidential { secret_digest }, Some(secret)) => {
                if self.ports.digest.verify(secret.expose(), secret_digest) {
                    Ok(client)
                } else {
                    Err(failed().into())
                }
            }
            (ClientAuth::Public, None) => Ok(client),
            // A confidential client that sent no secret, or a public client
            // that sent one: either way the request is not what was registered.
            _ => Err(failed().into()),
        }
    }

    /// The client a refresh token was issued to, for seed 001's refresh
    /// request, which names no client: the caller still authenticates that
    /// client (so only a public one passes without a secret).
    pub async fn refresh_token_client(
        &self,
        token: &OpaqueToken,
    ) -> Result<Option<ClientId>, FlowError> {
        let digest = self.ports.digest.digest(token.expose());
        Ok(self
            .ports
            .tokens
            .find_refresh(&digest)
            .await?
            .map(|r| r.client_id))
    }

    /// Whether a refresh token belongs to the account `login` names (a
    /// username or email): seed 000's refresh request names its user.
    pub async fn refresh_token_owned_by(
        &self,
        token: &OpaqueToken,
        login: &crate::types::LoginName,
    ) -> Result<bool, FlowError> {
        let digest = self.ports.digest.digest(token.expose());
        let Some(owner) = self
            .ports
            .tokens
            .find_refresh(&digest)
            .await?
            .and_then(|r| r.user_id)
        else {
            return Ok(false);
        };
        let named = self.ports.users.find_by_login(login).await?;
        Ok(named.is_some_and(|u| u.id == owner))
    }
}
