//! `portcullis group ...`: groups and their members, through the core's
//! group operations (the rules the admin API will share).
use auth_core::events::SecurityEvent;
use auth_core::ports::Clock;
use auth_core::types::Group;
use clap::Subcommand;

use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a group.
    Create {
        /// Its name: letters, digits and `._-@+:`, case-insensitive.
        #[arg(long)]
        name: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// Rename a group or change its description (members and the clients
    /// that admit it stay).
    Rename {
        /// Its current name.
        #[arg(long)]
        name: String,
        /// The new name.
        #[arg(long = "to")]
        to: Option<String>,
        /// The new description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a group and its memberships (refused while a client admits it).
    Delete {
        #[arg(long)]
        name: String,
    },
    /// List the groups.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a group and its members.
    Show {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Add an account to a group.
    Add {
        #[arg(long)]
        name: String,
        /// Username, email or user id.
        #[arg(long)]
        user: String,
    },
    /// Remove an account from a group; its refresh tokens at clients that
    /// no longer admit it are revoked.
    Remove {
        #[arg(long)]
        name: String,
        /// Username, email or user id.
        #[arg(long)]
        user: String,
    },
}

fn group_json(group: &Group) -> serde_json::Value {
    serde_json::json!({
        "id": group.id.to_string(),
        "name": group.name.as_str(),
        "description": group.description.as_str(),
        "created_at": group.created_at.to_rfc3339(),
        "updated_at": group.updated_at.to_rfc3339(),
    })
}

fn log(event: &SecurityEvent) {
    tracing::warn!(target: "security", event = event.name(), user_id = ?event.user_id().map(|u| u.to_string()), "an operator: {event}");
}

pub(crate) async fn run(
    cmd: &GroupCommand,
    services: &Services,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let accounts = &services.roles.accounts;
    let now = clock.now();
    match cmd {
        GroupCommand::Create {
            name,
            description,
            json,
        } => {
            let (group, event) = accounts.create_group(name, description, now).await?;
            log(&event);
            if *json {
                println!("{}", group_json(&group));
            } else {
                println!("{}: group {} created", group.id, group.name);
            }
        }
        GroupCommand::Rename {
            name,
            to,
            description,
        } => {
            anyhow::ensure!(
                to.is_some() || description.is_some(),
                "give --to NEW-NAME, --description TEXT or both"
            );
            let (group, event) = accounts
                .update_group(
                    name,
                    auth_core::groups::GroupUpdate {
                        name: to.as_deref(),
                        description: description.as_deref(),
                        seen: None,
                    },
                    now,
                )
                .await?;
            log(&event);
            println!("{}: group {} updated", group.id, group.name);
        }
        GroupCommand::Delete { name } => {
            let event = accounts.delete_group(name, None).await?;
            log(&event);
            println!("group {name} deleted");
        }
        GroupCommand::List { json } => {
            let groups = accounts.list_groups().await?;
            if *json {
                let all: Vec<_> = groups.iter().map(group_json).collect();
                println!("{}", serde_json::Value::Array(all));
            } else {
                for g in &groups {
                    println!("{}\t{}\t{}", g.id, g.name, g.description.as_str());
                }
            }
        }
        GroupCommand::Show { name, json } => {
            let shown = accounts.group_members(name).await?;
            if *json {
                let mut out = group_json(&shown.group);
                out["members"] = shown
                    .members
                    .iter()
                    .map(|u| serde_json::json!({"id": u.id.to_string(), "username": u.username.as_str()}))
                    .collect();
                println!("{out}");
            } else {
                println!("{}\t{}", shown.group.id, shown.group.name);
                for u in &shown.members {
                    println!("  {}\t{}", u.id, u.username);
                }
            }
        }
        GroupCommand::Add { name, user } => {
            let event = accounts.add_to_group(name, user, now).await?;
            log(&event);
            println!("{user} is in group {name}");
        }
        GroupCommand::Remove { name, user } => {
            let event = accounts.remove_from_group(name, user, now).await?;
            log(&event);
            println!("{user} is not in group {name} ({event})");
        }
    }
    Ok(())
}
