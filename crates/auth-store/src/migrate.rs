//! Embedded migrations, one folder per backend.
use diesel::{Connection, SqliteConnection};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::database::{OpenError, SQLITE_SETUP, Target};

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

fn failed(e: impl std::fmt::Display) -> OpenError {
    OpenError::Migrate(e.to_string())
}

/// Runs pending migrations. Diesel's harness is synchronous, so it runs on
/// the blocking pool (the async wrapper's `block_on` must not run on an
/// executor thread).
pub(crate) async fn run(target: &Target) -> Result<(), OpenError> {
    let target = target.clone();
    tokio::task::spawn_blocking(move || match target {
        Target::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path).map_err(failed)?;
            diesel::connection::SimpleConnection::batch_execute(&mut conn, SQLITE_SETUP)
                .map_err(failed)?;
            conn.run_pending_migrations(SQLITE).map_err(failed)?;
            Ok(())
        }
        Target::Postgres(url) => {
            let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
                Connection::establish(&url).map_err(failed)?;
            conn.run_pending_migrations(POSTGRES).map_err(failed)?;
            Ok(())
        }
    })
    .await
    .map_err(failed)?
}
