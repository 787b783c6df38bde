//! The Portcullis binary's library half: settings, wiring and the command
//! line, kept out of `main.rs` so the end-to-end tests can boot the real
//! server in-process.

pub mod background;
pub mod cli;
pub mod clock;
pub mod keys;
pub mod logging;
pub mod settings;
pub mod startup;
pub mod tls;

pub use startup::{Application, Services};
