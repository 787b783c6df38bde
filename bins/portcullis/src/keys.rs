//! Signing keys: the key-encryption key that seals them at rest, loading
//! and periodic reloading of the ring, rotation and pruning.
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};

use anyhow::Context as _;
use auth_core::ports::{ClientRepository, Clock, KeyRepository};
use auth_core::types::{KeyAlgorithm, SigningKey};
use auth_crypto::{JwsRing, KeyRing, KeySealer, generate_jws_key, generate_signing_key};
use auth_store::Database;
use chrono::{DateTime, Duration, Utc};

use crate::settings::Settings;
use crate::startup::Services;

/// The key-encryption key: from configuration, else from the key file,
/// else a new one written to the key file (mode 0600).
pub async fn load_sealer(settings: &Settings, database: &Database) -> anyhow::Result<KeySealer> {
    if let Some(kek) = &settings.key_encryption_key {
        return KeySealer::from_paserk(kek).context("PORTCULLIS_KEY_ENCRYPTION_KEY is not valid");
    }
    let path = &settings.key_file;
    if path.exists() {
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the key-encryption key file is readable by others; chmod 600 it");
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return KeySealer::from_paserk(&text)
            .with_context(|| format!("{} holds no valid key", path.display()));
    }
    // Keys sealed under a key-encryption key that is not here: a new one
    // would read none of them, and writing it would hide the mistake (a
    // wrong working directory, a missing variable).
    if !KeyRepository::list(database)
        .await
        .context("cannot read signing keys")?
        .is_empty()
    {
        anyhow::bail!(
            "the database holds signing keys, but their key-encryption key is not here: \
             set PORTCULLIS_KEY_ENCRYPTION_KEY or `key_file` (looked for {}); no new one was made",
            path.display()
        );
    }
    let (sealer, paserk) = KeySealer::generate()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(paserk.expose().as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "generated a key-encryption key for the signing keys; back it up (without it they cannot be read) \
         and give every node the same one with PORTCULLIS_KEY_ENCRYPTION_KEY"
    );
    Ok(sealer)
}

async fn unsealed(database: &Database, sealer: &KeySealer) -> anyhow::Result<Vec<SigningKey>> {
    let stored = KeyRepository::list(database)
        .await
        .context("cannot read signing keys")?;
    stored
        .iter()
        .map(|k| sealer.unseal(k).map_err(anyhow::Error::from))
        .collect()
}

/// A new key of `algorithm`.
fn generate(
    algorithm: KeyAlgorithm,
    now: DateTime<Utc>,
    activates_at: DateTime<Utc>,
) -> anyhow::Result<SigningKey> {
    Ok(match algorithm {
        KeyAlgorithm::PasetoV4Public => generate_signing_key(now, activates_at)?,
        jws => generate_jws_key(jws, now, activates_at)?,
    })
}

/// Loads the rings (PASETO for access tokens, JWS for ID tokens), making
/// and storing the first key of each algorithm that has none: on first
/// start, and on the first start after an upgrade that added one.
pub async fn load_rings(
    database: &Database,
    sealer: &KeySealer,
    clock: &dyn Clock,
) -> anyhow::Result<(KeyRing, JwsRing)> {
    let mut keys = unsealed(database, sealer).await?;
    let missing: Vec<KeyAlgorithm> = KeyAlgorithm::ALL
        .into_iter()
        .filter(|a| !keys.iter().any(|k| k.algorithm == *a))
        .collect();
    if !missing.is_empty() {
        let now = clock.now();
        for algorithm in missing {
            let key = generate(algorithm, now, now)?;
            // Two nodes starting at once on an empty database may both get
            // here; each stores its own key and both keys are loaded below,
            // so the tokens of either verify everywhere.
            database
                .insert(&sealer.seal(&key)?)
                .await
                .context("cannot store the signing key")?;
            tracing::info!(key_id = %key.key_id, %algorithm, "generated the first signing key");
        }
        keys = unsealed(database, sealer).await?;
    }
    Ok((KeyRing::load(&keys)?, JwsRing::load(&keys)?))
}

impl Services {
    /// Re-reads the keys, so a rotation made on any node reaches this one.
    pub async fn reload_keys(&self) -> anyhow::Result<()> {
        let keys = unsealed(&self.database, &self.sealer).await?;
        self.ring.replace(&keys)?;
        self.jws.replace(&keys)?;
        Ok(())
    }

    /// Adds a key of `algorithm` that starts signing `delay` from now;
    /// until then it is only published.
    pub async fn rotate_key(
        &self,
        algorithm: KeyAlgorithm,
        now: DateTime<Utc>,
        delay: Duration,
    ) -> anyhow::Result<SigningKey> {
        let key = generate(algorithm, now, now + delay)?;
        self.database.insert(&self.sealer.seal(&key)?).await?;
        tracing::warn!(
            target: "security",
            event = "key_rotated",
            key_id = %key.key_id,
            %algorithm,
            activates_at = %key.activates_at.to_rfc3339(),
            "a new signing key was published"
        );
        Ok(key)
    }

    /// Deletes the keys no unexpired token can need any more; returns their ids.
    pub async fn prune_keys(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
        let keys = KeyRepository::list(&self.database).await?;
        let clients = ClientRepository::list(&self.database).await?;
        // The longest access token lifetime any client has.
        let retention = clients
            .iter()
            .filter_map(|c| c.access_token_ttl)
            .fold(self.roles.grants.policy().access_token_ttl, Duration::max);
        let gone = auth_core::keys::prunable(&keys, retention, now);
        for id in &gone {
            KeyRepository::delete(&self.database, id).await?;
            tracing::warn!(target: "security", event = "key_pruned", key_id = %id, "a retired signing key was deleted");
        }
        Ok(gone)
    }
}
