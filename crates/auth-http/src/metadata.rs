//! Server metadata (RFC 8414) and the public key set.
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use serde::Serialize;

use crate::AppState;

const CLIENT_AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

/// RFC 8414 section 2, listing only what this server implements.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ServerMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    introspection_endpoint: String,
    device_authorization_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint_auth_methods_supported: [&'static str; 3],
    revocation_endpoint_auth_methods_supported: [&'static str; 3],
    /// Where the PASERK public keys are (`GET /.well-known/paserk`).
    paserk_uri: String,
    response_types_supported: [&'static str; 1],
    response_modes_supported: [&'static str; 1],
    grant_types_supported: [&'static str; 5],
    code_challenge_methods_supported: [&'static str; 2],
    token_endpoint_auth_methods_supported: [&'static str; 3],
    access_token_formats_supported: [&'static str; 2],
    /// RFC 9207: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: bool,
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "The server's metadata", body = ServerMetadata)),
)]
#[get("/.well-known/oauth-authorization-server")]
pub(crate) async fn authorization_server(state: Data<AppState>) -> HttpResponse {
    let issuer = state.issuer();
    HttpResponse::Ok().json(ServerMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: format!("{issuer}/authorize"),
        token_endpoint: format!("{issuer}/token"),
        userinfo_endpoint: format!("{issuer}/userinfo"),
        introspection_endpoint: format!("{issuer}/introspect"),
        device_authorization_endpoint: format!("{issuer}/device_authorization"),
        revocation_endpoint: format!("{issuer}/revoke"),
        introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        paserk_uri: format!("{issuer}/.well-known/paserk"),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: [
            "authorization_code",
            "password",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
        code_challenge_methods_supported: ["S256", "plain"],
        token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        access_token_formats_supported: ["paseto.v4.public", "reference"],
        authorization_response_iss_parameter_supported: true,
    })
}

/// One public key in PASERK form.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PublicKey {
    /// The PASERK key id (`k4.pid.…`) a token's footer names.
    kid: String,
    /// The key (`k4.public.…`).
    paserk: String,
    /// `v4`.
    version: &'static str,
    /// `public`.
    purpose: &'static str,
}

/// The key set.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct KeySet {
    /// Current first.
    keys: Vec<PublicKey>,
}

/// `GET /.well-known/paserk`: the keys resource servers verify access tokens
/// with, current first. Cacheable for a short while: a rotated-in key is
/// published before it signs (see docs/architecture.md).
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "The public keys", body = KeySet)),
)]
#[get("/.well-known/paserk")]
pub(crate) async fn key_set(state: Data<AppState>) -> HttpResponse {
    let keys = state
        .tokens
        .public_keys()
        .into_iter()
        .map(|k| PublicKey {
            kid: k.key_id,
            paserk: k.paserk,
            version: "v4",
            purpose: "public",
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .json(KeySet { keys })
}
