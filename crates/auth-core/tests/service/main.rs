//! The core's services (grants, accounts, federation) driven over the
//! in-memory store, a fixed clock and test doubles for the crypto ports;
//! failures at a given call are mockall mocks of one port.
// Test support code: a broken fixture should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod accounts;
mod check;
mod doubles;
mod factors;
mod failures;
mod federation;
mod grants;
mod groups;
mod mail;
mod own_account;
mod world;
