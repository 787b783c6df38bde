//! `UserRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::UserRepository;
use auth_core::types::{NewUser, User, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, store_error};
use crate::rows::{UserRow, naive};
use crate::schema::{refresh_tokens, sessions, users};

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

    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        let now = naive(now);
        match self {
            // One write on the writer thread, in its own savepoint: the
            // three statements commit together or not at all.
            Database::Sqlite { writer, .. } => {
                writer
                    .run(move |conn| {
                        Box::pin(async move {
                            conn.spawn_blocking(move |conn| {
                                use diesel::RunQueryDsl as Sync;
                                let found = Sync::execute(
                                    diesel::update(users::table.find(&id))
                                        .set(users::disabled.eq(disabled)),
                                    conn,
                                )?;
                                if found > 0 && disabled {
                                    Sync::execute(
                                        diesel::delete(
                                            sessions::table.filter(sessions::user_id.eq(&id)),
                                        ),
                                        conn,
                                    )?;
                                    Sync::execute(
                                        diesel::update(
                                            refresh_tokens::table
                                                .filter(refresh_tokens::user_id.eq(&id))
                                                .filter(refresh_tokens::revoked_at.is_null()),
                                        )
                                        .set(refresh_tokens::revoked_at.eq(now)),
                                        conn,
                                    )?;
                                }
                                Ok(found > 0)
                            })
                            .await
                            .map_err(StoreError::backend)
                        })
                    })
                    .await
            }
            // One statement: data-modifying CTEs share its snapshot and
            // commit with it.
            Database::Postgres(pool) => {
                use diesel::sql_types::{Bool, Text, Timestamp};
                #[derive(QueryableByName)]
                struct Found {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    found: i64,
                }
                let mut conn = pool.get().await.map_err(StoreError::backend)?;
                let found: Found = diesel::sql_query(
                    "WITH u AS (UPDATE users SET disabled = $2 WHERE id = $1 RETURNING id), \
                     s AS (DELETE FROM sessions WHERE $2 AND user_id IN (SELECT id FROM u)), \
                     r AS (UPDATE refresh_tokens SET revoked_at = $3 \
                           WHERE $2 AND revoked_at IS NULL AND user_id IN (SELECT id FROM u)) \
                     SELECT COUNT(*) AS found FROM u",
                )
                .bind::<Text, _>(&id)
                .bind::<Bool, _>(disabled)
                .bind::<Timestamp, _>(now)
                .get_result(&mut conn)
                .await
                .map_err(StoreError::backend)?;
                Ok(found.found > 0)
            }
        }
    }
}
