//! `UserRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::UserRepository;
use auth_core::types::{NewUser, User, UserId};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, store_error};
use crate::rows::UserRow;
use crate::schema::users;

#[async_trait]
impl UserRepository for Database {
    async fn create(&self, user: &NewUser) -> Result<(), StoreError> {
        let row = UserRow::from(user);
        with_conn!(writer self, |conn| diesel::insert_into(users::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("user")))?;
        Ok(())
    }

    async fn find_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = with_conn!(self, |conn| users::table
            .filter(users::username.eq(login).or(users::email.eq(login)))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(StoreError::backend))?;
        row.map(User::try_from).transpose()
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let id = id.to_string();
        let row: Option<UserRow> = with_conn!(self, |conn| users::table
            .find(&id)
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(StoreError::backend))?;
        row.map(User::try_from).transpose()
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = with_conn!(self, |conn| users::table
            .order(users::username)
            .select(UserRow::as_select())
            .load(conn)
            .await
            .map_err(StoreError::backend))?;
        rows.into_iter().map(User::try_from).collect()
    }
}
