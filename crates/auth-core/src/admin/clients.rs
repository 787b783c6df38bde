//! The admin API's operations on clients: the registrations with their
//! versions, a page at a time, and writes conditional on the version read,
//! under the same rules as the CLI's `client` commands (`accounts.rs`).
use chrono::{DateTime, Utc};

use crate::accounts::{ClientSpec, RegistrationError, changed_client, register_client};
use crate::error::FlowError;
use crate::events::{ClientChangeKind, SecurityEvent};
use crate::service::Accounts;
use crate::types::{ClientId, ClientRecord, OpaqueToken, Version, Written};

use super::listing::Cursors;
use super::{CursorError, Page, PageRequest};

/// Why an operation on a client was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// No client has that id.
    #[error("no such client")]
    NotFound,
    /// The client changed since the version the caller named.
    #[error("the client changed since it was read; read it again")]
    Stale,
    /// A bad page request or cursor.
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// The registration breaks a rule, or its id is taken.
    #[error(transparent)]
    Registration(RegistrationError),
    /// The admin API is not set up on this server.
    #[error("the admin API is not set up here")]
    Absent,
    /// A store or crypto failure; nothing changed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<RegistrationError> for AdminClientError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::Flow(e) => Self::Flow(e),
            other => Self::Registration(other),
        }
    }
}

impl From<crate::error::StoreError> for AdminClientError {
    fn from(e: crate::error::StoreError) -> Self {
        Self::Flow(e.into())
    }
}

fn changed(client: &ClientId, change: ClientChangeKind) -> SecurityEvent {
    SecurityEvent::ClientChanged {
        client: client.clone(),
        change,
    }
}

impl Accounts {
    /// A page of clients in creation order (then by id).
    pub async fn list_client_records(
        &self,
        request: PageRequest<'_>,
    ) -> Result<Page<ClientRecord>, AdminClientError> {
        let admin = self.admin.as_ref().ok_or(AdminClientError::Absent)?;
        let limit = Cursors::limit(&request)? as usize;
        let cursors = Cursors::new(&admin.sealer, "clients", None);
        let after = match request.after {
            Some(cursor) => {
                let (at, id) = cursors.open_position(cursor)?;
                Some((at, ClientId::parse(&id).map_err(|_| CursorError::Foreign)?))
            }
            None => None,
        };
        // Clients are few (they are registered by hand): the page is cut
        // from the whole list, by the same key a database page would use.
        let mut items: Vec<ClientRecord> = self
            .ports
            .clients
            .client_records()
            .await?
            .into_iter()
            .filter(|r| {
                after
                    .as_ref()
                    .is_none_or(|(at, id)| (r.client.created_at, &r.client.id) > (*at, id))
            })
            .take(limit + 1)
            .collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            match items.last() {
                Some(last) => Some(
                    cursors
                        .seal_position(last.client.created_at, last.client.id.as_str())
                        .map_err(FlowError::from)?,
                ),
                None => None,
            }
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// The client with `id` and its version.
    pub async fn client_record(&self, id: &ClientId) -> Result<ClientRecord, AdminClientError> {
        self.ports
            .clients
            .client_record(id)
            .await?
            .ok_or(AdminClientError::NotFound)
    }

    /// Registers a client as the CLI's `client create` does; a confidential
    /// client's secret is returned once.
    pub async fn create_client_record(
        &self,
        spec: ClientSpec,
        now: DateTime<Utc>,
    ) -> Result<(ClientRecord, Option<OpaqueToken>, SecurityEvent), AdminClientError> {
        let (client, secret) = register_client(self, spec, now).await?;
        let record = self.client_record(&client.id).await?;
        let event = changed(&client.id, ClientChangeKind::Created);
        Ok((record, secret, event))
    }

    /// Changes the client `id` to `spec` (as the CLI's `client update`) if
    /// it is still at `expected`.
    pub async fn change_client(
        &self,
        id: &ClientId,
        expected: Version,
        spec: ClientSpec,
    ) -> Result<(ClientRecord, SecurityEvent), AdminClientError> {
        let current = self.client_record(id).await?;
        if current.version != expected {
            return Err(AdminClientError::Stale);
        }
        let client = changed_client(&current.client, spec)?;
        match self
            .ports
            .clients
            .update_client_version(&client, expected)
            .await?
        {
            Written::Done(()) => {}
            Written::Stale => return Err(AdminClientError::Stale),
            Written::Missing => return Err(AdminClientError::NotFound),
        }
        let record = self.client_record(id).await?;
        Ok((record, changed(id, ClientChangeKind::Updated)))
    }

    /// Deletes the client `id` and everything issued to it (as the CLI's
    /// `client delete`) if it is still at `expected`.
    pub async fn delete_client_record(
        &self,
        id: &ClientId,
        expected: Version,
    ) -> Result<SecurityEvent, AdminClientError> {
        match self
            .ports
            .clients
            .delete_client_version(id, expected)
            .await?
        {
            Written::Done(()) => Ok(changed(id, ClientChangeKind::Deleted)),
            Written::Stale => Err(AdminClientError::Stale),
            Written::Missing => Err(AdminClientError::NotFound),
        }
    }

    /// Gives a confidential client a new secret, returned once (as the
    /// CLI's `client rotate-secret`); the old one stops working at once.
    pub async fn rotate_secret_of(
        &self,
        id: &ClientId,
    ) -> Result<(OpaqueToken, ClientRecord, SecurityEvent), AdminClientError> {
        let secret = crate::accounts::rotate_client_secret(self, id)
            .await?
            .ok_or(AdminClientError::NotFound)?;
        let record = self.client_record(id).await?;
        Ok((secret, record, changed(id, ClientChangeKind::SecretRotated)))
    }
}
