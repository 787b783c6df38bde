//! `TokenRepository` over Diesel: refresh tokens and the access token
//! revocation list.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{RefreshOwner, RotateOutcome, Superseded, TokenRepository};
use auth_core::types::{
    AccessTokenRecord, Digest, FamilyId, RefreshTokenRecord, TokenGeneration, UserId,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use uuid::Uuid;

use crate::access_cache::REVOCATION_CHANNEL;
use crate::database::{Database, query_error, store_error};
use crate::rows::{AccessRow, RefreshRow, naive};
use crate::schema::{
    access_tokens as access, refresh_tokens as rt, revoked_access_tokens as revoked, users,
};
use crate::statements::{ClearAttempts, ClearingPg, KeyColumns, RetireRefresh, RotateRefreshPg};
use auth_core::throttle::ThrottleKey;

/// Stores a grant's rows inside a SQLite write (a savepoint of its own).
pub(crate) fn store_grant_sync(
    conn: &mut diesel::SqliteConnection,
    refresh: Option<&RefreshRow>,
    access: Option<&AccessRow>,
) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl as Sync;
    if let Some(refresh) = refresh {
        Sync::execute(diesel::insert_into(rt::table).values(refresh), conn)?;
    }
    if let Some(access) = access {
        Sync::execute(diesel::insert_into(access::table).values(access), conn)?;
    }
    Ok(())
}

/// Stores a grant's rows inside a PostgreSQL transaction.
pub(crate) async fn store_grant_pg(
    conn: &mut diesel_async::AsyncPgConnection,
    refresh: Option<&RefreshRow>,
    access: Option<&AccessRow>,
) -> diesel::QueryResult<()> {
    if let Some(refresh) = refresh {
        diesel::insert_into(rt::table)
            .values(refresh)
            .execute(conn)
            .await?;
    }
    if let Some(access) = access {
        diesel::insert_into(access::table)
            .values(access)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Lists an access token id on the revocation list until `until`, and
/// deletes a reference token with that id (so checking one stays a single
/// lookup), inside a SQLite write.
fn revoke_access_sync(
    conn: &mut diesel::SqliteConnection,
    id: &str,
    until: NaiveDateTime,
) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl as Sync;
    Sync::execute(
        diesel::insert_into(revoked::table)
            .values((revoked::token_id.eq(id), revoked::expires_at.eq(until)))
            .on_conflict_do_nothing(),
        conn,
    )?;
    Sync::execute(
        diesel::delete(access::table.filter(access::token_id.eq(id))),
        conn,
    )?;
    Ok(())
}

/// The same on PostgreSQL, in one statement that also announces the
/// revocation to every node's cache (`CachedAccessTokens`); NOTIFY is
/// delivered at commit, so the announcement and the deletion cannot part.
async fn revoke_access_pg(
    conn: &mut diesel_async::AsyncPgConnection,
    id: &str,
    until: NaiveDateTime,
) -> diesel::QueryResult<()> {
    use diesel::sql_types::{Text, Timestamp};
    diesel::sql_query(format!(
        "WITH listed AS (\
           INSERT INTO revoked_access_tokens (token_id, expires_at) VALUES ($1, $2) \
           ON CONFLICT DO NOTHING), \
         gone AS (DELETE FROM access_tokens WHERE token_id = $1) \
         SELECT pg_notify('{REVOCATION_CHANNEL}', $1)"
    ))
    .bind::<Text, _>(id)
    .bind::<Timestamp, _>(until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Supersedes `$successor`, the successor of a presented token, if it was
/// never seen (never rotated, not revoked) at `$now`, returning the access
/// token issued with it.
macro_rules! supersede_unseen {
    ($successor:expr, $now:expr) => {
        diesel::update(
            rt::table
                .filter(rt::digest.eq(&$successor))
                .filter(rt::rotated_at.is_null())
                .filter(rt::revoked_at.is_null()),
        )
        .set((
            rt::revoked_at.eq(Some($now)),
            rt::superseded_at.eq(Some($now)),
        ))
        .returning((rt::access_token_id, rt::access_expires_at))
    };
}

/// What superseding found: the superseded tokens' access token ids and
/// expiries (one row when it won, none when the successor was seen).
type UnseenAccess = Vec<(Option<String>, Option<NaiveDateTime>)>;

/// The outcome of a supersession, from what it found; the access tokens to
/// revoke are those with a recorded id.
fn superseded(unseen: &UnseenAccess) -> Superseded {
    if unseen.is_empty() {
        return Superseded::NotActive;
    }
    let revoked_access = unseen
        .iter()
        .filter_map(|(id, _)| id.as_deref())
        .find_map(|id| Uuid::parse_str(id).ok());
    Superseded::Replaced { revoked_access }
}

#[async_trait]
impl TokenRepository for Database {
    async fn insert_refresh(&self, token: &RefreshTokenRecord) -> Result<(), StoreError> {
        let row = RefreshRow::from(token);
        with_conn!(writer self, |conn| diesel::insert_into(rt::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("refresh token")))?;
        Ok(())
    }

    async fn find_refresh(
        &self,
        digest: &Digest,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        let key = digest.as_bytes().to_vec();
        let row: Option<RefreshRow> = with_conn!(self, |conn| rt::table
            .find(&key)
            .select(RefreshRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn find_refresh_with_owner(
        &self,
        digest: &Digest,
    ) -> Result<Option<(RefreshTokenRecord, RefreshOwner)>, StoreError> {
        let key = digest.as_bytes().to_vec();
        type Owner = (Option<bool>, Option<i32>);
        let row: Option<(RefreshRow, Owner)> = with_conn!(self, |conn| rt::table
            .left_join(users::table)
            .filter(rt::digest.eq(&key))
            .select((
                RefreshRow::as_select(),
                (
                    users::disabled.nullable(),
                    users::token_generation.nullable(),
                ),
            ))
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        let Some((row, owner)) = row else {
            return Ok(None);
        };
        let record = RefreshTokenRecord::try_from(row)?;
        let owner = match (record.user_id, owner) {
            (None, _) => RefreshOwner::Client,
            (Some(_), (Some(false), Some(generation))) => RefreshOwner::User(TokenGeneration::new(
                u32::try_from(generation).unwrap_or(u32::MAX),
            )),
            (Some(_), _) => RefreshOwner::Unusable,
        };
        Ok(Some((record, owner)))
    }

    async fn rotate_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        let old = old.as_bytes().to_vec();
        let row = RefreshRow::from(new);
        let access = access.map(AccessRow::from);
        let now = naive(now);
        let outcome = |retired: usize| {
            if retired == 0 {
                RotateOutcome::NotActive
            } else {
                RotateOutcome::Rotated
            }
        };
        // The conditional UPDATE is the race's referee: of two transactions
        // presenting the same token, the second finds `rotated_at` already
        // set (PostgreSQL re-checks the WHERE clause after the row lock;
        // SQLite runs one writer at a time) and changes nothing.
        match self {
            // On SQLite both statements run as one write on the writer
            // thread, in a savepoint of their own: a failed INSERT undoes
            // the UPDATE.
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(store_error("refresh token"), move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        let retire = RetireRefresh {
                            old: &old,
                            successor: &row.digest,
                            now,
                        };
                        let retired = Sync::execute(retire, conn)?;
                        if retired > 0 {
                            Sync::execute(diesel::insert_into(rt::table).values(&row), conn)?;
                            if let Some(access) = &access {
                                Sync::execute(
                                    diesel::insert_into(access::table).values(access),
                                    conn,
                                )?;
                            }
                        }
                        Ok(outcome(retired))
                    })
                    .await
            }
            // On PostgreSQL both steps are one statement: the INSERT takes
            // its row from the UPDATE's RETURNING, so the rotation is atomic
            // without a transaction and costs one round trip instead of four.
            Database::Postgres(pool) => {
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                let rotate = RotateRefreshPg {
                    now,
                    old: &old,
                    successor: &row,
                };
                // A reference access token is stored in the same
                // transaction; a self-contained one needs no row.
                let inserted = match access {
                    None => rotate.execute(&mut *conn).await,
                    Some(access) => {
                        conn.transaction(async |conn| {
                            let n = rotate.execute(conn).await?;
                            if n > 0 {
                                store_grant_pg(conn, None, Some(&access)).await?;
                            }
                            Ok(n)
                        })
                        .await
                    }
                }
                .map_err(store_error("refresh token"))?;
                Ok(outcome(inserted))
            }
        }
    }

    async fn supersede_refresh<'a>(
        &self,
        old: &Digest,
        new: &RefreshTokenRecord,
        access: Option<&'a AccessTokenRecord>,
        now: DateTime<Utc>,
    ) -> Result<Superseded, StoreError> {
        let old = old.as_bytes().to_vec();
        let row = RefreshRow::from(new);
        let new_access = access.map(AccessRow::from);
        let now = naive(now);
        // The conditional UPDATE referees: only a successor never presented
        // is superseded, and only then is the access token issued with it
        // revoked and the new successor stored.
        match self {
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(store_error("refresh token"), move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        let successor: Option<Option<Vec<u8>>> =
                            Sync::first(rt::table.find(&old).select(rt::successor_digest), conn)
                                .optional()?;
                        let Some(successor) = successor.flatten() else {
                            return Ok(Superseded::NotActive);
                        };
                        let unseen: UnseenAccess =
                            Sync::get_results(supersede_unseen!(successor, now), conn)?;
                        if !unseen.is_empty() {
                            for (id, until) in &unseen {
                                if let (Some(id), Some(until)) = (id, until) {
                                    revoke_access_sync(conn, id, *until)?;
                                }
                            }
                            store_grant_sync(conn, Some(&row), new_access.as_ref())?;
                            Sync::execute(
                                diesel::update(rt::table.find(&old))
                                    .set(rt::successor_digest.eq(Some(&row.digest))),
                                conn,
                            )?;
                        }
                        Ok(superseded(&unseen))
                    })
                    .await
            }
            // Retries of one token wait for each other on its row: each
            // statement after the lock has a fresh snapshot, so it sees the
            // successor the previous retry left.
            Database::Postgres(pool) => {
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                conn.transaction(async |conn| {
                    let successor: Option<Option<Vec<u8>>> = rt::table
                        .find(&old)
                        .select(rt::successor_digest)
                        .for_update()
                        .first(conn)
                        .await
                        .optional()?;
                    let Some(successor) = successor.flatten() else {
                        return Ok(Superseded::NotActive);
                    };
                    let unseen: UnseenAccess =
                        supersede_unseen!(successor, now).get_results(conn).await?;
                    if !unseen.is_empty() {
                        for (id, until) in &unseen {
                            if let (Some(id), Some(until)) = (id, until) {
                                revoke_access_pg(conn, id, *until).await?;
                            }
                        }
                        store_grant_pg(conn, Some(&row), new_access.as_ref()).await?;
                        diesel::update(rt::table.find(&old))
                            .set(rt::successor_digest.eq(Some(&row.digest)))
                            .execute(conn)
                            .await?;
                    }
                    Ok(superseded(&unseen))
                })
                .await
                .map_err(store_error("refresh token"))
            }
        }
    }

    async fn revoke_family(
        &self,
        family: FamilyId,
        now: DateTime<Utc>,
        listed_until: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let family = family.as_uuid().to_string();
        let (now, listed_until) = (naive(now), naive(listed_until));
        match self {
            // One write on the writer thread, in its own savepoint.
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(StoreError::backend, move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        let n = Sync::execute(
                            diesel::update(
                                rt::table
                                    .filter(rt::family_id.eq(&family))
                                    .filter(rt::revoked_at.is_null()),
                            )
                            .set(rt::revoked_at.eq(Some(now))),
                            conn,
                        )?;
                        Sync::execute(
                            diesel::insert_into(revoked::table)
                                .values((
                                    revoked::token_id.eq(&family),
                                    revoked::expires_at.eq(listed_until),
                                ))
                                .on_conflict_do_nothing(),
                            conn,
                        )?;
                        Sync::execute(
                            diesel::delete(access::table.filter(access::family_id.eq(&family))),
                            conn,
                        )?;
                        Ok(n as u64)
                    })
                    .await
            }
            // One statement: revoke the refresh tokens, list the family for
            // its self-contained access tokens, delete its reference ones,
            // and announce it to every node's cache (delivered at commit).
            Database::Postgres(pool) => {
                use diesel::sql_types::{BigInt, Text, Timestamp};
                #[derive(QueryableByName)]
                struct Revoked {
                    #[diesel(sql_type = BigInt)]
                    revoked: i64,
                }
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                let revoked: Revoked = diesel::sql_query(format!(
                    "WITH r AS (UPDATE refresh_tokens SET revoked_at = $2 \
                       WHERE family_id = $1 AND revoked_at IS NULL RETURNING 1), \
                     listed AS (INSERT INTO revoked_access_tokens (token_id, expires_at) \
                       VALUES ($1, $3) ON CONFLICT DO NOTHING), \
                     gone AS (DELETE FROM access_tokens WHERE family_id = $1) \
                     SELECT (SELECT COUNT(*) FROM r) AS revoked, pg_notify('{REVOCATION_CHANNEL}', $1)"
                ))
                .bind::<Text, _>(&family)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(listed_until)
                .get_result(&mut *conn)
                .await
                .map_err(query_error)?;
                Ok(revoked.revoked as u64)
            }
        }
    }

    async fn revoke_access(
        &self,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = token_id.to_string();
        let expires_at = naive(expires_at);
        match self {
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(query_error, move |conn| {
                        revoke_access_sync(conn, &id, expires_at)
                    })
                    .await
            }
            Database::Postgres(pool) => {
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                revoke_access_pg(&mut conn, &id, expires_at)
                    .await
                    .map_err(query_error)
            }
        }
    }

    async fn insert_grant<'a>(
        &self,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
        cleared: Option<&'a ThrottleKey>,
    ) -> Result<(), StoreError> {
        let refresh = refresh.map(RefreshRow::from);
        let access = access.map(AccessRow::from);
        let cleared = cleared.map(KeyColumns::from);
        match self {
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(store_error("token"), move |conn| {
                        store_grant_sync(conn, refresh.as_ref(), access.as_ref())?;
                        if let Some(key) = &cleared {
                            diesel::RunQueryDsl::execute(ClearAttempts { key }, conn)?;
                        }
                        Ok(())
                    })
                    .await
            }
            Database::Postgres(pool) => with_conn!(@pooled pool, |conn| {
                let (refresh, access) = (refresh.as_ref(), access.as_ref());
                match (refresh, access, cleared.as_ref()) {
                    (Some(_), Some(_), _) => {
                        conn.transaction(async |conn| {
                            if let Some(key) = cleared.as_ref() {
                                ClearAttempts { key }.execute(conn).await?;
                            }
                            store_grant_pg(conn, refresh, access).await
                        })
                        .await
                    }
                    // One row is one statement, atomic by itself, the
                    // reset riding on it: BEGIN, COMMIT and a statement of
                    // its own would be three more round trips for nothing.
                    (Some(row), None, Some(key)) => {
                        let then = diesel::insert_into(rt::table).values(row);
                        ClearingPg { key, then }.execute(conn).await.map(drop)
                    }
                    (None, Some(row), Some(key)) => {
                        let then = diesel::insert_into(access::table).values(row);
                        ClearingPg { key, then }.execute(conn).await.map(drop)
                    }
                    (None, None, Some(key)) => ClearAttempts { key }.execute(conn).await.map(drop),
                    (_, _, None) => store_grant_pg(conn, refresh, access).await,
                }
                .map_err(store_error("token"))
            }),
        }
    }

    async fn insert_access(&self, token: &AccessTokenRecord) -> Result<(), StoreError> {
        let row = AccessRow::from(token);
        with_conn!(writer self, |conn| diesel::insert_into(access::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("access token")))?;
        Ok(())
    }

    async fn find_access(&self, digest: &Digest) -> Result<Option<AccessTokenRecord>, StoreError> {
        let key = digest.as_bytes().to_vec();
        let row: Option<AccessRow> = with_conn!(self, |conn| access::table
            .find(&key)
            .select(AccessRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(AccessTokenRecord::try_from).transpose()
    }

    async fn live_refresh_of(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<RefreshTokenRecord>, StoreError> {
        let (user, now) = (user.to_string(), naive(now));
        let rows: Vec<RefreshRow> = with_conn!(self, |conn| rt::table
            .filter(rt::user_id.eq(&user))
            .filter(rt::rotated_at.is_null())
            .filter(rt::revoked_at.is_null())
            .filter(rt::expires_at.gt(now))
            .order(rt::issued_at.desc())
            .select(RefreshRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        rows.into_iter().map(RefreshTokenRecord::try_from).collect()
    }

    async fn is_access_revoked(
        &self,
        token_id: Uuid,
        family: Option<FamilyId>,
    ) -> Result<bool, StoreError> {
        // The token's own id or its family's (the token's id again when it
        // has none): two equalities, not an `IN` list, so the statement's
        // text is one and Diesel keeps it prepared.
        let id = token_id.to_string();
        let family = family.map_or_else(|| id.clone(), |f| f.as_uuid().to_string());
        let found: Option<String> = with_conn!(self, |conn| revoked::table
            .filter(revoked::token_id.eq(&id).or(revoked::token_id.eq(&family)))
            .select(revoked::token_id)
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        Ok(found.is_some())
    }
}
