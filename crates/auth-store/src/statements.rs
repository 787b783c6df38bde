//! Hand-written statements of the request paths, as query types of their
//! own: those the query builder cannot express (an upsert with a
//! conditional update, an UPDATE feeding an INSERT) and the UPDATEs of the
//! hottest paths.
//!
//! Why: Diesel never caches a raw `sql_query`, nor any UPDATE its query
//! builder makes (a changeset of optional columns could change the text),
//! as a prepared statement. Such a statement is parsed and planned on every
//! request (SQLite's parser showed in the refresh profile), and on
//! PostgreSQL costs an extra round trip before the one that runs it. A type
//! with a static query id is prepared once per connection and found again
//! by its type. `tests/tests/e2e/query_plans.rs` checks which statements of
//! the request paths are kept prepared.
use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::expression::Expression;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Binary, Bool, HasSqlType, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use crate::rows::RefreshRow;
use crate::schema::users;

/// Marks `$ty` as a statement whose SQL text never depends on its values,
/// so Diesel caches it by type.
macro_rules! static_statement {
    ($ty:ident) => {
        impl QueryId for $ty<'_> {
            type QueryId = $ty<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
        // Runnable on SQLite's synchronous writer connection too.
        impl<Conn> diesel::RunQueryDsl<Conn> for $ty<'_> {}
    };
}

/// A throttle key's columns ([`crate::throttles`] maps each kind of key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyColumns {
    pub kind: &'static str,
    pub subject_kind: &'static str,
    pub subject: String,
    pub address: String,
    pub device: String,
}

impl KeyColumns {
    /// The five columns' values, as bind parameters in table order.
    fn push_values<'b, DB>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: Backend + HasSqlType<Text>,
        str: ToSql<Text, DB>,
    {
        let values: [&'b str; 5] = [
            self.kind,
            self.subject_kind,
            &self.subject,
            &self.address,
            &self.device,
        ];
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Text, _>(value)?;
        }
        Ok(())
    }

    /// `kind = .. AND subject_kind = .. AND ..`: the key's row.
    pub(crate) fn push_match<'b, DB>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: Backend + HasSqlType<Text>,
        str: ToSql<Text, DB>,
    {
        let columns: [(&str, &'b str); 5] = [
            ("kind", self.kind),
            ("subject_kind", self.subject_kind),
            ("subject", &self.subject),
            ("address", &self.address),
            ("device", &self.device),
        ];
        for (i, (column, value)) in columns.into_iter().enumerate() {
            if i > 0 {
                out.push_sql(" AND ");
            }
            out.push_sql(column);
            out.push_sql(" = ");
            out.push_bind_param::<Text, _>(value)?;
        }
        Ok(())
    }
}

/// Counts a login (or other throttled) attempt if the key's window has
/// ended, starting a new one, or it is under the limit; returns the count
/// only then. On PostgreSQL the upsert locks the row, on SQLite the single
/// writer runs one statement at a time: either way parallel attempts are
/// counted one by one.
pub(crate) struct ReserveAttempt<'a> {
    pub key: &'a KeyColumns,
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
        out.push_sql(
            "INSERT INTO throttle_counters \
             (kind, subject_kind, subject, address, device, expires_at, attempts) VALUES (",
        );
        self.key.push_values(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.window_end)?;
        out.push_sql(", 1) ");
        push_counting(&mut out, &self.now, &self.limit)
    }
}

/// The conflict clause of an attempt's upsert: the key's count goes up
/// only if its window has ended (a new one starts, at one) or it is under
/// `limit`; `RETURNING attempts` yields a row only for an attempt counted.
fn push_counting<'b, DB>(
    out: &mut AstPass<'_, 'b, DB>,
    now: &'b NaiveDateTime,
    limit: &'b i64,
) -> QueryResult<()>
where
    DB: Backend + HasSqlType<Timestamp> + HasSqlType<BigInt>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    i64: ToSql<BigInt, DB>,
{
    // A row at zero attempts was cleared by a success (`ClearAttempts`):
    // it starts a new window, as an absent row does.
    out.push_sql(
        "ON CONFLICT (kind, subject_kind, subject, address, device) DO UPDATE SET \
         attempts = CASE WHEN throttle_counters.attempts = 0 OR throttle_counters.expires_at <= ",
    );
    out.push_bind_param::<Timestamp, _>(now)?;
    out.push_sql(
        " THEN 1 ELSE throttle_counters.attempts + 1 END, \
         expires_at = CASE WHEN throttle_counters.attempts = 0 OR throttle_counters.expires_at <= ",
    );
    out.push_bind_param::<Timestamp, _>(now)?;
    out.push_sql(
        " THEN excluded.expires_at ELSE throttle_counters.expires_at END \
         WHERE throttle_counters.expires_at <= ",
    );
    out.push_bind_param::<Timestamp, _>(now)?;
    out.push_sql(" OR throttle_counters.attempts < ");
    out.push_bind_param::<BigInt, _>(limit)?;
    out.push_sql(" RETURNING attempts");
    Ok(())
}

/// A sign-in's first step on PostgreSQL in one statement: the account a
/// login name belongs to, and an attempt counted as [`ReserveAttempt`]
/// counts it, against the account's key (its id) or, when the name
/// belongs to none, `name_key`, from the attempt's source. Yields whether the attempt was counted,
/// then the account's row (all NULL without one).
pub(crate) struct ReserveLoginPg<'a> {
    /// The key of the login name, as though it named no account.
    pub name_key: &'a KeyColumns,
    /// When a window started now ends.
    pub window_end: NaiveDateTime,
    pub now: NaiveDateTime,
    pub limit: i64,
}

static_statement!(ReserveLoginPg);

/// The columns of a `users` row as `UserRow` reads it (the version the
/// admin API keeps is not part of a sign-in).
type UserRowColumns = (
    users::id,
    users::username,
    users::email,
    users::password_hash,
    users::given_name,
    users::family_name,
    users::disabled,
    users::created_at,
    users::token_generation,
    users::email_verified,
);

/// Their SQL types.
type UserColumns = <UserRowColumns as Expression>::SqlType;

impl Query for ReserveLoginPg<'_> {
    type SqlType = (Bool, Nullable<UserColumns>);
}

impl QueryFragment<Pg> for ReserveLoginPg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH account AS (SELECT ");
        let columns: &'static UserRowColumns = &(
            users::id,
            users::username,
            users::email,
            users::password_hash,
            users::given_name,
            users::family_name,
            users::disabled,
            users::created_at,
            users::token_generation,
            users::email_verified,
        );
        columns.walk_ast(out.reborrow())?;
        out.push_sql(
            " FROM login_names INNER JOIN users ON users.id = login_names.user_id \
             WHERE login_names.name = ",
        );
        out.push_bind_param::<Text, _>(&self.name_key.subject)?;
        out.push_sql(
            "), counted AS (INSERT INTO throttle_counters \
             (kind, subject_kind, subject, address, device, expires_at, attempts) \
             SELECT 'login', CASE WHEN EXISTS (SELECT 1 FROM account) \
             THEN 'account' ELSE 'name' END, COALESCE((SELECT account.id FROM account), ",
        );
        out.push_bind_param::<Text, _>(&self.name_key.subject)?;
        out.push_sql("), ");
        out.push_bind_param::<Text, _>(&self.name_key.address)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.name_key.device)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.window_end)?;
        out.push_sql(", 1 ");
        push_counting(&mut out, &self.now, &self.limit)?;
        out.push_sql(
            ") SELECT EXISTS (SELECT 1 FROM counted), account.* \
             FROM (SELECT 1) AS one LEFT JOIN account ON true",
        );
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

/// Implements `QueryFragment` for both our backends with one body (`$out`
/// the pass), where a generic impl would need a bound per bound type.
macro_rules! on_both_backends {
    ($ty:ident, |$this:ident, $out:ident| $body:block) => {
        impl QueryFragment<Sqlite> for $ty<'_> {
            fn walk_ast<'b>(&'b self, mut $out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                let $this = self;
                $body
            }
        }
        impl QueryFragment<Pg> for $ty<'_> {
            fn walk_ast<'b>(&'b self, mut $out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                let $this = self;
                $body
            }
        }
    };
}

/// Retires a refresh token in favour of its successor, only if it is live
/// at `now` (SQLite's rotation; PostgreSQL's is [`RotateRefreshPg`]). The
/// conditional UPDATE is the race's referee: one of two rotations changes
/// the row.
pub(crate) struct RetireRefresh<'a> {
    pub old: &'a [u8],
    pub successor: &'a [u8],
    pub now: NaiveDateTime,
}

static_statement!(RetireRefresh);

on_both_backends!(RetireRefresh, |this, out| {
    out.push_sql("UPDATE refresh_tokens SET rotated_at = ");
    out.push_bind_param::<Timestamp, _>(&this.now)?;
    out.push_sql(", successor_digest = ");
    out.push_bind_param::<Binary, _>(this.successor)?;
    out.push_sql(" WHERE digest = ");
    out.push_bind_param::<Binary, _>(this.old)?;
    out.push_sql(" AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ");
    out.push_bind_param::<Timestamp, _>(&this.now)?;
    Ok(())
});

/// Consumes an authorization code if it is unused, recording what its
/// redemption issues (so a second redemption finds what to revoke).
pub(crate) struct ConsumeCode<'a> {
    pub digest: &'a [u8],
    pub now: NaiveDateTime,
    pub family: Option<&'a str>,
    pub access_token_id: &'a str,
    pub access_expires_at: NaiveDateTime,
}

static_statement!(ConsumeCode);

on_both_backends!(ConsumeCode, |this, out| {
    out.push_sql("UPDATE authorization_codes SET consumed_at = ");
    out.push_bind_param::<Timestamp, _>(&this.now)?;
    out.push_sql(", issued_family_id = ");
    out.push_bind_param::<Nullable<Text>, _>(&this.family)?;
    out.push_sql(", issued_access_token_id = ");
    out.push_bind_param::<Text, _>(this.access_token_id)?;
    out.push_sql(", issued_access_expires_at = ");
    out.push_bind_param::<Timestamp, _>(&this.access_expires_at)?;
    out.push_sql(" WHERE digest = ");
    out.push_bind_param::<Binary, _>(this.digest)?;
    out.push_sql(" AND consumed_at IS NULL");
    Ok(())
});

/// Forgets a throttle key's attempts (a successful login): the count goes
/// to zero, which [`ReserveAttempt`] takes as the start of a new window.
pub(crate) struct ClearAttempts<'a> {
    pub key: &'a KeyColumns,
}

static_statement!(ClearAttempts);

// A success sets the count to zero rather than deleting the row: an account
// that signs in again finds its row and updates it in place (on PostgreSQL
// a HOT update, no index entry written), where a DELETE and the next
// login's INSERT wrote a new tuple and index entry each time and left dead
// ones behind. The sweep deletes the row once its window has passed.
on_both_backends!(ClearAttempts, |this, out| {
    out.push_sql("UPDATE throttle_counters SET attempts = 0 WHERE ");
    this.key.push_match(&mut out)?;
    out.push_sql(" AND attempts > 0");
    Ok(())
});

/// `then`, a write on PostgreSQL, with [`ClearAttempts`] of `key` in the
/// same statement (a data-modifying WITH, which runs whether or not the
/// rest reads it): a login's reset rides on the write that stores what the
/// login earned, atomic with it and without a round trip of its own.
pub(crate) struct ClearingPg<'a, Q> {
    pub key: &'a KeyColumns,
    pub then: Q,
}

impl<Q: QueryId> QueryId for ClearingPg<'_, Q> {
    type QueryId = ClearingPg<'static, Q::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Conn, Q> diesel::RunQueryDsl<Conn> for ClearingPg<'_, Q> {}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for ClearingPg<'_, Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH cleared AS (UPDATE throttle_counters SET attempts = 0 WHERE ");
        self.key.push_match(&mut out)?;
        out.push_sql(" AND attempts > 0) ");
        self.then.walk_ast(out.reborrow())
    }
}

/// Records that a browser session was seen (every SSO authorization does).
pub(crate) struct TouchSession<'a> {
    pub digest: &'a [u8],
    pub now: NaiveDateTime,
}

static_statement!(TouchSession);

on_both_backends!(TouchSession, |this, out| {
    out.push_sql("UPDATE sessions SET last_seen_at = ");
    out.push_bind_param::<Timestamp, _>(&this.now)?;
    out.push_sql(" WHERE digest = ");
    out.push_bind_param::<Binary, _>(this.digest)?;
    Ok(())
});
