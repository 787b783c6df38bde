//! The letters Portcullis sends, and how they leave: [`Letters`] renders a
//! core [`Letter`](auth_core::types::Letter) from the templates in
//! `templates/` (a text part and an HTML part each), and [`SmtpMailer`],
//! the core's `MailTransport`, delivers it over SMTP with lettre: rustls
//! only, pooled, implicit TLS (`smtps://`) or STARTTLS required (`smtp://`),
//! plain text only to a loopback host that asks for it.
//!
//! **Architecture invariant:** auth-mail knows nothing of storage, accounts
//! or HTTP: it turns a letter into a message and a message into an SMTP
//! server's answer. Whether and when to send is the core's `Postman`.
#![deny(missing_docs)]

mod render;
mod smtp;

pub use render::{Letters, Rendered};
pub use smtp::{SmtpError, SmtpMailer, SmtpSettings};
