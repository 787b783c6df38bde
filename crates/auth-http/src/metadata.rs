//! Server metadata (RFC 8414) and the public key set.
use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Data;
use serde_json::json;

use crate::AppState;

/// Lists only what this server implements.
pub(crate) async fn authorization_server(state: Data<AppState>) -> HttpResponse {
    let issuer = state.tokens.issuer().trim_end_matches('/');
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "paserk_uri": format!("{issuer}/.well-known/paserk"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "password",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        "code_challenge_methods_supported": ["S256", "plain"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "access_token_formats_supported": ["paseto.v4.public", "reference"],
    }))
}

/// `GET /.well-known/paserk`: the keys resource servers verify access tokens
/// with, current first. Cacheable for a short while: a rotated-in key is
/// published before it signs (see docs/architecture.md).
pub(crate) async fn key_set(state: Data<AppState>) -> HttpResponse {
    let keys: Vec<_> = state
        .tokens
        .public_keys()
        .into_iter()
        .map(|k| json!({"kid": k.key_id, "paserk": k.paserk, "version": "v4", "purpose": "public"}))
        .collect();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .json(json!({ "keys": keys }))
}
