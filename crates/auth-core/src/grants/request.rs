//! A token request as the token endpoint parsed it.
use crate::types::{GrantType, LoginName, OpaqueToken, PasswordAttempt, Scope, UserId};

/// A token request after parsing, before any check against stored state.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GrantRequest {
    /// RFC 6749 section 4.3.
    Password {
        /// Whom the login names.
        login: Login,
        /// The password, as sent.
        password: PasswordAttempt,
        /// The scope asked for; all the client may have when absent.
        scope: Option<Scope>,
        /// The client address the attempt came from: failed attempts are
        /// counted per account and address.
        from: String,
    },
    /// RFC 6749 section 4.4.
    ClientCredentials {
        /// The scope asked for; all the client may have when absent.
        scope: Option<Scope>,
    },
    /// RFC 6749 section 6.
    RefreshToken {
        /// The refresh token presented.
        refresh_token: OpaqueToken,
        /// A narrower scope for this access token only (RFC 6749 section 6).
        scope: Option<Scope>,
    },
    /// RFC 8628 section 3.4.
    DeviceCode {
        /// The device code the device authorization endpoint issued.
        device_code: OpaqueToken,
    },
    /// RFC 6749 section 4.1.3 with RFC 7636 section 4.5.
    AuthorizationCode {
        /// The code the authorization endpoint issued.
        code: OpaqueToken,
        /// The redirect URI of the authorization request, when it named one.
        redirect_uri: Option<String>,
        /// The PKCE verifier (RFC 7636), when the request sent a challenge.
        code_verifier: Option<String>,
    },
}

impl GrantRequest {
    /// The grant type this request is for.
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::Password { .. } => GrantType::Password,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

/// Whom a password login names, as its API gives it: looked up once, in
/// the form it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Login {
    /// A username or an email, in the form it is looked up in.
    Name(LoginName),
    /// An account by its id: seed 002's user key. Looked up by id, never
    /// turned into a name and back.
    Account(UserId),
}
