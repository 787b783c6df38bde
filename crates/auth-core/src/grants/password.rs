//! The resource owner password credentials grant (RFC 6749 section 4.3).
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::ports::LoginReservation;
use crate::throttle::{account_key, login_key};
use crate::types::{Client, IssuedTokens, Password, Scope, User};

use super::{TokenService, resolve_scope};

pub(super) async fn run(
    service: &TokenService,
    client: &Client,
    login: &str,
    password: String,
    scope: Option<Scope>,
    from: &str,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    // Scope is checked first: it depends only on the client, and refusing it
    // before touching the user store reveals nothing about accounts.
    let scope = resolve_scope(scope, &client.scope)?;
    let login = service
        .check_credentials(login, password, from, now)
        .await?;
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
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<User, FlowError> {
        let checked = self.check_credentials(login, password, from, now).await?;
        self.ports.throttles.clear(&checked.throttle_key).await?;
        Ok(checked.user)
    }

    /// [`Self::verify_credentials`] but for the throttle's reset, which is
    /// left to the caller.
    pub(crate) async fn check_credentials(
        &self,
        login: &str,
        password: String,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<CheckedLogin, FlowError> {
        let refused = || OAuthError::invalid_grant("the username or password is incorrect");
        let login = crate::types::LoginName::lookup(login);
        // Two counters per account however it is named, both reserved
        // before the hash, so a burst counts as a sequence would: the
        // attempts from this address (the login policy's limit), and, only
        // for attempts that address may still make, those from everywhere
        // (ten times it). Wrong passwords from one address lock out that
        // address; it takes many addresses to lock out the owner.
        let policy = self.throttles.login;
        let LoginReservation { user, allowed } = self
            .ports
            .throttles
            .reserve_login(&login, from, policy.max_attempts, policy.window, now)
            .await?;
        let user_id = user.as_ref().map(|u| u.id);
        let key = login_key(user_id, &login, from);
        let allowed = allowed
            && self
                .ports
                .throttles
                .reserve(
                    &account_key(user_id, &login),
                    policy.max_attempts.saturating_mul(10),
                    policy.window,
                    now,
                )
                .await?;
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
            Some(u) if verified && !u.disabled => {
                // A success is no failure: the account-wide reservation is
                // given back (the per-address one is cleared by whoever
                // takes the login).
                self.ports
                    .throttles
                    .release(&account_key(user_id, &login))
                    .await?;
                Ok(CheckedLogin {
                    user: u,
                    throttle_key: key,
                })
            }
            // The reserved attempt stays counted as the failure.
            _ => Err(refused()
                .with_event(SecurityEvent::LoginFailed {
                    user: user.map(|u| u.id),
                })
                .into()),
        }
    }
}
