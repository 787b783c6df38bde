//! End-to-end tests: the real server over HTTP, on SQLite and PostgreSQL.
mod accounts;
mod architecture;
mod bad_input;
mod boundaries;
mod browser;
mod concurrency;
mod device;
mod lifecycle;
mod metadata;
mod oidc;
mod outage;
mod real_browser;
mod rotation;
mod seeds;
mod store;
mod throttles;
mod token_endpoint;
