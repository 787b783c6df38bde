//! Security events: what happened, in the core's words, for the log. The
//! core attaches an event to the error it returns (or to the operation's
//! result); the edges add where the request came from and write it.
//! An event never holds a secret: no token, code, password or secret.
use std::fmt;

use crate::types::{ClientId, FamilyId, UserId};

/// One security-relevant happening.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityEvent {
    /// A wrong password, an unknown login, or a disabled account.
    LoginFailed {
        /// The account the login names, if any.
        user: Option<UserId>,
    },
    /// Too many failed logins: this one was not even checked.
    LoginThrottled {
        /// The account the login names, if any.
        user: Option<UserId>,
    },
    /// A client presented a wrong secret, none, or an unknown id.
    ClientAuthFailed {
        /// The client id as presented.
        client: ClientId,
    },
    /// A used authorization code came again; what it issued was revoked.
    CodeReplayed {
        /// The client that redeemed it.
        client: ClientId,
        /// The account it was issued for.
        user: UserId,
    },
    /// A rotated refresh token came again; its whole family was revoked.
    RefreshReplayed {
        /// The client the family belongs to.
        client: ClientId,
        /// The account it acted for, if any.
        user: Option<UserId>,
        /// The family revoked.
        family: FamilyId,
        /// How many of its tokens were newly revoked.
        revoked: u64,
    },
    /// A client revoked one of its tokens.
    TokenRevoked {
        /// The client that revoked it.
        client: ClientId,
    },
    /// A client asked for a grant or a dialect it is not registered for.
    ClientRefused {
        /// The client refused.
        client: ClientId,
    },
    /// A sign-in through an upstream provider was refused (the provider
    /// refused, a state or session was forged, replayed or expired, the
    /// account is disabled).
    UpstreamLoginRefused {
        /// The account concerned, when known.
        user: Option<UserId>,
    },
    /// An upstream identity arrived with the email address of an existing
    /// account it is not linked to: nothing was linked or created.
    UpstreamEmailInUse {
        /// The account whose login name the email is.
        user: UserId,
    },
    /// The account holder changed their password on the account page:
    /// every other session ended and every refresh token was revoked.
    PasswordChanged {
        /// The account.
        user: UserId,
    },
    /// The account holder took back an application's access: its grants
    /// (refresh tokens and the access tokens issued with them) ended.
    ApplicationRevoked {
        /// The account.
        user: UserId,
        /// The application whose grants ended.
        client: ClientId,
    },
    /// The account holder unlinked an upstream identity.
    IdentityUnlinked {
        /// The account.
        user: UserId,
    },
    /// The account holder linked an upstream identity: from now on it
    /// signs in to the account too.
    IdentityLinked {
        /// The account.
        user: UserId,
    },
    /// Someone signed in with the account's password (token endpoint,
    /// hosted page, a dialect).
    LoginSucceeded {
        /// The account.
        user: UserId,
    },
    /// A first sign-in through an upstream provider created an account.
    UpstreamAccountCreated {
        /// The new account.
        user: UserId,
        /// The account that had registered the provider's (verified)
        /// address without verifying it, and lost it as a login name.
        released_from: Option<UserId>,
    },
    /// A mailed link set a new password (recovery) or the first one (an
    /// invitation): every session and token of the account ended.
    PasswordSetByLink {
        /// The account.
        user: UserId,
    },
    /// A mailed link confirmed the account's address.
    EmailVerified {
        /// The account.
        user: UserId,
    },
    /// A mailed link to a new address made it the account's email.
    EmailChanged {
        /// The account.
        user: UserId,
    },
    /// A mail link that is unknown, used or expired was presented.
    LinkRefused,
    /// Too many recovery requests from an address or for a name.
    RecoveryThrottled,
    /// A second factor was enrolled (confirmed).
    MfaEnrolled {
        /// The account.
        user: UserId,
        /// What kind.
        kind: crate::types::FactorKind,
    },
    /// Second factors were removed: one by the account holder, or all of
    /// them by the operator.
    MfaRemoved {
        /// The account.
        user: UserId,
        /// How many.
        factors: u64,
    },
    /// A wrong, replayed or throttled second factor, or a password-only
    /// sign-in refused for want of one.
    MfaFailed {
        /// The account.
        user: UserId,
    },
    /// A recovery code was used to sign in.
    RecoveryCodeUsed {
        /// The account.
        user: UserId,
        /// How many unused codes are left.
        left: u64,
    },
    /// A WebAuthn assertion whose signature counter did not grow: the key
    /// may have been cloned. Refused.
    PasskeyCounterRegressed {
        /// The account.
        user: UserId,
        /// The credential.
        factor: crate::types::FactorId,
    },
    /// A group was created, renamed or redescribed, or deleted.
    GroupChanged {
        /// The group.
        group: crate::types::GroupId,
        /// What changed.
        change: GroupChange,
    },
    /// An account joined or left a group; leaving ends its refresh tokens
    /// at the clients it may no longer use.
    GroupMembershipChanged {
        /// The group.
        group: crate::types::GroupId,
        /// The account.
        user: UserId,
        /// Joined (else left).
        added: bool,
        /// Refresh tokens revoked with it.
        revoked: u64,
    },
    /// An operator (through the admin API) registered, changed or deleted
    /// a client, or gave it a new secret.
    ClientChanged {
        /// The client.
        client: ClientId,
        /// What changed.
        change: ClientChangeKind,
    },
    /// An operator (through the admin API) created, changed, disabled,
    /// enabled or deleted an account, set its password or signed it out.
    AccountChanged {
        /// The account.
        user: UserId,
        /// What changed.
        change: AccountChangeKind,
    },
}

/// What an operator did to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientChangeKind {
    /// It was registered.
    Created,
    /// Its registration changed.
    Updated,
    /// It was deleted, with everything issued to it.
    Deleted,
    /// It has a new secret; the old one stopped working.
    SecretRotated,
}

/// What an operator did to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChangeKind {
    /// It was created.
    Created,
    /// Its names or the verification of its address changed.
    Updated,
    /// It was disabled, and signed out everywhere.
    Disabled,
    /// It was enabled.
    Enabled,
    /// It was deleted.
    Deleted,
    /// Its password was set, and it was signed out everywhere.
    PasswordSet,
    /// It was signed out everywhere.
    SignedOut,
}

/// What happened to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupChange {
    /// It was created.
    Created,
    /// Its name or description changed.
    Updated,
    /// It was deleted, with its memberships.
    Deleted,
}

impl SecurityEvent {
    /// The event's name in the log's `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoginFailed { .. } => "login_failed",
            Self::LoginThrottled { .. } => "login_throttled",
            Self::ClientAuthFailed { .. } => "client_auth_failed",
            Self::CodeReplayed { .. } => "code_replayed",
            Self::RefreshReplayed { .. } => "refresh_replayed",
            Self::TokenRevoked { .. } => "token_revoked",
            Self::ClientRefused { .. } => "client_refused",
            Self::UpstreamLoginRefused { .. } => "upstream_login_refused",
            Self::UpstreamEmailInUse { .. } => "upstream_email_in_use",
            Self::PasswordChanged { .. } => "password_changed",
            Self::ApplicationRevoked { .. } => "application_revoked",
            Self::IdentityUnlinked { .. } => "identity_unlinked",
            Self::IdentityLinked { .. } => "identity_linked",
            Self::LoginSucceeded { .. } => "login_succeeded",
            Self::UpstreamAccountCreated { .. } => "upstream_account_created",
            Self::PasswordSetByLink { .. } => "password_set_by_link",
            Self::EmailVerified { .. } => "email_verified",
            Self::EmailChanged { .. } => "email_changed",
            Self::LinkRefused => "mail_link_refused",
            Self::RecoveryThrottled => "recovery_throttled",
            Self::MfaEnrolled { .. } => "mfa_enrolled",
            Self::MfaRemoved { .. } => "mfa_removed",
            Self::MfaFailed { .. } => "mfa_failed",
            Self::RecoveryCodeUsed { .. } => "recovery_code_used",
            Self::PasskeyCounterRegressed { .. } => "passkey_counter_regressed",
            Self::GroupChanged { change, .. } => match change {
                GroupChange::Created => "group_created",
                GroupChange::Updated => "group_updated",
                GroupChange::Deleted => "group_deleted",
            },
            Self::GroupMembershipChanged { added: true, .. } => "group_member_added",
            Self::GroupMembershipChanged { added: false, .. } => "group_member_removed",
            Self::ClientChanged { change, .. } => match change {
                ClientChangeKind::Created => "client_created",
                ClientChangeKind::Updated => "client_updated",
                ClientChangeKind::Deleted => "client_deleted",
                ClientChangeKind::SecretRotated => "client_secret_rotated",
            },
            Self::AccountChanged { change, .. } => match change {
                AccountChangeKind::Created => "account_created",
                AccountChangeKind::Updated => "account_updated",
                AccountChangeKind::Disabled => "account_disabled",
                AccountChangeKind::Enabled => "account_enabled",
                AccountChangeKind::Deleted => "account_deleted",
                AccountChangeKind::PasswordSet => "account_password_set",
                AccountChangeKind::SignedOut => "account_signed_out",
            },
        }
    }

    /// The client the event names, if any.
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            Self::LoginFailed { .. }
            | Self::LoginThrottled { .. }
            | Self::UpstreamLoginRefused { .. }
            | Self::UpstreamEmailInUse { .. }
            | Self::PasswordChanged { .. }
            | Self::IdentityUnlinked { .. }
            | Self::IdentityLinked { .. }
            | Self::LoginSucceeded { .. }
            | Self::UpstreamAccountCreated { .. }
            | Self::PasswordSetByLink { .. }
            | Self::EmailVerified { .. }
            | Self::EmailChanged { .. }
            | Self::LinkRefused
            | Self::RecoveryThrottled
            | Self::MfaEnrolled { .. }
            | Self::MfaRemoved { .. }
            | Self::MfaFailed { .. }
            | Self::RecoveryCodeUsed { .. }
            | Self::PasskeyCounterRegressed { .. }
            | Self::GroupChanged { .. }
            | Self::GroupMembershipChanged { .. }
            | Self::AccountChanged { .. } => None,
            Self::ClientAuthFailed { client }
            | Self::ApplicationRevoked { client, .. }
            | Self::CodeReplayed { client, .. }
            | Self::RefreshReplayed { client, .. }
            | Self::TokenRevoked { client }
            | Self::ClientRefused { client }
            | Self::ClientChanged { client, .. } => Some(client),
        }
    }

    /// The account the event names, if any.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::LoginFailed { user }
            | Self::LoginThrottled { user }
            | Self::UpstreamLoginRefused { user }
            | Self::RefreshReplayed { user, .. } => *user,
            Self::CodeReplayed { user, .. }
            | Self::UpstreamEmailInUse { user }
            | Self::PasswordChanged { user }
            | Self::ApplicationRevoked { user, .. }
            | Self::IdentityUnlinked { user }
            | Self::IdentityLinked { user }
            | Self::LoginSucceeded { user }
            | Self::UpstreamAccountCreated { user, .. }
            | Self::PasswordSetByLink { user }
            | Self::EmailVerified { user }
            | Self::EmailChanged { user }
            | Self::MfaEnrolled { user, .. }
            | Self::MfaRemoved { user, .. }
            | Self::MfaFailed { user }
            | Self::RecoveryCodeUsed { user, .. }
            | Self::PasskeyCounterRegressed { user, .. }
            | Self::GroupMembershipChanged { user, .. }
            | Self::AccountChanged { user, .. } => Some(*user),
            Self::GroupChanged { .. } | Self::ClientChanged { .. } => None,
            Self::ClientAuthFailed { .. }
            | Self::TokenRevoked { .. }
            | Self::ClientRefused { .. }
            | Self::LinkRefused
            | Self::RecoveryThrottled => None,
        }
    }
}

impl fmt::Display for SecurityEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LoginFailed { .. } => f.write_str("a login failed"),
            Self::LoginThrottled { .. } => f.write_str("a login was refused by the throttle"),
            Self::ClientAuthFailed { .. } => f.write_str("client authentication failed"),
            Self::CodeReplayed { .. } => {
                f.write_str("an authorization code was presented again; what it issued was revoked")
            }
            Self::RefreshReplayed {
                family, revoked, ..
            } => write!(
                f,
                "a rotated refresh token was presented again; family {} revoked ({revoked} tokens)",
                family.as_uuid()
            ),
            Self::TokenRevoked { .. } => f.write_str("a client revoked a token"),
            Self::ClientRefused { .. } => {
                f.write_str("a client asked for something it is not registered for")
            }
            Self::UpstreamLoginRefused { .. } => {
                f.write_str("a sign-in through an upstream provider was refused")
            }
            Self::UpstreamEmailInUse { .. } => f.write_str(
                "an upstream identity came with the email of an account it is not linked to; \
                 nothing was linked",
            ),
            Self::PasswordChanged { .. } => f.write_str(
                "the account holder changed the password; other sessions and refresh tokens ended",
            ),
            Self::ApplicationRevoked { .. } => {
                f.write_str("the account holder took back an application's access")
            }
            Self::IdentityUnlinked { .. } => {
                f.write_str("the account holder unlinked an upstream identity")
            }
            Self::IdentityLinked { .. } => {
                f.write_str("the account holder linked an upstream identity")
            }
            Self::LoginSucceeded { .. } => f.write_str("a login succeeded"),
            Self::UpstreamAccountCreated {
                released_from: None,
                ..
            } => f.write_str("a first sign-in through an upstream provider created an account"),
            Self::UpstreamAccountCreated {
                released_from: Some(squatter),
                ..
            } => write!(
                f,
                "a first sign-in through an upstream provider created an account; its verified \
                 address was taken from account {squatter}, which had not verified it"
            ),
            Self::PasswordSetByLink { .. } => f.write_str(
                "a mailed link set the account's password; every session and token ended",
            ),
            Self::EmailChanged { .. } => f.write_str("a mailed link changed the account's address"),
            Self::EmailVerified { .. } => {
                f.write_str("a mailed link confirmed the account's address")
            }
            Self::LinkRefused => {
                f.write_str("a mail link that is unknown, used or expired was refused")
            }
            Self::RecoveryThrottled => {
                f.write_str("a password recovery request was refused by the throttle")
            }
            Self::MfaEnrolled { kind, .. } => {
                write!(f, "a second factor ({}) was enrolled", kind.as_str())
            }
            Self::MfaRemoved { factors, .. } => {
                write!(f, "{factors} second factor(s) removed")
            }
            Self::GroupChanged { group, change } => {
                let what = match change {
                    GroupChange::Created => "created",
                    GroupChange::Updated => "changed",
                    GroupChange::Deleted => "deleted",
                };
                write!(f, "group {group} was {what}")
            }
            Self::GroupMembershipChanged {
                group,
                added: true,
                ..
            } => write!(f, "an account joined group {group}"),
            Self::GroupMembershipChanged {
                group, revoked, ..
            } => write!(
                f,
                "an account left group {group}; {revoked} refresh token(s) of clients it may no \
                 longer use were revoked"
            ),
            Self::ClientChanged { change, .. } => f.write_str(match change {
                ClientChangeKind::Created => "an operator registered the client",
                ClientChangeKind::Updated => "an operator changed the client's registration",
                ClientChangeKind::Deleted => {
                    "an operator deleted the client; everything issued to it stopped working"
                }
                ClientChangeKind::SecretRotated => {
                    "an operator gave the client a new secret; the old one stopped working"
                }
            }),
            Self::AccountChanged { change, .. } => f.write_str(match change {
                AccountChangeKind::Created => "an operator created the account",
                AccountChangeKind::Updated => "an operator changed the account",
                AccountChangeKind::Disabled => {
                    "an operator disabled the account; it was signed out everywhere"
                }
                AccountChangeKind::Enabled => "an operator enabled the account",
                AccountChangeKind::Deleted => "an operator deleted the account",
                AccountChangeKind::PasswordSet => {
                    "an operator set the password; the account was signed out everywhere"
                }
                AccountChangeKind::SignedOut => "an operator signed the account out everywhere",
            }),
            Self::MfaFailed { .. } => f.write_str(
                "a second factor was wrong, used before or throttled, or a sign-in without one was refused",
            ),
            Self::RecoveryCodeUsed { left, .. } => {
                write!(f, "a recovery code was used; {left} left")
            }
            Self::PasskeyCounterRegressed { factor, .. } => write!(
                f,
                "credential {factor} answered with a signature counter that did not grow (a cloned key?); refused"
            ),
        }
    }
}
