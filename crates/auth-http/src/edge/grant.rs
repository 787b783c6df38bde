//! The token request (RFC 6749 sections 4.1.3, 4.3.2, 4.4.2 and 6, RFC
//! 8628 section 3.4) as a form, parsed into the core's [`GrantRequest`]:
//! shared by `/token`, `/oauth/token` and seed 001's `GET /token`.
use auth_core::OAuthError;
use auth_core::grants::{GrantRequest, Login};
use auth_core::types::{GrantType, LoginName, OpaqueToken, Scope};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::edge::body::{expose, password, present, required};
use crate::edge::client_auth::ClientFields;

/// The token request's form (RFC 6749 sections 4.1.3, 4.3.2, 4.4.2 and 6,
/// RFC 8628 section 3.4). A confidential client authenticates with HTTP
/// Basic or with `client_id` and `client_secret` here; a public client
/// sends its `client_id`. Which fields a grant needs is [`Self::grant`]'s
/// business; secrets stay redacted in `Debug`.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TokenForm {
    grant_type: Option<GrantTypeName>,
    client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    client_secret: Option<SecretString>,
    scope: Option<String>,
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    code: Option<SecretString>,
    redirect_uri: Option<String>,
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    code_verifier: Option<SecretString>,
    username: Option<String>,
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    password: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    refresh_token: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    device_code: Option<SecretString>,
}

/// A `grant_type` value: one `/token` serves, or another, kept to name it
/// in the `unsupported_grant_type` refusal (which a client may use is its
/// own registration's business).
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "String")]
pub(crate) struct GrantTypeName(Result<GrantType, String>);

impl From<String> for GrantTypeName {
    fn from(value: String) -> Self {
        Self(value.parse::<GrantType>().map_err(|_| value))
    }
}

/// The grant types `/token` serves, as the document lists them.
const SERVED: [GrantType; 5] = [
    GrantType::AuthorizationCode,
    GrantType::Password,
    GrantType::ClientCredentials,
    GrantType::RefreshToken,
    GrantType::DeviceCode,
];

impl utoipa::PartialSchema for GrantTypeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(SERVED.iter().map(|g| g.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for GrantTypeName {}

impl TokenForm {
    /// The client's credentials in the form, taken out (the rest of the
    /// form is the grant's).
    pub(crate) fn take_client(&mut self) -> ClientFields {
        ClientFields {
            client_id: self.client_id.take(),
            client_secret: self.client_secret.take(),
        }
    }

    /// The grant-specific request. Everything that can be refused without
    /// touching storage is refused here; `from` is the client's address,
    /// which failed passwords are counted by.
    pub(crate) fn grant(self, from: String) -> Result<GrantRequest, OAuthError> {
        let grant_type = self
            .grant_type
            .ok_or_else(|| OAuthError::invalid_request("the parameter grant_type is missing"))?;
        let scope = present(self.scope)
            .map(|s| Scope::parse(&s))
            .transpose()
            .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
        let token = |value: Option<SecretString>, name| {
            required(value, name).map(|s| OpaqueToken::new(expose(s)))
        };
        match grant_type.0 {
            Ok(GrantType::Password) => Ok(GrantRequest::Password {
                login: Login::Name(LoginName::lookup(&required(self.username, "username")?)),
                password: password(required(self.password, "password")?),
                scope,
                from,
            }),
            Ok(GrantType::ClientCredentials) => Ok(GrantRequest::ClientCredentials { scope }),
            Ok(GrantType::RefreshToken) => Ok(GrantRequest::RefreshToken {
                refresh_token: token(self.refresh_token, "refresh_token")?,
                scope,
            }),
            Ok(GrantType::AuthorizationCode) => Ok(GrantRequest::AuthorizationCode {
                code: token(self.code, "code")?,
                redirect_uri: present(self.redirect_uri),
                code_verifier: present(self.code_verifier).map(expose),
            }),
            Ok(GrantType::DeviceCode) => Ok(GrantRequest::DeviceCode {
                device_code: token(self.device_code, "device_code")?,
            }),
            Err(other) => Err(OAuthError::unsupported_grant_type(format!(
                "the grant type {:?} is not supported",
                other.chars().take(64).collect::<String>()
            ))),
        }
    }

    /// Whether the form carries a client secret or a password: seed 001's
    /// `GET /token` refuses both in a URL.
    pub(crate) fn secret_named(&self) -> Option<&'static str> {
        if self.client_secret.is_some() {
            Some("client_secret")
        } else if self.password.is_some() {
            Some("password")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::body::FormParams;

    fn form(body: &str) -> TokenForm {
        FormParams::parse_into(body.as_bytes()).unwrap()
    }

    #[test]
    fn the_form_parses_each_grant_and_names_what_is_missing() {
        let grant = form("grant_type=password&username=alice&password=pw&scope=a+b")
            .grant("10.0.0.1".into())
            .unwrap();
        assert!(
            matches!(grant, GrantRequest::Password { ref login, ref password, .. }
            if *login == Login::Name(LoginName::lookup("Alice"))
                && password.clone().into_inner() == "pw")
        );
        let refused = form("grant_type=password&username=alice")
            .grant(String::new())
            .unwrap_err();
        assert_eq!(refused.description(), "the parameter password is missing");
        let unknown = form("grant_type=magic").grant(String::new()).unwrap_err();
        assert_eq!(unknown.code(), auth_core::ErrorCode::UnsupportedGrantType);
        assert!(form("").grant(String::new()).is_err());
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let printed = format!(
            "{:?}",
            form("grant_type=refresh_token&refresh_token=rt-secret&client_secret=cs-secret")
        );
        assert!(!printed.contains("rt-secret") && !printed.contains("cs-secret"));
    }
}
