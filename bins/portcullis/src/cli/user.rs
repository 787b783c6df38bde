//! `portcullis user ...`: accounts, as an operator.
use std::io::Read as _;

use anyhow::Context as _;
use auth_core::accounts::{
    Invitation, UserSpec, delete_user, find_user, invite_user, register_user, set_email_verified,
    set_user_disabled, set_user_password,
};
use auth_core::ports::{Clock, UserRepository};
use auth_core::types::{Email, LinkPurpose, Password, Username};
use clap::Subcommand;

use super::print_report;
use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long = "given-name")]
        given_name: Option<String>,
        #[arg(long = "family-name")]
        family_name: Option<String>,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long = "password-stdin", required = true)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it signs in nowhere, its sessions end, its refresh
    /// tokens are revoked and its access tokens are refused.
    Disable {
        /// Username, email or user id.
        who: String,
    },
    /// Enable a disabled account again (its old sessions and refresh tokens
    /// stay ended).
    Enable {
        /// Username, email or user id.
        who: String,
    },
    /// Show an account.
    Show {
        /// Username, email or user id.
        who: String,
        #[arg(long)]
        json: bool,
    },
    /// Set an account's password, read from standard input; its sessions
    /// end and its refresh tokens are revoked.
    SetPassword {
        /// Username, email or user id.
        who: String,
        /// Read the password from standard input (required).
        #[arg(long = "password-stdin", required = true)]
        password_stdin: bool,
    },
    /// Delete an account with its sessions, tokens and linked identities.
    Delete {
        /// Username, email or user id.
        who: String,
    },
    /// Change what an operator vouches for about an account.
    Update {
        /// Username, email or user id.
        who: String,
        /// Mark its email address verified (`true`) or not (`false`), as
        /// `email_verified` then says in ID tokens and userinfo.
        #[arg(long = "email-verified", action = clap::ArgAction::Set)]
        email_verified: Option<bool>,
    },
    /// Make a link (30 minutes, single use) that sets a new password for an
    /// account, and print it, for the operator to hand over (no mail is
    /// sent). Older recovery links of the account stop working.
    ResetLink {
        /// Username, email or user id.
        who: String,
    },
    /// Create an account without a password and mail its owner a link (7
    /// days, single use) to choose one; opening it verifies the address.
    Invite {
        /// The address the invitation goes to: the account's email.
        #[arg(long)]
        email: String,
        /// The username; the address when not given.
        #[arg(long)]
        username: Option<String>,
        /// Print the link instead of mailing it (also without a mail server).
        #[arg(long = "print-link")]
        print_link: bool,
    },
    /// An account's second factors.
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
}

/// `user mfa show|reset`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MfaCommand {
    /// List the account's second factors and how many recovery codes are left.
    Show {
        /// Username, email or user id.
        who: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove every second factor and recovery code of the account (its
    /// owner lost them): it signs in with the password alone until it
    /// enrols again. Its owner is told by mail where mail is set up.
    Reset {
        /// Username, email or user id.
        who: String,
        /// Confirm: the account loses its second factors.
        #[arg(long)]
        yes: bool,
    },
}

pub(crate) async fn run(
    cmd: &UserCommand,
    services: &Services,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            username,
            email,
            given_name,
            family_name,
            password_stdin: _,
        } => {
            let spec = UserSpec {
                username: Username::parse(username)?,
                email: email.as_deref().map(Email::parse).transpose()?,
                password: password_from_stdin()?,
                given_name: given_name.clone(),
                family_name: family_name.clone(),
            };
            let user = register_user(&services.roles.accounts, spec, clock.now()).await?;
            println!("user_id: {}", user.id);
            Ok(())
        }
        UserCommand::Show { who, json } => {
            let user = find_user(&services.roles.accounts, who)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            let links = services.federation.links_of(user.id).await?;
            let shown = serde_json::json!({
                "id": user.id.to_string(),
                "username": user.username.as_str(),
                "email": user.email.as_ref().map(|e| e.as_str()),
                "email_verified": user.email_verified,
                "given_name": user.given_name,
                "family_name": user.family_name,
                "disabled": user.disabled,
                "has_password": user.password_hash.is_some(),
                "created_at": user.created_at.to_rfc3339(),
                "linked_identities": links.iter().map(|l| serde_json::json!({
                    "provider": l.provider.as_str(), "subject": l.subject.as_str(),
                    "linked_at": l.created_at.to_rfc3339(),
                })).collect::<Vec<_>>(),
            });
            if *json {
                println!("{shown}");
            } else {
                print_report("", &shown);
            }
            Ok(())
        }
        UserCommand::SetPassword {
            who,
            password_stdin: _,
        } => {
            let password = password_from_stdin()?;
            let user = set_user_password(&services.roles.accounts, who, &password, clock.now())
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            tracing::warn!(target: "security", event = "password_set", user_id = %user.id, "an operator set an account's password");
            println!(
                "{}: password set; its sessions and refresh tokens ended",
                user.id
            );
            Ok(())
        }
        UserCommand::Delete { who } => {
            let user = delete_user(&services.roles.accounts, who)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            tracing::warn!(target: "security", event = "account_deleted", user_id = %user.id, "an operator deleted an account");
            println!("{} deleted", user.id);
            Ok(())
        }
        UserCommand::List { json } => {
            for u in UserRepository::list(&services.database).await? {
                let email = u.email.as_ref().map(|e| e.as_str()).unwrap_or("");
                if *json {
                    println!(
                        "{}",
                        serde_json::json!({"id": u.id.to_string(), "username": u.username.as_str(), "email": email, "disabled": u.disabled})
                    );
                } else {
                    println!(
                        "{}\t{}\t{email}\t{}",
                        u.id,
                        u.username,
                        if u.disabled { "disabled" } else { "active" }
                    );
                }
            }
            Ok(())
        }
        UserCommand::Update {
            who,
            email_verified,
        } => {
            let Some(verified) = email_verified else {
                anyhow::bail!("nothing to update: give --email-verified true or false");
            };
            let user = set_email_verified(&services.roles.accounts, who, *verified)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            tracing::warn!(target: "security", event = "email_verified_set", user_id = %user.id, verified, "an operator marked an account's email verified or not");
            println!("{}: email_verified {verified}", user.id);
            Ok(())
        }
        UserCommand::ResetLink { who } => {
            let user = find_user(&services.roles.accounts, who)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            let printed = services
                .roles
                .accounts
                .print_link(LinkPurpose::Reset, user, clock.now())
                .await?
                .context("the account has no email address, which the link is bound to")?;
            tracing::warn!(target: "security", event = "reset_link_made", user_id = %printed.user.id, "an operator made a password recovery link");
            println!(
                "{}\n(works once, until {})",
                printed.url.expose(),
                printed.expires_at.to_rfc3339()
            );
            Ok(())
        }
        UserCommand::Invite {
            email,
            username,
            print_link,
        } => {
            let invitation = Invitation {
                email: Email::parse(email)?,
                username: username.as_deref().map(Username::parse).transpose()?,
            };
            let (user, printed) = invite_user(
                &services.roles.accounts,
                invitation,
                *print_link,
                clock.now(),
            )
            .await?;
            tracing::warn!(target: "security", event = "account_invited", user_id = %user.id, "an operator invited an account");
            println!("user_id: {}", user.id);
            match printed {
                Some(link) => println!(
                    "{}\n(works once, until {})",
                    link.url.expose(),
                    link.expires_at.to_rfc3339()
                ),
                None => println!("the invitation is in the outbox: the server mails it"),
            }
            Ok(())
        }
        UserCommand::Mfa { command } => mfa(command, services, clock).await,
        UserCommand::Disable { who } | UserCommand::Enable { who } => {
            let disable = matches!(cmd, UserCommand::Disable { .. });
            let user = set_user_disabled(&services.roles.accounts, who, disable, clock.now())
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            let (event, done) = if disable {
                ("account_disabled", "disabled")
            } else {
                ("account_enabled", "enabled")
            };
            tracing::warn!(target: "security", event, user_id = %user.id, "an operator {done} an account");
            println!("{} {done}", user.id);
            Ok(())
        }
    }
}

async fn mfa(command: &MfaCommand, services: &Services, clock: &dyn Clock) -> anyhow::Result<()> {
    let accounts = &services.roles.accounts;
    match command {
        MfaCommand::Show { who, json } => {
            let user = find_user(accounts, who)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            let overview = accounts.factor_overview(user.id).await?;
            let shown = serde_json::json!({
                "user_id": user.id.to_string(),
                "enabled": overview.enabled(),
                "recovery_codes_left": overview.recovery_codes_left,
                "factors": overview.factors.iter().map(|f| serde_json::json!({
                    "id": f.id.to_string(),
                    "kind": f.kind.as_str(),
                    "label": f.label.as_str(),
                    "created_at": f.created_at.to_rfc3339(),
                    "last_used_at": f.last_used_at.map(|t| t.to_rfc3339()),
                })).collect::<Vec<_>>(),
            });
            if *json {
                println!("{shown}");
            } else {
                print_report("", &shown);
            }
            Ok(())
        }
        MfaCommand::Reset { who, yes } => {
            anyhow::ensure!(
                *yes,
                "this removes every second factor of {who:?}: run it again with --yes"
            );
            let user = find_user(accounts, who)
                .await?
                .with_context(|| format!("no account is named {who:?}"))?;
            let (removed, event) = accounts.reset_mfa(user.id, clock.now()).await?;
            tracing::warn!(target: "security", event = event.name(), user_id = %user.id, factors = removed, "an operator reset an account's second factors");
            println!("{}: {removed} second factor(s) removed", user.id);
            Ok(())
        }
    }
}

/// Reads a password from standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<Password> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.strip_suffix('\n').unwrap_or(&password);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(Password::parse(password)?)
}
