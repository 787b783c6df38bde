//! The pure heart of Portcullis.
//!
//! This crate holds the domain types (parsed once, trusted afterwards), the
//! ports through which the outside world is reached, the token policy, and the
//! grant state machines. It does no I/O: it knows nothing of actix, diesel,
//! tokio, argon2, pasetors or any wire format. Time always comes in as an
//! argument, so every flow can be tested with a fixed clock.
#![deny(missing_docs)]

pub mod accounts;
pub mod admin;
pub mod authorize;
pub mod error;
pub mod events;
pub mod factors;
pub mod federation;
pub mod grants;
pub mod groups;
pub mod keys;
pub mod logout;
pub mod mail;
pub mod own_account;
pub mod policy;
pub mod ports;
pub mod service;
pub mod sessions;
pub mod throttle;
pub mod types;

pub use error::{ErrorCode, FlowError, OAuthError};
pub use policy::{RefreshMode, TokenPolicy};
