//! The resource owner password credentials grant (RFC 6749 section 4.3).
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::ports::LoginReservation;
use crate::throttle::{AttemptSource, LoginTarget, ThrottleKey};
use crate::types::{Client, IssuedTokens, LoginName, Password, PasswordAttempt, Scope, User};

use super::{Login, resolve_scope};
use crate::service::Core;

pub(super) async fn run(
    service: &Core,
    client: &Client,
    login: &Login,
    password: PasswordAttempt,
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
    service
        .require_password_only_allowed(client, login.user.id)
        .await?;
    if !service.admits(client, login.user.id).await? {
        return Err(crate::groups::not_admitted_to_grant().into());
    }
    if !client.admits_address_of(&login.user) {
        return Err(OAuthError::new(
            crate::ErrorCode::InvalidGrant,
            "this client requires a confirmed email address; confirm it first",
        )
        .into());
    }
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
/// ([`Core::verify_credentials`]) or in the write that stores what
/// the login earned.
pub(crate) struct CheckedLogin {
    pub(crate) user: User,
    pub(crate) throttle_key: ThrottleKey,
    /// The device cookie presented is one this account's browser was
    /// given at an earlier sign-in.
    pub(crate) known_device: bool,
}

/// A browser's successful login: the account, and a device cookie to give
/// the browser when it has none of this account's yet.
#[derive(Debug)]
pub struct BrowserLogin {
    /// The account signed in.
    pub user: User,
    /// The value of a new device cookie, when the browser is new to the
    /// account.
    pub device_cookie: Option<crate::types::OpaqueToken>,
}

impl Core {
    /// Checks a login and its password. Unknown users, unparsable
    /// passwords and disabled accounts all pay one full verification and
    /// get the same refusal, so neither the answer nor its timing tells
    /// them apart. A success forgets the login's failed attempts.
    pub async fn verify_credentials(
        &self,
        login: &Login,
        password: PasswordAttempt,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<User, FlowError> {
        let checked = self
            .check_credentials_from(login, password, from, None, now)
            .await?;
        self.ports.throttles.clear(&checked.throttle_key).await?;
        Ok(checked.user)
    }

    /// [`Self::verify_credentials`] for a browser that presented the device
    /// cookie `device` (OWASP's device cookies): a browser that signed in
    /// to the account before has a failed-login count of its own and is
    /// let through the account-wide limit, so a guess spread over many
    /// addresses does not lock its owner out. Any other cookie is counted
    /// as a browser without one is, besides its own count. A success
    /// remembers the browser: the answer carries a new device cookie to
    /// give it, unless the one it presented is already the account's.
    pub async fn verify_browser_credentials(
        &self,
        login: &LoginName,
        password: PasswordAttempt,
        from: &str,
        device: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BrowserLogin, FlowError> {
        let login = Login::Name(login.clone());
        let checked = self
            .check_credentials_from(&login, password, from, device, now)
            .await?;
        self.ports.throttles.clear(&checked.throttle_key).await?;
        let device_cookie = if checked.known_device {
            None
        } else {
            Some(self.remember_device(checked.user.id, now).await?)
        };
        Ok(BrowserLogin {
            user: checked.user,
            device_cookie,
        })
    }

    /// How long a browser that signed in is remembered (its device cookie).
    pub const DEVICE_LIFETIME: chrono::Duration = chrono::Duration::days(90);

    /// Remembers a browser that just signed in to `user`: the value of its
    /// new device cookie.
    async fn remember_device(
        &self,
        user: crate::types::UserId,
        now: DateTime<Utc>,
    ) -> Result<crate::types::OpaqueToken, FlowError> {
        let cookie = self.ports.random.token();
        self.ports
            .sessions
            .remember_device(
                &self.device_digest(cookie.expose()),
                user,
                now,
                now + Self::DEVICE_LIFETIME,
            )
            .await?;
        Ok(cookie)
    }

    fn device_digest(&self, cookie: &str) -> crate::types::Digest {
        self.ports.digest.digest(&format!("device:{cookie}"))
    }

    /// [`Self::verify_credentials`] but for the throttle's reset, which is
    /// left to the caller.
    pub(crate) async fn check_credentials(
        &self,
        login: &Login,
        password: PasswordAttempt,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<CheckedLogin, FlowError> {
        self.check_credentials_from(login, password, from, None, now)
            .await
    }

    async fn check_credentials_from(
        &self,
        login: &Login,
        password: PasswordAttempt,
        from: &str,
        device: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CheckedLogin, FlowError> {
        let refused = || OAuthError::invalid_grant("the username or password is incorrect");
        // Counters per account however it is named, each reserved before
        // the hash, so a burst counts as a sequence would: the attempts
        // from this address, or from this device cookie (the login
        // policy's limit); then, unless the cookie is a known browser's,
        // those from this address (when a cookie took the first count) and
        // those from everywhere (ten times the limit). Wrong passwords from
        // one address lock out that address; it takes many addresses to
        // lock out the owner, and not at all in a browser they used before.
        let policy = self.throttles.login;
        let device = device.map(|d| self.device_digest(d));
        let address = AttemptSource::Address(from.to_owned());
        let first = match &device {
            Some(d) => AttemptSource::Device(*d),
            None => address.clone(),
        };
        let (user, allowed) = match login {
            Login::Name(name) => {
                let LoginReservation { user, allowed } = self
                    .ports
                    .throttles
                    .reserve_login(name, first.clone(), policy.max_attempts, policy.window, now)
                    .await?;
                (user, allowed)
            }
            // By id: the account, then the reservation against the same
            // key a sign-in by its name counts against.
            Login::Account(id) => {
                let user = self.ports.users.find_by_id(*id).await?;
                let key = LoginTarget::Account(*id).key(Some(first.clone()));
                let allowed = self
                    .ports
                    .throttles
                    .reserve(&key, policy.max_attempts, policy.window, now)
                    .await?;
                (user, allowed)
            }
        };
        let user_id = user.as_ref().map(|u| u.id);
        let target = match login {
            Login::Name(name) => LoginTarget::of(user_id, name),
            Login::Account(id) => LoginTarget::Account(*id),
        };
        let key = target.key(Some(first));
        let known = match (&device, user_id) {
            (Some(d), Some(id)) => self.ports.sessions.is_known_device(d, id, now).await?,
            _ => false,
        };
        let mut reserved = Vec::new();
        let mut allowed = allowed;
        if !known {
            let per_address = device.is_some().then(|| target.key(Some(address)));
            let account = Some(target.key(None));
            for (k, limit) in [
                (per_address, policy.max_attempts),
                (account, policy.max_attempts.saturating_mul(10)),
            ] {
                let Some(k) = k else { continue };
                if !allowed {
                    break;
                }
                allowed = self
                    .ports
                    .throttles
                    .reserve(&k, limit, policy.window, now)
                    .await?;
                if allowed {
                    reserved.push(k);
                }
            }
        }
        if !allowed {
            return Err(OAuthError::invalid_grant(
                "too many failed attempts for this login; try again later",
            )
            .with_event(SecurityEvent::LoginThrottled {
                user: user.map(|u| u.id),
            })
            .into());
        }
        let verified = match Password::parse(password.into_inner()) {
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
                // A success is no failure: the further reservations are
                // given back (the first one is cleared by whoever takes the
                // login).
                for k in &reserved {
                    self.ports.throttles.release(k).await?;
                }
                Ok(CheckedLogin {
                    user: u,
                    throttle_key: key,
                    known_device: known,
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
