//! Storage adapters for the ports of `auth-core`: Diesel repositories over
//! SQLite (the embedded default) and PostgreSQL (for scale-out), chosen by
//! the database URL's scheme, with embedded migrations for both.
//!
//! Every query is written once and type-checked against both backends (see
//! `with_conn!`). Steps that must not race are single conditional statements
//! or one short transaction. Nothing here knows about HTTP or grant rules.

#[macro_use]
mod database;
mod access_cache;
mod client_cache;
mod clients;
mod codes;
mod devices;
mod factors;
mod federation;
mod groups;
mod keys;
mod mail;
mod migrate;
mod rows;
mod schema;
mod sessions;
mod statements;
mod sweep;
mod throttles;
mod tokens;
mod user_records;
mod users;
mod writer;

pub use access_cache::CachedAccessTokens;
pub use client_cache::CachedClients;
pub use database::{Backend, Database, DatabaseUrlError, OpenError};
pub use users::LoginNameConflict;
