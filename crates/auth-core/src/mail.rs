//! What reaches people by mail: links that verify an address, recover a
//! password or accept an invitation, and the notices that tell an owner
//! what happened to their account.
//!
//! A link is 32 random bytes in the URL and only their SHA-256 at rest,
//! bound to one purpose, one account and the address it was sent to, and
//! used up by one conditional delete that applies its effect in the same
//! step. The letter that carries it is sealed (it holds the link) and
//! written to the outbox in the same step as the link; [`Postman`] delivers
//! it later, so no request waits on a mail server and none is lost to one.
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::{CryptoError, FlowError, StoreError};
use crate::ports::{MailRepository, MailTransport, Sealer, SendError};
use crate::service::{Accounts, Core};
use crate::throttle::ThrottleKey;
use crate::types::{
    Email, EmailLink, Letter, LinkEffect, LinkPurpose, LoginName, Message, OpaqueToken,
    OutboxEntry, Password, Redeemed, User, UserId,
};

/// The purpose letters are sealed under.
const SEAL_PURPOSE: &str = "portcullis outbox letter";

/// How long each kind of link works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLifetimes {
    /// A verification link (registration).
    pub verify: Duration,
    /// A recovery link: short, since it sets the password.
    pub reset: Duration,
    /// An invitation.
    pub invite: Duration,
    /// An address change's confirmation.
    pub change: Duration,
}

impl Default for LinkLifetimes {
    fn default() -> Self {
        Self {
            verify: Duration::days(3),
            reset: Duration::minutes(30),
            invite: Duration::days(7),
            change: Duration::hours(24),
        }
    }
}

impl LinkLifetimes {
    fn of(&self, purpose: LinkPurpose) -> Duration {
        match purpose {
            LinkPurpose::Verify => self.verify,
            LinkPurpose::Reset => self.reset,
            LinkPurpose::Invite => self.invite,
            LinkPurpose::Change => self.change,
        }
    }
}

/// How mail leaves: set when the operator configured a mail server.
#[derive(Clone)]
pub struct Mailing {
    /// Seals letters in the outbox (they carry links).
    pub sealer: Arc<dyn Sealer>,
}

/// Why a recovery request was not taken.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Too many requests from this address or for this name just now.
    #[error("too many requests; try again later")]
    Throttled,
    /// No mail server is configured here.
    #[error("this server does not send mail")]
    NoMail,
    #[error(transparent)]
    /// A store or crypto failure.
    Flow(#[from] FlowError),
}

impl From<StoreError> for RecoveryError {
    fn from(e: StoreError) -> Self {
        Self::Flow(e.into())
    }
}

/// Why an address change was not asked for.
#[derive(Debug, thiserror::Error)]
pub enum EmailChangeError {
    /// The address is the account's already.
    #[error("that is already your address")]
    Unchanged,
    /// The current password was wrong.
    #[error("the current password is incorrect")]
    WrongPassword(crate::events::SecurityEvent),
    /// Too many wrong passwords for the account just now.
    #[error("too many failed attempts")]
    Throttled(crate::events::SecurityEvent),
    /// No mail server is configured here.
    #[error("this server does not send mail")]
    NoMail,
    #[error(transparent)]
    /// A store or crypto failure.
    Flow(#[from] FlowError),
}

impl From<crate::own_account::Unconfirmed> for EmailChangeError {
    fn from(e: crate::own_account::Unconfirmed) -> Self {
        use crate::own_account::Unconfirmed;
        match e {
            Unconfirmed::Wrong(event) => Self::WrongPassword(event),
            Unconfirmed::Throttled(event) => Self::Throttled(event),
            Unconfirmed::Flow(f) => Self::Flow(f),
        }
    }
}

/// A link made for the operator to hand over (no mail sent).
#[derive(Debug)]
pub struct PrintedLink {
    /// The account.
    pub user: User,
    /// The URL; a credential until used or expired.
    pub url: OpaqueToken,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// `message` to `user` at `address`.
fn letter(user: &User, address: &Email, message: Message) -> Letter {
    Letter {
        to: address.as_str().to_owned(),
        username: user.username.as_str().to_owned(),
        message,
    }
}

impl Core {
    /// Whether mail can be sent here: without it, every feature that needs
    /// mail is off.
    pub fn mail_enabled(&self) -> bool {
        self.mailing.is_some()
    }

    /// A letter sealed for the outbox, due at once.
    fn seal_letter(&self, letter: &Letter, now: DateTime<Utc>) -> Result<OutboxEntry, FlowError> {
        let mailing = self
            .mailing
            .as_ref()
            .ok_or_else(|| CryptoError::Failed("no mail is configured".into()))?;
        let plain = serde_json::to_vec(letter).map_err(|e| CryptoError::Failed(e.to_string()))?;
        Ok(OutboxEntry {
            id: self.ports.random.uuid(),
            sealed: mailing.sealer.seal(SEAL_PURPOSE, &plain)?,
            created_at: now,
            next_attempt_at: now,
            attempts: 0,
        })
    }

    /// A new link for `user`, sent to `address`: the stored record, and the
    /// URL (built from the issuer only, never from a request's `Host`).
    fn new_link(
        &self,
        purpose: LinkPurpose,
        user: UserId,
        address: &Email,
        now: DateTime<Utc>,
    ) -> (EmailLink, OpaqueToken) {
        let token = self.ports.random.token();
        let link = EmailLink {
            digest: self.ports.digest.digest(token.expose()),
            purpose,
            user_id: user,
            address: address.clone(),
            created_at: now,
            expires_at: now + self.link_lifetimes.of(purpose),
        };
        let url = format!(
            "{}{}?token={}",
            self.issuer.trim_end_matches('/'),
            purpose.path(),
            token.expose()
        );
        (link, OpaqueToken::new(url))
    }

    /// Mails `user` a link of `purpose` to `address`, the link and its
    /// letter stored in one step. Nothing happens without mail.
    async fn mail_link(
        &self,
        purpose: LinkPurpose,
        user: &User,
        address: &Email,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        self.mail_link_with(purpose, user, address, None, now).await
    }

    /// [`Self::mail_link`], with a notice written in the same step.
    async fn mail_link_with(
        &self,
        purpose: LinkPurpose,
        user: &User,
        address: &Email,
        notice: Option<OutboxEntry>,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        if !self.mail_enabled() {
            return Ok(());
        }
        let (link, url) = self.new_link(purpose, user.id, address, now);
        let link_text = url.into_inner();
        let message = match purpose {
            LinkPurpose::Verify => Message::VerifyAddress { link: link_text },
            LinkPurpose::Change => Message::ChangeAddress { link: link_text },
            LinkPurpose::Reset => Message::ResetPassword {
                link: link_text,
                minutes: self.link_lifetimes.reset.num_minutes(),
            },
            LinkPurpose::Invite => Message::Invitation {
                link: link_text,
                days: self.link_lifetimes.invite.num_days(),
            },
        };
        let mut letters = vec![self.seal_letter(&letter(user, address, message), now)?];
        letters.extend(notice);
        self.ports.mail.issue_link(&link, &letters).await?;
        Ok(())
    }

    /// A notice to `address` (no link); nothing without mail.
    pub(crate) async fn mail_notice(
        &self,
        user: &User,
        address: &Email,
        message: Message,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        if let Some(entry) = self.notice(user, address, message, now)? {
            self.ports.mail.enqueue(&entry).await?;
        }
        Ok(())
    }

    /// A notice sealed for the outbox, or `None` without mail.
    fn notice(
        &self,
        user: &User,
        address: &Email,
        message: Message,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxEntry>, FlowError> {
        if !self.mail_enabled() {
            return Ok(None);
        }
        self.seal_letter(&letter(user, address, message), now)
            .map(Some)
    }

    /// Mails a new account's owner a link that verifies its address
    /// (when it has one, unverified, and mail is set up).
    pub(crate) async fn mail_verification(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        match &user.email {
            Some(address) if !user.email_verified => {
                self.mail_link(LinkPurpose::Verify, user, address, now)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// The live link behind `token`, if it is one of `purpose`.
    async fn live_link(
        &self,
        purpose: LinkPurpose,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<EmailLink>, FlowError> {
        let digest = self.ports.digest.digest(token);
        Ok(self.ports.mail.find_link(&digest, purpose, now).await?)
    }
}

impl Accounts {
    /// The live link behind `token`, if it is one of `purpose`, and its
    /// account, for the page that opens it; the link is not used up.
    pub async fn open_link(
        &self,
        purpose: LinkPurpose,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(EmailLink, User)>, FlowError> {
        let Some(link) = self.live_link(purpose, token, now).await? else {
            return Ok(None);
        };
        let user = self.ports.users.find_by_id(link.user_id).await?;
        Ok(user.map(|user| (link, user)))
    }

    /// Opens a verification link: the account's email is verified if it is
    /// still the address the link went to.
    pub async fn verify_email(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, FlowError> {
        self.redeem(LinkPurpose::Verify, &LinkEffect::VerifyEmail, token, now)
            .await
    }

    /// Uses up the live link of `purpose` behind `token` with its `effect`,
    /// in one step.
    async fn redeem(
        &self,
        purpose: LinkPurpose,
        effect: &LinkEffect,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, FlowError> {
        let digest = self.ports.digest.digest(token);
        let redeemed = self
            .ports
            .mail
            .redeem_link(&digest, purpose, effect, None, now)
            .await;
        match (redeemed, effect) {
            // A registration took the address in the same instant: the
            // unique index refused the write whole (the link stays unused).
            (Err(StoreError::Conflict(_)), LinkEffect::ChangeEmail) => Ok(Redeemed::AddressTaken),
            (other, _) => Ok(other?),
        }
    }

    /// Opens a recovery or invitation link with the new password: the
    /// password is set, the account signed out everywhere, its address
    /// verified (the link reached it), and its owner told, in one step.
    /// The person is not signed in.
    pub async fn set_password_by_link(
        &self,
        purpose: LinkPurpose,
        token: &str,
        password: &Password,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, FlowError> {
        let Some(link) = self.live_link(purpose, token, now).await? else {
            return Ok(Redeemed::Invalid);
        };
        let Some(user) = self.ports.users.find_by_id(link.user_id).await? else {
            return Ok(Redeemed::Invalid);
        };
        let hash = self.ports.hasher.hash(password).await?;
        let notice = match purpose {
            LinkPurpose::Reset => {
                self.notice(&user, &link.address, Message::PasswordChanged, now)?
            }
            _ => None,
        };
        Ok(self
            .ports
            .mail
            .redeem_link(
                &link.digest,
                purpose,
                &LinkEffect::SetPassword(hash),
                notice.as_ref(),
                now,
            )
            .await?)
    }

    /// Counts a recovery request for `login` from `from` against the
    /// throttles, before anything is looked up: the same cost for a name
    /// that names an account and one that does not.
    pub async fn reserve_recovery(
        &self,
        login: &LoginName,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RecoveryError> {
        if !self.mail_enabled() {
            return Err(RecoveryError::NoMail);
        }
        let throttles = self.throttles;
        for (key, policy) in [
            (
                ThrottleKey::RecoveryFrom(from.to_owned()),
                throttles.recovery_per_address,
            ),
            (
                ThrottleKey::RecoveryOf(login.clone()),
                throttles.recovery_per_name,
            ),
        ] {
            let allowed = self
                .ports
                .throttles
                .reserve(&key, policy.max_attempts, policy.window, now)
                .await?;
            if !allowed {
                return Err(RecoveryError::Throttled);
            }
        }
        Ok(())
    }

    /// Mails a recovery link to the account `login` names, at its email,
    /// superseding its older links. Nothing for a name that names no
    /// account, one without an email, or a disabled one: the caller
    /// answers alike whatever happened.
    pub async fn mail_recovery(
        &self,
        login: &LoginName,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let Some(user) = self.ports.users.find_by_login(login).await? else {
            return Ok(());
        };
        match &user.email {
            Some(address) if !user.disabled => {
                self.mail_link(LinkPurpose::Reset, &user, address, now)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Asks to make `new` the signed-in `who`'s address: a link to `new`
    /// (the change happens when it is opened) and a notice to the old
    /// address, written in one step. The current password is checked as a
    /// login checks it (the same throttle), when the account has one: a
    /// stolen session alone cannot move the address recovery mail goes to.
    pub async fn request_email_change(
        &self,
        who: &crate::authorize::SignedIn,
        new: Email,
        current_password: Option<String>,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EmailChangeError> {
        if !self.mail_enabled() {
            return Err(EmailChangeError::NoMail);
        }
        let user = self
            .ports
            .users
            .find_by_id(who.user)
            .await
            .map_err(FlowError::from)?
            .ok_or_else(|| {
                // The session outlived its account (deleted meanwhile).
                EmailChangeError::Flow(
                    crate::OAuthError::access_denied("the account no longer exists").into(),
                )
            })?;
        if user.email.as_ref() == Some(&new) {
            return Err(EmailChangeError::Unchanged);
        }
        if user.password_hash.is_some() {
            self.confirm_password(user.id, current_password.unwrap_or_default(), from, now)
                .await?;
        }
        let notice = match &user.email {
            Some(old) => self.notice(
                &user,
                old,
                Message::AddressChanging {
                    new_address: new.as_str().to_owned(),
                },
                now,
            )?,
            None => None,
        };
        self.mail_link_with(LinkPurpose::Change, &user, &new, notice, now)
            .await?;
        Ok(())
    }

    /// Opens an address change's link: the address it went to becomes the
    /// account's email, verified, and its login name in place of the old
    /// one; `AddressTaken` when another account has it by now.
    pub async fn confirm_email_change(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, FlowError> {
        self.redeem(LinkPurpose::Change, &LinkEffect::ChangeEmail, token, now)
            .await
    }

    /// Mails the signed-in `user` a new verification link.
    pub async fn resend_verification(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        if let Some(user) = self.ports.users.find_by_id(user).await? {
            self.mail_verification(&user, now).await?;
        }
        Ok(())
    }

    /// A link of `purpose` for the operator to hand over instead of a
    /// mail; it supersedes the account's older links of the purpose.
    pub async fn print_link(
        &self,
        purpose: LinkPurpose,
        user: User,
        now: DateTime<Utc>,
    ) -> Result<Option<PrintedLink>, FlowError> {
        let Some(address) = user.email.clone() else {
            return Ok(None);
        };
        let (link, url) = self.new_link(purpose, user.id, &address, now);
        self.ports.mail.store_link(&link).await?;
        Ok(Some(PrintedLink {
            user,
            url,
            expires_at: link.expires_at,
        }))
    }

    /// Mails `user` a link of `purpose` to its email, as the operator asks
    /// (an invitation, a recovery). `false` without mail or an email.
    pub async fn mail_link_to(
        &self,
        purpose: LinkPurpose,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<bool, FlowError> {
        match &user.email {
            Some(address) if self.mail_enabled() => {
                self.mail_link(purpose, user, address, now).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// What one round of delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Letters the server accepted.
    pub sent: u32,
    /// Letters put back for another try.
    pub retried: u32,
    /// Letters given up on: refused for good, too old, or unreadable; each
    /// with its id and why.
    pub given_up: Vec<(Uuid, String)>,
}

/// Delivers the outbox: on every node, each letter by exactly one of them.
pub struct Postman {
    mail: Arc<dyn MailRepository>,
    sealer: Arc<dyn Sealer>,
    transport: Arc<dyn MailTransport>,
    /// How long a taken letter is left to its sender before another may
    /// try (a sender that died mid-send).
    pub lease: Duration,
    /// After this, a letter not yet delivered is given up on.
    pub give_up_after: Duration,
}

impl Postman {
    /// A postman over the outbox, sending through `transport`.
    pub fn new(
        mail: Arc<dyn MailRepository>,
        sealer: Arc<dyn Sealer>,
        transport: Arc<dyn MailTransport>,
    ) -> Self {
        Self {
            mail,
            sealer,
            transport,
            lease: Duration::minutes(2),
            give_up_after: Duration::hours(24),
        }
    }

    /// How long to wait after the `attempts`-th failure: 30 s doubling
    /// to at most ten minutes, so an hour's outage is retried a handful of
    /// times and the letter goes out within minutes of the server's return.
    pub fn backoff(attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(10);
        Duration::seconds((30_i64 << exponent).min(600))
    }

    /// Sends what is due at `now`, at most `limit` letters, oldest first;
    /// a transient failure ends the round.
    pub async fn deliver_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        for entry in self.mail.due_mail(now, limit).await? {
            if now - entry.created_at > self.give_up_after {
                self.mail.remove_mail(entry.id).await?;
                report
                    .given_up
                    .push((entry.id, "not delivered within its time".into()));
                continue;
            }
            if !self
                .mail
                .claim_mail(entry.id, entry.attempts, now + self.lease)
                .await?
            {
                // Another node took it first.
                continue;
            }
            let letter = self
                .sealer
                .unseal(SEAL_PURPOSE, &entry.sealed)
                .ok()
                .and_then(|plain| serde_json::from_slice::<Letter>(&plain).ok());
            let Some(letter) = letter else {
                // Sealed under a key-encryption key no longer configured:
                // no retry can read it.
                self.mail.remove_mail(entry.id).await?;
                report
                    .given_up
                    .push((entry.id, "cannot be unsealed with this key".into()));
                continue;
            };
            match self.transport.send(entry.id, &letter).await {
                Ok(_) => {
                    self.mail.remove_mail(entry.id).await?;
                    report.sent += 1;
                }
                Err(SendError::Permanent(why)) => {
                    self.mail.remove_mail(entry.id).await?;
                    report.given_up.push((entry.id, why));
                }
                Err(SendError::Transient(_)) => {
                    let at = now + Self::backoff(entry.attempts + 1);
                    self.mail.retry_mail(entry.id, at).await?;
                    report.retried += 1;
                    // The server is failing (or not answering, which costs
                    // a timeout per letter): the rest wait for the next
                    // round rather than each meeting the same failure now.
                    break;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_ten_minutes() {
        let waits: Vec<i64> = (1..=8).map(|n| Postman::backoff(n).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600, 600]);
        assert_eq!(Postman::backoff(u32::MAX).num_seconds(), 600);
    }
}
