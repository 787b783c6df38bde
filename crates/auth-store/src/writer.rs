//! The SQLite writer: one connection on a thread of its own that commits
//! the writes of concurrent requests together (group commit).
//!
//! SQLite admits one writer at a time, so every write of the process goes
//! through this queue. Writes arriving while a transaction runs wait in the
//! queue and then run together in the next one, each inside a savepoint of
//! its own: a write that fails rolls back alone, and every caller learns its
//! result only after the transaction holding its write has committed. Under
//! load one commit (WAL frames, locks) serves many requests, and the request
//! threads never wait for one another to hand the connection on (measured:
//! with a shared pooled writer, the two request threads spent a quarter of
//! their time idle passing it back and forth).
use std::future::Future;
use std::pin::Pin;

use auth_core::error::StoreError;
use diesel::result::ConnectionError;
use diesel_async::{AsyncConnection, SimpleAsyncConnection, TransactionManager};
use tokio::sync::{mpsc, oneshot};

use crate::database::SqliteInline;

/// The most writes one transaction carries; more wait for the next one.
const MAX_BATCH: usize = 128;

/// How many writes may wait before callers wait to enqueue (backpressure).
const QUEUE_DEPTH: usize = 4096;

type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Why the writer could not carry a write out, beyond the write's own error.
#[derive(Debug, thiserror::Error)]
enum WriterError {
    #[error("the SQLite writer thread has stopped")]
    Stopped,
    #[error("the write transaction failed: {0}")]
    Transaction(String),
}

impl From<WriterError> for StoreError {
    /// Either way nothing of the write was committed and the database is
    /// what cannot take writes just now (the thread is gone; or the write
    /// transaction could not begin or commit: another process holds the
    /// write lock past the busy timeout, the disk is full or failing), so
    /// the caller is told to retry: an outage, as a lost database is.
    fn from(e: WriterError) -> Self {
        StoreError::unavailable(e)
    }
}

/// A queued write with the way back to its caller.
trait Job: Send {
    /// Runs the write; what it returns answers the caller once the
    /// transaction is settled.
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteInline) -> BoxFuture<'c, Finished>;
    /// Answers the caller without running the write.
    fn refuse(self: Box<Self>, error: WriterError);
}

/// A write that ran, waiting for its transaction to commit or fail.
struct Finished {
    ok: bool,
    deliver: Box<dyn FnOnce(Result<(), WriterError>) + Send>,
}

struct Pending<R, F> {
    write: F,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<R, F> Job for Pending<R, F>
where
    R: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteInline) -> BoxFuture<'c, Result<R, StoreError>>
        + Send
        + 'static,
{
    fn run<'c>(self: Box<Self>, conn: &'c mut SqliteInline) -> BoxFuture<'c, Finished> {
        let Self { write, reply } = *self;
        Box::pin(async move {
            let result = write(conn).await;
            Finished {
                ok: result.is_ok(),
                deliver: Box::new(move |settled| {
                    // The caller may have gone away (a dropped request); a
                    // committed write stands all the same.
                    let _ = reply.send(settled.map_err(StoreError::from).and(result));
                }),
            }
        })
    }

    fn refuse(self: Box<Self>, error: WriterError) {
        let _ = self.reply.send(Err(error.into()));
    }
}

/// The handle requests hold; cloning shares the one writer thread, which
/// ends when the last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Opens the writer connection (running `setup` on it) and starts its
    /// thread.
    pub async fn start(path: &str, setup: &'static str) -> Result<Self, ConnectionError> {
        let mut conn = SqliteInline::establish(path).await?;
        conn.batch_execute(setup)
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(serve(conn, jobs)))
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
        Ok(Self { queue })
    }

    /// Fails when the writer thread is gone (for readiness checks).
    pub fn check(&self) -> Result<(), StoreError> {
        if self.queue.is_closed() {
            return Err(WriterError::Stopped.into());
        }
        Ok(())
    }

    /// Runs `write` on the writer connection inside a savepoint of its own
    /// and returns its result once its transaction has committed. An `Err`
    /// from `write` rolls back what it changed and nothing else.
    pub async fn run<R, F>(&self, write: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteInline) -> BoxFuture<'c, Result<R, StoreError>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Pending { write, reply }))
            .await
            .map_err(|_| WriterError::Stopped)?;
        answer.await.map_err(|_| WriterError::Stopped)?
    }

    /// Runs `write`, several synchronous Diesel statements, as one write:
    /// in its own savepoint, so they commit together or not at all. A
    /// Diesel error becomes the port's error through `map_error`.
    pub async fn run_sync<R, F, E>(&self, map_error: E, write: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut diesel::SqliteConnection) -> diesel::QueryResult<R> + Send + 'static,
        E: FnOnce(diesel::result::Error) -> StoreError + Send + 'static,
    {
        self.run(move |conn| {
            Box::pin(async move { conn.spawn_blocking(write).await.map_err(map_error) })
        })
        .await
    }
}

type Manager = <SqliteInline as AsyncConnection>::TransactionManager;

/// The writer thread's loop: take every waiting write (up to
/// [`MAX_BATCH`]), run them in one transaction, commit, answer each.
async fn serve(mut conn: SqliteInline, mut jobs: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut finished = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // IMMEDIATE takes the write lock up front (waiting out another
        // process, such as the CLI, within the busy timeout) so no write of
        // the batch can meet a snapshot another writer made stale.
        let began = conn
            .spawn_blocking(|c| {
                diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                    c,
                    "BEGIN IMMEDIATE",
                )
            })
            .await;
        if let Err(e) = began {
            tracing::error!(error = %e, "cannot begin a write transaction");
            for job in batch.drain(..) {
                job.refuse(WriterError::Transaction(e.to_string()));
            }
            continue;
        }
        // Once a savepoint cannot be closed, the transaction's state is in
        // doubt: the rest of the batch is refused and the whole of it rolled
        // back, so no caller is told of a failure that still commits.
        let mut broken: Option<String> = None;
        for job in batch.drain(..) {
            if let Some(reason) = &broken {
                job.refuse(WriterError::Transaction(reason.clone()));
                continue;
            }
            match run_in_savepoint(&mut conn, job).await {
                Ran::Finished(done) => finished.push(done),
                Ran::Refused => {}
                Ran::Broken(done, reason) => {
                    finished.push(done);
                    broken = Some(reason);
                }
            }
        }
        let settled = match broken {
            Some(reason) => {
                let _ = Manager::rollback_transaction(&mut conn).await;
                Err(reason)
            }
            None => match Manager::commit_transaction(&mut conn).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "a write transaction failed to commit");
                    // Leave no transaction open for the next batch.
                    let _ = Manager::rollback_transaction(&mut conn).await;
                    Err(e.to_string())
                }
            },
        };
        for done in finished.drain(..) {
            (done.deliver)(settled.clone().map_err(WriterError::Transaction));
        }
    }
}

/// What became of one write of a batch.
enum Ran {
    /// It ran (successfully or not) and its savepoint was closed.
    Finished(Finished),
    /// It was refused without running.
    Refused,
    /// It ran but its savepoint could not be closed.
    Broken(Finished, String),
}

/// Runs one write between `SAVEPOINT` and `RELEASE`, or `ROLLBACK TO` when
/// it failed. A write that cannot have a savepoint does not run.
async fn run_in_savepoint(conn: &mut SqliteInline, job: Box<dyn Job>) -> Ran {
    if let Err(e) = Manager::begin_transaction(conn).await {
        tracing::error!(error = %e, "cannot open a savepoint");
        job.refuse(WriterError::Transaction(e.to_string()));
        return Ran::Refused;
    }
    let done = job.run(conn).await;
    let closed = if done.ok {
        Manager::commit_transaction(conn).await
    } else {
        Manager::rollback_transaction(conn).await
    };
    match closed {
        Ok(()) => Ran::Finished(done),
        Err(e) => {
            tracing::error!(error = %e, "cannot close a savepoint");
            Ran::Broken(done, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use diesel::sql_types::{BigInt, Integer};
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// Rows with `v`, or all rows for `None`, as another connection sees them.
    async fn count(path: &str, v: Option<i32>) -> i64 {
        let mut conn = SqliteInline::establish(path).await.unwrap();
        diesel::sql_query("SELECT count(*) AS n FROM t WHERE ?1 IS NULL OR v = ?1")
            .bind::<diesel::sql_types::Nullable<Integer>, _>(v)
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n
    }

    fn insert(conn: &mut SqliteInline, v: i32) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move {
            diesel::sql_query("INSERT INTO t (v) VALUES (?)")
                .bind::<Integer, _>(v)
                .execute(conn)
                .await
                .map_err(StoreError::backend)
        })
    }

    /// Many concurrent writes, every fifth of which inserts a row and then
    /// fails: the failures roll back alone, every success is committed
    /// (visible to another connection) by the time its caller hears of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn failed_writes_roll_back_alone_and_answers_follow_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db").to_string_lossy().into_owned();
        let writer = Writer::start(&path, "PRAGMA journal_mode = WAL;")
            .await
            .unwrap();
        writer
            .run(|conn| {
                Box::pin(async move {
                    conn.batch_execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")
                        .await
                        .map_err(StoreError::backend)
                })
            })
            .await
            .unwrap();

        let tasks: Vec<_> = (0..200)
            .map(|v| {
                let writer = writer.clone();
                let path = path.clone();
                tokio::spawn(async move {
                    let result = writer
                        .run(move |conn| {
                            Box::pin(async move {
                                insert(conn, v).await?;
                                if v % 5 == 0 {
                                    // A second insert of the same value fails
                                    // after the first one succeeded.
                                    insert(conn, v).await?;
                                }
                                Ok(v)
                            })
                        })
                        .await;
                    let seen_after = count(&path, Some(v)).await;
                    (v, result.is_ok(), seen_after)
                })
            })
            .collect();
        let mut committed = 0;
        for task in tasks {
            let (v, ok, seen_after) = task.await.unwrap();
            assert_eq!(ok, v % 5 != 0, "write {v}");
            if ok {
                committed += 1;
                assert_eq!(seen_after, 1, "write {v} answered before its commit");
            } else {
                assert_eq!(seen_after, 0, "failed write {v} left its first row");
            }
        }
        assert_eq!(committed, 160);
        assert_eq!(count(&path, None).await, 160);
    }

    /// A handle whose thread is gone (its end of the queue dropped): a
    /// write fails at once instead of waiting forever, and readiness says so.
    #[tokio::test]
    async fn a_write_after_the_writer_stopped_is_an_error_not_a_hang() {
        let (queue, thread_end) = mpsc::channel::<Box<dyn Job>>(1);
        let stopped = Writer { queue };
        assert!(stopped.check().is_ok());
        drop(thread_end);
        // An outage, which the web layer answers with 503.
        assert!(matches!(stopped.check(), Err(StoreError::Unavailable(_))));
        let result = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stopped.run(|conn| Box::pin(async move { insert(conn, 1).await })),
        )
        .await
        .expect("no hang");
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
    }
}
