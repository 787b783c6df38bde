//! Hand-written statements that Diesel's query builder cannot express (an
//! upsert with a conditional update, an UPDATE feeding an INSERT), as query
//! types of their own.
//!
//! Why not `diesel::sql_query`: Diesel never caches a raw SQL query as a
//! prepared statement, so on PostgreSQL every execution costs an extra round
//! trip to parse and plan it before the one that runs it; these sit on the
//! login and refresh paths. A type with a static query id is prepared once
//! per connection and found again by its type.
use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary, HasSqlType, Nullable, Text, Timestamp};

use crate::rows::RefreshRow;

/// Marks `$ty` as a statement whose SQL text never depends on its values,
/// so Diesel caches it by type.
macro_rules! static_statement {
    ($ty:ident) => {
        impl QueryId for $ty<'_> {
            type QueryId = $ty<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
    };
}

/// Counts a login (or other throttled) attempt if the key's window has
/// ended, starting a new one, or it is under the limit; returns the count
/// only then. On PostgreSQL the upsert locks the row, on SQLite the single
/// writer runs one statement at a time: either way parallel attempts are
/// counted one by one.
pub(crate) struct ReserveAttempt<'a> {
    pub key: &'a str,
    /// When a window started now ends.
    pub window_end: NaiveDateTime,
    pub now: NaiveDateTime,
    pub limit: i64,
}

static_statement!(ReserveAttempt);

impl Query for ReserveAttempt<'_> {
    type SqlType = BigInt;
}

impl<DB> QueryFragment<DB> for ReserveAttempt<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp> + HasSqlType<BigInt>,
    str: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("INSERT INTO throttle_counters (key, expires_at, attempts) VALUES (");
        out.push_bind_param::<Text, _>(self.key)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.window_end)?;
        out.push_sql(
            ", 1) ON CONFLICT (key) DO UPDATE SET \
             attempts = CASE WHEN throttle_counters.expires_at <= ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            " THEN 1 ELSE throttle_counters.attempts + 1 END, \
             expires_at = CASE WHEN throttle_counters.expires_at <= ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            " THEN excluded.expires_at ELSE throttle_counters.expires_at END \
             WHERE throttle_counters.expires_at <= ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" OR throttle_counters.attempts < ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(" RETURNING attempts");
        Ok(())
    }
}

/// A refresh token's rotation on PostgreSQL in one statement: the INSERT of
/// the successor takes its row from the conditional UPDATE's RETURNING, so
/// the rotation is atomic without a transaction. The UPDATE retires `old`
/// only if it is live at `now`, and records the successor's digest in it
/// (a retry whose answer was lost finds the successor by primary key).
pub(crate) struct RotateRefreshPg<'a> {
    pub now: NaiveDateTime,
    pub old: &'a [u8],
    pub successor: &'a RefreshRow,
}

static_statement!(RotateRefreshPg);

impl QueryFragment<Pg> for RotateRefreshPg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let row = self.successor;
        out.push_sql("WITH retired AS (UPDATE refresh_tokens SET rotated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", successor_digest = ");
        out.push_bind_param::<Binary, _>(&row.digest)?;
        out.push_sql(" WHERE digest = ");
        out.push_bind_param::<Binary, _>(self.old)?;
        out.push_sql(" AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            " RETURNING 1) INSERT INTO refresh_tokens \
             (digest, family_id, client_id, user_id, scope, issued_at, expires_at, \
              family_expires_at, parent_digest, access_token_id, access_expires_at) SELECT ",
        );
        out.push_bind_param::<Binary, _>(&row.digest)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.family_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.client_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&row.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.scope)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&row.issued_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&row.expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&row.family_expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(self.old)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&row.access_token_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamp>, _>(&row.access_expires_at)?;
        out.push_sql(" FROM retired");
        Ok(())
    }
}
