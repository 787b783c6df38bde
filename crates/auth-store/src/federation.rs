//! `FederationRepository` over Diesel: upstream identities linked to
//! accounts, and the upstream sign-ins under way.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::{FederationRepository, PollSchedule, Unlinked, UpstreamFlow};
use auth_core::types::{FederatedLink, NewUser, ProviderName, UpstreamSubject, User, UserId};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, RunQueryDsl};
use uuid::Uuid;

use crate::database::{Database, query_error, store_error};
use crate::rows::{UserRow, corrupt, naive};
use crate::schema::{federated_identities as fed, login_names, upstream_flows as flows, users};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = fed)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct LinkRow {
    provider: String,
    subject: String,
    user_id: String,
    created_at: NaiveDateTime,
    login: Option<String>,
}

impl From<&FederatedLink> for LinkRow {
    fn from(l: &FederatedLink) -> Self {
        Self {
            provider: l.provider.as_str().to_owned(),
            subject: l.subject.as_str().to_owned(),
            user_id: l.user_id.to_string(),
            created_at: naive(l.created_at),
            login: l.login.clone(),
        }
    }
}

impl TryFrom<LinkRow> for FederatedLink {
    type Error = StoreError;

    fn try_from(r: LinkRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("federated_identities", e);
        Ok(Self {
            provider: ProviderName::parse(&r.provider).map_err(|e| bad(&e))?,
            subject: UpstreamSubject::parse(&r.subject).map_err(|e| bad(&e))?,
            user_id: UserId::new(Uuid::parse_str(&r.user_id).map_err(|e| bad(&e))?),
            created_at: r.created_at.and_utc(),
            login: r.login,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = flows)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct FlowRow {
    id: String,
    provider: String,
    user_id: Option<String>,
    poll_interval_secs: Option<i64>,
    next_poll_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl From<&UpstreamFlow> for FlowRow {
    fn from(f: &UpstreamFlow) -> Self {
        Self {
            id: f.id.to_string(),
            provider: f.provider.as_str().to_owned(),
            user_id: f.user_id.map(|u| u.to_string()),
            poll_interval_secs: f.polling.map(|p| p.interval.num_seconds()),
            next_poll_at: f.polling.map(|p| naive(p.next_poll_at)),
            created_at: naive(f.created_at),
            expires_at: naive(f.expires_at),
        }
    }
}

impl TryFrom<FlowRow> for UpstreamFlow {
    type Error = StoreError;

    fn try_from(r: FlowRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("upstream_flows", e);
        Ok(Self {
            id: Uuid::parse_str(&r.id).map_err(|e| bad(&e))?,
            provider: ProviderName::parse(&r.provider).map_err(|e| bad(&e))?,
            user_id: r
                .user_id
                .map(|u| Uuid::parse_str(&u).map(UserId::new))
                .transpose()
                .map_err(|e| bad(&e))?,
            polling: match (r.poll_interval_secs, r.next_poll_at) {
                (Some(secs), Some(next)) => Some(PollSchedule {
                    interval: chrono::Duration::seconds(secs),
                    next_poll_at: next.and_utc(),
                }),
                _ => None,
            },
            created_at: r.created_at.and_utc(),
            expires_at: r.expires_at.and_utc(),
        })
    }
}

/// The login names of a new account: its username, and its email when
/// that differs.
fn flow(row: Option<FlowRow>) -> Result<Option<UpstreamFlow>, StoreError> {
    row.map(UpstreamFlow::try_from).transpose()
}

#[async_trait]
impl FederationRepository for Database {
    async fn find_linked_user(
        &self,
        provider: &ProviderName,
        subject: &UpstreamSubject,
    ) -> Result<Option<User>, StoreError> {
        let (provider, subject) = (provider.as_str().to_owned(), subject.as_str().to_owned());
        let row: Option<UserRow> = with_conn!(self, |conn| fed::table
            .inner_join(users::table)
            .filter(fed::provider.eq(&provider))
            .filter(fed::subject.eq(&subject))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(User::try_from).transpose()
    }

    /// The account, its login names and the link in one write: a name
    /// taken or an identity linked already aborts all three.
    async fn create_linked_user(
        &self,
        user: &NewUser,
        link: &FederatedLink,
    ) -> Result<(), StoreError> {
        let row = UserRow::from(user);
        let names = crate::users::login_name_rows(&row);
        let link = LinkRow::from(link);
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
                        Sync::execute(diesel::insert_into(fed::table).values(&link), conn)?;
                        Ok(())
                    })
                    .await
            }
            Database::Postgres(pool) => {
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                conn.transaction(async |conn| {
                    diesel::insert_into(users::table)
                        .values(&row)
                        .execute(conn)
                        .await?;
                    for name in &names {
                        diesel::insert_into(login_names::table)
                            .values(name)
                            .execute(conn)
                            .await?;
                    }
                    diesel::insert_into(fed::table)
                        .values(&link)
                        .execute(conn)
                        .await
                })
                .await
                .map_err(store_error("user"))?;
                Ok(())
            }
        }
    }

    async fn link(&self, link: &FederatedLink) -> Result<(), StoreError> {
        let row = LinkRow::from(link);
        with_conn!(writer self, |conn| diesel::insert_into(fed::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("federated identity")))?;
        Ok(())
    }

    async fn links_of(&self, user: UserId) -> Result<Vec<FederatedLink>, StoreError> {
        let user = user.to_string();
        let rows: Vec<LinkRow> = with_conn!(self, |conn| fed::table
            .filter(fed::user_id.eq(&user))
            .order((fed::provider, fed::subject))
            .select(LinkRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        rows.into_iter().map(FederatedLink::try_from).collect()
    }

    /// Decided and done in one write: SQLite's one writer runs it alone; on
    /// PostgreSQL the account's row is locked first, so two unlinks of one
    /// account run one after the other and the second sees the first.
    async fn unlink(&self, user: UserId, provider: &ProviderName) -> Result<Unlinked, StoreError> {
        let (user, provider) = (user.to_string(), provider.as_str().to_owned());
        match self {
            Database::Sqlite { writer, .. } => {
                writer
                    .run_sync(query_error, move |conn| {
                        use diesel::RunQueryDsl as Sync;
                        let has_password: Option<bool> = Sync::first(
                            users::table
                                .find(&user)
                                .select(users::password_hash.is_not_null()),
                            conn,
                        )
                        .optional()?;
                        let linked: i64 = Sync::get_result(
                            fed::table
                                .filter(fed::user_id.eq(&user))
                                .filter(fed::provider.eq(&provider))
                                .count(),
                            conn,
                        )?;
                        let others: i64 = Sync::get_result(
                            fed::table
                                .filter(fed::user_id.eq(&user))
                                .filter(fed::provider.ne(&provider))
                                .count(),
                            conn,
                        )?;
                        let decision = Unlinked::decide(has_password, linked as u64, others as u64);
                        if decision == Unlinked::Removed {
                            Sync::execute(
                                diesel::delete(
                                    fed::table
                                        .filter(fed::user_id.eq(&user))
                                        .filter(fed::provider.eq(&provider)),
                                ),
                                conn,
                            )?;
                        }
                        Ok(decision)
                    })
                    .await
            }
            Database::Postgres(pool) => {
                let mut conn = pool.get().await.map_err(StoreError::unavailable)?;
                conn.transaction(async |conn| {
                    let has_password: Option<bool> = users::table
                        .find(&user)
                        .select(users::password_hash.is_not_null())
                        .for_update()
                        .first(conn)
                        .await
                        .optional()?;
                    let linked: i64 = fed::table
                        .filter(fed::user_id.eq(&user))
                        .filter(fed::provider.eq(&provider))
                        .count()
                        .get_result(conn)
                        .await?;
                    let others: i64 = fed::table
                        .filter(fed::user_id.eq(&user))
                        .filter(fed::provider.ne(&provider))
                        .count()
                        .get_result(conn)
                        .await?;
                    let decision = Unlinked::decide(has_password, linked as u64, others as u64);
                    if decision == Unlinked::Removed {
                        diesel::delete(
                            fed::table
                                .filter(fed::user_id.eq(&user))
                                .filter(fed::provider.eq(&provider)),
                        )
                        .execute(conn)
                        .await?;
                    }
                    Ok(decision)
                })
                .await
                .map_err(query_error)
            }
        }
    }

    async fn insert_flow(&self, flow: &UpstreamFlow) -> Result<(), StoreError> {
        let row = FlowRow::from(flow);
        with_conn!(writer self, |conn| diesel::insert_into(flows::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("upstream flow")))?;
        Ok(())
    }

    /// One conditional UPDATE: of two callbacks racing on one state, the
    /// second finds `user_id` set and changes nothing.
    async fn finish_flow(
        &self,
        id: Uuid,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, user, now) = (id.to_string(), user.to_string(), naive(now));
        let n = with_conn!(writer self, |conn| diesel::update(
            flows::table
                .filter(flows::id.eq(&id))
                .filter(flows::user_id.is_null())
                .filter(flows::expires_at.gt(now))
        )
        .set(flows::user_id.eq(Some(&user)))
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(n > 0)
    }

    async fn take_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let (id, now) = (id.to_string(), naive(now));
        let row: Option<FlowRow> = with_conn!(writer self, |conn| diesel::delete(
            flows::table
                .filter(flows::id.eq(&id))
                .filter(flows::expires_at.gt(now))
        )
        .returning(FlowRow::as_returning())
        .get_result(conn)
        .await
        .optional()
        .map_err(query_error))?;
        flow(row)
    }

    async fn take_finished_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let (id, now) = (id.to_string(), naive(now));
        let row: Option<FlowRow> = with_conn!(writer self, |conn| diesel::delete(
            flows::table
                .filter(flows::id.eq(&id))
                .filter(flows::user_id.is_not_null())
                .filter(flows::expires_at.gt(now))
        )
        .returning(FlowRow::as_returning())
        .get_result(conn)
        .await
        .optional()
        .map_err(query_error))?;
        flow(row)
    }

    async fn schedule_poll(&self, id: Uuid, schedule: PollSchedule) -> Result<(), StoreError> {
        let id = id.to_string();
        let (secs, next) = (
            schedule.interval.num_seconds(),
            naive(schedule.next_poll_at),
        );
        with_conn!(writer self, |conn| diesel::update(flows::table.filter(flows::id.eq(&id)))
            .set((
                flows::poll_interval_secs.eq(Some(secs)),
                flows::next_poll_at.eq(Some(next)),
            ))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }

    async fn find_flow(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        let (id, now) = (id.to_string(), naive(now));
        let row: Option<FlowRow> = with_conn!(self, |conn| flows::table
            .filter(flows::id.eq(&id))
            .filter(flows::expires_at.gt(now))
            .select(FlowRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        flow(row)
    }
}
