//! The resource owner password credentials grant (RFC 6749 section 4.3).
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::ports::LoginReservation;
use crate::throttle::login_key;
use crate::types::{Client, IssuedTokens, Password, Scope, User};

use super::{TokenService, resolve_scope};

pub(super) async fn run(
    service: &TokenService,
    client: &Client,
    login: &str,
    password: String,
    scope: Option<Scope>,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    // Scope is checked first: it depends only on the client, and refusing it
    // before touching the user store reveals nothing about accounts.
    let scope = resolve_scope(scope, &client.scope)?;
    let login = service.check_credentials(login, password, now).await?;
    // The reset of the login's throttle is stored in the grant's own write:
    // one statement fewer per sign-in, and a grant that fails to commit
    // leaves the attempt counted, as any failed login does.
    let mut issued = service
        .tokens_for_user(
            client,
            login.user.token_owner(),
            scope,
            Some(&login.throttle_key),
            now,
        )
        .await?;
    issued.event = Some(SecurityEvent::LoginSucceeded {
        user: login.user.id,
    });
    Ok(issued)
}

/// A login whose password was right, its attempt still counted: whoever
/// takes it forgets the attempts of `throttle_key`, in a write of its own
/// ([`TokenService::verify_credentials`]) or in the write that stores what
/// the login earned.
pub(crate) struct CheckedLogin {
    pub(crate) user: User,
    pub(crate) throttle_key: String,
}

impl TokenService {
    /// Checks a login (username or email) and password. Unknown users,
    /// unparsable passwords and disabled accounts all pay one full
    /// verification and get the same refusal, so neither the answer nor its
    /// timing tells them apart. A success forgets the login's failed
    /// attempts.
    pub async fn verify_credentials(
        &self,
        login: &str,
        password: String,
        now: DateTime<Utc>,
    ) -> Result<User, FlowError> {
        let checked = self.check_credentials(login, password, now).await?;
        self.ports.throttles.clear(&checked.throttle_key).await?;
        Ok(checked.user)
    }

    /// [`Self::verify_credentials`] but for the throttle's reset, which is
    /// left to the caller.
    pub(crate) async fn check_credentials(
        &self,
        login: &str,
        password: String,
        now: DateTime<Utc>,
    ) -> Result<CheckedLogin, FlowError> {
        let refused = || OAuthError::invalid_grant("the username or password is incorrect");
        let login = crate::types::LoginName::lookup(login);
        // One counter per account however it is named; the attempt is
        // reserved before the hash, so a burst counts as a sequence would.
        let policy = self.throttles.login;
        let LoginReservation { user, allowed } = self
            .ports
            .throttles
            .reserve_login(&login, policy.max_attempts, policy.window, now)
            .await?;
        let key = login_key(user.as_ref().map(|u| u.id), &login);
        if !allowed {
            return Err(OAuthError::invalid_grant(
                "too many failed attempts for this login; try again later",
            )
            .with_event(SecurityEvent::LoginThrottled {
                user: user.map(|u| u.id),
            })
            .into());
        }
        let verified = match Password::parse(password) {
            Ok(p) => {
                self.ports
                    .hasher
                    .verify(&p, user.as_ref().and_then(|u| u.password_hash.as_ref()))
                    .await?
            }
            Err(_) => {
                let dummy = Password::parse("dummy-password-for-timing").map_err(|_| refused())?;
                self.ports.hasher.verify(&dummy, None).await?;
                false
            }
        };
        match user {
            Some(u) if verified && !u.disabled => Ok(CheckedLogin {
                user: u,
                throttle_key: key,
            }),
            // The reserved attempt stays counted as the failure.
            _ => Err(refused()
                .with_event(SecurityEvent::LoginFailed {
                    user: user.map(|u| u.id),
                })
                .into()),
        }
    }
}
