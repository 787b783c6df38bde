//! `UserRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::UserRepository;
use auth_core::types::{
    AccountChange, Email, LoginName, NewUser, PasswordHash, User, UserId, UserListing, UserRecord,
    Version, Written,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error, store_error};
use crate::rows::{UserRow, naive};
use crate::schema::{access_tokens, login_names, refresh_tokens, sessions, users};

/// An account whose username or email does not sign it in, because the
/// name belonged to another account when login names became unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginNameConflict {
    pub user_id: String,
    pub name: String,
    /// The account the name signs in instead.
    pub held_by: String,
}

impl Database {
    /// The accounts whose username or email names another account: left as
    /// they are by the migration, for an operator to resolve.
    pub async fn login_name_conflicts(&self) -> Result<Vec<LoginNameConflict>, StoreError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            user_id: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            held_by: String,
        }
        const QUERY: &str = "SELECT u.id AS user_id, n.name AS name, n.user_id AS held_by \
             FROM users u JOIN login_names n \
               ON n.name = lower(u.username) OR n.name = lower(u.email) \
             WHERE n.user_id <> u.id ORDER BY u.id, n.name";
        let rows: Vec<Row> = with_conn!(self, |conn| diesel::sql_query(QUERY)
            .load(conn)
            .await
            .map_err(query_error))?;
        Ok(rows
            .into_iter()
            .map(|r| LoginNameConflict {
                user_id: r.user_id,
                name: r.name,
                held_by: r.held_by,
            })
            .collect())
    }
}

/// A login name's row: the name, its account, and its confusable skeleton
/// (unique: a look-alike of an existing name is a conflict).
#[derive(Insertable)]
#[diesel(table_name = login_names)]
pub(crate) struct LoginNameRow {
    pub name: String,
    pub user_id: String,
    pub skeleton: Option<String>,
}

impl LoginNameRow {
    fn new(name: &str, user_id: &str) -> Self {
        Self {
            name: name.to_owned(),
            user_id: user_id.to_owned(),
            skeleton: Some(auth_core::types::confusable_skeleton(name)),
        }
    }
}

/// The login names of a new account: its username and, when it differs,
/// its email.
pub(crate) fn login_name_rows(row: &UserRow) -> Vec<LoginNameRow> {
    let mut names = vec![LoginNameRow::new(&row.username, &row.id)];
    names.extend(
        row.email
            .as_deref()
            .filter(|e| *e != row.username)
            .map(|e| LoginNameRow::new(e, &row.id)),
    );
    names
}

impl Database {
    /// Gives every login name that has none its confusable skeleton, the
    /// oldest account's names first, so that of two existing look-alikes
    /// the older keeps the skeleton. A name whose skeleton an older name
    /// holds is left without one (it still signs in) and is reported by
    /// [`Self::look_alike_names`]. Runs at every open; after the first it
    /// finds only those.
    pub(crate) async fn fill_skeletons(&self) -> Result<(), StoreError> {
        let names: Vec<String> = with_conn!(self, |conn| login_names::table
            .inner_join(users::table)
            .filter(login_names::skeleton.is_null())
            .order((users::created_at, login_names::name))
            .select(login_names::name)
            .load(conn)
            .await
            .map_err(query_error))?;
        for name in names {
            let skeleton = auth_core::types::confusable_skeleton(&name);
            let filled = with_conn!(writer self, |conn| diesel::update(login_names::table.find(&name))
                .set(login_names::skeleton.eq(&skeleton))
                .execute(conn)
                .await
                .map_err(store_error("login name")));
            match filled {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The login names that look like an older account's name (they came
    /// before the look-alike rule): left as they are, for an operator.
    pub async fn look_alike_names(&self) -> Result<Vec<LoginNameConflict>, StoreError> {
        let orphans: Vec<(String, String)> = with_conn!(self, |conn| login_names::table
            .filter(login_names::skeleton.is_null())
            .order(login_names::name)
            .select((login_names::name, login_names::user_id))
            .load(conn)
            .await
            .map_err(query_error))?;
        let mut out = Vec::new();
        for (name, user_id) in orphans {
            let skeleton = auth_core::types::confusable_skeleton(&name);
            let holder: Option<(String, String)> = with_conn!(self, |conn| login_names::table
                .filter(login_names::skeleton.eq(&skeleton))
                .select((login_names::name, login_names::user_id))
                .first(conn)
                .await
                .optional()
                .map_err(query_error))?;
            if let Some((like, held_by)) = holder {
                out.push(LoginNameConflict {
                    user_id,
                    name: format!("{name} (looks like {like})"),
                    held_by,
                });
            }
        }
        Ok(out)
    }
}

/// How many accounts a PostgreSQL statement found (0 or 1), and how many
/// of its sessions it ended.
#[derive(QueryableByName)]
struct SignedOut {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    found: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    ended: i64,
}

/// One PostgreSQL statement that updates the account (`$1` its id) with
/// `set` and, where `when` holds, signs it out everywhere: its sessions
/// deleted, its refresh tokens revoked at `now` (a placeholder), its
/// reference access tokens deleted and its token generation raised.
/// Data-modifying CTEs share the statement's snapshot and commit with it.
fn sign_out_pg(set: Option<&str>, when: &str, now: &str) -> String {
    let set = set.map(|s| format!("{s}, ")).unwrap_or_default();
    format!(
        "WITH u AS (UPDATE users SET {set}\
           token_generation = token_generation + CASE WHEN {when} THEN 1 ELSE 0 END \
           WHERE id = $1 RETURNING id), \
         s AS (DELETE FROM sessions WHERE {when} AND user_id IN (SELECT id FROM u) RETURNING 1), \
         r AS (UPDATE refresh_tokens SET revoked_at = {now} \
               WHERE {when} AND revoked_at IS NULL AND user_id IN (SELECT id FROM u)), \
         a AS (DELETE FROM access_tokens WHERE {when} AND subject IN (SELECT id FROM u)) \
         SELECT (SELECT COUNT(*) FROM u) AS found, (SELECT COUNT(*) FROM s) AS ended"
    )
}

/// Signs an account out everywhere inside a SQLite write (the caller's
/// savepoint): sessions deleted, refresh tokens revoked, reference access
/// tokens deleted, token generation raised. How many sessions ended.
fn sign_out_everywhere(
    conn: &mut diesel::SqliteConnection,
    id: &str,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<usize> {
    use diesel::RunQueryDsl as Sync;
    let ended = Sync::execute(
        diesel::delete(sessions::table.filter(sessions::user_id.eq(id))),
        conn,
    )?;
    Sync::execute(
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::user_id.eq(id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now)),
        conn,
    )?;
    Sync::execute(
        diesel::delete(access_tokens::table.filter(access_tokens::subject.eq(id))),
        conn,
    )?;
    Sync::execute(
        diesel::update(users::table.find(id))
            .set(users::token_generation.eq(users::token_generation + 1)),
        conn,
    )?;
    Ok(ended)
}

#[async_trait]
impl UserRepository for Database {
    /// The user row and its login names (the username and, when it
    /// differs, the email) in one atomic step: a name that already names
    /// any account, in either column, is a conflict and nothing is stored.
    async fn create(&self, user: &NewUser) -> Result<(), StoreError> {
        let row = UserRow::from(user);
        let names = login_name_rows(&row);
        match self {
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(store_error("user"), move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        Sync::execute(diesel::insert_into(users::table).values(&row), conn)?;
                        for name in &names {
                            Sync::execute(
                                diesel::insert_into(login_names::table).values(name),
                                conn,
                            )?;
                        }
                        Ok(())
                    })
                    .await
            }
            // One statement: the names are inserted from the new row, and a
            // conflict on either table aborts both.
            Database::Postgres(pool) => {
                use diesel::sql_types::{Bool, Nullable, Text, Timestamp};
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                diesel::sql_query(
                    "WITH u AS (\
                       INSERT INTO users (id, username, email, password_hash, given_name, family_name, disabled, created_at, email_verified) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $11) RETURNING id, username, email) \
                     INSERT INTO login_names (name, user_id, skeleton) \
                       SELECT username, id, $9 FROM u \
                       UNION ALL SELECT email, id, $10 FROM u WHERE email IS NOT NULL AND email <> username",
                )
                .bind::<Text, _>(&row.id)
                .bind::<Text, _>(&row.username)
                .bind::<Nullable<Text>, _>(&row.email)
                .bind::<Nullable<Text>, _>(&row.password_hash)
                .bind::<Nullable<Text>, _>(&row.given_name)
                .bind::<Nullable<Text>, _>(&row.family_name)
                .bind::<Bool, _>(row.disabled)
                .bind::<Timestamp, _>(row.created_at)
                .bind::<Text, _>(auth_core::types::confusable_skeleton(&row.username))
                .bind::<Nullable<Text>, _>(
                    row.email
                        .as_deref()
                        .map(auth_core::types::confusable_skeleton),
                )
                .bind::<Bool, _>(row.email_verified)
                .execute(&mut conn)
                .await
                .map_err(store_error("user"))?;
                Ok(())
            }
        }
    }

    /// Through the login names: a name belongs to one account at most, so
    /// the answer never depends on row order.
    async fn find_by_login(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        let login = login.as_str();
        let row: Option<UserRow> = with_conn!(self, |conn| login_names::table
            .inner_join(users::table)
            .filter(login_names::name.eq(login))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
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
            .map_err(query_error))?;
        row.map(User::try_from).transpose()
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = with_conn!(self, |conn| users::table
            .order(users::username)
            .select(UserRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
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
                    .run_sync(StoreError::backend, move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        let found = Sync::execute(
                            diesel::update(users::table.find(&id))
                                .set(users::disabled.eq(disabled)),
                            conn,
                        )?;
                        if found > 0 && disabled {
                            sign_out_everywhere(conn, &id, now)?;
                        }
                        Ok(found > 0)
                    })
                    .await
            }
            Database::Postgres(pool) => {
                use diesel::sql_types::{Bool, Text, Timestamp};
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                let done: SignedOut =
                    diesel::sql_query(sign_out_pg(Some("disabled = $2"), "$2", "$3"))
                        .bind::<Text, _>(&id)
                        .bind::<Bool, _>(disabled)
                        .bind::<Timestamp, _>(now)
                        .get_result(&mut conn)
                        .await
                        .map_err(query_error)?;
                Ok(done.found > 0)
            }
        }
    }

    async fn set_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, hash, now) = (id.to_string(), hash.as_str().to_owned(), naive(now));
        match self {
            // One write on the writer thread, in its own savepoint.
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(StoreError::backend, move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        let found = Sync::execute(
                            diesel::update(users::table.find(&id))
                                .set(users::password_hash.eq(Some(&hash))),
                            conn,
                        )?;
                        if found > 0 {
                            sign_out_everywhere(conn, &id, now)?;
                        }
                        Ok(found > 0)
                    })
                    .await
            }
            // One statement, as `set_disabled`.
            Database::Postgres(pool) => {
                use diesel::sql_types::{Text, Timestamp};
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                let done: SignedOut =
                    diesel::sql_query(sign_out_pg(Some("password_hash = $2"), "TRUE", "$3"))
                        .bind::<Text, _>(&id)
                        .bind::<Text, _>(&hash)
                        .bind::<Timestamp, _>(now)
                        .get_result(&mut conn)
                        .await
                        .map_err(query_error)?;
                Ok(done.found > 0)
            }
        }
    }

    async fn sign_out_everywhere(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let (id, now) = (id.to_string(), naive(now));
        match self {
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(StoreError::backend, move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        let found: i64 =
                            Sync::get_result(users::table.filter(users::id.eq(&id)).count(), conn)?;
                        if found == 0 {
                            return Ok(None);
                        }
                        let ended = sign_out_everywhere(conn, &id, now)?;
                        Ok(Some(ended as u64))
                    })
                    .await
            }
            Database::Postgres(pool) => {
                use diesel::sql_types::{Text, Timestamp};
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                let done: SignedOut = diesel::sql_query(sign_out_pg(None, "TRUE", "$2"))
                    .bind::<Text, _>(&id)
                    .bind::<Timestamp, _>(now)
                    .get_result(&mut conn)
                    .await
                    .map_err(query_error)?;
                Ok((done.found > 0).then_some(u64::try_from(done.ended).unwrap_or(0)))
            }
        }
    }

    /// Its sessions, tokens, codes, device authorizations and links go
    /// with it: their foreign keys cascade, in the same statement.
    async fn release_unverified_email(
        &self,
        id: UserId,
        email: &Email,
    ) -> Result<bool, StoreError> {
        let (id, email) = (id.to_string(), email.as_str().to_owned());
        atomically!(self, "user", |conn| {
            let released = diesel::update(
                users::table
                    .filter(users::id.eq(&id))
                    .filter(users::email.eq(&email))
                    .filter(users::email_verified.eq(false))
                    .filter(users::username.ne(&email)),
            )
            .set(users::email.eq(None::<String>))
            .execute(conn)
            .await?;
            if released == 1 {
                diesel::delete(
                    login_names::table
                        .filter(login_names::name.eq(&email))
                        .filter(login_names::user_id.eq(&id)),
                )
                .execute(conn)
                .await?;
            }
            Ok(released == 1)
        })
    }

    async fn set_email_verified(&self, id: UserId, verified: bool) -> Result<bool, StoreError> {
        let id = id.to_string();
        let n = with_conn!(writer self, |conn| diesel::update(users::table.find(&id))
            .set(users::email_verified.eq(verified))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(n > 0)
    }

    async fn record(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        crate::user_records::find(self, id).await
    }

    async fn page(&self, listing: &UserListing) -> Result<Vec<UserRecord>, StoreError> {
        crate::user_records::page(self, listing).await
    }

    async fn change(
        &self,
        id: UserId,
        expected: Version,
        change: &AccountChange,
        now: DateTime<Utc>,
    ) -> Result<Written<UserRecord>, StoreError> {
        crate::user_records::change(self, id, expected, change, now).await
    }

    async fn delete_version(
        &self,
        id: UserId,
        expected: Version,
    ) -> Result<Written<()>, StoreError> {
        crate::user_records::delete(self, id, expected).await
    }

    async fn delete(&self, id: UserId) -> Result<bool, StoreError> {
        let id = id.to_string();
        let n = with_conn!(writer self, |conn| diesel::delete(users::table.find(&id))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(n > 0)
    }
}
