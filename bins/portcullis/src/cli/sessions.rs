//! `portcullis sessions ...`: browser sessions, as an operator.
use anyhow::Context as _;
use auth_core::accounts::end_user_sessions;
use auth_core::ports::Clock;
use clap::Subcommand;

use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCommand {
    /// End every browser session of an account: it signs in again
    /// everywhere (its refresh tokens stay; `user set-password` ends those).
    Revoke {
        /// Username, email or user id.
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(
    cmd: &SessionsCommand,
    services: &Services,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    match cmd {
        SessionsCommand::Revoke { user, json } => {
            let (account, ended) = end_user_sessions(&services.roles.accounts, user, clock.now())
                .await?
                .with_context(|| format!("no account is named {user:?}"))?;
            tracing::warn!(target: "security", event = "sessions_revoked", user_id = %account.id, ended, "an operator signed an account out everywhere: sessions, refresh and access tokens");
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"user_id": account.id.to_string(), "sessions_ended": ended})
                );
            } else {
                println!("{}: {ended} sessions ended", account.id);
            }
            Ok(())
        }
    }
}
