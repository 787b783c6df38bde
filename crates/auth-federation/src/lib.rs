//! Upstream identity providers for the `IdentityProvider` port of
//! `auth-core`: GitHub (web and device flows) and any OpenID provider (by
//! discovery or configured endpoints), over HTTPS with rustls.
//!
//! Every call has a deadline and a size limit and follows no redirect; a
//! provider that fails is an `UpstreamError::Failed`, never a hang. Nothing
//! here knows about accounts, storage or our own HTTP surface.

mod github;
mod http;
mod oidc;

pub use github::{DEFAULT_SCOPE as GITHUB_DEFAULT_SCOPE, GitHub, GitHubConfig};
pub use http::{Limits, UpstreamHttp};
pub use oidc::{Endpoints, OidcConfig, OpenIdProvider};
