//! The seed APIs, each served exactly as its document shows ("dialects").
//! A dialect translates its request shape into the core's commands and the
//! core's answer into its documented response shape; it holds no rules of
//! its own.
pub(crate) mod external_login;
pub(crate) mod key_secret;
pub(crate) mod pkce_json;
pub(crate) mod redirect_login;

use auth_core::OAuthError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::edge::body::{Text, present};

/// What a registration is told where self-registration is closed.
pub(crate) const REGISTRATION_CLOSED: &str = "self-registration is closed on this server";

/// What a registration refused by its throttle is told.
pub(crate) const REGISTRATION_THROTTLED: &str =
    "too many registrations from this address or in total; try again later";

/// The dialects' JSON registration bodies, told apart by their fields.
#[derive(Debug, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum RegisterJson {
    RedirectLogin(redirect_login::Registration),
    PkceJson(Box<pkce_json::Registration>),
    KeySecret(key_secret::Registration),
}

impl RegisterJson {
    /// The shape `fields` has among the dialects switched on (`None`
    /// when it has none of them), parsed as that dialect's body.
    pub(crate) fn recognise(
        fields: Map<String, Value>,
        on: crate::state::Dialects,
        key_secret: bool,
    ) -> Option<Result<Self, OAuthError>> {
        let has = |k: &str| fields.contains_key(k);
        if on.redirect_login && has("username") && has("password") && fields.len() == 2 {
            Some(parse_json(fields).map(Self::RedirectLogin))
        } else if on.pkce_json && has("client_id") && has("email") && has("code_challenge") {
            Some(parse_json(fields).map(|r| Self::PkceJson(Box::new(r))))
        } else if key_secret && has("user_id") && has("user_secret") && fields.len() == 2 {
            Some(parse_json(fields).map(Self::KeySecret))
        } else {
            None
        }
    }
}

/// A JSON body as the dialect's own request struct (its parser, schema
/// and redacting `Debug`): fields the struct does not name are ignored, and
/// one of the wrong type is refused in the parser's words.
pub(crate) fn parse_json<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, OAuthError> {
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| OAuthError::invalid_request(format!("the body is not valid: {e}")))
}

/// A field a JSON body must carry: absent, `null` and `""` are missing.
pub(crate) fn field<T: Text>(value: Option<T>, name: &'static str) -> Result<T, OAuthError> {
    present(value)
        .ok_or_else(|| OAuthError::invalid_request(format!("the field {name} is missing")))
}
