//! Server metadata (RFC 8414) and the public key set.
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use serde::Serialize;

use crate::state::AppState;

const CLIENT_AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "none"];

/// What both metadata documents say alike (RFC 8414 section 2, OpenID
/// Connect Discovery 1.0 section 3): the same values in each.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Common {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    /// The JWS keys of ID tokens and JWT access tokens (`GET /jwks`).
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    device_authorization_endpoint: String,
    scopes_supported: [&'static str; 4],
    response_types_supported: [&'static str; 1],
    response_modes_supported: [&'static str; 1],
    grant_types_supported: [&'static str; 5],
    token_endpoint_auth_methods_supported: [&'static str; 3],
    code_challenge_methods_supported: [&'static str; 2],
    /// RFC 9207: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: bool,
}

impl Common {
    fn of(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{issuer}/authorize"),
            token_endpoint: format!("{issuer}/token"),
            userinfo_endpoint: format!("{issuer}/userinfo"),
            jwks_uri: format!("{issuer}/jwks"),
            introspection_endpoint: format!("{issuer}/introspect"),
            revocation_endpoint: format!("{issuer}/revoke"),
            device_authorization_endpoint: format!("{issuer}/device_authorization"),
            scopes_supported: OPENID_SCOPES,
            response_types_supported: ["code"],
            response_modes_supported: ["query"],
            grant_types_supported: [
                "authorization_code",
                "password",
                "client_credentials",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
            code_challenge_methods_supported: ["S256", "plain"],
            authorization_response_iss_parameter_supported: true,
        }
    }
}

/// RFC 8414 section 2, listing only what this server implements.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ServerMetadata {
    #[serde(flatten)]
    common: Common,
    introspection_endpoint_auth_methods_supported: [&'static str; 3],
    revocation_endpoint_auth_methods_supported: [&'static str; 3],
    /// Where the PASERK public keys are (`GET /.well-known/paserk`).
    paserk_uri: String,
    access_token_formats_supported: [&'static str; 3],
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
        common: Common::of(issuer),
        introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        paserk_uri: format!("{issuer}/.well-known/paserk"),
        access_token_formats_supported: ["paseto.v4.public", "reference", "jwt"],
    })
}

/// The scopes with a meaning of their own here; a client may be given any
/// other scope names as well.
const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "email", "groups"];

/// The claims an ID token or userinfo may carry.
const CLAIMS: [&str; 19] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "amr",
    "acr",
    "nonce",
    "azp",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "groups",
];

/// OpenID Connect Discovery 1.0 section 3: the same endpoints as the RFC
/// 8414 document, and what this provider signs and releases.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct OpenIdConfiguration {
    #[serde(flatten)]
    common: Common,
    /// RP-Initiated Logout 1.0.
    end_session_endpoint: String,
    subject_types_supported: [&'static str; 1],
    /// Always RS256 (Core section 15.1), and EdDSA.
    id_token_signing_alg_values_supported: Vec<&'static str>,
    claims_supported: [&'static str; 19],
    /// The authentication levels `acr_values` may ask for, weakest first
    /// (docs/oidc.md).
    acr_values_supported: Vec<&'static str>,
    claims_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0).
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "The provider's metadata", body = OpenIdConfiguration)),
)]
#[get("/.well-known/openid-configuration")]
pub(crate) async fn openid_configuration(state: Data<AppState>) -> HttpResponse {
    let issuer = state.issuer();
    let mut algorithms: Vec<&'static str> = state
        .grants
        .id_token_algorithms()
        .into_iter()
        .map(|a| a.as_str())
        .collect();
    algorithms.sort_by_key(|a| *a != "RS256");
    HttpResponse::Ok().json(OpenIdConfiguration {
        common: Common::of(issuer),
        end_session_endpoint: format!("{issuer}/end_session"),
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: algorithms,
        claims_supported: CLAIMS,
        acr_values_supported: auth_core::types::AuthLevel::ALL
            .iter()
            .map(|l| l.acr())
            .collect(),
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
    })
}

/// A JWK Set (RFC 7517 section 5).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Jwks {
    /// Public JWKs, each with `kid` (its RFC 7638 thumbprint), `alg` and `use`.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// `GET /jwks`: the keys ID tokens are verified with, pending ones
/// included (a relying party caching the set learns a key before it signs).
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "The JWS public keys", body = Jwks)),
)]
#[get("/jwks")]
pub(crate) async fn jwks(state: Data<AppState>) -> HttpResponse {
    let keys = state
        .grants
        .id_token_keys()
        .iter()
        .filter_map(|k| serde_json::from_str(k).ok())
        .collect();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .json(Jwks { keys })
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
        .grants
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
