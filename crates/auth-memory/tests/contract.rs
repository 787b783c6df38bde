//! The repository contract (`auth-contract`), which the databases pass too.
use std::sync::Arc;

use auth_contract::Repositories;
use auth_memory::MemoryStore;

auth_contract::store_contract!(
    [] || async { (Arc::new(MemoryStore::new()) as Arc<dyn Repositories>, ()) }
);
