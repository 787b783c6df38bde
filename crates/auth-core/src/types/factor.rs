//! Second factors (TOTP authenticators and WebAuthn credentials), recovery
//! codes, and how a sign-in authenticated (RFC 8176 `amr`, and the `acr`
//! levels this server names).
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Digest, UserId};

/// One registered factor's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FactorId(Uuid);

impl FactorId {
    /// Wraps an id.
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }

    /// The id, as stored.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The id a form or a command names, if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw.trim()).ok().map(Self)
    }
}

impl fmt::Display for FactorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What kind of factor it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FactorKind {
    /// An authenticator app's six-digit codes (RFC 6238).
    Totp,
    /// A WebAuthn credential: a passkey or a security key.
    Passkey,
}

impl FactorKind {
    /// The name it is stored and shown under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Totp, Self::Passkey]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A factor's label, as its owner named it: trimmed, 1 to 64 characters,
/// no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FactorLabel(String);

impl FactorLabel {
    /// The longest label kept.
    pub const MAX_CHARS: usize = 64;

    /// Parses a label, or says why it is not one.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let label = raw.trim();
        if label.is_empty() {
            return Err("give it a name");
        }
        if label.chars().count() > Self::MAX_CHARS {
            return Err("the name is longer than 64 characters");
        }
        if label.chars().any(char::is_control) {
            return Err("the name has control characters");
        }
        Ok(Self(label.to_owned()))
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registered factor, as its owner and the operator see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    /// Its id.
    pub id: FactorId,
    /// Whose it is.
    pub user_id: UserId,
    /// What it is.
    pub kind: FactorKind,
    /// What its owner called it.
    pub label: FactorLabel,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last signed in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A TOTP authenticator as stored: its secret sealed with the
/// key-encryption key, and the last time step accepted (so a code is
/// accepted once). Unconfirmed until its owner typed one correct code.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// The factor.
    pub factor: Factor,
    /// The secret, sealed.
    pub sealed_secret: String,
    /// The last step a code was accepted for.
    pub last_step: Option<i64>,
    /// Whether a correct code confirmed it.
    pub confirmed: bool,
}

impl fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpRecord")
            .field("factor", &self.factor)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

/// A WebAuthn credential as stored: its id (base64url, unique across
/// every account), the adapter's record of it (opaque to the core), and
/// its signature counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The factor.
    pub factor: Factor,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    /// The adapter's serialized credential (public key and flags).
    pub record: String,
    /// The authenticator's signature counter at its last use.
    pub counter: u32,
}

/// What a WebAuthn ceremony is for: its state is kept for that one use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CeremonyPurpose {
    /// Registering a credential to a signed-in account.
    Register,
    /// A second factor after the password.
    SecondFactor,
    /// A sign-in with a passkey alone (discoverable credential).
    Passwordless,
}

impl CeremonyPurpose {
    /// The name it is stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SecondFactor => "second-factor",
            Self::Passwordless => "passwordless",
        }
    }

    /// The purpose stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Register, Self::SecondFactor, Self::Passwordless]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// A WebAuthn ceremony begun and not yet finished: the adapter's state,
/// kept server side (any node finishes it), single use, for minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// The digest of the id the browser holds.
    pub digest: Digest,
    /// What it is for.
    pub purpose: CeremonyPurpose,
    /// The account, where one is known (not for a passwordless sign-in).
    pub user_id: Option<UserId>,
    /// The adapter's state, opaque to the core.
    pub state: String,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// One way a sign-in authenticated (RFC 8176 section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `pwd`: a password.
    Password,
    /// `otp`: a one-time code (an authenticator app's, or a recovery code).
    OneTimeCode,
    /// `hwk`: a key bound to hardware (a security key, a device passkey).
    HardwareKey,
    /// `swk`: a key that may leave its device (a synced passkey).
    SoftwareKey,
    /// `user`: the authenticator verified its user (a PIN or biometrics).
    UserVerified,
    /// `fed`: an upstream identity provider.
    Federated,
}

impl AuthMethod {
    const ALL: [Self; 6] = [
        Self::Password,
        Self::OneTimeCode,
        Self::HardwareKey,
        Self::SoftwareKey,
        Self::UserVerified,
        Self::Federated,
    ];

    fn bit(self) -> u8 {
        match self {
            Self::Password => 1,
            Self::OneTimeCode => 2,
            Self::HardwareKey => 4,
            Self::SoftwareKey => 8,
            Self::UserVerified => 16,
            Self::Federated => 32,
        }
    }

    /// Its RFC 8176 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::OneTimeCode => "otp",
            Self::HardwareKey => "hwk",
            Self::SoftwareKey => "swk",
            Self::UserVerified => "user",
            Self::Federated => "fed",
        }
    }
}

/// How a session authenticated: a set of [`AuthMethod`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AuthMethods(u8);

impl AuthMethods {
    /// The methods of one step.
    pub fn of(methods: &[AuthMethod]) -> Self {
        Self(methods.iter().fold(0, |bits, m| bits | m.bit()))
    }

    /// Both sets.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether `method` is among them.
    pub fn contains(self, method: AuthMethod) -> bool {
        self.0 & method.bit() != 0
    }

    /// Whether nothing is known of how it authenticated (a session from
    /// before this was recorded).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A proof of possession: a one-time code or a key.
    fn possession(self) -> bool {
        [
            AuthMethod::OneTimeCode,
            AuthMethod::HardwareKey,
            AuthMethod::SoftwareKey,
        ]
        .into_iter()
        .any(|m| self.contains(m))
    }

    /// A key the browser proved it holds for this origin (WebAuthn).
    pub fn phishing_resistant(self) -> bool {
        self.contains(AuthMethod::HardwareKey) || self.contains(AuthMethod::SoftwareKey)
    }

    /// More than one factor: something known or verified on the device,
    /// and something held.
    pub fn multi_factor(self) -> bool {
        self.possession()
            && (self.contains(AuthMethod::Password) || self.contains(AuthMethod::UserVerified))
    }

    /// The `amr` claim's values: each method, and `mfa` where more than
    /// one factor was used.
    pub fn amr(self) -> Vec<&'static str> {
        let mut amr: Vec<&'static str> = AuthMethod::ALL
            .into_iter()
            .filter(|m| self.contains(*m))
            .map(AuthMethod::as_str)
            .collect();
        if self.multi_factor() {
            amr.push("mfa");
        }
        amr
    }

    /// The level this sign-in reached.
    pub fn level(self) -> AuthLevel {
        if self.phishing_resistant() && self.multi_factor() {
            AuthLevel::PhishingResistant
        } else if self.multi_factor() {
            AuthLevel::MultiFactor
        } else {
            AuthLevel::Basic
        }
    }

    /// Stored as the space-separated `amr` names (without `mfa`).
    pub fn to_stored(self) -> String {
        AuthMethod::ALL
            .into_iter()
            .filter(|m| self.contains(*m))
            .map(AuthMethod::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Read back from [`Self::to_stored`]; unknown names are dropped.
    pub fn from_stored(stored: &str) -> Self {
        Self::of(
            &stored
                .split(' ')
                .filter_map(|n| AuthMethod::ALL.into_iter().find(|m| m.as_str() == n))
                .collect::<Vec<_>>(),
        )
    }
}

/// The authentication levels (`acr` values) this server names, weakest
/// first: each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthLevel {
    /// Any sign-in.
    Basic,
    /// Two factors (`mfa` in `amr`).
    MultiFactor,
    /// Two factors, one of them a WebAuthn credential, which a phishing
    /// site cannot relay (OpenID's `phr`).
    PhishingResistant,
}

impl AuthLevel {
    /// Every level, weakest first.
    pub const ALL: [Self; 3] = [Self::Basic, Self::MultiFactor, Self::PhishingResistant];

    /// Its `acr` value.
    pub fn acr(self) -> &'static str {
        match self {
            Self::Basic => "urn:portcullis:acr:basic",
            Self::MultiFactor => "urn:portcullis:acr:mfa",
            Self::PhishingResistant => "phr",
        }
    }

    /// The level an `acr` value names, if this server knows it.
    pub fn parse(acr: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.acr() == acr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthMethod::*;

    #[test]
    fn amr_names_each_method_and_mfa_for_two_factors() {
        assert_eq!(AuthMethods::of(&[Password]).amr(), ["pwd"]);
        assert_eq!(
            AuthMethods::of(&[Password, OneTimeCode]).amr(),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(
            AuthMethods::of(&[HardwareKey, UserVerified]).amr(),
            ["hwk", "user", "mfa"]
        );
        // A key without user verification is one factor.
        assert_eq!(AuthMethods::of(&[HardwareKey]).amr(), ["hwk"]);
    }

    #[test]
    fn levels_follow_the_factors() {
        assert_eq!(AuthMethods::of(&[Password]).level(), AuthLevel::Basic);
        assert_eq!(AuthMethods::of(&[Federated]).level(), AuthLevel::Basic);
        assert_eq!(
            AuthMethods::of(&[Password, OneTimeCode]).level(),
            AuthLevel::MultiFactor
        );
        assert_eq!(
            AuthMethods::of(&[Password, HardwareKey]).level(),
            AuthLevel::PhishingResistant
        );
        assert_eq!(
            AuthMethods::of(&[SoftwareKey, UserVerified]).level(),
            AuthLevel::PhishingResistant
        );
        assert!(AuthLevel::Basic < AuthLevel::MultiFactor);
        assert!(AuthLevel::MultiFactor < AuthLevel::PhishingResistant);
    }

    #[test]
    fn stored_form_round_trips() {
        for methods in [
            AuthMethods::default(),
            AuthMethods::of(&[Password]),
            AuthMethods::of(&[Password, OneTimeCode]),
            AuthMethods::of(&[HardwareKey, UserVerified, Federated]),
        ] {
            assert_eq!(AuthMethods::from_stored(&methods.to_stored()), methods);
        }
        assert_eq!(
            AuthMethods::from_stored("pwd nonsense"),
            AuthMethods::of(&[Password])
        );
    }

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(
            FactorLabel::parse("  Phone ").map(|l| l.0),
            Ok("Phone".into())
        );
        assert!(FactorLabel::parse("   ").is_err());
        assert!(FactorLabel::parse(&"x".repeat(65)).is_err());
        assert!(FactorLabel::parse("a\u{7}b").is_err());
        assert!(AuthLevel::parse("phr").is_some() && AuthLevel::parse("gold").is_none());
    }
}
