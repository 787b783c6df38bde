//! OAuth clients (RFC 6749 section 2).
use chrono::{DateTime, Duration, Utc};
use std::fmt;
use std::str::FromStr;

use super::redirect_uri::origin_matches;
use super::{Digest, KeyAlgorithm, RedirectUri, Scope, ValueError, WebOrigin};
use crate::policy::RefreshMode;

/// A client identifier: 1 to 128 characters from the URL-safe set
/// `A-Z a-z 0-9 . _ ~ -`, so it survives HTTP Basic and query strings intact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    /// Parses a client id: 1 to 128 characters of `A-Z a-z 0-9 . _ ~ -`.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let len = raw.chars().count();
        if !(1..=128).contains(&len) {
            return Err(ValueError::Length {
                what: "client_id",
                min: 1,
                max: 128,
            });
        }
        if let Some(ch) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-')))
        {
            return Err(ValueError::Character {
                what: "client_id",
                ch,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as stored and sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a client proves who it is at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// A confidential client holds a secret; only its digest is stored.
    Confidential {
        /// The SHA-256 digest of its secret.
        secret_digest: Digest,
    },
    /// A public client (native app, SPA) holds no secret and must use PKCE.
    Public,
}

/// The grant types this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// RFC 6749 section 4.1, with RFC 7636 PKCE.
    AuthorizationCode,
    /// RFC 6749 section 6.
    RefreshToken,
    /// RFC 6749 section 4.3 (first-party apps and the seed dialects).
    Password,
    /// RFC 6749 section 4.4: a client acting for itself.
    ClientCredentials,
    /// RFC 8628: a device without a browser.
    DeviceCode,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown grant type {0:?}")]
/// A `grant_type` this server does not implement (the text as given).
pub struct ParseGrantTypeError(pub String);

impl GrantType {
    /// Every grant type, in the order they are listed.
    pub const ALL: [GrantType; 5] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::Password,
        Self::ClientCredentials,
        Self::DeviceCode,
    ];

    /// The grant type as RFC 6749 and RFC 8628 spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }
}

impl GrantType {
    /// A grant type as an operator names it: as the RFCs spell it, or the
    /// device grant by its short name `device_code` (its URN is long to type).
    pub fn from_operator(name: &str) -> Result<Self, ParseGrantTypeError> {
        match name {
            "device_code" => Ok(Self::DeviceCode),
            other => other.parse(),
        }
    }
}

impl FromStr for GrantType {
    type Err = ParseGrantTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| ParseGrantTypeError(s.to_owned()))
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The form of the access tokens a client receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFormat {
    /// Self-contained PASETO v4.public, verified offline against the key set.
    #[default]
    Paseto,
    /// 256 random bits, stored as a digest and checked by lookup: revocable
    /// at once, opaque to whoever holds it.
    Reference,
    /// A JWT (RFC 9068, `typ: at+jwt`) signed RS256 with the ID tokens' keys,
    /// for resource servers that only know JWT.
    Jwt,
}

impl TokenFormat {
    /// The format's name in settings and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paseto => "paseto",
            Self::Reference => "reference",
            Self::Jwt => "jwt",
        }
    }

    /// The format named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "paseto" => Some(Self::Paseto),
            "reference" => Some(Self::Reference),
            "jwt" => Some(Self::Jwt),
            _ => None,
        }
    }
}

/// A seed API a client may speak besides standard OAuth 2.0 (see
/// `docs/api.md`). A client speaks a dialect only if it was registered for
/// it, and a dialect's request passes the same gate as `/token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Dialect {
    /// Seed 000: redirect login with tokens in the redirect, JSON `/token`.
    RedirectLogin,
    /// Seed 001: JSON `/sign-in` and `/register` answering codes, `GET /token`.
    PkceJson,
    /// Seed 002: `/authenticate` and `/refresh` for the configured client.
    KeySecret,
    /// Seed 004: `POST /oauth/token` with the lower-case `bearer` answer.
    SpringOauth,
    /// Seed 003: sign-in through an upstream provider (GitHub), answered
    /// with the document's token objects.
    ExternalLogin,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 5] = [
        Self::RedirectLogin,
        Self::PkceJson,
        Self::KeySecret,
        Self::SpringOauth,
        Self::ExternalLogin,
    ];

    /// The dialect's name in settings and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RedirectLogin => "redirect-login",
            Self::PkceJson => "pkce-json",
            Self::KeySecret => "key-secret",
            Self::SpringOauth => "spring-oauth",
            Self::ExternalLogin => "external-login",
        }
    }

    /// The dialect named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// Its id, unique.
    pub id: ClientId,
    /// Its display name, shown on the consent and account pages.
    pub name: String,
    /// How it authenticates.
    pub auth: ClientAuth,
    /// Where codes may be sent, each matched exactly (RFC 9700 section 4.1).
    pub redirect_uris: Vec<RedirectUri>,
    /// Where RP-initiated logout may send the browser afterwards, each
    /// matched exactly (OpenID Connect RP-Initiated Logout 1.0 section 3).
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes this client may ask for; a request without `scope` gets all.
    pub scope: Scope,
    /// Overrides the policy's access token lifetime for this client.
    pub access_token_ttl: Option<Duration>,
    /// Overrides the policy's refresh mode for this client.
    pub refresh_mode: Option<RefreshMode>,
    /// Trusted by the operator: users are not asked for consent.
    pub first_party: bool,
    /// The seed APIs this client speaks. With [`Dialect::RedirectLogin`],
    /// after login the browser is sent to the redirect URI with the tokens
    /// in its query.
    pub dialects: Vec<Dialect>,
    /// Accepts `code_challenge_method=plain` (RFC 7636 section 4.2 permits
    /// it only where S256 cannot be used).
    pub allow_plain_pkce: bool,
    /// The JWS algorithm its ID tokens are signed with (`RS256` unless it
    /// registered `EdDSA`).
    pub id_token_algorithm: KeyAlgorithm,
    /// How its access tokens are issued: PASETO, reference or JWT.
    pub token_format: TokenFormat,
    /// As a resource server, the clients whose tokens this client may
    /// introspect besides its own (RFC 7662 section 4: a protected resource
    /// learns only about tokens meant for it).
    pub audiences: Vec<ClientId>,
    /// The web origins its browser code runs on, allowed to read our
    /// token, revocation and userinfo answers (CORS); `None` for the
    /// origins of its https and loopback redirect URIs.
    pub allowed_origins: Option<Vec<WebOrigin>>,
    /// Signs in only people whose email address is verified: a code, a
    /// password grant or a device approval for anyone else is refused (the
    /// hosted pages ask them to confirm the address first).
    pub require_verified_email: bool,
    /// What it asks of second factors.
    pub mfa: ClientMfa,
    /// Lets in only members of these groups; empty lets in everyone.
    pub allowed_groups: Vec<super::GroupId>,
    /// May call the admin API: a confidential client of the
    /// client_credentials grant alone, whose tokens carry `admin:*` scopes
    /// (see [`crate::admin`]).
    pub admin: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl Client {
    /// Whether this client may act for `user` as far as the address goes:
    /// always, unless it signs in only confirmed addresses and the user's
    /// is not (or there is none).
    pub fn admits_address_of(&self, user: &super::User) -> bool {
        !self.require_verified_email || (user.email.is_some() && user.email_verified)
    }

    /// Whether browser code on `origin` may read this client's answers at
    /// the token, revocation and userinfo endpoints: an origin registered
    /// for it, or, when none are, the origin of one of its https or
    /// loopback redirect URIs (a loopback one on any port).
    pub fn allows_origin(&self, origin: &str) -> bool {
        match &self.allowed_origins {
            Some(allowed) => allowed.iter().any(|a| origin_matches(a, origin)),
            None => self
                .redirect_uris
                .iter()
                .filter_map(RedirectUri::web_origin)
                .any(|a| origin_matches(&a, origin)),
        }
    }

    /// [`Self::allows_origin`] for introspection, which a resource server
    /// asks from its back end: only an origin the operator registered for
    /// it by name, never one derived from redirect URIs.
    pub fn allows_origin_by_name(&self, origin: &str) -> bool {
        self.allowed_origins
            .as_deref()
            .is_some_and(|allowed| allowed.iter().any(|a| origin_matches(a, origin)))
    }

    /// Whether it holds no secret (and so must use PKCE).
    pub fn is_public(&self) -> bool {
        matches!(self.auth, ClientAuth::Public)
    }

    /// Whether it is registered for `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether this client was registered for `dialect`.
    pub fn speaks(&self, dialect: Dialect) -> bool {
        self.dialects.contains(&dialect)
    }

    /// Whether this client may learn about a token issued to `holder`: its
    /// own, or one of the audiences it is registered to serve.
    pub fn serves(&self, holder: &ClientId) -> bool {
        self.id == *holder || self.audiences.contains(holder)
    }

    /// The grant types a client gets when none are named at creation: the
    /// redirect-based flow and refreshing for everyone, and
    /// client_credentials only for a client that can keep a secret.
    pub fn default_grant_types(public: bool) -> Vec<GrantType> {
        if public {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        } else {
            vec![
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ]
        }
    }
}

/// What client registration hands to the client repository.
pub type NewClient = Client;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        assert!(ClientId::parse("0oabygpxgk9lXaMgF0h7").is_ok());
        assert!(ClientId::parse("breakout_app").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a:b").is_err());
        assert!(ClientId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn grant_types_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>().unwrap(), g);
        }
        assert!("implicit".parse::<GrantType>().is_err());
        // On the wire only the URN names the device grant; an operator may
        // use its short name.
        assert!("device_code".parse::<GrantType>().is_err());
        assert_eq!(
            GrantType::from_operator("device_code").unwrap(),
            GrantType::DeviceCode
        );
        assert_eq!(
            GrantType::from_operator("password").unwrap(),
            GrantType::Password
        );
    }
}

/// What a client asks of second factors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ClientMfa {
    /// People with a second factor use it in the browser; the password
    /// grant and the dialects' password sign-ins refuse them.
    #[default]
    Optional,
    /// Every sign-in to it uses two factors: people without one enrol one
    /// first, and no grant without a browser step is served.
    Required,
    /// As `Optional`, but the password grant lets people with a second
    /// factor through on the password alone (weaker; for legacy clients).
    PasswordGrantAllowed,
}

impl ClientMfa {
    /// The name it is stored and shown under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
            Self::PasswordGrantAllowed => "password-grant-allowed",
        }
    }

    /// The setting stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Optional, Self::Required, Self::PasswordGrantAllowed]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}
