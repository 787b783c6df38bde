//! `ClientRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::ClientRepository;
use auth_core::types::{Client, ClientId, ClientRecord, NewClient, Version, Written};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error, store_error};
use crate::rows::ClientRow;
use crate::schema::clients;

#[async_trait]
impl ClientRepository for Database {
    async fn create(&self, client: &NewClient) -> Result<(), StoreError> {
        let row = ClientRow::from(client);
        with_conn!(writer self, |conn| diesel::insert_into(clients::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("client")))?;
        Ok(())
    }

    async fn find(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let row: Option<ClientRow> = with_conn!(self, |conn| clients::table
            .find(id.as_str())
            .select(ClientRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(Client::try_from).transpose()
    }

    async fn list(&self) -> Result<Vec<Client>, StoreError> {
        let rows: Vec<ClientRow> = with_conn!(self, |conn| clients::table
            .order(clients::created_at)
            .select(ClientRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn update(&self, client: &Client) -> Result<bool, StoreError> {
        let row = ClientRow::from(client);
        let n = with_conn!(writer self, |conn| diesel::update(clients::table.find(&row.id))
            .set(&row)
            .execute(conn)
            .await
            .map_err(store_error("client")))?;
        Ok(n > 0)
    }

    /// The client's tokens, codes and device authorizations go with it
    /// (their foreign keys cascade), in the same statement.
    async fn delete(&self, id: &ClientId) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        let n = with_conn!(writer self, |conn| diesel::delete(clients::table.find(&id))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(n > 0)
    }

    async fn client_records(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let rows: Vec<(ClientRow, i64)> = with_conn!(self, |conn| clients::table
            .order((clients::created_at, clients::id))
            .select((ClientRow::as_select(), clients::version))
            .load(conn)
            .await
            .map_err(query_error))?;
        rows.into_iter().map(record).collect()
    }

    async fn client_record(&self, id: &ClientId) -> Result<Option<ClientRecord>, StoreError> {
        let row: Option<(ClientRow, i64)> = with_conn!(self, |conn| clients::table
            .find(id.as_str())
            .select((ClientRow::as_select(), clients::version))
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(record).transpose()
    }

    /// The trigger makes the new version.
    async fn update_client_version(
        &self,
        client: &Client,
        expected: Version,
    ) -> Result<Written<()>, StoreError> {
        let row = ClientRow::from(client);
        let expected = column(expected);
        let n = with_conn!(writer self, |conn| diesel::update(
            clients::table
                .filter(clients::id.eq(&row.id))
                .filter(clients::version.eq(expected))
        )
        .set(&row)
        .execute(conn)
        .await
        .map_err(store_error("client")))?;
        self.written(n, &client.id).await
    }

    async fn delete_client_version(
        &self,
        id: &ClientId,
        expected: Version,
    ) -> Result<Written<()>, StoreError> {
        let (key, expected) = (id.as_str().to_owned(), column(expected));
        let n = with_conn!(writer self, |conn| diesel::delete(
            clients::table
                .filter(clients::id.eq(&key))
                .filter(clients::version.eq(expected))
        )
        .execute(conn)
        .await
        .map_err(query_error))?;
        self.written(n, id).await
    }

    async fn any_admin(&self) -> Result<bool, StoreError> {
        let found: Option<String> = with_conn!(self, |conn| clients::table
            .filter(clients::admin.eq(true))
            .select(clients::id)
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        Ok(found.is_some())
    }
}

fn record((row, version): (ClientRow, i64)) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        client: Client::try_from(row)?,
        version: Version::new(u64::try_from(version).unwrap_or(0)),
    })
}

/// The version as the column holds it.
fn column(v: Version) -> i64 {
    i64::try_from(v.get()).unwrap_or(i64::MAX)
}

impl Database {
    /// What a conditional write to a client that changed `n` rows did.
    async fn written(&self, n: usize, id: &ClientId) -> Result<Written<()>, StoreError> {
        if n > 0 {
            return Ok(Written::Done(()));
        }
        Ok(match ClientRepository::find(self, id).await? {
            Some(_) => Written::Stale,
            None => Written::Missing,
        })
    }
}
