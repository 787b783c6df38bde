//! TLS served by the node itself (rustls through actix-web, HTTP/2 and
//! HTTP/1.1 by ALPN), from a PEM certificate chain and private key that
//! are read again when either file changes, so a renewed certificate
//! (certbot, an ACME client, a secret mount) is served without a restart.
//! A changed pair that does not load is logged and the pair in use kept.
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Where the certificate chain and its key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server's certificate first, then its intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads and checks a pair: the chain parses, the key parses and is the
/// certificate's.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .with_context(|| format!("cannot read the certificate {}", files.cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("{} holds no certificate", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("cannot read the private key {}", files.key.display()))?;
    CertifiedKey::from_der(chain, key, provider).with_context(|| {
        format!(
            "the private key {} is not the key of the certificate {}",
            files.key.display(),
            files.cert.display()
        )
    })
}

/// The pair in use, swapped when the files change.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds the last good pair.
        Some(match self.0.read() {
            Ok(pair) => pair.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }
}

/// The files' modification times, to notice a change.
fn stamps(files: &TlsFiles) -> (Option<SystemTime>, Option<SystemTime>) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (modified(&files.cert), modified(&files.key))
}

/// The server's TLS configuration over the pair `files` names, and a task
/// that reloads the pair every `every` when a file changed. Fails (and
/// `serve` with it) when the pair does not load now.
pub fn server_config(files: &TlsFiles, every: Duration) -> anyhow::Result<rustls::ServerConfig> {
    let provider = provider();
    let current = Arc::new(Current(RwLock::new(Arc::new(load(files, &provider)?))));
    let config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
    let files = files.clone();
    tokio::spawn(async move {
        let mut seen = stamps(&files);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = stamps(&files);
            if now == seen {
                continue;
            }
            seen = now;
            match load(&files, &provider) {
                Ok(pair) => {
                    if let Ok(mut slot) = current.0.write() {
                        *slot = Arc::new(pair);
                    }
                    tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
                }
                // Half-written (one file renewed, the other not yet) or
                // wrong: keep serving the pair in use; the next change of
                // either file is tried again.
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "TLS certificate not reloaded"),
            }
        }
    });
    Ok(config)
}
