//! The admin API's operations on accounts: a page of the listing, one
//! account with its version, and writes conditional on the version the
//! caller read (its `If-Match`). Disabling, a new password and signing out
//! go through the same store steps as the CLI's.
use chrono::{DateTime, Utc};

use crate::accounts::{RegistrationError, UserSpec};
use crate::error::FlowError;
use crate::events::{AccountChangeKind, SecurityEvent};
use crate::service::Accounts;
use crate::types::{AccountChange, LoginName, UserId, UserListing, UserRecord, Version, Written};

use super::listing::Cursors;
use super::{CursorError, Page, PageRequest};

/// Why an operation on an account was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminUserError {
    /// No account has that id.
    #[error("no such account")]
    NotFound,
    /// The account changed since the version the caller named.
    #[error("the account changed since it was read; read it again")]
    Stale,
    /// A bad page request or cursor.
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// A value breaks its rules; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A new account was refused (a name taken, a rule broken).
    #[error(transparent)]
    Registration(RegistrationError),
    /// The admin API is not set up on this server.
    #[error("the admin API is not set up here")]
    Absent,
    /// A store or crypto failure; nothing changed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<RegistrationError> for AdminUserError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::Flow(e) => Self::Flow(e),
            other => Self::Registration(other),
        }
    }
}

impl From<crate::error::StoreError> for AdminUserError {
    fn from(e: crate::error::StoreError) -> Self {
        Self::Flow(e.into())
    }
}

/// The most characters of a first or last name.
const MAX_NAME: usize = 200;

/// A first or last name as given: trimmed, at most [`MAX_NAME`]
/// characters and no control character; empty removes it.
fn personal_name(what: &str, raw: &str) -> Result<Option<String>, AdminUserError> {
    let name = raw.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AdminUserError::Invalid(format!(
            "{what} must be at most {MAX_NAME} characters, none of them a control character"
        )));
    }
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

impl Accounts {
    /// A page of accounts in creation order; with `search`, those whose
    /// username or email starts with it (in any case).
    pub async fn list_users(
        &self,
        request: PageRequest<'_>,
        search: Option<&str>,
    ) -> Result<Page<UserRecord>, AdminUserError> {
        let admin = self.admin.as_ref().ok_or(AdminUserError::Absent)?;
        let limit = Cursors::limit(&request)?;
        let search = search
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| LoginName::lookup(s).as_str().to_owned());
        let cursors = Cursors::new(&admin.sealer, "users", search.as_deref());
        let after = match request.after {
            Some(cursor) => {
                let (at, id) = cursors.open_position(cursor)?;
                Some((
                    at,
                    id.parse::<uuid::Uuid>()
                        .map(UserId::new)
                        .map_err(|_| CursorError::Foreign)?,
                ))
            }
            None => None,
        };
        let mut items = self
            .ports
            .users
            .page(&UserListing {
                after,
                limit: limit + 1,
                search,
            })
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            match items.last() {
                Some(last) => Some(
                    cursors
                        .seal_position(last.user.created_at, last.user.id.to_string().as_str())
                        .map_err(FlowError::from)?,
                ),
                None => None,
            }
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// The account with `id` and its version.
    pub async fn user_record(&self, id: UserId) -> Result<UserRecord, AdminUserError> {
        self.ports
            .users
            .record(id)
            .await?
            .ok_or(AdminUserError::NotFound)
    }

    /// Creates an account as an operator does, its address verified if the
    /// operator says so.
    pub async fn create_user_record(
        &self,
        spec: UserSpec,
        email_verified: bool,
        now: DateTime<Utc>,
    ) -> Result<(UserRecord, SecurityEvent), AdminUserError> {
        let user = crate::accounts::register_vouched_user(self, spec, email_verified, now).await?;
        let record = self.user_record(user.id).await?;
        Ok((record, changed(user.id, AccountChangeKind::Created)))
    }

    /// Applies `change` to the account `id` if it is still at `expected`.
    pub async fn change_user(
        &self,
        id: UserId,
        expected: Version,
        change: &AccountChange,
        now: DateTime<Utc>,
    ) -> Result<(UserRecord, SecurityEvent), AdminUserError> {
        let name = |what, field: &Option<Option<String>>| match field {
            Some(Some(raw)) => personal_name(what, raw).map(Some),
            other => Ok(other.clone()),
        };
        let change = &AccountChange {
            given_name: name("givenName", &change.given_name)?,
            family_name: name("familyName", &change.family_name)?,
            ..change.clone()
        };
        let kind = match change.disabled {
            Some(true) => AccountChangeKind::Disabled,
            Some(false) => AccountChangeKind::Enabled,
            None => AccountChangeKind::Updated,
        };
        match self.ports.users.change(id, expected, change, now).await? {
            Written::Done(record) => Ok((record, changed(id, kind))),
            Written::Stale => Err(AdminUserError::Stale),
            Written::Missing => Err(AdminUserError::NotFound),
        }
    }

    /// Deletes the account `id` (as the CLI's `user delete`) if it is still
    /// at `expected`.
    pub async fn delete_user_record(
        &self,
        id: UserId,
        expected: Version,
    ) -> Result<SecurityEvent, AdminUserError> {
        match self.ports.users.delete_version(id, expected).await? {
            Written::Done(()) => Ok(changed(id, AccountChangeKind::Deleted)),
            Written::Stale => Err(AdminUserError::Stale),
            Written::Missing => Err(AdminUserError::NotFound),
        }
    }

    /// Sets the password of the account `id` and signs it out everywhere
    /// (as the CLI's `user set-password`).
    pub async fn set_password_of(
        &self,
        id: UserId,
        password: &crate::types::Password,
        now: DateTime<Utc>,
    ) -> Result<SecurityEvent, AdminUserError> {
        crate::accounts::set_user_password(self, &id.to_string(), password, now)
            .await?
            .ok_or(AdminUserError::NotFound)?;
        Ok(changed(id, AccountChangeKind::PasswordSet))
    }

    /// Signs the account `id` out everywhere (as the CLI's `user
    /// sign-out`): how many browser sessions ended.
    pub async fn sign_out_user(
        &self,
        id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(u64, SecurityEvent), AdminUserError> {
        let (_, ended) = crate::accounts::end_user_sessions(self, &id.to_string(), now)
            .await?
            .ok_or(AdminUserError::NotFound)?;
        Ok((ended, changed(id, AccountChangeKind::SignedOut)))
    }
}

fn changed(user: UserId, change: AccountChangeKind) -> SecurityEvent {
    SecurityEvent::AccountChanged { user, change }
}
