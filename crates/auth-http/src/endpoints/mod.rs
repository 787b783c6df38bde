//! The OAuth 2.0 and OpenID Connect protocol endpoints, and the operations
//! probes: each handler parses its request, calls the core, and writes the
//! answer in the RFC's format.
pub(crate) mod device;
pub(crate) mod health;
pub(crate) mod introspection;
pub(crate) mod logout;
pub(crate) mod metadata;
pub(crate) mod metrics;
pub(crate) mod openapi;
pub(crate) mod token;
pub(crate) mod userinfo;
