//! The token request (RFC 6749 sections 4.1.3, 4.3.2, 4.4.2 and 6, RFC
//! 8628 section 3.4) as a form, parsed into the core's [`GrantRequest`]:
//! shared by `/token`, `/oauth/token` and seed 001's `GET /token`.
use auth_core::OAuthError;
use auth_core::grants::{GrantRequest, Login};
use auth_core::types::{GrantType, OpaqueToken, Scope};

use crate::edge::body::FormParams;

/// The token request's form (RFC 6749 sections 4.1.3, 4.3.2, 4.4.2 and 6,
/// RFC 8628 section 3.4). A confidential client authenticates with HTTP
/// Basic or with `client_id` and `client_secret` here; a public client
/// sends its `client_id`.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "describes what the handler parses, for the OpenAPI document"
)]
pub(crate) struct TokenForm {
    grant_type: GrantTypeName,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    device_code: Option<String>,
}

/// The grant types `/token` serves (which a client may use is its own
/// registration's business).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[expect(
    dead_code,
    reason = "describes what the handler parses, for the OpenAPI document"
)]
pub(crate) enum GrantTypeName {
    AuthorizationCode,
    Password,
    ClientCredentials,
    RefreshToken,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

/// What `POST /token` answers: RFC 6749's body to a form, seed 000's to
/// its JSON request.
/// Parses the grant-specific parameters. Everything that can be refused
/// without touching storage is refused here.
pub(crate) fn parse_grant(
    params: &mut FormParams,
    from: String,
) -> Result<GrantRequest, OAuthError> {
    let grant_type = params.require("grant_type")?;
    let scope = params
        .take("scope")
        .map(|s| Scope::parse(&s))
        .transpose()
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    match grant_type.parse::<GrantType>() {
        Ok(GrantType::Password) => Ok(GrantRequest::Password {
            login: Login::Name(params.require("username")?),
            password: params.require("password")?,
            scope,
            from,
        }),
        Ok(GrantType::ClientCredentials) => Ok(GrantRequest::ClientCredentials { scope }),
        Ok(GrantType::RefreshToken) => Ok(GrantRequest::RefreshToken {
            refresh_token: OpaqueToken::new(params.require("refresh_token")?),
            scope,
        }),
        Ok(GrantType::AuthorizationCode) => Ok(GrantRequest::AuthorizationCode {
            code: OpaqueToken::new(params.require("code")?),
            redirect_uri: params.take("redirect_uri"),
            code_verifier: params.take("code_verifier"),
        }),
        Ok(GrantType::DeviceCode) => Ok(GrantRequest::DeviceCode {
            device_code: OpaqueToken::new(params.require("device_code")?),
        }),
        Err(_) => Err(OAuthError::unsupported_grant_type(format!(
            "the grant type {:?} is not supported",
            grant_type.chars().take(64).collect::<String>()
        ))),
    }
}
