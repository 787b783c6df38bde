//! Who may call the admin API: a client marked admin, acting for itself
//! (the client_credentials grant), with the scope the route needs. A
//! person's token never passes, whatever its scopes.
use crate::error::FlowError;
use crate::grants::introspection::Bearer;
use crate::service::Accounts;
use crate::types::{ClientId, Subject};

use super::AdminScope;

/// The client calling the admin API, checked: what its writes' security
/// events name as the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCaller {
    /// The admin client.
    pub client: ClientId,
}

/// Why a caller may not do what it asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminRefusal {
    /// The token acts for a person: the admin API takes only an admin
    /// client's own tokens.
    #[error("a token that acts for a person cannot call the admin API")]
    PersonsToken,
    /// The token's client is not (or no longer) an admin client.
    #[error("this client may not call the admin API")]
    NotAdmin,
    /// The token lacks the scope the route needs.
    #[error("this needs the scope {0}")]
    MissingScope(AdminScope),
    /// A store failure.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl Accounts {
    /// Whether the admin API is there at all: set up on this server, and
    /// some client may call it. Until then its routes answer as if they
    /// did not exist.
    pub async fn admin_api_open(&self) -> Result<bool, FlowError> {
        if self.admin.is_none() {
            return Ok(false);
        }
        Ok(self.ports.clients.any_admin().await?)
    }

    /// Checks that the verified token `bearer` may do `need`: a client's
    /// own token, of a client that is an admin client now (not merely when
    /// the token was issued), with the scope.
    pub async fn admin_caller(
        &self,
        bearer: &Bearer,
        need: AdminScope,
    ) -> Result<AdminCaller, AdminRefusal> {
        let claims = &bearer.claims;
        if bearer.user.is_some() || !matches!(claims.subject, Subject::Client(_)) {
            return Err(AdminRefusal::PersonsToken);
        }
        let client = self
            .ports
            .clients
            .find(&claims.client_id)
            .await
            .map_err(FlowError::from)?;
        if !client.is_some_and(|c| c.admin) {
            return Err(AdminRefusal::NotAdmin);
        }
        if !need.granted_by(&claims.scope) {
            return Err(AdminRefusal::MissingScope(need));
        }
        Ok(AdminCaller {
            client: claims.client_id.clone(),
        })
    }
}
