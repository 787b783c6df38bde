//! What Portcullis mails, and the single-use links the mail carries.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Digest, Email, UserId};

/// What a link in a mail lets its holder do; a link does that one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkPurpose {
    /// Confirms that the account's address reaches its owner.
    Verify,
    /// Sets a new password for an account whose password was forgotten.
    Reset,
    /// Sets the first password of an account an operator invited.
    Invite,
    /// Makes the address it was sent to the account's email.
    Change,
}

impl LinkPurpose {
    /// The name it is stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::Invite => "invite",
            Self::Change => "change",
        }
    }

    /// The purpose stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Verify, Self::Reset, Self::Invite, Self::Change]
            .into_iter()
            .find(|p| p.as_str() == name)
    }

    /// The path of the page that opens such a link, under the issuer.
    pub fn path(self) -> &'static str {
        match self {
            Self::Verify => "/email/verify",
            Self::Reset => "/password/reset",
            Self::Invite => "/invitation",
            Self::Change => "/email/change",
        }
    }
}

/// A link as stored: only the digest of its token, the account and the
/// address it was sent to, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLink {
    /// SHA-256 of the token in the URL.
    pub digest: Digest,
    /// What it does.
    pub purpose: LinkPurpose,
    /// Whose it is.
    pub user_id: UserId,
    /// Where it was sent; the link proves this address reaches the person.
    pub address: Email,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// After this it does nothing.
    pub expires_at: DateTime<Utc>,
}

/// One message to one person. Its words are the templates'; this is what
/// they are filled with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// The recipient.
    pub to: String,
    /// The account's username, to greet the person by.
    pub username: String,
    /// What it says.
    pub message: Message,
}

impl std::fmt::Debug for Letter {
    // A link is a credential: never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("kind", &self.message.kind())
            .finish_non_exhaustive()
    }
}

/// What a letter says.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Message {
    /// "Your sign-in methods changed": a factor added or removed, a
    /// recovery code used.
    FactorNotice {
        /// What happened.
        change: FactorChange,
    },
    /// "Confirm your address": a verification link.
    VerifyAddress {
        /// The link.
        link: String,
    },
    /// "Confirm your new address": sent to the new address of a change.
    ChangeAddress {
        /// The link.
        link: String,
    },
    /// "Your address is being changed": sent to the old address.
    AddressChanging {
        /// Where it is being changed to.
        new_address: String,
    },
    /// "Set a new password": a recovery link.
    ResetPassword {
        /// The link.
        link: String,
        /// How many minutes it works for.
        minutes: i64,
    },
    /// "You are invited": a link to set the first password.
    Invitation {
        /// The link.
        link: String,
        /// How many days it works for.
        days: i64,
    },
    /// "Your password was changed".
    PasswordChanged,
    /// "Someone tried to register with your address".
    RegistrationAttempt,
    /// The operator's test message (`mail test`).
    Test,
}

impl Message {
    /// Its kind, the name of its templates.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FactorNotice { .. } => "factor-notice",
            Self::VerifyAddress { .. } => "verify-address",
            Self::ChangeAddress { .. } => "change-address",
            Self::AddressChanging { .. } => "address-changing",
            Self::ResetPassword { .. } => "reset-password",
            Self::Invitation { .. } => "invitation",
            Self::PasswordChanged => "password-changed",
            Self::RegistrationAttempt => "registration-attempt",
            Self::Test => "test",
        }
    }
}

/// A letter waiting in the outbox: sealed (it may carry a link), with its
/// delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its id, also the `Message-ID`'s local part.
    pub id: Uuid,
    /// The letter, sealed with the key-encryption key.
    pub sealed: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When a sender may next take it.
    pub next_attempt_at: DateTime<Utc>,
    /// How many times a sender has taken it.
    pub attempts: u32,
}

/// What opening a link does, in the same write that consumes it.
#[derive(Debug, Clone)]
pub enum LinkEffect {
    /// The account's email is verified, if it is still the address the
    /// link was sent to.
    VerifyEmail,
    /// The password is replaced (and the account signed out everywhere,
    /// as every password change does); the address is verified if it is
    /// still the account's.
    SetPassword(super::PasswordHash),
    /// The address becomes the account's email, verified, and a login
    /// name in place of the old one.
    ChangeEmail,
}

/// What opening a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The link worked: its account.
    Done(UserId),
    /// No such link, used already, expired, or for another purpose.
    Invalid,
    /// The address now names another account (a change only): the link is
    /// used up and nothing else changed.
    AddressTaken,
}

/// A change to an account's second factors, as a notice tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum FactorChange {
    /// A factor was added.
    Added {
        /// Its label.
        label: String,
    },
    /// A factor was removed.
    Removed {
        /// Its label.
        label: String,
    },
    /// A recovery code was used to sign in.
    RecoveryCodeUsed {
        /// How many are left.
        left: u64,
    },
    /// The operator removed every factor.
    Reset,
}
