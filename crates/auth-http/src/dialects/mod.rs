//! The seed APIs, each served exactly as its document shows ("dialects").
//! A dialect translates its request shape into the core's commands and the
//! core's answer into its documented response shape; it holds no rules of
//! its own.
pub(crate) mod external_login;
pub(crate) mod key_secret;
pub(crate) mod pkce_json;
pub(crate) mod redirect_login;

use auth_core::OAuthError;
use serde_json::{Map, Value};

/// What a registration refused by its throttle is told.
pub(crate) const REGISTRATION_THROTTLED: &str =
    "too many registrations from this address or in total; try again later";

/// The dialects' JSON registration bodies, told apart by their fields.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "describes what the handler parses, for the OpenAPI document"
)]
pub(crate) enum RegisterJson {
    RedirectLogin(redirect_login::Registration),
    PkceJson(Box<pkce_json::Registration>),
    KeySecret(key_secret::Registration),
}

/// A required string field of a JSON body.
pub(crate) fn field(fields: &Map<String, Value>, name: &'static str) -> Result<String, OAuthError> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(OAuthError::invalid_request(
            format!("the field {name} is missing"),
        )),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "the field {name} must be a string"
        ))),
    }
}

/// An optional string field of a JSON body.
pub(crate) fn optional_field(
    fields: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, OAuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(_) => field(fields, name).map(Some),
    }
}
