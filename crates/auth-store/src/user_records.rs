//! What the admin API reads and writes of accounts: an account with its
//! version (a trigger makes a new one on every change of the row, however
//! made), a keyset page in creation order, and writes conditional on the
//! version the caller read. The `UserRepository` methods call these.
use auth_core::error::StoreError;
use auth_core::types::{AccountChange, User, UserId, UserListing, UserRecord, Version, Written};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error};
use crate::rows::{UserRow, naive};
use crate::schema::{access_tokens, login_names, refresh_tokens, sessions, users};

/// A row with its version and last change.
type RecordRow = (UserRow, i64, Option<NaiveDateTime>);

fn record((row, version, updated_at): RecordRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        user: User::try_from(row)?,
        version: Version::new(u64::try_from(version).unwrap_or(0)),
        updated_at: updated_at.map(|t| t.and_utc()),
    })
}

/// The fields a change sets; a `None` is left out of the statement.
#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct ChangeRow {
    given_name: Option<Option<String>>,
    family_name: Option<Option<String>>,
    disabled: Option<bool>,
    email_verified: Option<bool>,
}

/// The version as the column holds it.
fn column(v: Version) -> i64 {
    i64::try_from(v.get()).unwrap_or(i64::MAX)
}

pub(crate) async fn find(db: &Database, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    let id = id.to_string();
    let row: Option<RecordRow> = with_conn!(db, |conn| users::table
        .find(&id)
        .select((UserRow::as_select(), users::version, users::updated_at))
        .first(conn)
        .await
        .optional()
        .map_err(query_error))?;
    row.map(record).transpose()
}

/// A `LIKE` pattern matching what starts with `prefix`, its wildcards
/// escaped (`\` is the escape character).
fn starts_with(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(crate) async fn page(
    db: &Database,
    listing: &UserListing,
) -> Result<Vec<UserRecord>, StoreError> {
    let after = listing.after.map(|(at, id)| (naive(at), id.to_string()));
    let pattern = listing.search.as_deref().map(starts_with);
    let limit = i64::from(listing.limit);
    let rows: Vec<RecordRow> = with_conn!(db, |conn| {
        let mut query = users::table.into_boxed();
        if let Some((at, id)) = &after {
            query = query.filter(
                users::created_at
                    .gt(*at)
                    .or(users::created_at.eq(*at).and(users::id.gt(id.clone()))),
            );
        }
        if let Some(pattern) = &pattern {
            query = query.filter(
                users::id.eq_any(
                    login_names::table
                        .filter(login_names::name.like(pattern.clone()).escape('\\'))
                        .select(login_names::user_id),
                ),
            );
        }
        query
            .order((users::created_at, users::id))
            .limit(limit)
            .select((UserRow::as_select(), users::version, users::updated_at))
            .load(conn)
            .await
            .map_err(query_error)
    })?;
    rows.into_iter().map(record).collect()
}

/// What a conditional write found when it changed nothing.
async fn stale_or_missing<T>(db: &Database, id: UserId) -> Result<Written<T>, StoreError> {
    Ok(match find(db, id).await? {
        Some(_) => Written::Stale,
        None => Written::Missing,
    })
}

pub(crate) async fn change(
    db: &Database,
    id: UserId,
    expected: Version,
    change: &AccountChange,
    now: DateTime<Utc>,
) -> Result<Written<UserRecord>, StoreError> {
    let key = id.to_string();
    let (expected, now) = (column(expected), naive(now));
    let fields = ChangeRow {
        given_name: change.given_name.clone(),
        family_name: change.family_name.clone(),
        disabled: change.disabled,
        email_verified: change.email_verified,
    };
    let disabling = change.disabled == Some(true);
    // One write: the row (its new version set here, so the trigger leaves
    // it) and, when disabling, everything the account holds, as
    // `set_disabled` ends it.
    let row: Option<RecordRow> = atomically!(db, "user", |conn| {
        let changed = diesel::update(
            users::table
                .filter(users::id.eq(&key))
                .filter(users::version.eq(expected)),
        )
        .set((
            fields,
            users::version.eq(expected + 1),
            users::updated_at.eq(Some(now)),
            users::token_generation.eq(users::token_generation + i32::from(disabling)),
        ))
        .execute(conn)
        .await?;
        if changed == 0 {
            return Ok(None);
        }
        if disabling {
            diesel::delete(sessions::table.filter(sessions::user_id.eq(&key)))
                .execute(conn)
                .await?;
            diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(&key))
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::revoked_at.eq(now))
            .execute(conn)
            .await?;
            diesel::delete(access_tokens::table.filter(access_tokens::subject.eq(&key)))
                .execute(conn)
                .await?;
        }
        users::table
            .find(&key)
            .select((UserRow::as_select(), users::version, users::updated_at))
            .first(conn)
            .await
            .map(Some)
    })?;
    match row {
        Some(row) => Ok(Written::Done(record(row)?)),
        None => stale_or_missing(db, id).await,
    }
}

pub(crate) async fn delete(
    db: &Database,
    id: UserId,
    expected: Version,
) -> Result<Written<()>, StoreError> {
    let (key, expected) = (id.to_string(), column(expected));
    // Its sessions, tokens, codes and links go with it: their foreign keys
    // cascade, as `UserRepository::delete`.
    let deleted = with_conn!(writer db, |conn| diesel::delete(
        users::table
            .filter(users::id.eq(&key))
            .filter(users::version.eq(expected))
    )
    .execute(conn)
    .await
    .map_err(query_error))?;
    if deleted == 1 {
        return Ok(Written::Done(()));
    }
    stale_or_missing(db, id).await
}
