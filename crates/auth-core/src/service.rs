//! The core's services: one shared [`Core`] and the role services over it,
//! each small enough to read in one sitting and each what one kind of
//! caller needs:
//!
//! - [`Grants`]: the token endpoint (client authentication, every grant),
//!   introspection, revocation and the device grant (`grants/`);
//! - [`BrowserSignIn`]: the authorization endpoint, sessions, CSRF tokens,
//!   consent and logout (`authorize.rs`, `sessions.rs`, `logout.rs`);
//! - [`Accounts`]: a person's own account and the operator's functions
//!   (`own_account.rs`, `accounts.rs`);
//! - federation is [`crate::federation::Federation`], over the same core.
//!
//! A role is a cheap handle on the shared core (it dereferences to it, so
//! the read-only facts every caller may ask, such as the issuer or a
//! client's registration, are the core's), and a rule several roles apply
//! is the core's own, once: checking a password with its throttles and
//! device cookies (`grants/password.rs`: the password grant, the login
//! page, a federation link's re-authentication), and issuing tokens
//! (`grants/mod.rs`, `grants/id_token.rs`).
use std::ops::Deref;
use std::sync::Arc;

use crate::policy::TokenPolicy;
use crate::ports::Ports;
use crate::throttle::Throttles;

/// What every role service shares: the ports, the token policy, the issuer
/// and the throttles, and the token issuing the roles have in common. Built
/// once, then split into its roles with [`Core::into_roles`].
pub struct Core {
    pub(crate) ports: Ports,
    pub(crate) policy: TokenPolicy,
    pub(crate) issuer: String,
    pub(crate) throttles: Throttles,
    pub(crate) registration: crate::accounts::RegistrationPolicy,
    pub(crate) mailing: Option<crate::mail::Mailing>,
    pub(crate) link_lifetimes: crate::mail::LinkLifetimes,
    pub(crate) second_factors: Option<crate::factors::SecondFactors>,
    pub(crate) admin: Option<crate::admin::AdminApi>,
}

impl Core {
    /// The service over `ports`, with `policy`, issuing tokens as `issuer`
    /// (the public base URL, the `iss` of every token).
    pub fn new(ports: Ports, policy: TokenPolicy, issuer: impl Into<String>) -> Self {
        Self {
            ports,
            policy,
            issuer: issuer.into(),
            throttles: Throttles::default(),
            registration: crate::accounts::RegistrationPolicy::default(),
            mailing: None,
            link_lifetimes: crate::mail::LinkLifetimes::default(),
            second_factors: None,
            admin: None,
        }
    }

    /// Offers the admin API (to admin clients, once one exists).
    pub fn with_admin(mut self, admin: crate::admin::AdminApi) -> Self {
        self.admin = Some(admin);
        self
    }

    /// Offers second factors: TOTP secrets and pending second steps sealed
    /// by `factors.sealer`, passkeys where an adapter is given. Without it
    /// no factor can be enrolled.
    pub fn with_second_factors(mut self, factors: crate::factors::SecondFactors) -> Self {
        self.second_factors = Some(factors);
        self
    }

    /// Replaces the default registration policy (open to anyone).
    pub fn with_registration(mut self, policy: crate::accounts::RegistrationPolicy) -> Self {
        self.registration = policy;
        self
    }

    /// Sends mail: links and notices go to the outbox, letters sealed by
    /// `mailing`. Without it, every feature that needs mail is off.
    pub fn with_mail(mut self, mailing: crate::mail::Mailing) -> Self {
        self.mailing = Some(mailing);
        self
    }

    /// Replaces the default lifetimes of mailed links.
    pub fn with_link_lifetimes(mut self, lifetimes: crate::mail::LinkLifetimes) -> Self {
        self.link_lifetimes = lifetimes;
        self
    }

    /// Whether people may create their own accounts here at all.
    pub fn registration_open(&self) -> bool {
        matches!(
            self.registration,
            crate::accounts::RegistrationPolicy::Open { .. }
        )
    }

    /// Replaces the default throttle policies.
    pub fn with_throttles(mut self, throttles: Throttles) -> Self {
        self.throttles = throttles;
        self
    }

    /// The adapters, for the core's own modules only: the web layer and
    /// the dialects reach storage and cryptography through operations, so
    /// every rule lives once, here.
    pub(crate) fn ports(&self) -> &Ports {
        &self.ports
    }
    /// The role services over this core.
    pub fn into_roles(self) -> Roles {
        let core = Arc::new(self);
        Roles {
            grants: Grants(core.clone()),
            sign_in: BrowserSignIn(core.clone()),
            accounts: Accounts(core),
        }
    }
}

/// Every role service over one core.
#[derive(Clone)]
pub struct Roles {
    /// The token endpoint, introspection, revocation, the device grant.
    pub grants: Grants,
    /// The authorization endpoint, sessions, consent, logout.
    pub sign_in: BrowserSignIn,
    /// Own accounts and the operator's functions.
    pub accounts: Accounts,
}

macro_rules! role {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Arc<Core>);

        impl Deref for $name {
            type Target = Core;

            fn deref(&self) -> &Core {
                &self.0
            }
        }
    };
}

role!(
    /// The token endpoint (client authentication, every grant),
    /// introspection, revocation and the device grant.
    Grants
);
role!(
    /// The authorization endpoint, browser sessions and CSRF tokens,
    /// consent and logout.
    BrowserSignIn
);
role!(
    /// A person's own account, and the operator's functions on accounts
    /// and clients.
    Accounts
);
