//! The web layer: actix-web routes, extractors, the mapping of core errors to
//! HTTP, and the dialect modules that serve the seed APIs.
//!
//! It depends on `auth-core` only and receives adapters as trait objects
//! inside [`AppState`]; it knows nothing of Diesel, argon2 or pasetors.
//!
//! Floors, each importing only from those below it: `state` (what every
//! handler shares); `edge` (bodies, cookies, client authentication, errors,
//! the pending authorization request); `dialects` (the seed APIs); `pages`
//! (the hosted pages, which hand seed 000's sign-in to its dialect);
//! `endpoints` (the OAuth and OpenID Connect protocol); and `routes`, the
//! table of all of them and the OpenAPI document it yields.

mod admin;
mod dialects;
mod edge;
mod endpoints;
mod pages;
mod routes;
mod state;

pub use edge::cors::cors;
pub use edge::error::ApiError;
pub use edge::metrics::{Metrics, measured};
pub use edge::request_id::traced;
pub use edge::security::logged;
pub use pages::render::{Pages, TemplateError};
pub use routes::{document as openapi_document, operations_routes, routes};
pub use state::{AppState, Dialects, Limits};

/// Headers every response carries. `Referrer-Policy: no-referrer`: a page
/// or redirect of ours never leaks its URL (with a code, a state or a
/// client's query) to the next site through `Referer`.
/// `X-Content-Type-Options: nosniff`: a browser takes every answer for the
/// type it says, never a JSON error for a script or a page. With `hsts`
/// (TLS served here, or an https issuer in front), `Strict-Transport-Security`
/// for a year: a browser that came once never speaks plain HTTP to us again.
pub fn default_headers(hsts: bool) -> actix_web::middleware::DefaultHeaders {
    use actix_web::http::header;
    let headers = actix_web::middleware::DefaultHeaders::new()
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if hsts {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    }
}
