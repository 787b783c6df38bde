//! Reading and parsing request bodies strictly.
use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{Bytes, Payload};
use auth_core::OAuthError;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;

use crate::edge::error::ApiError;

/// Reads the whole body, refusing it with 413 as soon as it passes `limit`.
pub(crate) async fn read_limited(payload: Payload, limit: usize) -> Result<Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(OAuthError::invalid_request("the request body could not be read").into()),
        Err(_) => Err(ApiError::TooLarge(limit)),
    }
}

/// Reads a form body into the endpoint's form struct: content type
/// checked, size limited, parsed by RFC 6749's rules
/// ([`FormParams::parse_into`]).
pub(crate) async fn read_form<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<T, ApiError> {
    Ok(read_form_params(req, payload, limit).await?.into_form()?)
}

/// [`read_form`], stopping at the parameters.
async fn read_form_params(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<FormParams, ApiError> {
    require_form(req)?;
    let body = read_limited(payload, limit).await?;
    Ok(FormParams::parse(&body)?)
}

/// A query string parsed into the endpoint's form struct.
pub(crate) fn read_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, OAuthError> {
    FormParams::parse_into(req.query_string().as_bytes())
}

/// A text a request must carry: absent (or, in JSON, `""`) is missing.
pub(crate) trait Text {
    fn is_blank(&self) -> bool;
}

impl Text for String {
    fn is_blank(&self) -> bool {
        self.is_empty()
    }
}

impl Text for SecretString {
    fn is_blank(&self) -> bool {
        self.expose_secret().is_empty()
    }
}

/// The form parameter `name`, which the request must carry.
pub(crate) fn required<T: Text>(value: Option<T>, name: &'static str) -> Result<T, OAuthError> {
    present(value)
        .ok_or_else(|| OAuthError::invalid_request(format!("the parameter {name} is missing")))
}

/// `value` unless it is absent or blank.
pub(crate) fn present<T: Text>(value: Option<T>) -> Option<T> {
    value.filter(|v| !v.is_blank())
}

/// A password as a sign-in sent it, for the core's check.
pub(crate) fn password(secret: SecretString) -> auth_core::types::PasswordAttempt {
    auth_core::types::PasswordAttempt::new(secret.expose_secret())
}

/// A secret's text, for the one place that checks it.
pub(crate) fn expose(secret: SecretString) -> String {
    secret.expose_secret().to_owned()
}

/// Reads a JSON object body, size limited.
pub(crate) async fn read_json_object(
    payload: Payload,
    limit: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let body = read_limited(payload, limit).await?;
    serde_json::from_slice(&body)
        .map_err(|_| OAuthError::invalid_request("the body is not a JSON object").into())
}

/// The media type of the request, lower-cased, without parameters.
pub(crate) fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Requires an `application/x-www-form-urlencoded` body.
pub(crate) fn require_form(req: &HttpRequest) -> Result<(), ApiError> {
    match media_type(req).as_str() {
        "application/x-www-form-urlencoded" => Ok(()),
        "application/json" => Err(ApiError::UnsupportedMediaType(
            "this endpoint takes an application/x-www-form-urlencoded body, not JSON (RFC 6749 section 4)",
        )),
        "" => Err(ApiError::UnsupportedMediaType(
            "the request has no Content-Type; send application/x-www-form-urlencoded",
        )),
        _ => Err(ApiError::UnsupportedMediaType(
            "this endpoint takes an application/x-www-form-urlencoded body",
        )),
    }
}

/// Form parameters, parsed by RFC 6749's rules: a parameter sent twice is an
/// error (section 3.2), and one sent without a value counts as omitted.
/// Their values may be secrets, so `Debug` names the parameters only.
#[derive(Default)]
pub(crate) struct FormParams(HashMap<String, String>);

impl std::fmt::Debug for FormParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl FormParams {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|_| OAuthError::invalid_request("the form body is not valid URL encoding"))?;
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {k} is given more than once"
                )));
            }
            if !v.is_empty() {
                map.insert(k, v);
            } else {
                map.entry(k).or_insert_with(String::new);
            }
        }
        map.retain(|_, v| !v.is_empty());
        Ok(Self(map))
    }

    /// The parameters as the endpoint's own form struct, which is at once
    /// its parser, its OpenAPI schema and its redacting `Debug`: its fields
    /// are optional strings (or `secrecy` strings for secrets), and each
    /// handler says what a missing one means. Parameters the struct does
    /// not name are ignored (RFC 6749 section 3.1).
    pub(crate) fn into_form<T: DeserializeOwned>(self) -> Result<T, OAuthError> {
        let fields = self
            .0
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect::<serde_json::Map<_, _>>();
        serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| OAuthError::invalid_request(format!("the form is not valid: {e}")))
    }

    /// Parses a query string or form body straight into the endpoint's
    /// form struct ([`Self::parse`], then [`Self::into_form`]).
    pub(crate) fn parse_into<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, OAuthError> {
        Self::parse(bytes)?.into_form()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_values_omitted() {
        assert!(FormParams::parse(b"a=1&a=2").is_err());
        assert!(FormParams::parse(b"a=&a=2").is_err());
        let p = FormParams::parse(b"a=&b=x+y&c=%40").unwrap();
        assert_eq!(p.0.get("a"), None);
        assert_eq!(p.0.get("b").map(String::as_str), Some("x y"));
        assert_eq!(p.0.get("c").map(String::as_str), Some("@"));
    }
}
