//! Reading and parsing request bodies strictly.
use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{Bytes, Payload};
use auth_core::OAuthError;

use crate::edge::error::ApiError;

/// Reads the whole body, refusing it with 413 as soon as it passes `limit`.
pub(crate) async fn read_limited(payload: Payload, limit: usize) -> Result<Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(OAuthError::invalid_request("the request body could not be read").into()),
        Err(_) => Err(ApiError::TooLarge(limit)),
    }
}

/// Reads a form body: content type checked, size limited, parsed by RFC
/// 6749's rules.
pub(crate) async fn read_form(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
) -> Result<FormParams, ApiError> {
    require_form(req)?;
    let body = read_limited(payload, limit).await?;
    Ok(FormParams::parse(&body)?)
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
#[derive(Debug, Default)]
pub(crate) struct FormParams(HashMap<String, String>);

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

    pub(crate) fn peek(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    pub(crate) fn require(&mut self, name: &'static str) -> Result<String, OAuthError> {
        self.take(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the parameter {name} is missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_values_omitted() {
        assert!(FormParams::parse(b"a=1&a=2").is_err());
        assert!(FormParams::parse(b"a=&a=2").is_err());
        let mut p = FormParams::parse(b"a=&b=x+y&c=%40").unwrap();
        assert_eq!(p.take("a"), None);
        assert_eq!(p.take("b").as_deref(), Some("x y"));
        assert_eq!(p.take("c").as_deref(), Some("@"));
    }
}
