//! Security events: what happened, in the core's words, for the log. The
//! core attaches an event to the error it returns (or to the operation's
//! result); the edges add where the request came from and write it.
//! An event never holds a secret: no token, code, password or secret.
use std::fmt;

use crate::types::{ClientId, FamilyId, UserId};

/// One security-relevant happening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityEvent {
    /// A wrong password, an unknown login, or a disabled account.
    LoginFailed { user: Option<UserId> },
    /// Too many failed logins: this one was not even checked.
    LoginThrottled { user: Option<UserId> },
    /// A client presented a wrong secret, none, or an unknown id.
    ClientAuthFailed { client: ClientId },
    /// A used authorization code came again; what it issued was revoked.
    CodeReplayed { client: ClientId, user: UserId },
    /// A rotated refresh token came again; its whole family was revoked.
    RefreshReplayed {
        client: ClientId,
        user: Option<UserId>,
        family: FamilyId,
        revoked: u64,
    },
    /// A client revoked one of its tokens.
    TokenRevoked { client: ClientId },
    /// A client asked for a grant or a dialect it is not registered for.
    ClientRefused { client: ClientId },
    /// A sign-in through an upstream provider was refused (the provider
    /// refused, a state or session was forged, replayed or expired, the
    /// account is disabled).
    UpstreamLoginRefused { user: Option<UserId> },
    /// An upstream identity arrived with the email address of an existing
    /// account it is not linked to: nothing was linked or created.
    UpstreamEmailInUse { user: UserId },
    /// The account holder changed their password on the account page:
    /// every other session ended and every refresh token was revoked.
    PasswordChanged { user: UserId },
    /// The account holder took back an application's access: its grants
    /// (refresh tokens and the access tokens issued with them) ended.
    ApplicationRevoked { user: UserId, client: ClientId },
    /// The account holder unlinked an upstream identity.
    IdentityUnlinked { user: UserId },
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
        }
    }

    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            Self::LoginFailed { .. }
            | Self::LoginThrottled { .. }
            | Self::UpstreamLoginRefused { .. }
            | Self::UpstreamEmailInUse { .. }
            | Self::PasswordChanged { .. }
            | Self::IdentityUnlinked { .. } => None,
            Self::ClientAuthFailed { client }
            | Self::ApplicationRevoked { client, .. }
            | Self::CodeReplayed { client, .. }
            | Self::RefreshReplayed { client, .. }
            | Self::TokenRevoked { client }
            | Self::ClientRefused { client } => Some(client),
        }
    }

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
            | Self::IdentityUnlinked { user } => Some(*user),
            Self::ClientAuthFailed { .. }
            | Self::TokenRevoked { .. }
            | Self::ClientRefused { .. } => None,
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
        }
    }
}
