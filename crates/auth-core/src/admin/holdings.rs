//! What an account holds, as an operator sees and ends it: its browser
//! sessions, the grants applications hold, its second factors. The same
//! operations as the account page's (one rule), by account id.
use chrono::{DateTime, Utc};

use crate::events::SecurityEvent;
use crate::factors::{FactorError, FactorOverview};
use crate::own_account::{Application, SessionView};
use crate::service::Accounts;
use crate::types::{ClientId, FactorId, UserId};

use super::AdminUserError;

impl From<FactorError> for AdminUserError {
    fn from(e: FactorError) -> Self {
        match e {
            FactorError::NotFound => Self::NotFound,
            FactorError::Flow(e) => Self::Flow(e),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl Accounts {
    /// The account `user`, or why not.
    async fn existing(&self, user: UserId) -> Result<(), AdminUserError> {
        match self.ports.users.find_by_id(user).await? {
            Some(_) => Ok(()),
            None => Err(AdminUserError::NotFound),
        }
    }

    /// The live browser sessions of `user`, the newest first.
    pub async fn sessions_of_user(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionView>, AdminUserError> {
        self.existing(user).await?;
        Ok(self.live_sessions(user, now).await?)
    }

    /// The applications holding live grants of `user`, by name.
    pub async fn grants_of_user(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Application>, AdminUserError> {
        self.existing(user).await?;
        Ok(self.applications_of(user, now).await?)
    }

    /// Takes back every grant `client` holds of `user` (as the account
    /// page's "revoke"): how many ended, and the event when any did.
    pub async fn revoke_grants_of(
        &self,
        user: UserId,
        client: &ClientId,
        now: DateTime<Utc>,
    ) -> Result<(u64, Option<SecurityEvent>), AdminUserError> {
        self.existing(user).await?;
        Ok(self.revoke_grants(user, client, now).await?)
    }

    /// The second factors of `user` and how many recovery codes are left.
    pub async fn credentials_of(&self, user: UserId) -> Result<FactorOverview, AdminUserError> {
        self.existing(user).await?;
        Ok(self.factor_overview(user).await?)
    }

    /// Removes one of `user`'s factors (as the account page does, with the
    /// mailed notice).
    pub async fn remove_credential(
        &self,
        user: UserId,
        id: FactorId,
        now: DateTime<Utc>,
    ) -> Result<SecurityEvent, AdminUserError> {
        self.existing(user).await?;
        Ok(self.remove_factor_of(user, id, now).await?)
    }

    /// Removes every factor and recovery code of `user` (as `user mfa
    /// reset`): how many factors went.
    pub async fn reset_credentials(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(u64, SecurityEvent), AdminUserError> {
        self.existing(user).await?;
        Ok(self.reset_mfa(user, now).await?)
    }
}
