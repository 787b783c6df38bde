//! Mail links and the outbox in memory.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::MailRepository;
use auth_core::types::{Digest, EmailLink, LinkEffect, LinkPurpose, OutboxEntry, Redeemed};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::MemoryStore;
use crate::tables::Tables;

/// Stores `link` in place of the account's older links of its purpose.
fn replace_link(t: &mut Tables, link: &EmailLink) {
    t.email_links
        .retain(|_, l| !(l.user_id == link.user_id && l.purpose == link.purpose));
    t.email_links.insert(link.digest, link.clone());
}

#[async_trait]
impl MailRepository for MemoryStore {
    async fn issue_link(&self, link: &EmailLink, mail: &[OutboxEntry]) -> Result<(), StoreError> {
        let mut t = self.tables();
        replace_link(&mut t, link);
        t.outbox.extend_from_slice(mail);
        Ok(())
    }

    async fn store_link(&self, link: &EmailLink) -> Result<(), StoreError> {
        replace_link(&mut self.tables(), link);
        Ok(())
    }

    async fn enqueue(&self, mail: &OutboxEntry) -> Result<(), StoreError> {
        self.tables().outbox.push(mail.clone());
        Ok(())
    }

    async fn find_link(
        &self,
        digest: &Digest,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<EmailLink>, StoreError> {
        Ok(self
            .tables()
            .email_links
            .get(digest)
            .filter(|l| l.purpose == purpose && l.expires_at > now)
            .cloned())
    }

    async fn redeem_link<'a>(
        &self,
        digest: &Digest,
        purpose: LinkPurpose,
        effect: &LinkEffect,
        notice: Option<&'a OutboxEntry>,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, StoreError> {
        let mut t = self.tables();
        let live = t
            .email_links
            .get(digest)
            .is_some_and(|l| l.purpose == purpose && l.expires_at > now);
        let Some(link) = t.email_links.remove(digest).filter(|_| live) else {
            return Ok(Redeemed::Invalid);
        };
        let id = link.user_id;
        let still_its_address = |t: &Tables| {
            t.users
                .get(&id)
                .is_some_and(|u| u.email.as_ref() == Some(&link.address))
        };
        match effect {
            LinkEffect::VerifyEmail => {
                if still_its_address(&t)
                    && let Some(user) = t.users.get_mut(&id)
                {
                    user.email_verified = true;
                }
            }
            LinkEffect::SetPassword(hash) => {
                let verified = still_its_address(&t);
                let Some(user) = t.users.get_mut(&id) else {
                    return Ok(Redeemed::Invalid);
                };
                user.password_hash = Some(hash.clone());
                user.email_verified |= verified;
                t.sign_out_everywhere(id, now);
            }
            LinkEffect::ChangeEmail => {
                if !t.change_email(id, &link.address) {
                    return Ok(Redeemed::AddressTaken);
                }
            }
        }
        t.outbox.extend(notice.cloned());
        Ok(Redeemed::Done(id))
    }

    async fn due_mail(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut due: Vec<OutboxEntry> = self
            .tables()
            .outbox
            .iter()
            .filter(|m| m.next_attempt_at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|m| m.created_at);
        due.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(due)
    }

    async fn claim_mail(
        &self,
        id: Uuid,
        seen_attempts: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        let Some(entry) = t
            .outbox
            .iter_mut()
            .find(|m| m.id == id && m.attempts == seen_attempts)
        else {
            return Ok(false);
        };
        entry.attempts += 1;
        entry.next_attempt_at = lease_until;
        Ok(true)
    }

    async fn retry_mail(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(entry) = self.tables().outbox.iter_mut().find(|m| m.id == id) {
            entry.next_attempt_at = at;
        }
        Ok(())
    }

    async fn remove_mail(&self, id: Uuid) -> Result<(), StoreError> {
        self.tables().outbox.retain(|m| m.id != id);
        Ok(())
    }
}
