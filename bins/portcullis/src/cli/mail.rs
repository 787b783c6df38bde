//! `portcullis mail ...`: the mail server, as an operator checks it.
use anyhow::Context as _;
use auth_core::ports::MailTransport;
use auth_core::types::{Email, Letter, Message};

use crate::startup::Services;

/// Sends one test letter now (not through the outbox) and prints what the
/// server answered.
pub(crate) async fn test(services: &Services, to: &str) -> anyhow::Result<()> {
    let mailer = services
        .mailer
        .as_ref()
        .context("no mail server is configured: set [smtp] url and from (or PORTCULLIS_SMTP_URL and PORTCULLIS_SMTP_FROM)")?;
    let to = Email::parse(to).with_context(|| format!("{to:?} is not an email address"))?;
    let letter = Letter {
        to: to.as_str().to_owned(),
        username: String::new(),
        message: Message::Test,
    };
    let answer = mailer
        .send(services.ports.random.uuid(), &letter)
        .await
        .context("the mail server did not take the test message")?;
    println!(
        "the mail server took the message for {}: {answer}",
        to.as_str()
    );
    Ok(())
}
