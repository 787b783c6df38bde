//! `KeyRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::KeyRepository;
use auth_core::types::SigningKey;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, store_error};
use crate::rows::KeyRow;
use crate::schema::signing_keys;

#[async_trait]
impl KeyRepository for Database {
    async fn list(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows: Vec<KeyRow> = with_conn!(self, |conn| signing_keys::table
            .order((signing_keys::created_at.desc(), signing_keys::key_id))
            .select(KeyRow::as_select())
            .load(conn)
            .await
            .map_err(StoreError::backend))?;
        let mut keys = rows
            .into_iter()
            .map(SigningKey::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by_key(|k| std::cmp::Reverse(k.activates_at));
        Ok(keys)
    }

    async fn delete(&self, key_id: &str) -> Result<bool, StoreError> {
        let key_id = key_id.to_owned();
        let n = with_conn!(writer self, |conn| diesel::delete(signing_keys::table.find(&key_id))
            .execute(conn)
            .await
            .map_err(StoreError::backend))?;
        Ok(n == 1)
    }

    async fn insert(&self, key: &SigningKey) -> Result<(), StoreError> {
        let row = KeyRow::from(key);
        with_conn!(writer self, |conn| diesel::insert_into(signing_keys::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("signing key")))?;
        Ok(())
    }
}
