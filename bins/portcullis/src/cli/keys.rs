//! `portcullis keys ...`: the signing keys.

use auth_core::ports::Clock;
use clap::Subcommand;

use crate::settings::Settings;
use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Add a new signing key. It is published at once and signs after the
    /// activation delay (so cached key sets learn it first).
    Rotate {
        /// Sign with it at once (resource servers with a stale key set will
        /// refuse its tokens until they refetch).
        #[arg(long)]
        now: bool,
        /// Which key: paseto-v4-public (access tokens), RS256 or EdDSA (ID
        /// tokens). Without it, one new key of each.
        #[arg(long)]
        algorithm: Option<auth_core::types::KeyAlgorithm>,
    },
    /// List the signing keys.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete retired keys whose tokens have all expired.
    Prune,
}

pub(crate) async fn run(
    cmd: &KeysCommand,
    services: &Services,
    settings: &Settings,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let now = clock.now();
    match cmd {
        KeysCommand::Rotate {
            now: at_once,
            algorithm,
        } => {
            let delay = if *at_once {
                chrono::Duration::zero()
            } else {
                settings.key_activation_delay
            };
            let algorithms = match algorithm {
                Some(one) => vec![*one],
                None => auth_core::types::KeyAlgorithm::ALL.to_vec(),
            };
            for algorithm in algorithms {
                let key = services.rotate_key(algorithm, now, delay).await?;
                println!(
                    "key_id: {}\nalgorithm: {algorithm}\nsigns from: {}",
                    key.key_id,
                    key.activates_at.to_rfc3339()
                );
            }
            Ok(())
        }
        KeysCommand::List { json } => {
            let keys = auth_core::ports::KeyRepository::list(&services.database).await?;
            // The newest active key of each algorithm signs.
            let signers: Vec<String> = auth_core::types::KeyAlgorithm::ALL
                .into_iter()
                .filter_map(|a| {
                    keys.iter()
                        .find(|k| k.algorithm == a && k.is_active(now))
                        .map(|k| k.key_id.clone())
                })
                .collect();
            for k in keys {
                let status = if signers.contains(&k.key_id) {
                    "signing"
                } else if k.is_active(now) {
                    "retired"
                } else {
                    "pending"
                };
                if *json {
                    println!(
                        "{}",
                        serde_json::json!({"key_id": k.key_id, "algorithm": k.algorithm.as_str(), "status": status, "created_at": k.created_at.to_rfc3339(), "activates_at": k.activates_at.to_rfc3339()})
                    );
                } else {
                    println!(
                        "{}\t{}\t{status}\t{}",
                        k.key_id,
                        k.algorithm,
                        k.activates_at.to_rfc3339()
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Prune => {
            for id in services.prune_keys(now).await? {
                println!("deleted {id}");
            }
            Ok(())
        }
    }
}
