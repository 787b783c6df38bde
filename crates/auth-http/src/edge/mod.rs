//! What every handler stands on: the body and its limits, the bearer and
//! the client's credentials, cookies and CSRF, the pending authorization
//! request, the one mapping of errors to HTTP, and the OpenAPI descriptions
//! of the answers. Nothing here serves a route.
pub(crate) mod bearer;
pub(crate) mod body;
pub(crate) mod browser;
pub(crate) mod client_auth;
pub(crate) mod cors;
pub(crate) mod error;
pub(crate) mod grant;
pub(crate) mod metrics;
pub(crate) mod now;
pub(crate) mod pending;
pub(crate) mod redirect;
pub(crate) mod request_id;
pub(crate) mod responses;
pub(crate) mod security;
