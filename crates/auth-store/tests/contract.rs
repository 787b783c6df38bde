//! The repository contract (`auth-contract`) on SQLite and PostgreSQL, and
//! what only a database has: checkpoints and migrations run twice.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a failed step is a failed test"
)]
use std::sync::Arc;

use auth_contract::Repositories;
use auth_contract::fixtures::{client, refresh};
use auth_contract::scratch::{Backend, ScratchDb};
use auth_core::ports::{ClientRepository, TokenRepository};
use auth_core::types::FamilyId;
use auth_store::Database;

async fn open(db: &ScratchDb) -> Database {
    Database::open(db.url(), 8).await.unwrap()
}

async fn scratch(backend: Backend) -> ScratchDb {
    ScratchDb::new(backend)
        .await
        .unwrap_or_else(|| panic!("{} is not set", auth_contract::scratch::POSTGRES_ENV))
}

async fn store(backend: Backend) -> (Arc<dyn Repositories>, ScratchDb) {
    let db = scratch(backend).await;
    (Arc::new(open(&db).await), db)
}

mod sqlite {
    use super::*;
    auth_contract::store_contract!([] || store(Backend::Sqlite));

    #[tokio::test]
    async fn a_checkpoint_keeps_what_was_written() {
        super::a_checkpoint_keeps_what_was_written(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn migrations_are_idempotent() {
        super::migrations_are_idempotent(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;
    auth_contract::store_contract!([#[cfg_attr(not(postgres_tests), ignore = "PORTCULLIS_TEST_POSTGRES was not set when the tests were built")]] || store(Backend::Postgres));

    #[tokio::test]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "PORTCULLIS_TEST_POSTGRES was not set when the tests were built"
    )]
    async fn a_checkpoint_keeps_what_was_written() {
        super::a_checkpoint_keeps_what_was_written(Backend::Postgres).await;
    }

    #[tokio::test]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "PORTCULLIS_TEST_POSTGRES was not set when the tests were built"
    )]
    async fn migrations_are_idempotent() {
        super::migrations_are_idempotent(Backend::Postgres).await;
    }
}

async fn a_checkpoint_keeps_what_was_written(backend: Backend) {
    let db = scratch(backend).await;
    let d = open(&db).await;
    ClientRepository::create(&d, &client("app")).await.unwrap();
    let live = refresh(100, FamilyId::new(uuid::Uuid::new_v4()), "app", None);
    d.insert_refresh(&live).await.unwrap();
    d.checkpoint().await.unwrap();
    assert!(d.find_refresh(&live.digest).await.unwrap().is_some());
}

async fn migrations_are_idempotent(backend: Backend) {
    let db = scratch(backend).await;
    open(&db).await;
    let d = open(&db).await;
    d.ping().await.unwrap();
}
