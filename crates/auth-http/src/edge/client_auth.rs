//! Taking client credentials from a request (RFC 6749 section 2.3.1).
use actix_web::HttpRequest;
use actix_web::http::header;
use auth_core::OAuthError;
use auth_core::grants::ClientCredentials;
use auth_core::types::{ClientId, OpaqueToken};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use secrecy::SecretString;
use serde::Deserialize;

use crate::edge::body::{expose, present};

/// A client's credentials in a form body (RFC 6749 section 2.3.1), for a
/// client that does not use HTTP Basic; a public client sends only its id.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct ClientFields {
    pub(crate) client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub(crate) client_secret: Option<SecretString>,
}

fn bad_basic() -> OAuthError {
    OAuthError::invalid_client("the Authorization header is not valid HTTP Basic credentials")
}

fn bad_client_id() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

/// Decodes `Basic base64(urlencode(id) ":" urlencode(secret))`. The id and
/// secret are form-urlencoded before base64 (RFC 6749 section 2.3.1), so
/// they are decoded here; actix-web-httpauth does not do that.
fn parse_basic(value: &str) -> Result<(String, String), OAuthError> {
    let (scheme, rest) = value.trim().split_once(' ').ok_or_else(bad_basic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad_basic());
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad_basic())?;
    let text = String::from_utf8(decoded).map_err(|_| bad_basic())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad_basic)?;
    let decode = |s: &str| -> Result<String, OAuthError> {
        let plus_as_space = s.replace('+', " ");
        percent_decode_str(&plus_as_space)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad_basic())
    };
    Ok((decode(id)?, decode(secret)?))
}

/// The client's credentials, from the Basic header or from the body's
/// `client_id` and `client_secret`. Using both mechanisms at once is
/// refused (RFC 6749 section 2.3: "MUST NOT use more than one
/// authentication method in each request").
pub(crate) fn credentials(
    req: &HttpRequest,
    fields: ClientFields,
) -> Result<ClientCredentials, OAuthError> {
    let body_id = present(fields.client_id);
    let body_secret = present(fields.client_secret).map(expose);
    let header = req.headers().get(header::AUTHORIZATION);
    let (id, secret) = match header {
        Some(value) => {
            let value = value.to_str().map_err(|_| bad_basic())?;
            let (id, secret) = parse_basic(value)?;
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "client credentials were sent both in the Authorization header and in the body",
                ));
            }
            if body_id.as_deref().is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            (id, Some(secret))
        }
        None => {
            let id = body_id.ok_or_else(|| {
                OAuthError::invalid_client(
                    "client authentication is required (HTTP Basic or client_id)",
                )
            })?;
            (id, body_secret)
        }
    };
    Ok(ClientCredentials {
        client_id: ClientId::parse(&id).map_err(|_| bad_client_id())?,
        secret: secret.filter(|s| !s.is_empty()).map(OpaqueToken::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_decoding() {
        let enc = |s: &str| format!("Basic {}", STANDARD.encode(s));
        assert_eq!(
            parse_basic(&enc("app:s%3Acret")).unwrap(),
            ("app".into(), "s:cret".into())
        );
        assert_eq!(
            parse_basic(&enc("app:a+b")).unwrap(),
            ("app".into(), "a b".into())
        );
        assert!(parse_basic("Basic !!!notbase64").is_err());
        assert!(parse_basic(&enc("no-colon")).is_err());
        assert!(parse_basic("Bearer abc").is_err());
        assert!(parse_basic("Basic").is_err());
    }
}
