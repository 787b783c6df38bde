//! The device authorization grant (RFC 8628).
//!
//! A device asks for a pair of codes; the user approves the user code in a
//! browser; the device polls the token endpoint with the device code. The
//! poll is a state machine over the stored authorization ([`poll_step`]):
//! pending (or too fast), approved, denied, expired, redeemed.
use chrono::{DateTime, Duration, Utc};

use crate::error::{ErrorCode, FlowError, OAuthError};
use crate::throttle::ThrottleKey;
use crate::types::{
    Client, DeviceAuthorization, DeviceStatus, GrantType, IssuedTokens, OpaqueToken, Scope,
    UserCode, UserId,
};

use super::resolve_scope;
use crate::service::{Core, Grants};

/// How long a device authorization lives.
pub const DEVICE_CODE_TTL: Duration = Duration::minutes(10);
/// The polling interval a device starts with.
pub const DEFAULT_INTERVAL: Duration = Duration::seconds(5);
/// What each `slow_down` adds to the interval (RFC 8628 section 3.5).
const SLOW_DOWN_STEP: Duration = Duration::seconds(5);

/// What `POST /device_authorization` hands back.
#[derive(Debug, Clone)]
pub struct DeviceStart {
    /// The code the device polls with.
    pub device_code: OpaqueToken,
    /// The code the user enters at the verification page.
    pub user_code: UserCode,
    /// Until both expire.
    pub expires_in: Duration,
    /// How long the device must wait between polls.
    pub interval: Duration,
}

/// What one poll leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollStep {
    /// Not decided yet; the poll is recorded.
    Pending,
    /// Polled sooner than the interval: refuse and add 5 seconds to it.
    SlowDown {
        /// The interval from now on.
        new_interval: Duration,
    },
    /// Approved: issue tokens, once.
    Issue {
        /// The account that approved.
        user: UserId,
    },
}

/// The transition function of a poll. Pure.
pub fn poll_step(
    d: &DeviceAuthorization,
    client: &Client,
    now: DateTime<Utc>,
) -> Result<PollStep, OAuthError> {
    if d.client_id != client.id {
        return Err(OAuthError::invalid_grant("the device code is invalid"));
    }
    if d.expires_at <= now {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired",
        ));
    }
    match d.status {
        DeviceStatus::Denied => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "the user denied the request",
        )),
        DeviceStatus::Redeemed => Err(OAuthError::invalid_grant(
            "the device code was already used",
        )),
        DeviceStatus::Approved(user) => Ok(PollStep::Issue { user }),
        DeviceStatus::Pending => match d.last_polled_at {
            // "the interval MUST be increased by 5 seconds for this and all
            // subsequent requests" (RFC 8628 section 3.5).
            Some(last) if now - last < d.interval => Ok(PollStep::SlowDown {
                new_interval: d.interval + SLOW_DOWN_STEP,
            }),
            _ => Ok(PollStep::Pending),
        },
    }
}

impl Grants {
    /// RFC 8628 section 3.1-3.2.
    pub async fn start_device_authorization(
        &self,
        client: &Client,
        scope: Option<Scope>,
        now: DateTime<Utc>,
    ) -> Result<DeviceStart, FlowError> {
        if !client.allows(GrantType::DeviceCode) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the device authorization grant",
            )
            .into());
        }
        let scope = resolve_scope(scope, &client.scope)?;
        let device_code = self.ports.random.token();
        let uuid = self.ports.random.uuid();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&uuid.as_bytes()[..8]);
        let user_code = UserCode::from_random(bytes);
        let record = DeviceAuthorization {
            device_digest: self.ports.digest.digest(device_code.expose()),
            user_code_digest: self.ports.digest.digest(user_code.normalised()),
            client_id: client.id.clone(),
            scope,
            issued_at: now,
            expires_at: now + DEVICE_CODE_TTL,
            interval: DEFAULT_INTERVAL,
            last_polled_at: None,
            status: DeviceStatus::Pending,
        };
        self.ports.devices.insert_device(&record).await?;
        Ok(DeviceStart {
            device_code,
            user_code,
            expires_in: DEVICE_CODE_TTL,
            interval: DEFAULT_INTERVAL,
        })
    }

    /// Looks up the code `user` typed. Each attempt is reserved against the
    /// user's device-code throttle before the lookup, and given back when
    /// the code is found: wrong codes count, a burst of guesses as strictly
    /// as a sequence, so the 34-bit code space cannot be searched.
    pub async fn look_up_user_code(
        &self,
        user: UserId,
        typed: &str,
        now: DateTime<Utc>,
    ) -> Result<UserCodeLookup, FlowError> {
        let key = ThrottleKey::DeviceCode(user);
        let policy = self.throttles.device_code;
        if !self
            .ports
            .throttles
            .reserve(&key, policy.max_attempts, policy.window, now)
            .await?
        {
            return Ok(UserCodeLookup::Throttled);
        }
        let Some(code) = UserCode::parse(typed) else {
            return Ok(UserCodeLookup::NotFound);
        };
        let Some(approval) = self.find_user_code(&code, now).await? else {
            return Ok(UserCodeLookup::NotFound);
        };
        self.ports.throttles.release(&key).await?;
        Ok(UserCodeLookup::Found(code, approval))
    }

    /// The pending authorization a user code names, if any.
    pub(crate) async fn find_user_code(
        &self,
        code: &UserCode,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceApproval>, FlowError> {
        let digest = self.ports.digest.digest(code.normalised());
        let pending = self
            .ports
            .devices
            .find_by_user_code(&digest)
            .await?
            .filter(|d| d.status == DeviceStatus::Pending && d.expires_at > now);
        let Some(pending) = pending else {
            return Ok(None);
        };
        // RFC 8628 section 5.4: the user is shown which client asks, and for
        // what, before deciding.
        let Some(client) = self.ports.clients.find(&pending.client_id).await? else {
            return Ok(None);
        };
        Ok(Some(DeviceApproval {
            client_name: client.name,
            scope: pending.scope,
        }))
    }

    /// The signed-in person's decision on a user code: `approve` by `who`,
    /// or deny. An approval is held back, with nothing changed, where the
    /// device's client lets in only confirmed addresses and `who`'s is not,
    /// or needs more factors than `who`'s session showed (`--require-mfa`,
    /// `mfa = "required"`): the same rules as at `/authorize`.
    pub async fn decide_device(
        &self,
        code: &UserCode,
        approve: Option<&crate::authorize::SignedIn>,
        now: DateTime<Utc>,
    ) -> Result<DeviceDecision, FlowError> {
        let digest = self.ports.digest.digest(code.normalised());
        let decision = match approve {
            Some(who) => {
                if let Some(hold) = self.device_hold(&digest, who).await? {
                    return Ok(DeviceDecision::Held(hold));
                }
                DeviceStatus::Approved(who.user)
            }
            None => DeviceStatus::Denied,
        };
        let stored = self
            .ports
            .devices
            .decide_device(&digest, decision, now)
            .await?;
        Ok(if stored {
            DeviceDecision::Decided
        } else {
            DeviceDecision::Gone
        })
    }

    /// What keeps `who` from approving the device whose user code's
    /// digest is `digest`, if anything.
    async fn device_hold(
        &self,
        digest: &crate::types::Digest,
        who: &crate::authorize::SignedIn,
    ) -> Result<Option<DeviceHold>, FlowError> {
        let Some(pending) = self.ports.devices.find_by_user_code(digest).await? else {
            return Ok(None);
        };
        let Some(client) = self.ports.clients.find(&pending.client_id).await? else {
            return Ok(None);
        };
        if !self.admits(&client, who.user).await? {
            return Ok(Some(DeviceHold::NotAdmitted));
        }
        if !self.email_verified_for(&client, who.user).await? {
            return Ok(Some(DeviceHold::AddressUnconfirmed));
        }
        if who.methods.level() < self.client_level(&client) {
            return Ok(Some(DeviceHold::SecondFactorNeeded {
                enrolled: self.has_second_factor(who.user).await?,
            }));
        }
        Ok(None)
    }
}

/// What became of a decision on a user code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Stored: the device's next poll learns it.
    Decided,
    /// The code was decided before (another tab, another person) or has
    /// expired; nothing was stored.
    Gone,
    /// The approval waits for the person to meet the client's rules.
    Held(DeviceHold),
}

/// Why an approval waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceHold {
    /// The client admits only members of groups the person is not in.
    NotAdmitted,
    /// The client lets in only confirmed addresses.
    AddressUnconfirmed,
    /// The client needs two factors; `enrolled` says whether the account
    /// has a second one (else it is to enrol one first).
    SecondFactorNeeded {
        /// The account has a second factor its session did not show.
        enrolled: bool,
    },
}

/// What looking up a typed user code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCodeLookup {
    /// A pending authorization: what the user is asked to approve.
    Found(UserCode, DeviceApproval),
    /// No pending authorization has that code (the attempt counts).
    NotFound,
    /// Too many wrong codes: not even looked up.
    Throttled,
}

/// What a user is asked to approve for a pending device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApproval {
    /// The device's client, by name.
    pub client_name: String,
    /// What it asks for.
    pub scope: Scope,
}

pub(super) async fn poll(
    service: &Core,
    client: &Client,
    device_code: &OpaqueToken,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    let ports = &service.ports;
    let digest = ports.digest.digest(device_code.expose());
    let Some(d) = ports.devices.find_device(&digest).await? else {
        return Err(OAuthError::invalid_grant("the device code is invalid").into());
    };
    match poll_step(&d, client, now)? {
        PollStep::Pending => {
            ports.devices.record_poll(&digest, now, d.interval).await?;
            Err(OAuthError::new(
                ErrorCode::AuthorizationPending,
                "the user has not decided yet",
            )
            .into())
        }
        PollStep::SlowDown { new_interval } => {
            ports
                .devices
                .record_poll(&digest, now, new_interval)
                .await?;
            Err(OAuthError::new(
                ErrorCode::SlowDown,
                format!("poll at most every {new_interval} seconds"),
            )
            .into())
        }
        PollStep::Issue { user } => {
            // An approval by an account that left the client's groups
            // since is not redeemed.
            if !service.admits(client, user).await? {
                return Err(crate::groups::not_admitted().into());
            }
            // An approval by an account disabled since is not redeemed.
            let owner = match ports.users.find_by_id(user).await? {
                Some(u) if !client.admits_address_of(&u) => {
                    return Err(OAuthError::new(
                        ErrorCode::AccessDenied,
                        "this client requires a confirmed email address, and the account that \
                         approved this device has none",
                    )
                    .into());
                }
                Some(u) if !u.disabled => u.token_owner(),
                _ => {
                    return Err(OAuthError::new(
                        ErrorCode::AccessDenied,
                        "the account that approved this device is disabled",
                    )
                    .into());
                }
            };
            // Signed first, then redeemed with the tokens stored in the same step.
            let groups = service.groups_claim(owner.id, &d.scope).await?;
            let grant = service.prepare_grant(client, owner, d.scope, groups, now)?;
            let won = ports
                .devices
                .redeem_device(&digest, grant.refresh_row(), grant.access_row())
                .await?;
            if !won {
                return Err(OAuthError::invalid_grant("the device code was already used").into());
            }
            Ok(grant.into_issued())
        }
    }
}
