//! Client authentication (RFC 6749 section 2.3).
use crate::error::{FlowError, OAuthError};
use crate::types::{Client, ClientAuth, ClientId, OpaqueToken};

use super::TokenService;

/// What a request presented to identify its client, after the web layer has
/// taken it from the Basic header or the body (never both).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: ClientId,
    pub secret: Option<OpaqueToken>,
}

impl TokenService {
    /// Authenticates a client. Every failure is the same `invalid_client`, so
    /// the answer does not tell which client ids exist.
    pub async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Client, FlowError> {
        let failed = || OAuthError::invalid_client("client authentication failed");
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
}
