//! A short-lived cache in front of the client repository.
//!
//! Every token, introspection and revocation request authenticates a client
//! first; the registrations change rarely. Caching them (unknown ids too,
//! so a flood of made-up ids does not reach the database) for a few seconds
//! takes one query off each of those requests. A change made on another
//! node is seen here within the time to live; one made through this cache
//! is seen at once.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::ClientRepository;
use auth_core::types::{Client, ClientId, NewClient};

/// Past this many entries the cache starts over, so memory stays bounded.
const MAX_ENTRIES: usize = 10_000;

pub struct CachedClients {
    inner: Arc<dyn ClientRepository>,
    ttl: Duration,
    entries: RwLock<HashMap<ClientId, (Instant, Option<Client>)>>,
}

impl CachedClients {
    pub fn new(inner: Arc<dyn ClientRepository>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn cached(&self, id: &ClientId) -> Option<Option<Client>> {
        let entries = self.entries.read().ok()?;
        let (at, client) = entries.get(id)?;
        (at.elapsed() < self.ttl).then(|| client.clone())
    }

    fn remember(&self, id: &ClientId, client: Option<Client>) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.clone(), (Instant::now(), client));
        }
    }
}

#[async_trait]
impl ClientRepository for CachedClients {
    async fn create(&self, client: &NewClient) -> Result<(), StoreError> {
        self.inner.create(client).await?;
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&client.id);
        }
        Ok(())
    }

    async fn find(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        if let Some(hit) = self.cached(id) {
            return Ok(hit);
        }
        let found = self.inner.find(id).await?;
        self.remember(id, found.clone());
        Ok(found)
    }

    async fn list(&self) -> Result<Vec<Client>, StoreError> {
        self.inner.list().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts lookups; knows one client once it is created.
    #[derive(Default)]
    struct Counting {
        finds: AtomicUsize,
        stored: std::sync::Mutex<Vec<Client>>,
    }

    #[async_trait]
    impl ClientRepository for Counting {
        async fn create(&self, client: &NewClient) -> Result<(), StoreError> {
            self.stored.lock().unwrap().push(client.clone());
            Ok(())
        }
        async fn find(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
            self.finds.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .stored
                .lock()
                .unwrap()
                .iter()
                .find(|c| &c.id == id)
                .cloned())
        }
        async fn list(&self) -> Result<Vec<Client>, StoreError> {
            Ok(self.stored.lock().unwrap().clone())
        }
    }

    fn client(id: &str) -> Client {
        Client {
            id: ClientId::parse(id).unwrap(),
            name: id.into(),
            auth: auth_core::types::ClientAuth::Public,
            redirect_uris: vec![],
            grant_types: vec![],
            scope: auth_core::types::Scope::default(),
            access_token_ttl: None,
            refresh_mode: None,
            first_party: false,
            legacy_token_redirect: false,
            allow_plain_pkce: false,
            token_format: auth_core::types::TokenFormat::Paseto,
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn hits_misses_expiry_and_invalidation() {
        let inner = Arc::new(Counting::default());
        let cache = CachedClients::new(inner.clone(), Duration::from_millis(200));
        let id = ClientId::parse("app").unwrap();
        assert!(cache.find(&id).await.unwrap().is_none());
        assert!(
            cache.find(&id).await.unwrap().is_none(),
            "unknown ids are cached too"
        );
        assert_eq!(inner.finds.load(Ordering::SeqCst), 1);
        // Creating through the cache is seen at once.
        cache.create(&client("app")).await.unwrap();
        assert!(cache.find(&id).await.unwrap().is_some());
        assert_eq!(inner.finds.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(cache.find(&id).await.unwrap().is_some());
        assert_eq!(
            inner.finds.load(Ordering::SeqCst),
            3,
            "expired entries are looked up again"
        );
    }
}
