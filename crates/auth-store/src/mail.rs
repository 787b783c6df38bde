//! `MailRepository` over Diesel: mail links (digests only) and the outbox.
//! Each step that must not be half done (a link with its letter, a link's
//! use with its effect) is one atomic write, written once for both backends
//! (`atomically!`).
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::MailRepository;
use auth_core::types::{
    Digest, Email, EmailLink, LinkEffect, LinkPurpose, OutboxEntry, Redeemed, UserId,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::database::{Database, query_error};
use crate::rows::{corrupt, naive};
use crate::schema::{
    access_tokens, email_links, login_names, mail_outbox, refresh_tokens, sessions, users,
};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = email_links)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct LinkRow {
    digest: Vec<u8>,
    purpose: String,
    user_id: String,
    address: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl From<&EmailLink> for LinkRow {
    fn from(l: &EmailLink) -> Self {
        Self {
            digest: l.digest.as_bytes().to_vec(),
            purpose: l.purpose.as_str().to_owned(),
            user_id: l.user_id.to_string(),
            address: l.address.as_str().to_owned(),
            created_at: naive(l.created_at),
            expires_at: naive(l.expires_at),
        }
    }
}

impl TryFrom<LinkRow> for EmailLink {
    type Error = StoreError;

    fn try_from(r: LinkRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("email_links", e);
        Ok(EmailLink {
            digest: Digest::from_slice(&r.digest).ok_or_else(|| bad(&"digest length"))?,
            purpose: LinkPurpose::parse(&r.purpose).ok_or_else(|| bad(&r.purpose))?,
            user_id: UserId::new(Uuid::parse_str(&r.user_id).map_err(|e| bad(&e))?),
            address: Email::parse(&r.address).map_err(|e| bad(&e))?,
            created_at: r.created_at.and_utc(),
            expires_at: r.expires_at.and_utc(),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct OutboxRow {
    id: String,
    sealed: String,
    created_at: NaiveDateTime,
    next_attempt_at: NaiveDateTime,
    attempts: i32,
}

impl From<&OutboxEntry> for OutboxRow {
    fn from(m: &OutboxEntry) -> Self {
        Self {
            id: m.id.to_string(),
            sealed: m.sealed.clone(),
            created_at: naive(m.created_at),
            next_attempt_at: naive(m.next_attempt_at),
            attempts: i32::try_from(m.attempts).unwrap_or(i32::MAX),
        }
    }
}

impl TryFrom<OutboxRow> for OutboxEntry {
    type Error = StoreError;

    fn try_from(r: OutboxRow) -> Result<Self, StoreError> {
        let bad = |e: &dyn std::fmt::Display| corrupt("mail_outbox", e);
        Ok(OutboxEntry {
            id: Uuid::parse_str(&r.id).map_err(|e| bad(&e))?,
            sealed: r.sealed,
            created_at: r.created_at.and_utc(),
            next_attempt_at: r.next_attempt_at.and_utc(),
            attempts: u32::try_from(r.attempts).map_err(|e| bad(&e))?,
        })
    }
}

/// Stores a link in place of the account's older links of its purpose, and
/// the letters that go with it, on `$conn`: the statements of one atomic
/// write.
macro_rules! store_link {
    ($conn:ident, $link:expr, $mail:expr) => {{
        let link: &LinkRow = $link;
        diesel::delete(
            email_links::table
                .filter(email_links::user_id.eq(&link.user_id))
                .filter(email_links::purpose.eq(&link.purpose)),
        )
        .execute($conn)
        .await?;
        diesel::insert_into(email_links::table)
            .values(link)
            .execute($conn)
            .await?;
        let mail: &[OutboxRow] = $mail;
        for letter in mail {
            diesel::insert_into(mail_outbox::table)
                .values(letter)
                .execute($conn)
                .await?;
        }
        diesel::QueryResult::Ok(())
    }};
}

/// What a link's use changes, on `$conn`, inside its atomic write: the
/// effect on the account `$id` (a `String`) and the address `$address` it
/// was sent to. Evaluates to `QueryResult<Redeemed>`.
macro_rules! apply_effect {
    ($conn:ident, $effect:expr, $id:expr, $address:expr, $now:expr) => {{
        let (id, address): (&String, &String) = ($id, $address);
        let verify_if_still_its_address = diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(users::email.eq(address)),
        )
        .set(users::email_verified.eq(true));
        // A `return` here leaves the whole write, with nothing more done.
        let done: diesel::QueryResult<Redeemed> = match $effect {
            LinkEffect::VerifyEmail => {
                verify_if_still_its_address.execute($conn).await?;
                Ok(Redeemed::Done(user_id(id)?))
            }
            LinkEffect::SetPassword(hash) => {
                let found = diesel::update(users::table.find(id))
                    .set((
                        users::password_hash.eq(Some(hash.as_str())),
                        users::token_generation.eq(users::token_generation + 1),
                    ))
                    .execute($conn)
                    .await?;
                if found == 0 {
                    return Ok(Redeemed::Invalid);
                }
                verify_if_still_its_address.execute($conn).await?;
                // Signed out everywhere, as every password change is: the
                // generation raised above refuses its self-contained tokens.
                diesel::delete(sessions::table.filter(sessions::user_id.eq(id)))
                    .execute($conn)
                    .await?;
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::user_id.eq(id))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq($now))
                .execute($conn)
                .await?;
                diesel::delete(access_tokens::table.filter(access_tokens::subject.eq(id)))
                    .execute($conn)
                    .await?;
                Ok(Redeemed::Done(user_id(id)?))
            }
            LinkEffect::ChangeEmail => {
                let Some((username, old)) = users::table
                    .find(id)
                    .select((users::username, users::email))
                    .first::<(String, Option<String>)>($conn)
                    .await
                    .optional()?
                else {
                    return Ok(Redeemed::Invalid);
                };
                let skeleton = auth_core::types::confusable_skeleton(address);
                let held_elsewhere: i64 = login_names::table
                    .filter(login_names::user_id.ne(id))
                    .filter(
                        login_names::name
                            .eq(address)
                            .or(login_names::skeleton.eq(&skeleton)),
                    )
                    .count()
                    .get_result($conn)
                    .await?;
                if held_elsewhere > 0 {
                    return Ok(Redeemed::AddressTaken);
                }
                if let Some(old) = old.filter(|old| *old != username) {
                    diesel::delete(
                        login_names::table
                            .filter(login_names::name.eq(old))
                            .filter(login_names::user_id.eq(id)),
                    )
                    .execute($conn)
                    .await?;
                }
                if *address != username {
                    diesel::insert_into(login_names::table)
                        .values((
                            login_names::name.eq(address),
                            login_names::user_id.eq(id),
                            login_names::skeleton.eq(Some(&skeleton)),
                        ))
                        .execute($conn)
                        .await?;
                }
                diesel::update(users::table.find(id))
                    .set((
                        users::email.eq(Some(address)),
                        users::email_verified.eq(true),
                    ))
                    .execute($conn)
                    .await?;
                Ok(Redeemed::Done(user_id(id)?))
            }
        };
        done
    }};
}

/// An account id read back inside a write.
fn user_id(id: &str) -> diesel::QueryResult<UserId> {
    Uuid::parse_str(id)
        .map(UserId::new)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}

#[async_trait]
impl MailRepository for Database {
    async fn issue_link(&self, link: &EmailLink, mail: &[OutboxEntry]) -> Result<(), StoreError> {
        let link = LinkRow::from(link);
        let mail: Vec<OutboxRow> = mail.iter().map(OutboxRow::from).collect();
        atomically!(self, "mail link", |conn| store_link!(conn, &link, &mail))
    }

    async fn store_link(&self, link: &EmailLink) -> Result<(), StoreError> {
        let link = LinkRow::from(link);
        atomically!(self, "mail link", |conn| store_link!(conn, &link, &[]))
    }

    async fn enqueue(&self, mail: &OutboxEntry) -> Result<(), StoreError> {
        let row = OutboxRow::from(mail);
        with_conn!(writer self, |conn| diesel::insert_into(mail_outbox::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }

    async fn find_link(
        &self,
        digest: &Digest,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<EmailLink>, StoreError> {
        let (key, now) = (digest.as_bytes().to_vec(), naive(now));
        let row: Option<LinkRow> = with_conn!(self, |conn| email_links::table
            .find(&key)
            .filter(email_links::purpose.eq(purpose.as_str()))
            .filter(email_links::expires_at.gt(now))
            .select(LinkRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(EmailLink::try_from).transpose()
    }

    /// The link's row is deleted by a delete that must change one row: of
    /// two uses racing, the second finds nothing to delete and changes
    /// nothing.
    async fn redeem_link<'a>(
        &self,
        digest: &Digest,
        purpose: LinkPurpose,
        effect: &LinkEffect,
        notice: Option<&'a OutboxEntry>,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, StoreError> {
        let (key, now) = (digest.as_bytes().to_vec(), naive(now));
        let (effect, notice) = (effect.clone(), notice.map(OutboxRow::from));
        atomically!(self, "mail link", |conn| {
            let Some((id, address)) = email_links::table
                .find(&key)
                .filter(email_links::purpose.eq(purpose.as_str()))
                .filter(email_links::expires_at.gt(now))
                .select((email_links::user_id, email_links::address))
                .first::<(String, String)>(conn)
                .await
                .optional()?
            else {
                return Ok(Redeemed::Invalid);
            };
            let taken = diesel::delete(email_links::table.find(&key))
                .execute(conn)
                .await?;
            if taken != 1 {
                return Ok(Redeemed::Invalid);
            }
            let done = apply_effect!(conn, &effect, &id, &address, now)?;
            if let (Redeemed::Done(_), Some(notice)) = (&done, &notice) {
                diesel::insert_into(mail_outbox::table)
                    .values(notice)
                    .execute(conn)
                    .await?;
            }
            Ok(done)
        })
    }

    async fn due_mail(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let now = naive(now);
        let rows: Vec<OutboxRow> = with_conn!(self, |conn| mail_outbox::table
            .filter(mail_outbox::next_attempt_at.le(now))
            .order(mail_outbox::created_at.asc())
            .limit(limit)
            .select(OutboxRow::as_select())
            .load(conn)
            .await
            .map_err(query_error))?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    async fn claim_mail(
        &self,
        id: Uuid,
        seen_attempts: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (id, lease) = (id.to_string(), naive(lease_until));
        let seen = i32::try_from(seen_attempts).unwrap_or(i32::MAX);
        let n = with_conn!(writer self, |conn| diesel::update(
            mail_outbox::table
                .filter(mail_outbox::id.eq(&id))
                .filter(mail_outbox::attempts.eq(seen))
        )
        .set((
            mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            mail_outbox::next_attempt_at.eq(lease),
        ))
        .execute(conn)
        .await
        .map_err(query_error))?;
        Ok(n == 1)
    }

    async fn retry_mail(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        let (id, at) = (id.to_string(), naive(at));
        with_conn!(writer self, |conn| diesel::update(mail_outbox::table.find(&id))
            .set(mail_outbox::next_attempt_at.eq(at))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }

    async fn remove_mail(&self, id: Uuid) -> Result<(), StoreError> {
        let id = id.to_string();
        with_conn!(writer self, |conn| diesel::delete(mail_outbox::table.find(&id))
            .execute(conn)
            .await
            .map_err(query_error))?;
        Ok(())
    }
}
