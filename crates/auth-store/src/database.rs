//! The connection pool: one of two backends, picked by URL scheme.
use std::time::Duration;

use auth_core::error::StoreError;
use diesel::SqliteConnection;
use diesel::result::ConnectionError;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use crate::writer::Writer;

/// A SQLite connection whose statements run on the calling thread. WAL
/// readers never wait for the writer, the one writer never waits for a lock
/// (it is alone), and with automatic checkpoints off (see
/// [`Database::checkpoint`]) a commit never fsyncs: each statement takes
/// microseconds, less than the two thread hand-offs of tokio's blocking
/// pool (measured: the hand-offs were most of the CPU of a refresh).
pub type SqliteInline = SyncConnectionWrapper<SqliteConnection, Inline>;

/// The executor of [`SqliteInline`]: runs the task where it is called.
pub struct Inline;

type BoxedResult<'a, R> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<R, Box<dyn std::error::Error + Send + Sync>>>
            + Send
            + 'a,
    >,
>;

impl SpawnBlocking for Inline {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxedResult<'a, R>
    where
        R: Send + 'static,
    {
        Box::pin(std::future::ready(Ok(task())))
    }

    fn get_runtime() -> Self {
        Inline
    }
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("database URL must start with sqlite:// or postgres:// (got {0:?})")]
    UnknownScheme(String),
    #[error("sqlite URL names no file")]
    NoPath,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Url(#[from] DatabaseUrlError),
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] StoreError),
    #[error("migrations failed: {0}")]
    Migrate(String),
    /// [`Database::open_existing`] found no SQLite file there.
    #[error(
        "there is no database at {0}: `portcullis migrate` or `portcullis serve` creates one \
         (check --database or PORTCULLIS_DATABASE_URL)"
    )]
    Missing(String),
}

/// Creates an empty SQLite file at `path` with mode 0600 when there is
/// none, so the database (and the `-wal` and `-shm` files SQLite then
/// creates with the database file's permissions) is its owner's alone:
/// it holds password hashes and token digests.
fn create_private(path: &str) -> Result<(), OpenError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(OpenError::Connect(StoreError::backend(e))),
    }
}

/// A parsed database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A file path for SQLite.
    Sqlite(String),
    /// A libpq-style URL for PostgreSQL.
    Postgres(String),
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(DatabaseUrlError::NoPath);
            }
            Ok(Self::Sqlite(rest.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err(DatabaseUrlError::UnknownScheme(
                url.split("://").next().unwrap_or_default().to_owned(),
            ))
        }
    }
}

/// The pooled database, either backend. Cloning shares the pools.
#[derive(Clone)]
pub enum Database {
    /// SQLite admits one writer at a time: reads run on a pool of
    /// connections beside it (WAL), writes go through the one `Writer`,
    /// which commits concurrent writes together.
    Sqlite {
        readers: Pool<SqliteInline>,
        writer: Writer,
        /// The file, for checkpoints on a connection of their own.
        path: String,
    },
    Postgres(Pool<AsyncPgConnection>),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({:?})", self.backend())
    }
}

/// Runs `$body` with `$conn` bound to a connection of whichever backend the
/// database is; `with_conn!(writer db, ...)` for statements that write. The
/// body is written once and type-checked for both backends. On SQLite a
/// write runs on the writer thread, so its body owns what it uses (`move`),
/// and it must evaluate to a `Result<_, StoreError>`.
macro_rules! with_conn {
    (@pooled $pool:expr, |$conn:ident| $body:expr) => {{
        // No connection to be had is an outage; so is a query that failed
        // because its connection died under it.
        let mut guard = $pool
            .get()
            .await
            .map_err(auth_core::error::StoreError::unavailable)?;
        let $conn = &mut *guard;
        let result = $body;
        $crate::database::outage_if_lost(result, &mut *guard)
    }};
    (writer $db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::database::Database::Sqlite { writer, .. } => {
                writer
                    .run(move |$conn| Box::pin(async move { $body }))
                    .await
            }
            $crate::database::Database::Postgres(pool) => {
                with_conn!(@pooled pool, |$conn| $body)
            }
        }
    };
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::database::Database::Sqlite { readers: pool, .. } => {
                with_conn!(@pooled pool, |$conn| $body)
            }
            $crate::database::Database::Postgres(pool) => {
                with_conn!(@pooled pool, |$conn| $body)
            }
        }
    };
}

/// Runs `$decide`, a conditional UPDATE that changes one row when this
/// request wins, and only then stores a grant's rows (`$refresh`, `$access`:
/// `Option<RefreshRow>`, `Option<AccessRow>`), as one atomic step: a
/// savepointed write on SQLite, a transaction on PostgreSQL. Evaluates to
/// `Result<bool, StoreError>`, `true` for the winner.
macro_rules! decide_then_store {
    ($db:expr, $what:literal, $decide:expr, $refresh:expr, $access:expr) => {{
        let refresh: Option<$crate::rows::RefreshRow> = $refresh;
        let access: Option<$crate::rows::AccessRow> = $access;
        match $db {
            $crate::database::Database::Sqlite { writer, .. } => {
                writer
                    .run_sync($crate::database::store_error($what), move |conn| {
                        let won = diesel::RunQueryDsl::execute($decide, conn)? == 1;
                        if won {
                            $crate::tokens::store_grant_sync(
                                conn,
                                refresh.as_ref(),
                                access.as_ref(),
                            )?;
                        }
                        Ok(won)
                    })
                    .await
            }
            $crate::database::Database::Postgres(pool) => {
                use diesel_async::AsyncConnection as _;
                let mut conn = pool
                    .get()
                    .await
                    .map_err(auth_core::error::StoreError::unavailable)?;
                conn.transaction(async |conn| {
                    let won = diesel_async::RunQueryDsl::execute($decide, conn).await? == 1;
                    if won {
                        $crate::tokens::store_grant_pg(conn, refresh.as_ref(), access.as_ref())
                            .await?;
                    }
                    Ok(won)
                })
                .await
                .map_err($crate::database::store_error($what))
            }
        }
    }};
}

/// Runs `$body`, async Diesel statements on `$conn` evaluating to a
/// `QueryResult`, as one atomic write: in a savepoint of its own on the
/// SQLite writer, in a transaction on PostgreSQL. The body is written once
/// and type-checked for both backends; a Diesel error becomes the port's
/// through `store_error($what)`, and an `Err` rolls back all of it.
macro_rules! atomically {
    ($db:expr, $what:literal, |$conn:ident| $body:expr) => {
        match $db {
            $crate::database::Database::Sqlite { writer, .. } => {
                writer
                    .run(move |$conn| {
                        Box::pin(async move {
                            let done: diesel::QueryResult<_> = async { $body }.await;
                            done.map_err($crate::database::store_error($what))
                        })
                    })
                    .await
            }
            $crate::database::Database::Postgres(pool) => {
                use diesel_async::AsyncConnection as _;
                let mut guard = pool
                    .get()
                    .await
                    .map_err(auth_core::error::StoreError::unavailable)?;
                let done = guard
                    .transaction(async |$conn| $body)
                    .await
                    .map_err($crate::database::store_error($what));
                $crate::database::outage_if_lost(done, &mut *guard)
            }
        }
    };
}

/// A backend error on a connection that is now broken is an outage, not a
/// fault of the query.
pub(crate) fn outage_if_lost<T, C>(
    result: Result<T, StoreError>,
    conn: &mut C,
) -> Result<T, StoreError>
where
    C: diesel_async::pooled_connection::PoolableConnection,
{
    match result {
        Err(StoreError::Backend(e)) if conn.is_broken() => Err(StoreError::Unavailable(e)),
        other => other,
    }
}

/// Maps a Diesel error to the port's error, turning a unique violation into
/// a domain conflict named by `what`.
pub(crate) fn store_error(what: &'static str) -> impl Fn(diesel::result::Error) -> StoreError {
    move |e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => {
            // The look-alike rule's index (`login_names_skeleton`) is the
            // one conflict whose message must differ from "taken".
            let look_alike = info.message().contains("skeleton")
                || info
                    .constraint_name()
                    .is_some_and(|c| c.contains("skeleton"));
            StoreError::Conflict(if look_alike {
                auth_core::error::LOOK_ALIKE
            } else {
                what
            })
        }
        other => query_error(other),
    }
}

/// `sqlite3_errstr` of SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR
/// and SQLITE_READONLY, which Diesel reports as unclassified errors.
const SQLITE_CANNOT_WRITE: [&str; 5] = [
    "database is locked",
    "database table is locked",
    "database or disk is full",
    "disk I/O error",
    "attempt to write a readonly database",
];

/// Maps a query's error to the port's: a connection that is gone (it could
/// not send the statement, or the server ended the session) is an outage;
/// anything else is a fault.
pub(crate) fn query_error(e: diesel::result::Error) -> StoreError {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match &e {
        Error::DatabaseError(Kind::UnableToSendCommand | Kind::ClosedConnection, _) => {
            StoreError::unavailable(e)
        }
        // PostgreSQL's FATAL on a session it ends (admin_shutdown and the
        // like) arrives as an unclassified database error.
        Error::DatabaseError(_, info)
            if info.message().starts_with("terminating connection")
                || info.message().contains("shutting down") =>
        {
            StoreError::unavailable(e)
        }
        // SQLite's refusals of a write that say nothing of the write itself:
        // another process holds the lock past the busy timeout, the disk is
        // full or failing, the file became read-only. The statement changed
        // nothing and may succeed when retried.
        Error::DatabaseError(_, info) if SQLITE_CANNOT_WRITE.contains(&info.message()) => {
            StoreError::unavailable(e)
        }
        _ => StoreError::backend(e),
    }
}

/// SQLite settings for every pooled connection. WAL lets readers run beside
/// the one writer; `synchronous=NORMAL` is durable across application
/// crashes in WAL mode and avoids an fsync per commit; the busy timeout makes
/// a writer wait for the lock instead of failing at once.
// The busy timeout comes first: switching to WAL takes a lock, and a
// connection opened while another is starting would otherwise fail at once
// with "database is locked" instead of waiting its turn.
pub(crate) const SQLITE_SETUP: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// The writer also leaves checkpoints (the only fsync in WAL mode with
/// `synchronous = NORMAL`) to [`Database::checkpoint`], off the request path.
const SQLITE_WRITER_SETUP: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;";

/// Builds a pool for a manager of either connection type. A macro rather
/// than a generic function: the generic form needs a trait bound per query
/// shape deadpool's recycling uses, and reads worse than the two expansions.
macro_rules! build_pool {
    ($manager:expr, $max:expr) => {
        Pool::builder($manager)
            .max_size($max.max(1))
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| OpenError::Pool(e.to_string()))
    };
}

/// A pool manager for SQLite connections (reader or writer), each set up with
/// [`SQLITE_SETUP`].
fn sqlite_manager<C>(path: &str, setup: &'static str) -> AsyncDieselConnectionManager<C>
where
    C: AsyncConnection + SimpleAsyncConnection + 'static,
{
    let mut config = ManagerConfig::<C>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |path: &str| {
        let path = path.to_owned();
        Box::pin(async move {
            let mut conn = C::establish(&path).await?;
            conn.batch_execute(setup)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    AsyncDieselConnectionManager::new_with_config(path, config)
}

impl Database {
    /// Opens a pool for `url` (`sqlite://FILE` or `postgres://...`) and runs
    /// pending migrations.
    /// Opens the database at `url`, creating (a SQLite file, readable by
    /// its owner only) and migrating it as needed.
    pub async fn open(url: &str, max_connections: usize) -> Result<Self, OpenError> {
        let target = Target::parse(url)?;
        if let Target::Sqlite(path) = &target {
            create_private(path)?;
        }
        Self::open_target(target, max_connections).await
    }

    /// Opens an existing database: a SQLite file that is not there is an
    /// error, never a new empty database (an operator's command pointed at
    /// the wrong path must not leave one behind).
    pub async fn open_existing(url: &str, max_connections: usize) -> Result<Self, OpenError> {
        let target = Target::parse(url)?;
        if let Target::Sqlite(path) = &target
            && !std::path::Path::new(path).exists()
        {
            return Err(OpenError::Missing(path.clone()));
        }
        Self::open_target(target, max_connections).await
    }

    async fn open_target(target: Target, max_connections: usize) -> Result<Self, OpenError> {
        crate::migrate::run(&target).await?;
        let db = match target {
            Target::Sqlite(path) => Self::Sqlite {
                readers: build_pool!(
                    sqlite_manager::<SqliteInline>(&path, SQLITE_SETUP),
                    max_connections
                )?,
                writer: Writer::start(&path, SQLITE_WRITER_SETUP)
                    .await
                    .map_err(|e| OpenError::Connect(StoreError::backend(e)))?,
                path,
            },
            Target::Postgres(url) => {
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                config.recycling_method = RecyclingMethod::Fast;
                let manager = AsyncDieselConnectionManager::new_with_config(url, config);
                Self::Postgres(build_pool!(manager, max_connections)?)
            }
        };
        db.ping().await.map_err(OpenError::Connect)?;
        db.fill_skeletons().await.map_err(OpenError::Connect)?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite { .. } => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Copies the SQLite WAL back into the database file (PASSIVE: it waits
    /// for no reader or writer) on a blocking thread with a connection of
    /// its own. Call it every second or so; a no-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let Self::Sqlite { path, .. } = self else {
            return Ok(());
        };
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            use diesel::Connection as _;
            use diesel::connection::SimpleConnection as _;
            let mut conn = SqliteConnection::establish(&path).map_err(StoreError::backend)?;
            conn.batch_execute("PRAGMA busy_timeout = 1000; PRAGMA wal_checkpoint(PASSIVE);")
                .map_err(StoreError::backend)
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Checks that a connection can be had and answers; for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        if let Self::Sqlite { writer, .. } = self {
            writer.check()?;
        }
        with_conn!(self, |conn| conn
            .batch_execute("SELECT 1")
            .await
            .map_err(StoreError::backend))
    }
}

#[async_trait::async_trait]
impl auth_core::ports::Readiness for Database {
    async fn ready(&self) -> Result<(), StoreError> {
        self.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Target::parse("sqlite://portcullis.db").unwrap(),
            Target::Sqlite("portcullis.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:///tmp/x.db").unwrap(),
            Target::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            Target::parse("postgres://u@h/db").unwrap(),
            Target::Postgres(_)
        ));
        assert!(Target::parse("mysql://x").is_err());
        assert!(Target::parse("sqlite://").is_err());
    }
}
