//! Second factors: enrolling them (TOTP authenticators, WebAuthn
//! credentials, recovery codes), the second step of a sign-in, a sign-in
//! with a passkey alone, and the level a client or a request requires.
//!
//! Every rule is here once. A TOTP code is accepted once (its time step is
//! advanced by a conditional update), a recovery code is deleted as it is
//! used, a ceremony's state is taken once, a credential's signature
//! counter only grows; wrong second factors count against the account in
//! the shared throttle store.
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::authorize::SignedIn;
use crate::error::FlowError;
use crate::events::SecurityEvent;
use crate::ports::{Passkeys, Sealer};
use crate::service::{Accounts, BrowserSignIn, Core};
use crate::throttle::ThrottleKey;
use crate::types::{
    AuthLevel, AuthMethod, AuthMethods, Ceremony, CeremonyPurpose, Digest, Factor, FactorId,
    FactorKind, FactorLabel, Message, PasskeyRecord, TotpRecord, User, UserId,
};

/// How many recovery codes a set has.
pub const RECOVERY_CODES: usize = 10;
/// How long a WebAuthn ceremony may take.
const CEREMONY_LIFETIME: Duration = Duration::minutes(5);
/// How long the second step of a sign-in may wait after the password.
const SECOND_STEP_LIFETIME: Duration = Duration::minutes(5);
/// The sealing purpose of TOTP secrets.
const TOTP_PURPOSE: &str = "totp-secret";
/// The sealing purpose of a sign-in waiting for its second step.
const PARTIAL_PURPOSE: &str = "second-step";
/// The alphabet of recovery codes: Crockford's base32 in lower case (no i,
/// l, o or u, which are read as 1, 1, 0 and v).
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Whether everyone must use two factors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MfaPolicy {
    /// Each client decides (`ClientMfa`).
    #[default]
    Optional,
    /// Every sign-in through the browser uses two factors.
    Required,
}

/// What second factors need: a sealer for TOTP secrets and second steps,
/// the WebAuthn adapter (none: no passkeys), and the global policy.
#[derive(Clone)]
pub struct SecondFactors {
    /// Seals TOTP secrets at rest, and a sign-in between its two steps.
    pub sealer: Arc<dyn Sealer>,
    /// WebAuthn ceremonies; `None` turns passkeys off.
    pub passkeys: Option<Arc<dyn Passkeys>>,
    /// Whether every sign-in needs two factors.
    pub policy: MfaPolicy,
}

/// Why a factor operation was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    /// Second factors (or passkeys) are not set up on this server.
    #[error("second factors are not available on this server")]
    Unavailable,
    /// The input is not acceptable (a label, a malformed answer).
    #[error("{0}")]
    Invalid(String),
    /// A wrong, used or expired code or assertion.
    #[error("that code or key was not accepted")]
    Wrong(SecurityEvent),
    /// Too many wrong second factors for the account just now.
    #[error("too many failed attempts; try again later")]
    Throttled(SecurityEvent),
    /// The ceremony or the pending sign-in is unknown, used or expired.
    #[error("this step expired; start again")]
    Expired,
    /// The credential is registered to an account already.
    #[error("this security key is already registered")]
    Taken,
    /// No such factor on this account.
    #[error("no such factor")]
    NotFound,
    /// A store or crypto failure; nothing was changed.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<crate::error::StoreError> for FactorError {
    fn from(e: crate::error::StoreError) -> Self {
        Self::Flow(e.into())
    }
}

impl FactorError {
    /// The security event the refusal amounts to, if any.
    pub fn event(&self) -> Option<&SecurityEvent> {
        match self {
            Self::Wrong(e) | Self::Throttled(e) => Some(e),
            _ => None,
        }
    }
}

/// A TOTP authenticator being enrolled: what its owner's app needs.
#[derive(Clone)]
pub struct TotpEnrolment {
    /// The unconfirmed factor's id, posted back with the first code.
    pub id: FactorId,
    /// The `otpauth://` URI (shown as a QR code).
    pub uri: String,
    /// The secret in base32, for typing in.
    pub manual_key: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A factor just enrolled.
#[derive(Clone)]
pub struct Enrolled {
    /// The new factor.
    pub factor: FactorId,
    /// The account's first recovery codes, shown once (with its first
    /// factor only).
    pub recovery_codes: Option<Vec<String>>,
    /// What the enrolment proved the browser holds: a session may count it.
    pub proved: AuthMethods,
    /// `mfa_enrolled`.
    pub event: SecurityEvent,
}

impl std::fmt::Debug for Enrolled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolled")
            .field("factor", &self.factor)
            .field("proved", &self.proved)
            .finish_non_exhaustive()
    }
}

/// A WebAuthn ceremony begun: the id the browser posts back, and the
/// options for `navigator.credentials`.
#[derive(Debug, Clone)]
pub struct CeremonyStart {
    /// The ceremony's id (its digest is stored).
    pub id: String,
    /// The options, as the browser's JSON.
    pub options: String,
}

/// The account's factors, as its page and the operator see them.
#[derive(Debug, Clone, Default)]
pub struct FactorOverview {
    /// Confirmed factors, oldest first.
    pub factors: Vec<Factor>,
    /// Unused recovery codes.
    pub recovery_codes_left: u64,
}

impl FactorOverview {
    /// Whether the account signs in with a second step.
    pub fn enabled(&self) -> bool {
        !self.factors.is_empty()
    }

    /// Whether it has a factor of `kind`.
    pub fn has(&self, kind: FactorKind) -> bool {
        self.factors.iter().any(|f| f.kind == kind)
    }
}

/// A sign-in between its steps: who, how far, since when. Sealed, so the
/// browser can hold it but neither read nor forge it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Partial {
    user: UserId,
    methods: String,
    expires: i64,
}

/// A sign-in waiting for its second step, unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingSecondStep {
    /// The account.
    pub user: UserId,
    /// What it proved so far.
    pub methods: AuthMethods,
}

/// The answer to the second step.
#[derive(Debug)]
pub enum FactorAnswer<'a> {
    /// A code from an authenticator app.
    Totp(&'a str),
    /// One of the recovery codes.
    RecoveryCode(&'a str),
    /// A WebAuthn assertion for the ceremony `ceremony`.
    Passkey {
        /// The ceremony's id.
        ceremony: &'a str,
        /// The browser's answer (JSON).
        response: &'a str,
    },
}

/// What a signed-in browser needs before a client gets a code.
#[derive(Debug)]
pub enum FactorStep {
    /// Nothing: the session meets the level.
    Fine,
    /// The account has factors: ask for one (step-up).
    Ask,
    /// The account has none and the client needs two: enrol one first.
    Enrol,
    /// It cannot be met (`unmet_authentication_requirements`), or
    /// `prompt=none` would need a page.
    Refuse(crate::authorize::Refusal),
}

impl Core {
    fn second_factors(&self) -> Result<&SecondFactors, FactorError> {
        self.second_factors.as_ref().ok_or(FactorError::Unavailable)
    }

    fn passkeys(&self) -> Result<&Arc<dyn Passkeys>, FactorError> {
        self.second_factors()?
            .passkeys
            .as_ref()
            .ok_or(FactorError::Unavailable)
    }

    /// Whether accounts may enrol second factors here.
    pub fn factors_enabled(&self) -> bool {
        self.second_factors.is_some()
    }

    /// Whether passkeys are set up here.
    pub fn passkeys_enabled(&self) -> bool {
        self.second_factors
            .as_ref()
            .is_some_and(|f| f.passkeys.is_some())
    }

    /// The level every browser sign-in needs, whatever the client.
    pub fn mfa_policy(&self) -> MfaPolicy {
        self.second_factors
            .as_ref()
            .map(|f| f.policy)
            .unwrap_or_default()
    }

    /// Whether `user` signs in with a second step.
    pub(crate) async fn has_second_factor(&self, user: UserId) -> Result<bool, FlowError> {
        Ok(self.ports.factors.has_factors(user).await?)
    }

    /// `user`'s factors and recovery codes.
    pub async fn factor_overview(&self, user: UserId) -> Result<FactorOverview, FlowError> {
        Ok(FactorOverview {
            factors: self.ports.factors.factors_of(user).await?,
            recovery_codes_left: self.ports.factors.recovery_codes_left(user).await?,
        })
    }

    /// Refuses a sign-in with nothing but a password (the password grant,
    /// the dialects' password sign-ins) where a second factor is due: for
    /// a client that requires two factors, and for an account that has a
    /// second factor unless the client is let through on the password.
    pub(crate) async fn require_password_only_allowed(
        &self,
        client: &crate::types::Client,
        user: UserId,
    ) -> Result<(), FlowError> {
        use crate::types::ClientMfa;
        let refuse = |why: &str| {
            Err(crate::OAuthError::invalid_grant(why.to_owned())
                .with_event(SecurityEvent::MfaFailed { user })
                .into())
        };
        if client.mfa == ClientMfa::Required || self.mfa_policy() == MfaPolicy::Required {
            return refuse(
                "this application requires a second factor: sign in through the browser \
                 (the authorization code flow)",
            );
        }
        if client.mfa != ClientMfa::PasswordGrantAllowed && self.has_second_factor(user).await? {
            return refuse(
                "this account uses a second factor: sign in through the browser (the \
                 authorization code flow)",
            );
        }
        Ok(())
    }

    /// The lowest level `client` accepts, before any `acr_values`.
    pub(crate) fn client_level(&self, client: &crate::types::Client) -> AuthLevel {
        if client.mfa == crate::types::ClientMfa::Required
            || self.mfa_policy() == MfaPolicy::Required
        {
            AuthLevel::MultiFactor
        } else {
            AuthLevel::Basic
        }
    }

    /// Mails `user` a notice of a change to their factors (where mail is
    /// set up and they have an address).
    async fn factor_notice(
        &self,
        user: UserId,
        change: crate::types::FactorChange,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let Some(user) = self.ports.users.find_by_id(user).await? else {
            return Ok(());
        };
        let Some(address) = user.email.clone() else {
            return Ok(());
        };
        self.mail_notice(&user, &address, Message::FactorNotice { change }, now)
            .await
    }

    /// Ten new recovery codes: what to show, and what to store.
    fn new_recovery_codes(&self) -> (Vec<String>, Vec<Digest>) {
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| {
                // 12 characters of 5 bits each: 60 bits.
                let random = self.random_bytes();
                let chars: Vec<char> = random
                    .iter()
                    .take(12)
                    .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
                    .collect();
                chars
                    .chunks(4)
                    .map(|group| group.iter().collect::<String>())
                    .collect::<Vec<_>>()
                    .join("-")
            })
            .collect();
        let digests = codes.iter().map(|c| self.recovery_digest(c)).collect();
        (codes, digests)
    }

    /// 32 random bytes: the SHA-256 of a fresh 256-bit token (the
    /// randomness port hands out tokens, and a digest keeps all of their
    /// entropy in a fixed length).
    fn random_bytes(&self) -> [u8; 32] {
        *self
            .ports
            .digest
            .digest(self.ports.random.token().expose())
            .as_bytes()
    }

    /// A recovery code's digest, however it was typed (case, dashes,
    /// spaces).
    fn recovery_digest(&self, typed: &str) -> Digest {
        let normal: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        self.ports.digest.digest(&format!("recovery:{normal}"))
    }

    /// The recovery codes to store with a new factor: a fresh set with the
    /// first factor, none otherwise.
    async fn codes_with_first_factor(
        &self,
        user: UserId,
    ) -> Result<(Option<Vec<String>>, Vec<Digest>), FlowError> {
        if self.ports.factors.has_factors(user).await? {
            return Ok((None, Vec::new()));
        }
        let (codes, digests) = self.new_recovery_codes();
        Ok((Some(codes), digests))
    }

    /// Keeps a ceremony's state: the id for the browser.
    async fn keep_ceremony(
        &self,
        purpose: CeremonyPurpose,
        user: Option<UserId>,
        state: String,
        now: DateTime<Utc>,
    ) -> Result<String, FlowError> {
        let id = self.ports.random.token();
        self.ports
            .factors
            .store_ceremony(&Ceremony {
                digest: self
                    .ports
                    .digest
                    .digest(&format!("ceremony:{}", id.expose())),
                purpose,
                user_id: user,
                state,
                expires_at: now + CEREMONY_LIFETIME,
            })
            .await?;
        Ok(id.into_inner())
    }

    /// Takes the ceremony `id` if it is one of `purpose` (for `user`).
    async fn take_ceremony(
        &self,
        id: &str,
        purpose: CeremonyPurpose,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Ceremony, FactorError> {
        let digest = self.ports.digest.digest(&format!("ceremony:{id}"));
        match self.ports.factors.take_ceremony(&digest, now).await? {
            Some(c) if c.purpose == purpose && c.user_id == user => Ok(c),
            _ => Err(FactorError::Expired),
        }
    }

    /// Counts a wrong second factor of `user` before it is checked: `Err`
    /// once the account has had too many.
    async fn reserve_factor_attempt(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<ThrottleKey, FactorError> {
        let key = ThrottleKey::SecondFactor(user);
        let policy = self.throttles.second_factor;
        if !self
            .ports
            .throttles
            .reserve(&key, policy.max_attempts, policy.window, now)
            .await?
        {
            return Err(FactorError::Throttled(SecurityEvent::MfaFailed { user }));
        }
        Ok(key)
    }

    /// Checks `assertion` against `user`'s credentials and records its use
    /// (the counter only grows): the methods it proves.
    async fn check_assertion(
        &self,
        user: UserId,
        response: &str,
        state: &str,
        credentials: &[PasskeyRecord],
        now: DateTime<Utc>,
    ) -> Result<AuthMethods, FactorError> {
        let wrong = || FactorError::Wrong(SecurityEvent::MfaFailed { user });
        let assertion = match self
            .passkeys()?
            .finish_authentication(response, state, credentials)
        {
            Ok(a) => a,
            Err(crate::ports::PasskeyError::Refused(_)) => return Err(wrong()),
            Err(crate::ports::PasskeyError::CounterRegressed(id)) => {
                return Err(match credentials.iter().find(|c| c.credential_id == id) {
                    Some(c) => FactorError::Wrong(SecurityEvent::PasskeyCounterRegressed {
                        user,
                        factor: c.factor.id,
                    }),
                    None => wrong(),
                });
            }
            Err(e @ crate::ports::PasskeyError::Failed(_)) => {
                return Err(
                    FlowError::Crypto(crate::error::CryptoError::Failed(e.to_string())).into(),
                );
            }
        };
        let Some(stored) = credentials
            .iter()
            .find(|c| c.credential_id == assertion.credential_id)
        else {
            return Err(wrong());
        };
        // A counter that does not grow (where the authenticator keeps one)
        // may be a cloned key: refused, and logged as a failure.
        if (assertion.counter != 0 || stored.counter != 0) && assertion.counter <= stored.counter {
            return Err(FactorError::Wrong(SecurityEvent::PasskeyCounterRegressed {
                user,
                factor: stored.factor.id,
            }));
        }
        if !self
            .ports
            .factors
            .record_passkey_use(
                stored.factor.id,
                stored.counter,
                assertion.counter,
                &assertion.record,
                now,
            )
            .await?
        {
            return Err(wrong());
        }
        let key = if assertion.backed_up {
            AuthMethod::SoftwareKey
        } else {
            AuthMethod::HardwareKey
        };
        Ok(if assertion.user_verified {
            AuthMethods::of(&[key, AuthMethod::UserVerified])
        } else {
            AuthMethods::of(&[key])
        })
    }
}

impl Accounts {
    /// Begins enrolling an authenticator app for the signed-in account: a
    /// new 20-byte secret, sealed, stored unconfirmed.
    pub async fn begin_totp(
        &self,
        who: &SignedIn,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, FactorError> {
        let factors = self.second_factors()?;
        let label = FactorLabel::parse(label).map_err(|e| FactorError::Invalid(e.to_owned()))?;
        let user = self
            .ports
            .users
            .find_by_id(who.user)
            .await?
            .ok_or(FactorError::NotFound)?;
        let secret = self.random_bytes()[..20].to_vec();
        // Sealed as text (base64url): a sealer may hold only UTF-8.
        let sealed = factors
            .sealer
            .seal(TOTP_PURPOSE, URL_SAFE_NO_PAD.encode(&secret).as_bytes())
            .map_err(FlowError::from)?;
        let id = FactorId::new(self.ports.random.uuid());
        self.ports
            .factors
            .add_totp(&TotpRecord {
                factor: Factor {
                    id,
                    user_id: user.id,
                    kind: FactorKind::Totp,
                    label,
                    created_at: now,
                    last_used_at: None,
                },
                sealed_secret: sealed,
                last_step: None,
                confirmed: false,
            })
            .await?;
        let issuer = issuer_name(&self.issuer);
        Ok(TotpEnrolment {
            id,
            uri: self
                .ports
                .otp
                .provisioning_uri(&secret, &issuer, user.username.as_str()),
            manual_key: self.ports.otp.manual_key(&secret),
        })
    }

    /// Confirms the authenticator `id` with a first correct code: it counts
    /// from now on. With the account's first factor come its recovery codes.
    pub async fn confirm_totp(
        &self,
        who: &SignedIn,
        id: FactorId,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Enrolled, FactorError> {
        let user = who.user;
        let key = self.reserve_factor_attempt(user, now).await?;
        let record = self
            .ports
            .factors
            .totp_of(user)
            .await?
            .into_iter()
            .find(|t| t.factor.id == id && !t.confirmed)
            .ok_or(FactorError::Expired)?;
        let step = self
            .totp_step(&record, code, now)?
            .ok_or(FactorError::Wrong(SecurityEvent::MfaFailed { user }))?;
        let (codes, digests) = self.codes_with_first_factor(user).await?;
        if !self
            .ports
            .factors
            .accept_totp_step(user, id, step, &digests, None, now)
            .await?
        {
            return Err(FactorError::Wrong(SecurityEvent::MfaFailed { user }));
        }
        self.ports.throttles.clear(&key).await?;
        self.factor_notice(
            user,
            crate::types::FactorChange::Added {
                label: record.factor.label.as_str().to_owned(),
            },
            now,
        )
        .await?;
        Ok(Enrolled {
            factor: id,
            recovery_codes: codes,
            proved: AuthMethods::of(&[AuthMethod::OneTimeCode]),
            event: SecurityEvent::MfaEnrolled {
                user,
                kind: FactorKind::Totp,
            },
        })
    }

    /// Begins registering a passkey or security key for the signed-in
    /// account; its own credentials are excluded.
    pub async fn begin_passkey_registration(
        &self,
        who: &SignedIn,
        now: DateTime<Utc>,
    ) -> Result<CeremonyStart, FactorError> {
        let passkeys = self.passkeys()?;
        let user = self
            .ports
            .users
            .find_by_id(who.user)
            .await?
            .ok_or(FactorError::NotFound)?;
        let handle = self
            .ports
            .factors
            .user_handle(user.id, self.ports.random.uuid())
            .await?;
        let own = self.ports.factors.passkeys_of(user.id).await?;
        let display = display_name(&user);
        let (options, state) = passkeys
            .start_registration(handle, user.username.as_str(), &display, &own)
            .map_err(|e| FactorError::Invalid(e.to_string()))?;
        let id = self
            .keep_ceremony(CeremonyPurpose::Register, Some(user.id), state, now)
            .await?;
        Ok(CeremonyStart { id, options })
    }

    /// Finishes a registration begun by [`Self::begin_passkey_registration`].
    pub async fn finish_passkey_registration(
        &self,
        who: &SignedIn,
        ceremony: &str,
        label: &str,
        response: &str,
        now: DateTime<Utc>,
    ) -> Result<Enrolled, FactorError> {
        let label = FactorLabel::parse(label).map_err(|e| FactorError::Invalid(e.to_owned()))?;
        let passkeys = self.passkeys()?;
        let user = who.user;
        let ceremony = self
            .take_ceremony(ceremony, CeremonyPurpose::Register, Some(user), now)
            .await?;
        let new = passkeys
            .finish_registration(response, &ceremony.state)
            .map_err(|e| match e {
                crate::ports::PasskeyError::Refused(why) => FactorError::Invalid(why),
                other => FactorError::Invalid(other.to_string()),
            })?;
        let (codes, digests) = self.codes_with_first_factor(user).await?;
        let id = FactorId::new(self.ports.random.uuid());
        let record = PasskeyRecord {
            factor: Factor {
                id,
                user_id: user,
                kind: FactorKind::Passkey,
                label,
                created_at: now,
                last_used_at: None,
            },
            credential_id: new.credential_id,
            record: new.record,
            counter: new.counter,
        };
        match self.ports.factors.add_passkey(&record, &digests).await {
            Ok(()) => {}
            Err(crate::error::StoreError::Conflict(_)) => return Err(FactorError::Taken),
            Err(e) => return Err(e.into()),
        }
        self.factor_notice(
            user,
            crate::types::FactorChange::Added {
                label: record.factor.label.as_str().to_owned(),
            },
            now,
        )
        .await?;
        Ok(Enrolled {
            factor: id,
            recovery_codes: codes,
            // Registration proves nothing a sign-in counts: the browser
            // made a key, it did not use one registered before.
            proved: AuthMethods::default(),
            event: SecurityEvent::MfaEnrolled {
                user,
                kind: FactorKind::Passkey,
            },
        })
    }

    /// Removes one of the signed-in account's factors (the last one takes
    /// the recovery codes with it).
    pub async fn remove_own_factor(
        &self,
        who: &SignedIn,
        id: FactorId,
        now: DateTime<Utc>,
    ) -> Result<SecurityEvent, FactorError> {
        self.remove_factor_of(who.user, id, now).await
    }

    /// Removes one of `user`'s factors, with a mailed notice (the account
    /// page's and the admin API's one rule).
    pub async fn remove_factor_of(
        &self,
        user: UserId,
        id: FactorId,
        now: DateTime<Utc>,
    ) -> Result<SecurityEvent, FactorError> {
        let removed = self
            .ports
            .factors
            .remove_factor(user, id)
            .await?
            .ok_or(FactorError::NotFound)?;
        self.factor_notice(
            user,
            crate::types::FactorChange::Removed {
                label: removed.label.as_str().to_owned(),
            },
            now,
        )
        .await?;
        Ok(SecurityEvent::MfaRemoved { user, factors: 1 })
    }

    /// A new set of recovery codes for the signed-in account (the old set
    /// stops working); only for an account with a factor.
    pub async fn regenerate_recovery_codes(
        &self,
        who: &SignedIn,
    ) -> Result<Vec<String>, FactorError> {
        if !self.ports.factors.has_factors(who.user).await? {
            return Err(FactorError::NotFound);
        }
        let (codes, digests) = self.new_recovery_codes();
        self.ports
            .factors
            .replace_recovery_codes(who.user, &digests)
            .await?;
        Ok(codes)
    }

    /// The operator's reset: every factor and recovery code of `user` goes
    /// (they sign in with the password alone until they enrol again).
    pub async fn reset_mfa(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(u64, SecurityEvent), FlowError> {
        let removed = self.ports.factors.remove_all_factors(user).await?;
        if removed > 0 {
            self.factor_notice(user, crate::types::FactorChange::Reset, now)
                .await?;
        }
        Ok((
            removed,
            SecurityEvent::MfaRemoved {
                user,
                factors: removed,
            },
        ))
    }
}

impl BrowserSignIn {
    /// A sign-in with nothing but a password for `client` (seed 001's JSON
    /// sign-in): the password checked as any sign-in's, then refused where
    /// a second factor is due (`Core::require_password_only_allowed`).
    pub async fn verify_password_sign_in(
        &self,
        client: &crate::types::Client,
        login: &crate::grants::Login,
        password: crate::types::PasswordAttempt,
        from: &str,
        now: DateTime<Utc>,
    ) -> Result<User, FlowError> {
        let user = self.verify_credentials(login, password, from, now).await?;
        self.require_password_only_allowed(client, user.id).await?;
        Ok(user)
    }

    /// Seals a sign-in that proved `methods` for `user` and waits for its
    /// second step: the value the browser holds meanwhile.
    pub fn begin_second_step(
        &self,
        user: UserId,
        methods: AuthMethods,
        now: DateTime<Utc>,
    ) -> Result<String, FactorError> {
        let partial = Partial {
            user,
            methods: methods.to_stored(),
            expires: (now + SECOND_STEP_LIFETIME).timestamp(),
        };
        let plain = serde_json::to_vec(&partial)
            .map_err(|e| FlowError::Crypto(crate::error::CryptoError::Failed(e.to_string())))?;
        Ok(self
            .second_factors()?
            .sealer
            .seal(PARTIAL_PURPOSE, &plain)
            .map_err(FlowError::from)?)
    }

    /// The sign-in `sealed` stands for, if it is one of ours and not
    /// expired at `now`.
    pub fn pending_second_step(
        &self,
        sealed: &str,
        now: DateTime<Utc>,
    ) -> Option<PendingSecondStep> {
        let plain = self
            .second_factors()
            .ok()?
            .sealer
            .unseal(PARTIAL_PURPOSE, sealed)
            .ok()?;
        let partial: Partial = serde_json::from_slice(&plain).ok()?;
        (partial.expires > now.timestamp()).then(|| PendingSecondStep {
            user: partial.user,
            methods: AuthMethods::from_stored(&partial.methods),
        })
    }

    /// Begins a security-key assertion as the second step of `pending`.
    pub async fn begin_passkey_step(
        &self,
        pending: PendingSecondStep,
        now: DateTime<Utc>,
    ) -> Result<CeremonyStart, FactorError> {
        let passkeys = self.passkeys()?;
        let own = self.ports.factors.passkeys_of(pending.user).await?;
        if own.is_empty() {
            return Err(FactorError::NotFound);
        }
        let (options, state) = passkeys
            .start_authentication(&own)
            .map_err(|e| FactorError::Invalid(e.to_string()))?;
        let id = self
            .keep_ceremony(
                CeremonyPurpose::SecondFactor,
                Some(pending.user),
                state,
                now,
            )
            .await?;
        Ok(CeremonyStart { id, options })
    }

    /// Checks the second step's answer for `pending`: what the sign-in has
    /// proved with it. A wrong answer counts against the account's throttle
    /// (shared by every node) before it is checked.
    pub async fn verify_second_factor(
        &self,
        pending: PendingSecondStep,
        answer: FactorAnswer<'_>,
        now: DateTime<Utc>,
    ) -> Result<(AuthMethods, Option<SecurityEvent>), FactorError> {
        let user = pending.user;
        let key = self.reserve_factor_attempt(user, now).await?;
        let wrong = || FactorError::Wrong(SecurityEvent::MfaFailed { user });
        let (proved, event) = match answer {
            FactorAnswer::Totp(code) => {
                let mut accepted = false;
                for record in self.ports.factors.totp_of(user).await? {
                    if !record.confirmed {
                        continue;
                    }
                    if let Some(step) = self.totp_step(&record, code, now)? {
                        // The throttle's reset rides on the step's write.
                        accepted = self
                            .ports
                            .factors
                            .accept_totp_step(user, record.factor.id, step, &[], Some(&key), now)
                            .await?;
                        break;
                    }
                }
                if !accepted {
                    return Err(wrong());
                }
                let proved = AuthMethods::of(&[AuthMethod::OneTimeCode]);
                return Ok((pending.methods.union(proved), None));
            }
            FactorAnswer::RecoveryCode(code) => {
                let digest = self.recovery_digest(code);
                if !self.ports.factors.use_recovery_code(user, &digest).await? {
                    return Err(wrong());
                }
                let left = self.ports.factors.recovery_codes_left(user).await?;
                self.factor_notice(
                    user,
                    crate::types::FactorChange::RecoveryCodeUsed { left },
                    now,
                )
                .await?;
                (
                    AuthMethods::of(&[AuthMethod::OneTimeCode]),
                    Some(SecurityEvent::RecoveryCodeUsed { user, left }),
                )
            }
            FactorAnswer::Passkey { ceremony, response } => {
                let ceremony = self
                    .take_ceremony(ceremony, CeremonyPurpose::SecondFactor, Some(user), now)
                    .await?;
                let own = self.ports.factors.passkeys_of(user).await?;
                let proved = self
                    .check_assertion(user, response, &ceremony.state, &own, now)
                    .await?;
                (proved, None)
            }
        };
        self.ports.throttles.clear(&key).await?;
        Ok((pending.methods.union(proved), event))
    }

    /// Begins a sign-in with a passkey alone (a discoverable credential,
    /// user verification required): no account is named yet.
    pub async fn begin_passkey_sign_in(
        &self,
        now: DateTime<Utc>,
    ) -> Result<CeremonyStart, FactorError> {
        let (options, state) = self
            .passkeys()?
            .start_discoverable()
            .map_err(|e| FactorError::Invalid(e.to_string()))?;
        let id = self
            .keep_ceremony(CeremonyPurpose::Passwordless, None, state, now)
            .await?;
        Ok(CeremonyStart { id, options })
    }

    /// Finishes a passkey sign-in: the account, and what it proved (a key
    /// and its user's verification, two factors in one).
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        response: &str,
        now: DateTime<Utc>,
    ) -> Result<(UserId, AuthMethods), FactorError> {
        let passkeys = self.passkeys()?;
        let ceremony = self
            .take_ceremony(ceremony, CeremonyPurpose::Passwordless, None, now)
            .await?;
        let refused =
            |user: Option<UserId>| FactorError::Wrong(SecurityEvent::LoginFailed { user });
        let claimed = passkeys.identify(response).map_err(|_| refused(None))?;
        let Some(user) = self
            .ports
            .factors
            .user_of_handle(claimed.user_handle)
            .await?
        else {
            return Err(refused(None));
        };
        let key = self.reserve_factor_attempt(user, now).await?;
        match self.ports.users.find_by_id(user).await? {
            Some(u) if !u.disabled => {}
            _ => return Err(refused(Some(user))),
        }
        let own = self.ports.factors.passkeys_of(user).await?;
        let proved = self
            .check_assertion(user, response, &ceremony.state, &own, now)
            .await?;
        if !proved.contains(AuthMethod::UserVerified) {
            return Err(refused(Some(user)));
        }
        self.ports.throttles.clear(&key).await?;
        Ok((user, proved))
    }

    /// What `who` needs before the request's client gets a code: nothing,
    /// a second factor (step-up), enrolment of one, or a refusal.
    pub async fn factor_step(
        &self,
        request: &crate::authorize::ValidRequest,
        who: &SignedIn,
    ) -> Result<FactorStep, FlowError> {
        let required = request.required_level;
        if who.methods.level() >= required {
            return Ok(FactorStep::Fine);
        }
        let refuse = |code: crate::ErrorCode, why: &'static str| {
            FactorStep::Refuse(crate::authorize::Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: crate::OAuthError::new(code, why),
                state: request.state.clone(),
            })
        };
        if request.prompt.none {
            return Ok(refuse(
                crate::ErrorCode::LoginRequired,
                "prompt=none, and the session does not meet the requested authentication level",
            ));
        }
        let overview = self.factor_overview(who.user).await?;
        let phishing_resistant = required == AuthLevel::PhishingResistant;
        Ok(match (overview.enabled(), phishing_resistant) {
            (_, true) if !overview.has(FactorKind::Passkey) => refuse(
                crate::ErrorCode::UnmetAuthenticationRequirements,
                "the requested authentication level needs a passkey or security key, and the \
                 account has none",
            ),
            (true, _) => FactorStep::Ask,
            (false, _) if self.factors_enabled() => FactorStep::Enrol,
            (false, _) => refuse(
                crate::ErrorCode::UnmetAuthenticationRequirements,
                "the requested authentication level needs a second factor, and this server \
                 offers none",
            ),
        })
    }
}

impl Core {
    /// The time step `code` is right for, for the authenticator `record`.
    fn totp_step(
        &self,
        record: &TotpRecord,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, FactorError> {
        let sealed = self
            .second_factors()?
            .sealer
            .unseal(TOTP_PURPOSE, &record.sealed_secret)
            .map_err(FlowError::from)?;
        let secret = URL_SAFE_NO_PAD.decode(&sealed).map_err(|e| {
            FlowError::Crypto(crate::error::CryptoError::Failed(format!(
                "a sealed TOTP secret is not base64url: {e}"
            )))
        })?;
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        Ok(self.ports.otp.matching_step(&secret, &code, now))
    }
}

/// The name authenticator apps show for this server: the issuer's host.
fn issuer_name(issuer: &str) -> String {
    url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Portcullis".to_owned())
}

/// The name an authenticator shows for the account.
fn display_name(user: &User) -> String {
    match (&user.given_name, &user.family_name) {
        (Some(g), Some(f)) => format!("{g} {f}"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => user.username.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_names_its_host() {
        assert_eq!(issuer_name("https://id.example.com/base"), "id.example.com");
        assert_eq!(issuer_name("not a url"), "Portcullis");
    }
}
