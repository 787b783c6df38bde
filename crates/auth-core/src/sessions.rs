//! Browser sessions (single sign-on): a random id in a cookie, stored only
//! as a digest, with an absolute lifetime and an idle timeout.
use chrono::{DateTime, Duration, Utc};

use crate::authorize::SignedIn;
use crate::error::FlowError;
use crate::factors::FactorError;
use crate::service::{BrowserSignIn, Core};
use crate::types::{AuthMethod, AuthMethods, BrowserSession, Digest, Factor, OpaqueToken, UserId};

/// How often a session's last-seen time is written: more often would make
/// every page view a database write.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// How a browser sign-in goes on once its first step is right.
#[derive(Debug)]
pub enum BrowserStart {
    /// Signed in: the new session's id, for the cookie.
    Session(OpaqueToken),
    /// The account has a second factor this sign-in has not shown yet:
    /// nothing is signed in, and the sign-in waits for its second step.
    SecondStep {
        /// The sign-in, sealed: the value the browser holds meanwhile.
        sealed: String,
        /// The account's factors, to offer.
        factors: Vec<Factor>,
    },
}

impl BrowserSignIn {
    /// Starts a browser session for `user`, who proved `methods`, in
    /// place of any other: the one door every page's sign-in goes through,
    /// so none can skip the rule that an account with a second factor
    /// shows it after its password. A sign-in through an upstream provider
    /// or a passkey is not asked again (the provider answers for its own
    /// factors; a passkey with user verification is two already).
    pub async fn begin_browser_session(
        &self,
        user: UserId,
        origin: crate::types::SessionOrigin,
        methods: AuthMethods,
        now: DateTime<Utc>,
    ) -> Result<BrowserStart, FactorError> {
        let password_only = methods.contains(AuthMethod::Password) && !methods.multi_factor();
        if password_only {
            // The factors themselves, not whether there are any: the page
            // offers them, and one query serves both.
            let factors = self.ports().factors.factors_of(user).await?;
            if !factors.is_empty() {
                let sealed = self.begin_second_step(user, methods, now)?;
                return Ok(BrowserStart::SecondStep { sealed, factors });
            }
        }
        Ok(BrowserStart::Session(
            self.start_session_from(user, origin, methods, now).await?,
        ))
    }

    /// Renews the session whose cookie is `cookie` once it proved `proved`
    /// too (the first code of a factor just enrolled): a new id, the same
    /// origin, its methods with `proved` added, authenticated `now`. `None`
    /// when there is no such live session.
    pub async fn upgrade_session(
        &self,
        cookie: &str,
        proved: AuthMethods,
        now: DateTime<Utc>,
    ) -> Result<Option<OpaqueToken>, FlowError> {
        let digest = self.ports().digest.digest(cookie);
        let Some(old) = self.ports().sessions.find_session(&digest).await? else {
            return Ok(None);
        };
        if old.expires_at <= now {
            return Ok(None);
        }
        let methods = old.methods.union(proved);
        let renewed = self
            .start_session_from(old.user_id, old.origin, methods, now)
            .await?;
        self.ports().sessions.delete_session(&digest).await?;
        Ok(Some(renewed))
    }

    /// Who a session cookie stands for, if the session is alive: its user,
    /// authenticated when the session started.
    pub async fn resume_session(
        &self,
        cookie: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedIn>, FlowError> {
        let digest = self.ports().digest.digest(cookie);
        let Some(session) = self.ports().sessions.find_session(&digest).await? else {
            return Ok(None);
        };
        let idle = self.policy().session_idle_timeout;
        if session.expires_at <= now || now - session.last_seen_at >= idle {
            self.ports().sessions.delete_session(&digest).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            self.ports().sessions.touch_session(&digest, now).await?;
        }
        let alive = match self.ports().users.find_by_id(session.user_id).await? {
            Some(u) => !u.disabled,
            None => false,
        };
        Ok(alive.then_some(SignedIn {
            user: session.user_id,
            authenticated_at: session.created_at,
            methods: session.methods,
        }))
    }

    /// A fresh random value for the browser (the CSRF cookie).
    pub fn new_browser_secret(&self) -> OpaqueToken {
        self.ports().random.token()
    }

    /// The CSRF token that forms carry for the browser holding `cookie`: a
    /// digest another site can neither read nor compute.
    pub fn csrf_token(&self, cookie: &str) -> Digest {
        self.ports().digest.digest(&format!("csrf:{cookie}"))
    }

    /// Whether a posted CSRF token belongs to `cookie`, compared in
    /// constant time.
    pub fn csrf_token_matches(&self, cookie: &str, posted: &Digest) -> bool {
        self.ports()
            .digest
            .verify(&format!("csrf:{cookie}"), posted)
    }

    /// Ends a session (logout).
    pub async fn end_session(&self, cookie: &str) -> Result<(), FlowError> {
        let digest = self.ports().digest.digest(cookie);
        self.ports().sessions.delete_session(&digest).await?;
        Ok(())
    }
}

impl Core {
    /// Starts a session for `user`, remembering where and how it signed in;
    /// the returned value goes in the cookie. Always a new id, so a session
    /// fixed before login is worthless. Shared: a sign-in, and a password
    /// change that keeps its browser signed in, both start one; pages go
    /// through [`BrowserSignIn::begin_browser_session`].
    pub(crate) async fn start_session_from(
        &self,
        user: UserId,
        origin: crate::types::SessionOrigin,
        methods: crate::types::AuthMethods,
        now: DateTime<Utc>,
    ) -> Result<OpaqueToken, FlowError> {
        let id = self.ports().random.token();
        let session = BrowserSession {
            digest: self.ports().digest.digest(id.expose()),
            user_id: user,
            created_at: now,
            expires_at: now + self.policy().session_lifetime,
            last_seen_at: now,
            origin,
            methods,
        };
        self.ports().sessions.create_session(&session).await?;
        Ok(id)
    }
}
