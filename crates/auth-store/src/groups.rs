//! `GroupRepository` over Diesel: `user_groups` (a name unique in its
//! normal form) and `group_members` (deleted with the group or the account
//! by the foreign keys).
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::GroupRepository;
use auth_core::types::{Group, GroupDescription, GroupId, GroupName, UserId};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::database::{Database, query_error, store_error};
use crate::rows::{corrupt, naive};
use crate::schema::{group_members, user_groups};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = user_groups)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct GroupRow {
    id: String,
    name: String,
    description: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<&Group> for GroupRow {
    fn from(g: &Group) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.name.as_str().to_owned(),
            description: g.description.as_str().to_owned(),
            created_at: naive(g.created_at),
            updated_at: naive(g.updated_at),
        }
    }
}

impl TryFrom<GroupRow> for Group {
    type Error = StoreError;

    fn try_from(r: GroupRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("user_groups", e);
        Ok(Group {
            id: GroupId::parse(&r.id).ok_or_else(|| bad(&r.id))?,
            name: GroupName::parse(&r.name).map_err(|e| bad(&e))?,
            description: GroupDescription::parse(&r.description).map_err(|e| bad(&e))?,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = group_members)]
struct MemberRow {
    group_id: String,
    user_id: String,
    created_at: NaiveDateTime,
}

fn groups(rows: Vec<GroupRow>) -> Result<Vec<Group>, StoreError> {
    rows.into_iter().map(Group::try_from).collect()
}

fn ids(groups: &[GroupId]) -> Vec<String> {
    groups.iter().map(ToString::to_string).collect()
}

#[async_trait]
impl GroupRepository for Database {
    async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
        let row = GroupRow::from(group);
        with_conn!(writer self, |conn| diesel::insert_into(user_groups::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("group")))?;
        Ok(())
    }

    async fn find_group(&self, name: &GroupName) -> Result<Option<Group>, StoreError> {
        let name = name.as_str().to_owned();
        let row: Option<GroupRow> = with_conn!(self, |conn| user_groups::table
            .filter(user_groups::name.eq(&name))
            .select(GroupRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(Group::try_from).transpose()
    }

    async fn groups_by_id(&self, wanted: &[GroupId]) -> Result<Vec<Group>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = ids(wanted);
        let rows: Vec<GroupRow> = with_conn!(self, |conn| user_groups::table
            .filter(user_groups::id.eq_any(&wanted))
            .select(GroupRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        groups(rows)
    }

    async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows: Vec<GroupRow> = with_conn!(self, |conn| user_groups::table
            .order(user_groups::name)
            .select(GroupRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        groups(rows)
    }

    async fn update_group(&self, group: &Group, seen: DateTime<Utc>) -> Result<bool, StoreError> {
        let row = GroupRow::from(group);
        let seen = naive(seen);
        let changed = with_conn!(writer self, |conn| diesel::update(
            user_groups::table
                .filter(user_groups::id.eq(&row.id))
                .filter(user_groups::updated_at.eq(seen))
        )
        .set((
            user_groups::name.eq(&row.name),
            user_groups::description.eq(&row.description),
            user_groups::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .await
        .map_err(store_error("group")))?;
        Ok(changed == 1)
    }

    async fn delete_group(
        &self,
        id: GroupId,
        seen: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        let seen = seen.map(naive);
        let deleted = with_conn!(writer self, |conn| {
            let target = user_groups::table.filter(user_groups::id.eq(&id));
            match seen {
                Some(seen) => {
                    diesel::delete(target.filter(user_groups::updated_at.eq(seen)))
                        .execute(conn)
                        .await
                }
                None => diesel::delete(target).execute(conn).await,
            }
            .map_err(query_error)
        })?;
        Ok(deleted == 1)
    }

    async fn add_member(
        &self,
        group: GroupId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let row = MemberRow {
            group_id: group.to_string(),
            user_id: user.to_string(),
            created_at: naive(now),
        };
        let added = with_conn!(writer self, |conn| diesel::insert_into(group_members::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(added == 1)
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<bool, StoreError> {
        let (group, user) = (group.to_string(), user.to_string());
        let removed = with_conn!(writer self, |conn| diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(&group))
                .filter(group_members::user_id.eq(&user))
        )
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(removed == 1)
    }

    async fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, StoreError> {
        let group = group.to_string();
        let rows: Vec<String> = with_conn!(self, |conn| group_members::table
            .filter(group_members::group_id.eq(&group))
            .order((group_members::created_at, group_members::user_id))
            .select(group_members::user_id)
            .load(conn)
            .await
            .map_err(query_error))?;
        rows.iter()
            .map(|id| {
                Uuid::parse_str(id)
                    .map(UserId::new)
                    .map_err(|e| corrupt("group_members", &e))
            })
            .collect()
    }

    async fn groups_of(&self, user: UserId) -> Result<Vec<Group>, StoreError> {
        let user = user.to_string();
        let rows: Vec<GroupRow> = with_conn!(self, |conn| user_groups::table
            .inner_join(group_members::table)
            .filter(group_members::user_id.eq(&user))
            .order(user_groups::name)
            .select(GroupRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        groups(rows)
    }

    async fn in_any_group(&self, user: UserId, wanted: &[GroupId]) -> Result<bool, StoreError> {
        if wanted.is_empty() {
            return Ok(false);
        }
        let (user, wanted) = (user.to_string(), ids(wanted));
        let found: Option<String> = with_conn!(self, |conn| group_members::table
            .filter(group_members::user_id.eq(&user))
            .filter(group_members::group_id.eq_any(&wanted))
            .select(group_members::group_id)
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        Ok(found.is_some())
    }
}
