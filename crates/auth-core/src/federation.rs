//! Signing in through upstream identity providers (GitHub, OpenID
//! providers): the flows' state, finding or creating the account behind an
//! upstream identity, and what may be issued for it.
//!
//! The account rule: an identity is (provider, upstream subject), linked to
//! one account. Its first sign-in creates an account; later ones find it.
//! An upstream email equal to an existing account's login name never links
//! or creates anything by itself: the sign-in is refused, and the owner of
//! that account links the provider while signed in to it (the account
//! takeover some providers have shipped is an email match that linked
//! silently).
use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::error::{FlowError, OAuthError, StoreError, UpstreamError};
use crate::events::SecurityEvent;
use crate::ports::{
    FederationRepository, IdentityProvider, PollSchedule, Sealer, Unlinked, UpstreamCallback,
    UpstreamFlow, UpstreamRequest,
};
use crate::service::Core;
use crate::types::{
    Client, DevicePoll, Email, FederatedLink, IssuedTokens, LoginName, ProviderName, RedirectUri,
    UpstreamIdentity, User, UserId, Username,
};

/// How recent the sign-in of a session must be for it to link an upstream
/// identity without the password again: a stolen cookie alone must not
/// give its thief a way in that outlives a password change.
pub const LINK_REAUTHENTICATION: Duration = Duration::minutes(5);

/// How long a web sign-in may take from its start to its callback and poll.
pub const WEB_FLOW_LIFETIME: Duration = Duration::minutes(10);

/// What sealing binds a web flow's state and a device session to.
const STATE_PURPOSE: &str = "portcullis upstream state v1";
const DEVICE_PURPOSE: &str = "portcullis upstream device session v1";
const CONFIRM_PURPOSE: &str = "portcullis upstream polled confirmation v1";

/// Why a federated sign-in did not happen.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// No provider of that name is configured.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The request itself is wrong (a parameter missing or malformed).
    #[error("{0}")]
    Invalid(String),
    /// The sign-in was refused: the provider refused, the state or session
    /// is not valid, the account cannot be used. Carries the security event.
    #[error(transparent)]
    Refused(OAuthError),
    /// The person has not finished at the provider yet.
    #[error("the sign-in at the provider is not finished yet")]
    Pending,
    /// The provider could not be asked.
    #[error("{0}")]
    Upstream(String),
    /// Too many calls from this client address just now; nothing was asked
    /// or stored.
    #[error("too many sign-ins from this address just now; try again in a few minutes")]
    Throttled,
    #[error(transparent)]
    /// A store, crypto or grant failure; nothing was issued.
    Flow(#[from] FlowError),
}

impl From<StoreError> for FederationError {
    fn from(e: StoreError) -> Self {
        Self::Flow(e.into())
    }
}

impl From<crate::error::CryptoError> for FederationError {
    fn from(e: crate::error::CryptoError) -> Self {
        Self::Flow(e.into())
    }
}

impl From<UpstreamError> for FederationError {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Refused(why) => refused(format!("the provider refused: {why}"), None),
            UpstreamError::Failed(why) => Self::Upstream(format!("the provider failed: {why}")),
            UpstreamError::Unsupported(what) => Self::Invalid(what.to_owned()),
        }
    }
}

/// The provider sent the browser back with an error instead of a code
/// (RFC 6749 section 4.1.2.1: the person refused, or the provider would
/// not): the sign-in is refused, and that is a security event.
pub fn declined_upstream(error: &str) -> FederationError {
    refused(crate::error::provider_refusal(error).to_owned(), None)
}

fn refused(description: String, user: Option<UserId>) -> FederationError {
    FederationError::Refused(
        OAuthError::access_denied(description)
            .with_event(SecurityEvent::UpstreamLoginRefused { user }),
    )
}

/// What a session that signed in too long ago gives to link an identity:
/// the account's password again, and where the attempt came from (it is
/// counted as a login is).
#[derive(Debug)]
pub struct Reauthentication<'a> {
    /// The password, when the person typed it.
    pub password: Option<crate::types::PasswordAttempt>,
    /// The client address.
    pub from: &'a str,
}

/// A web sign-in begun: where to send the person, and the flow's handle.
#[derive(Debug, Clone)]
pub struct WebStart {
    /// The provider's authorization URL to send the browser to.
    pub url: String,
    /// The OAuth `state`: sealed, so it also carries the flow's secrets.
    pub state: String,
    /// For a browser's flow, the value of the cookie that binds it to that
    /// browser: its callback is refused anywhere else.
    pub binding: Option<crate::types::OpaqueToken>,
}

/// What a finished web callback did.
#[derive(Debug, Clone)]
pub enum WebOutcome {
    /// A polled sign-in (seed 003) came back from the provider: nothing is
    /// signed in until the person confirms, on our own page, that they
    /// meant to sign in to this application as this account. Whoever
    /// starts a polled flow receives the token of whoever finishes it, so
    /// a link sent by someone else must not finish it with one click.
    Confirm(PolledConfirmation),
    /// Someone signed in (`Poll`: the token waits for the poll).
    SignedIn {
        /// The account signed in (found again, or created).
        user: User,
        /// Where the flow's starter asked to go afterwards.
        return_to: Option<String>,
        /// `upstream_account_created` when this sign-in created the account.
        event: Option<SecurityEvent>,
    },
    /// The identity was linked to the signed-in user.
    Linked {
        /// The account it is linked to.
        user: UserId,
        /// The provider.
        provider: ProviderName,
        /// Where the flow's starter asked to go afterwards.
        return_to: Option<String>,
    },
}

/// A polled sign-in waiting for the person's confirmation.
#[derive(Debug, Clone)]
pub struct PolledConfirmation {
    /// The sealed confirmation the page's form posts back.
    pub sealed: String,
    /// The provider's display name ("GitHub").
    pub provider: String,
    /// The account at the provider, as the person knows it (its login,
    /// else its email, else its id there).
    pub account: String,
}

/// What the person answered on the confirmation page.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once per confirmation and matched at once; a box would buy nothing"
)]
pub enum Confirmed {
    /// Signed in: the token waits for the poll.
    SignedIn {
        /// The account signed in.
        user: User,
        /// Where the flow's starter asked to go afterwards.
        return_to: Option<String>,
        /// `upstream_account_created` when this sign-in created the account.
        event: Option<SecurityEvent>,
    },
    /// Refused: the flow is over, its poll gets nothing.
    Declined,
}

/// The sealed content of a polled sign-in's confirmation: the identity the
/// provider vouched for, waiting for the person's word.
#[derive(Serialize, Deserialize)]
struct SealedConfirmation {
    flow: Uuid,
    provider: String,
    subject: String,
    email: Option<String>,
    login: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    return_to: Option<String>,
    expires: i64,
}

/// What the provider sent the browser back with.
#[derive(Debug, Clone, Copy)]
pub struct ProviderAnswer<'a> {
    /// The provider named in the callback's path.
    pub provider: &'a str,
    /// The sealed `state` the provider handed back.
    pub state: &'a str,
    /// The provider's authorization code.
    pub code: &'a str,
    /// RFC 9207's `iss`, when sent.
    pub issuer: Option<&'a str>,
}

/// What the callback presents besides the provider's answer.
#[derive(Debug, Clone, Copy)]
pub struct CallbackContext<'a> {
    /// The purposes this callback serves: seed 003's serves `Poll` only,
    /// the hosted one `SignIn` and `Link`.
    pub browser: bool,
    /// The binding cookie's value, if the browser sent one.
    pub binding: Option<&'a str>,
    /// Who is signed in in this browser.
    pub signed_in: Option<UserId>,
}

/// A device sign-in begun at the provider.
#[derive(Debug, Clone)]
pub struct DeviceStart {
    /// Where the person enters the code, at the provider.
    pub verification_uri: String,
    /// The code to show the person.
    pub user_code: String,
    /// When the device sign-in ends unfinished.
    pub expires_at: DateTime<Utc>,
    /// Everything needed to finish, sealed.
    pub session: String,
}

/// One step of finishing a device sign-in.
#[derive(Debug)]
pub enum DeviceStep {
    /// Finished: the tokens.
    Issued(Box<IssuedTokens>),
    /// Not finished at the provider: ask again after `interval`.
    Pending {
        /// How long to wait before asking again.
        interval: Duration,
    },
}

/// What a web sign-in is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebPurpose {
    /// Seed 003: the token is handed to whoever polls with the state.
    Poll,
    /// The hosted login page: the browser that started it signs in.
    SignIn,
    /// The account's side: link the identity to this signed-in user.
    Link(UserId),
}

/// The sealed content of a web flow's `state`.
#[derive(Serialize, Deserialize)]
struct SealedState {
    flow: Uuid,
    provider: String,
    purpose: WebPurpose,
    verifier: String,
    nonce: String,
    callback: String,
    /// Handed back when the callback has run (where to go next).
    return_to: Option<String>,
    /// SHA-256 of the cookie binding the flow to the browser that began it.
    binding: Option<String>,
    expires: i64,
}

/// The sealed content of a device session.
#[derive(Serialize, Deserialize)]
struct SealedDevice {
    flow: Uuid,
    provider: String,
    device_code: String,
    interval: i64,
    expires: i64,
}

/// The configured providers and the ports federation needs.
pub struct Federation {
    providers: BTreeMap<ProviderName, Arc<dyn IdentityProvider>>,
    repository: Arc<dyn FederationRepository>,
    sealer: Arc<dyn Sealer>,
}

impl Federation {
    /// Federation over `repository`, sealing states with `sealer`, through
    /// `providers` by name.
    pub fn new(
        repository: Arc<dyn FederationRepository>,
        sealer: Arc<dyn Sealer>,
        providers: impl IntoIterator<Item = (ProviderName, Arc<dyn IdentityProvider>)>,
    ) -> Self {
        Self {
            providers: providers.into_iter().collect(),
            repository,
            sealer,
        }
    }

    /// The configured providers' names and display names, in name order.
    pub fn providers(&self) -> impl Iterator<Item = (&ProviderName, &str)> {
        self.providers.iter().map(|(n, p)| (n, p.display_name()))
    }

    /// The origins the providers send browsers to.
    pub fn browser_origins(&self) -> Vec<String> {
        self.providers
            .values()
            .map(|p| p.browser_origin())
            .collect()
    }

    fn provider(
        &self,
        name: &str,
    ) -> Result<(ProviderName, &dyn IdentityProvider), FederationError> {
        let parsed =
            ProviderName::parse(name).map_err(|_| FederationError::UnknownProvider(name.into()))?;
        let provider = self
            .providers
            .get(&parsed)
            .ok_or_else(|| FederationError::UnknownProvider(name.into()))?;
        Ok((parsed, provider.as_ref()))
    }

    /// Counts a call of seed 003's API from the client address `from`
    /// against [`crate::throttle::Throttles::upstream_per_address`], before
    /// the provider is asked or a flow stored: each such call costs an
    /// upstream round trip or a row, and one address must not run up either.
    pub async fn admit_caller(
        &self,
        service: &Core,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<(), FederationError> {
        let policy = service.throttles.upstream_per_address;
        let allowed = service
            .ports()
            .throttles
            .reserve(
                &crate::throttle::ThrottleKey::Upstream(from.to_owned()),
                policy.max_attempts,
                policy.window,
                now,
            )
            .await?;
        if allowed {
            Ok(())
        } else {
            Err(FederationError::Throttled)
        }
    }

    /// Begins a web sign-in at `provider` for `purpose`, whose answer comes
    /// to `callback`; `return_to` (checked by the caller) is handed back
    /// when the callback has run. A browser's flow (`SignIn`, `Link`) is
    /// bound to the browser by a cookie.
    /// Linking goes through [`Self::begin_link`], which asks for a fresh
    /// sign-in first; `WebPurpose::Link` is refused here.
    pub async fn begin_web(
        &self,
        service: &Core,
        provider: &str,
        purpose: WebPurpose,
        callback: &str,
        return_to: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<WebStart, FederationError> {
        if matches!(purpose, WebPurpose::Link(_)) {
            return Err(FederationError::Invalid(
                "linking an identity starts from the account page".into(),
            ));
        }
        self.start_web(service, provider, purpose, callback, return_to, now)
            .await
    }

    async fn start_web(
        &self,
        service: &Core,
        provider: &str,
        purpose: WebPurpose,
        callback: &str,
        return_to: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<WebStart, FederationError> {
        let (name, upstream) = self.provider(provider)?;
        let random = &service.ports().random;
        let verifier = random.token();
        let nonce = random.token();
        let binding = (purpose != WebPurpose::Poll).then(|| random.token());
        let flow = UpstreamFlow {
            id: random.uuid(),
            provider: name.clone(),
            user_id: None,
            polling: None,
            created_at: now,
            expires_at: now + WEB_FLOW_LIFETIME,
        };
        let state = self.seal(
            STATE_PURPOSE,
            &SealedState {
                flow: flow.id,
                provider: name.to_string(),
                purpose,
                verifier: verifier.expose().to_owned(),
                nonce: nonce.expose().to_owned(),
                callback: callback.to_owned(),
                return_to,
                binding: binding.as_ref().map(|b| fingerprint(b.expose())),
                expires: flow.expires_at.timestamp(),
            },
        )?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes()));
        upstream.prepare().await?;
        let url = upstream.authorization_url(&UpstreamRequest {
            state: &state,
            code_challenge: &challenge,
            nonce: nonce.expose(),
            redirect_uri: callback,
        })?;
        self.repository.insert_flow(&flow).await?;
        Ok(WebStart {
            url,
            state,
            binding,
        })
    }

    /// Begins linking an upstream identity to the signed-in account `who`.
    /// A session that signed in more than [`LINK_REAUTHENTICATION`] ago
    /// must give the account's password again (checked and counted as a
    /// login is); an account without one signs in again through a
    /// provider first.
    pub async fn begin_link(
        &self,
        service: &Core,
        who: &crate::authorize::SignedIn,
        proof: Reauthentication<'_>,
        provider: &str,
        callback: &str,
        now: DateTime<Utc>,
    ) -> Result<WebStart, FederationError> {
        let Reauthentication { password, from } = proof;
        if now - who.authenticated_at > LINK_REAUTHENTICATION {
            let user = service
                .ports()
                .users
                .find_by_id(who.user)
                .await?
                .ok_or_else(|| refused("the account is gone".into(), Some(who.user)))?;
            let reauthenticate =
                |why: &str| FederationError::Refused(OAuthError::access_denied(why.to_owned()));
            match password.filter(|p| !p.is_empty()) {
                _ if user.password_hash.is_none() => {
                    return Err(reauthenticate(
                        "to link another identity, sign out and sign in again (within five \
                         minutes), so that we know it is you",
                    ));
                }
                None => {
                    return Err(reauthenticate(
                        "to link another identity, enter your password (you signed in more \
                         than five minutes ago)",
                    ));
                }
                // A password alone would let a linked identity stand in
                // for the second factor: such an account signs in again.
                Some(_)
                    if service
                        .has_second_factor(user.id)
                        .await
                        .map_err(FederationError::Flow)? =>
                {
                    return Err(reauthenticate(
                        "to link another identity, sign out and sign in again (within five \
                         minutes), with your second factor",
                    ));
                }
                Some(password) => {
                    let login = crate::grants::Login::Account(user.id);
                    service
                        .verify_credentials(&login, password, from, now)
                        .await
                        .map_err(|e| match e {
                            FlowError::OAuth(e) => FederationError::Refused(e),
                            other => FederationError::Flow(other),
                        })?;
                }
            }
        }
        self.start_web(
            service,
            provider,
            WebPurpose::Link(who.user),
            callback,
            None,
            now,
        )
        .await
    }

    /// Begins seed 003's polled web flow for `client`. `redirect`, where the
    /// callback sends the browser afterwards, must be one of the client's
    /// registered redirect URIs (the one redirect match,
    /// [`RedirectUri::resolve`]): any other would make the server an open
    /// redirector.
    pub async fn begin_polled_web(
        &self,
        service: &Core,
        client: &Client,
        provider: &str,
        callback: &str,
        redirect: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<WebStart, FederationError> {
        let return_to = redirect
            .map(|target| {
                RedirectUri::resolve(&client.redirect_uris, Some(target))
                    .map(|uri| uri.as_str().to_owned())
                    .map_err(|_| {
                        FederationError::Invalid(
                            "redirect is not one of this API's registered redirect URIs".into(),
                        )
                    })
            })
            .transpose()?;
        self.begin_web(
            service,
            provider,
            WebPurpose::Poll,
            callback,
            return_to,
            now,
        )
        .await
    }

    /// Runs a web flow's callback: redeems `code` at the provider and, by
    /// the flow's purpose, finds or creates the account (recorded on the
    /// flow for the poll, or signed in at once) or links the identity. A
    /// state runs its callback once, at the callback of its purpose, in the
    /// browser that began it.
    pub async fn finish_web(
        &self,
        service: &Core,
        answer: ProviderAnswer<'_>,
        context: CallbackContext<'_>,
        now: DateTime<Utc>,
    ) -> Result<WebOutcome, FederationError> {
        let sealed: SealedState = self.unseal(STATE_PURPOSE, answer.state, now)?;
        let (name, upstream) = self.provider(answer.provider)?;
        if sealed.provider != name.as_str() {
            return Err(refused(
                "the state belongs to another provider".into(),
                None,
            ));
        }
        if context.browser == (sealed.purpose == WebPurpose::Poll) {
            return Err(refused("the state belongs to another flow".into(), None));
        }
        if let Some(expected) = &sealed.binding
            && context.binding.map(fingerprint).as_ref() != Some(expected)
        {
            return Err(refused(
                "this sign-in was started in another browser; start it again here".into(),
                None,
            ));
        }
        if let WebPurpose::Link(user) = sealed.purpose
            && context.signed_in != Some(user)
        {
            return Err(refused(
                "sign in to the account again to link it".into(),
                Some(user),
            ));
        }
        // Refuse a used or expired state before asking the provider.
        match self.repository.find_flow(sealed.flow, now).await? {
            Some(flow) if flow.user_id.is_none() => {}
            _ => return Err(used_state()),
        }
        let identity = upstream
            .finish(&UpstreamCallback {
                code: answer.code,
                code_verifier: &sealed.verifier,
                nonce: &sealed.nonce,
                redirect_uri: &sealed.callback,
                issuer: answer.issuer,
                now,
            })
            .await?;
        match sealed.purpose {
            WebPurpose::Poll => {
                let account = identity
                    .login
                    .clone()
                    .or_else(|| identity.email.as_ref().map(|e| e.as_str().to_owned()))
                    .unwrap_or_else(|| identity.subject.as_str().to_owned());
                let confirmation = self.seal(
                    CONFIRM_PURPOSE,
                    &SealedConfirmation {
                        flow: sealed.flow,
                        provider: identity.provider.to_string(),
                        subject: identity.subject.as_str().to_owned(),
                        email: identity.email.as_ref().map(|e| e.as_str().to_owned()),
                        login: identity.login.clone(),
                        given_name: identity.given_name.clone(),
                        family_name: identity.family_name.clone(),
                        return_to: sealed.return_to,
                        expires: sealed.expires,
                    },
                )?;
                Ok(WebOutcome::Confirm(PolledConfirmation {
                    sealed: confirmation,
                    provider: upstream.display_name().to_owned(),
                    account,
                }))
            }
            WebPurpose::SignIn => {
                let (user, event) = self.find_or_create(service, &identity, now).await?;
                self.take_once(sealed.flow, now).await?;
                Ok(WebOutcome::SignedIn {
                    user,
                    return_to: sealed.return_to,
                    event,
                })
            }
            WebPurpose::Link(user) => {
                self.take_once(sealed.flow, now).await?;
                self.link(user, &identity, now).await?;
                Ok(WebOutcome::Linked {
                    user,
                    provider: identity.provider,
                    return_to: sealed.return_to,
                })
            }
        }
    }

    /// The person's answer on a polled sign-in's confirmation page: `true`
    /// signs the provider's identity in (finding or creating its account)
    /// and leaves the token for the poll; `false` ends the flow, so its
    /// poll gets nothing. Either happens once per flow.
    pub async fn confirm_polled(
        &self,
        service: &Core,
        confirmation: &str,
        approve: bool,
        now: DateTime<Utc>,
    ) -> Result<Confirmed, FederationError> {
        let sealed: SealedConfirmation = self.unseal(CONFIRM_PURPOSE, confirmation, now)?;
        match self.repository.find_flow(sealed.flow, now).await? {
            Some(flow) if flow.user_id.is_none() => {}
            _ => return Err(used_state()),
        }
        if !approve {
            self.take_once(sealed.flow, now).await?;
            return Ok(Confirmed::Declined);
        }
        let identity = sealed.identity()?;
        let (user, event) = self.find_or_create(service, &identity, now).await?;
        if !self
            .repository
            .finish_flow(sealed.flow, user.id, now)
            .await?
        {
            return Err(used_state());
        }
        Ok(Confirmed::SignedIn {
            user,
            return_to: sealed.return_to,
            event,
        })
    }

    async fn take_once(&self, flow: Uuid, now: DateTime<Utc>) -> Result<(), FederationError> {
        match self.repository.take_flow(flow, now).await? {
            Some(_) => Ok(()),
            None => Err(used_state()),
        }
    }

    /// Hands out the token of a finished web flow, once.
    pub async fn poll_web(
        &self,
        service: &Core,
        client: &Client,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, FederationError> {
        let sealed: SealedState = self.unseal(STATE_PURPOSE, state, now)?;
        if sealed.purpose != WebPurpose::Poll {
            return Err(refused("the state belongs to another flow".into(), None));
        }
        if let Some(flow) = self.repository.take_finished_flow(sealed.flow, now).await? {
            let user = flow.user_id.ok_or_else(used_state)?;
            // The account may have been disabled since the callback.
            let owner = match service.ports().users.find_by_id(user).await? {
                Some(u) if !u.disabled => u.token_owner(),
                _ => return Err(refused("this account is disabled".into(), Some(user))),
            };
            return Ok(service.issue_federated(client, owner, now).await?);
        }
        match self.repository.find_flow(sealed.flow, now).await? {
            Some(_) => Err(FederationError::Pending),
            None => Err(used_state()),
        }
    }

    /// Begins a device sign-in at `provider`.
    pub async fn start_device(
        &self,
        service: &Core,
        provider: &str,
        now: DateTime<Utc>,
    ) -> Result<DeviceStart, FederationError> {
        let (name, upstream) = self.provider(provider)?;
        let device = upstream.start_device(now).await?;
        let flow = UpstreamFlow {
            id: service.ports().random.uuid(),
            provider: name.clone(),
            user_id: None,
            polling: None,
            created_at: now,
            expires_at: device.expires_at,
        };
        let session = self.seal(
            DEVICE_PURPOSE,
            &SealedDevice {
                flow: flow.id,
                provider: name.to_string(),
                device_code: device.device_code.expose().to_owned(),
                interval: device.interval.num_seconds(),
                expires: device.expires_at.timestamp(),
            },
        )?;
        self.repository.insert_flow(&flow).await?;
        Ok(DeviceStart {
            verification_uri: device.verification_uri,
            user_code: device.user_code,
            expires_at: device.expires_at,
            session,
        })
    }

    /// Polls the provider once for a device sign-in; when the person has
    /// finished, takes the session (once) and issues the token.
    pub async fn complete_device(
        &self,
        service: &Core,
        client: &Client,
        session: &str,
        now: DateTime<Utc>,
    ) -> Result<DeviceStep, FederationError> {
        let sealed: SealedDevice = self.unseal(DEVICE_PURPOSE, session, now)?;
        let (_, upstream) = self.provider(&sealed.provider)?;
        let Some(flow) = self.repository.find_flow(sealed.flow, now).await? else {
            return Err(used_session());
        };
        // RFC 8628 section 3.5: never poll sooner than the provider allows,
        // however often our caller asks.
        let interval = match flow.polling {
            Some(schedule) if schedule.next_poll_at > now => {
                return Ok(DeviceStep::Pending {
                    interval: schedule.next_poll_at - now,
                });
            }
            Some(schedule) => schedule.interval,
            None => Duration::seconds(sealed.interval.max(1)),
        };
        let device_code = crate::types::OpaqueToken::new(sealed.device_code);
        let poll = upstream.poll_device(&device_code).await?;
        let schedule = |interval| async move {
            self.repository
                .schedule_poll(
                    sealed.flow,
                    PollSchedule {
                        interval,
                        next_poll_at: now + interval,
                    },
                )
                .await
                .map(|()| DeviceStep::Pending { interval })
        };
        match poll {
            DevicePoll::Done(identity) => {
                let (user, event) = self.find_or_create(service, &identity, now).await?;
                if self.repository.take_flow(sealed.flow, now).await?.is_none() {
                    return Err(used_session());
                }
                let mut issued = service
                    .issue_federated(client, user.token_owner(), now)
                    .await?;
                issued.event = event;
                Ok(DeviceStep::Issued(Box::new(issued)))
            }
            DevicePoll::Pending => Ok(schedule(interval).await?),
            // RFC 8628 section 3.5: every later poll waits five seconds more.
            DevicePoll::SlowDown => Ok(schedule(interval + Duration::seconds(5)).await?),
            DevicePoll::Denied => Err(refused(
                "the sign-in was refused at the provider".into(),
                None,
            )),
            DevicePoll::Expired => Err(refused(
                "the sign-in at the provider expired; start again".into(),
                None,
            )),
        }
    }

    /// Exchanges an access token the provider issued for one of ours.
    pub async fn exchange_token(
        &self,
        service: &Core,
        client: &Client,
        provider: &str,
        access_token: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, FederationError> {
        let (_, upstream) = self.provider(provider)?;
        let identity = upstream.identity(access_token, now).await?;
        let (user, event) = self.find_or_create(service, &identity, now).await?;
        let mut issued = service
            .issue_federated(client, user.token_owner(), now)
            .await?;
        issued.event = event;
        Ok(issued)
    }

    /// The account `identity` is linked to, or a new one. Never one found
    /// by email: see the module's account rule.
    pub async fn account_for(
        &self,
        service: &Core,
        identity: &UpstreamIdentity,
        now: DateTime<Utc>,
    ) -> Result<User, FederationError> {
        Ok(self.find_or_create(service, identity, now).await?.0)
    }

    /// [`Self::account_for`], with `upstream_account_created` when the
    /// account is new.
    async fn find_or_create(
        &self,
        service: &Core,
        identity: &UpstreamIdentity,
        now: DateTime<Utc>,
    ) -> Result<(User, Option<SecurityEvent>), FederationError> {
        let users = &service.ports().users;
        let mut released_from = None;
        // A few rounds: a concurrent first sign-in of the same identity may
        // create the account between our lookup and our insert.
        for _ in 0..3 {
            if let Some(user) = self
                .repository
                .find_linked_user(&identity.provider, &identity.subject)
                .await?
            {
                if user.disabled {
                    return Err(refused("this account is disabled".into(), Some(user.id)));
                }
                return Ok((user, None));
            }
            if let Some(email) = &identity.email
                && let Some(owner) = users.find_by_login(&LoginName::from(email)).await?
            {
                // An address nobody proved is no claim on it: the provider
                // vouches for this one, so the account that registered it
                // unverified loses it as a login name (and keeps its
                // username). A verified address, or a username that is the
                // address, still blocks, as before.
                if owner.email.as_ref() == Some(email)
                    && !owner.email_verified
                    && users.release_unverified_email(owner.id, email).await?
                {
                    released_from = Some(owner.id);
                    continue;
                }
                return Err(FederationError::Refused(
                    OAuthError::access_denied(format!(
                        "an account with the email address {} already exists; sign in to \
                         it and link {} from the account page",
                        email.as_str(),
                        identity.provider
                    ))
                    .with_event(SecurityEvent::UpstreamEmailInUse { user: owner.id }),
                ));
            }
            match self.create_account(service, identity, now).await {
                Ok(user) => {
                    let created = SecurityEvent::UpstreamAccountCreated {
                        user: user.id,
                        released_from,
                    };
                    return Ok((user, Some(created)));
                }
                Err(FederationError::Flow(FlowError::Store(StoreError::Conflict(_)))) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(FederationError::Flow(
            StoreError::Conflict("federated identity").into(),
        ))
    }

    /// Creates the account of a first sign-in with the first free login
    /// name among the provider's hint and names made from the provider.
    async fn create_account(
        &self,
        service: &Core,
        identity: &UpstreamIdentity,
        now: DateTime<Utc>,
    ) -> Result<User, FederationError> {
        let ports = service.ports();
        let link = |user_id| FederatedLink {
            provider: identity.provider.clone(),
            subject: identity.subject.clone(),
            user_id,
            created_at: now,
            login: identity.login.clone(),
        };
        let mut last = None;
        for username in login_names(identity, ports.random.uuid()) {
            if ports
                .users
                .find_by_login(&LoginName::from(&username))
                .await?
                .is_some()
            {
                continue;
            }
            let user = User {
                id: UserId::new(ports.random.uuid()),
                username,
                email: identity.email.clone(),
                password_hash: None,
                given_name: identity.given_name.clone(),
                family_name: identity.family_name.clone(),
                disabled: false,
                created_at: now,
                token_generation: Default::default(),
                email_verified: identity.email.is_some(),
            };
            match self
                .repository
                .create_linked_user(&user, &link(user.id))
                .await
            {
                Ok(()) => return Ok(user),
                Err(e @ StoreError::Conflict(_)) => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.unwrap_or(StoreError::Conflict("user")).into())
    }

    /// Links `identity` to the signed-in `user`: the only way an upstream
    /// identity joins an existing account.
    pub async fn link(
        &self,
        user: UserId,
        identity: &UpstreamIdentity,
        now: DateTime<Utc>,
    ) -> Result<(), FederationError> {
        let link = FederatedLink {
            provider: identity.provider.clone(),
            subject: identity.subject.clone(),
            user_id: user,
            created_at: now,
            login: identity.login.clone(),
        };
        match self.repository.link(&link).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(refused(
                format!(
                    "this {} identity is linked to another account already",
                    identity.provider
                ),
                Some(user),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Unlinks the signed-in `user`'s identity at `provider`. Refused while
    /// it is the account's only way to sign in (no password, no other
    /// link): the person would be locked out. `Ok(None)` when nothing of
    /// that provider was linked; the event to log when it was removed.
    pub async fn unlink(
        &self,
        user: UserId,
        provider: &str,
    ) -> Result<Option<SecurityEvent>, FederationError> {
        let provider = ProviderName::parse(provider)
            .map_err(|_| FederationError::UnknownProvider(provider.into()))?;
        match self.repository.unlink(user, &provider).await? {
            Unlinked::Removed => Ok(Some(SecurityEvent::IdentityUnlinked { user })),
            Unlinked::NotLinked => Ok(None),
            Unlinked::LastSignIn => Err(FederationError::Invalid(format!(
                "your {provider} identity is this account's only way to sign in; \
                 set a password or link another provider before unlinking it"
            ))),
        }
    }

    /// The identities linked to `user`.
    pub async fn links_of(&self, user: UserId) -> Result<Vec<FederatedLink>, FederationError> {
        Ok(self.repository.links_of(user).await?)
    }

    fn seal<T: Serialize>(&self, purpose: &str, value: &T) -> Result<String, FederationError> {
        let plain = serde_json::to_vec(value)
            .map_err(|e| crate::error::CryptoError::Failed(e.to_string()))?;
        Ok(self.sealer.seal(purpose, &plain)?)
    }

    /// Opens a sealed state or session that has not expired; anything else
    /// is refused alike (`not_valid` for what this server did not seal for
    /// `purpose`, `expired` for what it did, too long ago).
    fn unseal<T: for<'de> Deserialize<'de> + Expiring>(
        &self,
        purpose: &str,
        sealed: &str,
        now: DateTime<Utc>,
    ) -> Result<T, FederationError> {
        let (not_valid, expired): (&str, fn() -> FederationError) = if purpose == DEVICE_PURPOSE {
            ("the session is not valid", used_session)
        } else {
            ("the state is not valid", used_state)
        };
        let value: T = self
            .sealer
            .unseal(purpose, sealed)
            .ok()
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(|| refused(not_valid.into(), None))?;
        if value.expires() <= now.timestamp() {
            return Err(expired());
        }
        Ok(value)
    }
}

trait Expiring {
    fn expires(&self) -> i64;
}

impl Expiring for SealedState {
    fn expires(&self) -> i64 {
        self.expires
    }
}

impl Expiring for SealedConfirmation {
    fn expires(&self) -> i64 {
        self.expires
    }
}

impl SealedConfirmation {
    /// The identity it carries, parsed again (it was ours when sealed).
    fn identity(&self) -> Result<UpstreamIdentity, FederationError> {
        let bad = || refused("the confirmation is not valid".into(), None);
        Ok(UpstreamIdentity {
            provider: ProviderName::parse(&self.provider).map_err(|_| bad())?,
            subject: crate::types::UpstreamSubject::parse(&self.subject).map_err(|_| bad())?,
            email: self.email.as_deref().and_then(|e| Email::parse(e).ok()),
            login: self.login.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
        })
    }
}

impl Expiring for SealedDevice {
    fn expires(&self) -> i64 {
        self.expires
    }
}

/// SHA-256 of a binding cookie, as the sealed state keeps it.
fn fingerprint(binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(binding.as_bytes()))
}

fn used_state() -> FederationError {
    refused("the state is unknown, expired or used already".into(), None)
}

fn used_session() -> FederationError {
    refused(
        "the session is unknown, expired or used already".into(),
        None,
    )
}

/// Login names to try for a new account, in order: the provider's hint,
/// the hint prefixed with the provider, the provider and the upstream
/// subject, and a random one. A name shaped like an email address is
/// skipped: it could be another account's sign-in address.
fn login_names(identity: &UpstreamIdentity, random: Uuid) -> Vec<Username> {
    let provider = identity.provider.as_str();
    let hint = identity.login.as_deref().unwrap_or_default();
    [
        hint.to_owned(),
        format!("{provider}-{hint}"),
        format!("{provider}-{}", identity.subject.as_str()),
        format!("{provider}-{}", random.simple()),
    ]
    .iter()
    .filter(|name| !name.is_empty() && !name.ends_with('-') && Email::parse(name).is_err())
    .filter_map(|name| Username::parse(name).ok())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::UpstreamSubject;

    fn identity(login: Option<&str>) -> UpstreamIdentity {
        UpstreamIdentity {
            provider: ProviderName::parse("github").unwrap(),
            subject: UpstreamSubject::parse("583231").unwrap(),
            email: None,
            login: login.map(str::to_owned),
            given_name: None,
            family_name: None,
        }
    }

    #[test]
    fn login_names_start_from_the_hint_and_end_random() {
        let names: Vec<String> = login_names(&identity(Some("Octocat")), Uuid::nil())
            .into_iter()
            .map(|n| n.as_str().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "octocat",
                "github-octocat",
                "github-583231",
                "github-00000000000000000000000000000000"
            ]
        );
    }

    #[test]
    fn a_hint_shaped_like_an_email_or_not_a_name_is_skipped() {
        for hint in [Some("someone@example.com"), Some("a b"), None] {
            let names = login_names(&identity(hint), Uuid::nil());
            assert_eq!(names[0].as_str(), "github-583231", "{hint:?}");
        }
    }
}
