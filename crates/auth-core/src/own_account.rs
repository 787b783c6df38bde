//! What a signed-in person may do with their own account (the account
//! page): see it, change the password, end a session, take back an
//! application's access, unlink an upstream identity.
//!
//! Every operation takes the account from the caller's live session
//! ([`SignedIn`]), never from the request, and every store call that ends
//! or removes something is conditional on that account: a handle or a
//! client id from another account's page changes nothing.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::authorize::SignedIn;
use crate::error::FlowError;
use crate::events::SecurityEvent;
use crate::service::Accounts;
use crate::types::{BrowserSession, ClientId, Digest, Password, Scope, User, UserId};

/// Names one of the account's browser sessions on its page: the base64url
/// form of the session's stored digest. It reveals nothing of the cookie
/// (a digest cannot be turned back into the session id), and it ends a
/// session only for the account that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHandle(Digest);

impl SessionHandle {
    /// Parses a handle as the page posts it back; `None` if it is not one.
    pub fn parse(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
        Digest::from_slice(&bytes).map(Self)
    }

    /// The handle as the page shows it.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }
}

/// One live browser session of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// What the page posts back to end it.
    pub handle: SessionHandle,
    /// When its sign-in happened.
    pub created_at: DateTime<Utc>,
    /// When it was last seen (written at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends at the latest, whatever its use.
    pub expires_at: DateTime<Utc>,
    /// The session of the browser asking.
    pub current: bool,
    /// Where and how it signed in.
    pub origin: crate::types::SessionOrigin,
}

/// An application that holds a live grant of the account (a refresh token
/// not yet rotated, revoked or expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The client.
    pub client_id: ClientId,
    /// Its registered name.
    pub name: String,
    /// Where it runs, to tell apart two applications of one name: the host
    /// (or a native app's scheme) of its first redirect URI.
    pub runs_at: Option<String>,
    /// What its grants allow, all of them together.
    pub scope: Scope,
    /// How many separate grants it holds (one per sign-in or device).
    pub grants: usize,
    /// When the latest of them was last refreshed or issued.
    pub last_used_at: DateTime<Utc>,
}

/// What the account page shows.
#[derive(Debug, Clone)]
pub struct AccountOverview {
    /// The account itself.
    pub user: User,
    /// Its live browser sessions, the newest first.
    pub sessions: Vec<SessionView>,
    /// The applications holding its grants, by name.
    pub applications: Vec<Application>,
}

/// Why a password change was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password given was wrong (the attempt counts against
    /// the account's login throttle, as a failed login does).
    #[error("the current password is incorrect")]
    WrongCurrent(SecurityEvent),
    /// Too many wrong passwords for this account just now.
    #[error("too many failed attempts; try again later")]
    Throttled(SecurityEvent),
    /// The new password breaks a rule (length).
    #[error("{0}")]
    Invalid(String),
    /// The account signs in only through upstream providers: it has no
    /// password to change.
    #[error("this account has no password")]
    NoPassword,
    /// A store or crypto failure; nothing was changed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

/// Why the signed-in person's own password was not confirmed (before a
/// change that matters: a new password, a new address).
#[derive(Debug)]
pub enum Unconfirmed {
    /// It was wrong (the attempt counts as a failed login does).
    Wrong(SecurityEvent),
    /// Too many wrong passwords for the account just now.
    Throttled(SecurityEvent),
    /// A store or crypto failure.
    Flow(FlowError),
}

impl crate::service::Core {
    /// Checks the account's own password, `current`, as a sign-in checks it:
    /// by its id, under the same throttle, with the same timing for a wrong
    /// one.
    pub(crate) async fn confirm_password(
        &self,
        user: crate::types::UserId,
        current: String,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Unconfirmed> {
        let login = crate::grants::Login::Account(user);
        let current = crate::types::PasswordAttempt::new(current);
        match self.verify_credentials(&login, current, from, now).await {
            Ok(_) => Ok(()),
            Err(FlowError::OAuth(e)) => {
                let event = e
                    .event()
                    .cloned()
                    .unwrap_or(SecurityEvent::LoginFailed { user: Some(user) });
                Err(match event {
                    SecurityEvent::LoginThrottled { .. } => Unconfirmed::Throttled(event),
                    _ => Unconfirmed::Wrong(event),
                })
            }
            Err(e) => Err(Unconfirmed::Flow(e)),
        }
    }
}

impl Accounts {
    /// The account page's content for the signed-in `who`, whose browser
    /// holds the session cookie `cookie`. `None` when the account is gone.
    pub async fn account_overview(
        &self,
        who: &SignedIn,
        cookie: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountOverview>, FlowError> {
        let ports = self.ports();
        let Some(user) = ports.users.find_by_id(who.user).await? else {
            return Ok(None);
        };
        let current = self.session_handle(cookie);
        let mut sessions = self.live_sessions(who.user, now).await?;
        for session in &mut sessions {
            session.current = session.handle == current;
        }
        let applications = self.applications_of(who.user, now).await?;
        Ok(Some(AccountOverview {
            user,
            sessions,
            applications,
        }))
    }

    /// The live browser sessions of `user` (neither expired nor idle past
    /// the policy's timeout), the newest first; none is `current`.
    pub(crate) async fn live_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionView>, FlowError> {
        let idle = self.policy().session_idle_timeout;
        let mut sessions: Vec<SessionView> = self
            .ports()
            .sessions
            .sessions_of(user)
            .await?
            .into_iter()
            .filter(|s| s.expires_at > now && now - s.last_seen_at < idle)
            .map(|s: BrowserSession| SessionView {
                current: false,
                handle: SessionHandle(s.digest),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                origin: s.origin,
            })
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(sessions)
    }

    /// The applications holding live grants of `user`, by name.
    pub(crate) async fn applications_of(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Application>, FlowError> {
        let ports = self.ports();
        let mut by_client: std::collections::BTreeMap<ClientId, Application> = Default::default();
        for token in ports.tokens.live_refresh_of(user, now).await? {
            if let Some(app) = by_client.get_mut(&token.client_id) {
                app.grants += 1;
                app.last_used_at = app.last_used_at.max(token.issued_at);
                app.scope = app.scope.union(&token.scope);
                continue;
            }
            // A client deleted since keeps no grant (its tokens went with it).
            let Some(client) = self.client(&token.client_id).await? else {
                continue;
            };
            by_client.insert(
                token.client_id.clone(),
                Application {
                    runs_at: client.redirect_uris.first().and_then(|u| u.runs_at()),
                    client_id: token.client_id,
                    name: client.name,
                    scope: token.scope,
                    grants: 1,
                    last_used_at: token.issued_at,
                },
            );
        }
        let mut applications: Vec<Application> = by_client.into_values().collect();
        applications.sort_by(|a, b| a.name.cmp(&b.name).then(a.client_id.cmp(&b.client_id)));
        Ok(applications)
    }

    /// Changes the password of the signed-in `who` after checking `current`
    /// exactly as a login does (the same throttle, the same timing for a
    /// wrong one). `new` must meet `min_chars`. Every browser session of the
    /// account ends and every refresh token is revoked in the same step, so
    /// whoever knew the old password is signed out everywhere; the caller
    /// gets a new session for the browser that asked (a new id, as at any
    /// sign-in) and the event to log.
    pub async fn change_password(
        &self,
        who: &SignedIn,
        current: String,
        new: String,
        min_chars: usize,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<(crate::types::OpaqueToken, SecurityEvent), PasswordChangeError> {
        let ports = self.ports();
        let user = ports
            .users
            .find_by_id(who.user)
            .await
            .map_err(FlowError::from)?
            .ok_or(PasswordChangeError::NoPassword)?;
        if user.password_hash.is_none() {
            return Err(PasswordChangeError::NoPassword);
        }
        // Checked before the current password, so a bad new one costs no
        // attempt; it reveals nothing about the current one.
        let new = Password::parse(new)
            .and_then(|p| p.require_min_chars(min_chars))
            .map_err(|e| PasswordChangeError::Invalid(format!("new password: {e}")))?;
        self.confirm_password(user.id, current, from, now)
            .await
            .map_err(|e| match e {
                Unconfirmed::Wrong(event) => PasswordChangeError::WrongCurrent(event),
                Unconfirmed::Throttled(event) => PasswordChangeError::Throttled(event),
                Unconfirmed::Flow(f) => PasswordChangeError::Flow(f),
            })?;
        let hash = ports.hasher.hash(&new).await.map_err(FlowError::from)?;
        if !ports
            .users
            .set_password(user.id, &hash, now)
            .await
            .map_err(FlowError::from)?
        {
            return Err(PasswordChangeError::NoPassword);
        }
        // The browser that changed the password stays signed in, afresh.
        let origin = crate::types::SessionOrigin {
            user_agent: None,
            address: Some(from.to_owned()),
            method: Some("password".into()),
        };
        // It proved the password again; what else it proved still holds.
        let methods = who.methods.union(crate::types::AuthMethods::of(&[
            crate::types::AuthMethod::Password,
        ]));
        let session = self
            .start_session_from(user.id, origin, methods, now)
            .await?;
        Ok((session, SecurityEvent::PasswordChanged { user: user.id }))
    }

    /// The handle of the session whose cookie is `cookie`, to tell the
    /// browser's own session among those listed.
    pub fn session_handle(&self, cookie: &str) -> SessionHandle {
        SessionHandle(self.ports().digest.digest(cookie))
    }

    /// Ends one browser session of the signed-in `who`; `false` when the
    /// account holds no session with that handle (another account's
    /// session is never ended).
    pub async fn end_own_session(
        &self,
        who: &SignedIn,
        handle: &SessionHandle,
    ) -> Result<bool, FlowError> {
        Ok(self
            .ports()
            .sessions
            .delete_session_of(who.user, &handle.0)
            .await?)
    }

    /// Takes back every grant `client` holds of the signed-in `who`: each
    /// of its refresh tokens and the access tokens issued with them are
    /// revoked on every node, exactly as a client's own revocation
    /// (RFC 7009) of each would. How many grants ended, and the event to log
    /// when there were any.
    pub async fn revoke_application(
        &self,
        who: &SignedIn,
        client: &ClientId,
        now: DateTime<Utc>,
    ) -> Result<(u64, Option<SecurityEvent>), FlowError> {
        self.revoke_grants(who.user, client, now).await
    }

    /// Takes back every grant `client` holds of `user`, and its consent
    /// (the account page's and the admin API's one rule).
    pub(crate) async fn revoke_grants(
        &self,
        user: UserId,
        client: &ClientId,
        now: DateTime<Utc>,
    ) -> Result<(u64, Option<SecurityEvent>), FlowError> {
        let ports = self.ports();
        let Some(registered) = self.client(client).await? else {
            return Ok((0, None));
        };
        let mut ended = 0;
        for token in ports.tokens.live_refresh_of(user, now).await? {
            if &token.client_id == client
                && self.revoke_grant(token.family, &registered, now).await? > 0
            {
                ended += 1;
            }
        }
        // The consent goes too: the application must ask again. A consent
        // with no live grant left is itself something taken back.
        if ports.sessions.find_consent(user, client).await?.is_some() {
            ports.sessions.forget_consent(user, client).await?;
            ended = ended.max(1);
        }
        let event = (ended > 0).then(|| SecurityEvent::ApplicationRevoked {
            user,
            client: client.clone(),
        });
        Ok((ended, event))
    }
}
