//! Group commit: page saves that arrive together share one transaction, so
//! one WAL fsync acknowledges several of them.
//!
//! With `synchronous=FULL` every commit waits for the disk (1–4 ms here), so
//! one save per transaction cannot pass a few hundred saves a second however
//! little else it does. A single writer task takes the saves queued while
//! the previous batch was committing, runs them one after another in one
//! transaction, commits once, and only then answers each caller: an
//! acknowledged save is on disk exactly as before.
//!
//! A save that fails rolls its whole batch back; it gets its own error and
//! the others run again in a new transaction (a job may run more than once,
//! so it is `Fn`). Savepoints per save would avoid the rerun, but each one
//! made FTS5 flush its pending index changes (a `RELEASE` cost 259 µs, a
//! fifth of a save's time in the transaction).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{Mutex, MutexGuard, mpsc, oneshot};

use crate::db::{Db, begin_save, begin_write};

/// A boxed future borrowing the batch's connection.
pub type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Saves in one transaction at most: bounds how long the first waits.
const MAX_BATCH: usize = 64;

/// The batch's transaction.
type Tx = crate::db::Tx;

/// A queued save, its result kept until the batch's fate is known.
trait Job: Send {
    /// Runs in the batch's transaction (again, if a batch it ran in was
    /// rolled back) and keeps the result; hands the transaction back and
    /// says whether the job failed. Owning the transaction while it runs
    /// keeps lifetimes out of the writer's future.
    fn run(&mut self, tx: Tx) -> BoxFuture<'_, (Tx, bool)>;

    /// Answers the caller: its kept result, unless the batch did not commit.
    fn answer(self: Box<Self>, batch_error: Option<&sqlx::Error>);
}

struct Pending<T, F> {
    job: F,
    result: Option<sqlx::Result<T>>,
    caller: oneshot::Sender<sqlx::Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut Tx) -> BoxFuture<'c, sqlx::Result<T>> + Send + 'static,
{
    fn run(&mut self, mut tx: Tx) -> BoxFuture<'_, (Tx, bool)> {
        Box::pin(async move {
            let result = (self.job)(&mut tx).await;
            let failed = result.is_err();
            self.result = Some(result);
            (tx, failed)
        })
    }

    fn answer(self: Box<Self>, batch_error: Option<&sqlx::Error>) {
        let result = match (self.result, batch_error) {
            (Some(Err(own)), _) => Err(own),
            (_, Some(err)) => Err(copy(err)),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(sqlx::Error::WorkerCrashed),
        };
        // The caller may have gone (client disconnected): nothing to tell.
        let _ = self.caller.send(result);
    }
}

/// Page turns: saves to one page take turns, so one that merges is not
/// undone by another from the same batch. Striped by page id, so the set
/// stays this size however many pages there are.
const PAGE_TURNS: usize = 64;

/// The queue to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    /// The writer task's queue on SQLite; `None` on PostgreSQL, where each
    /// save commits on its own (see [`GroupCommit::run`]).
    queue: Option<mpsc::UnboundedSender<Box<dyn Job>>>,
    db: Db,
    page_turns: Arc<[Mutex<()>]>,
}

impl GroupCommit {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(db: Db) -> GroupCommit {
        let queue = db.as_sqlite().map(|pool| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(writer(pool.clone(), jobs));
            queue
        });
        let page_turns = (0..PAGE_TURNS).map(|_| Mutex::new(())).collect();
        GroupCommit {
            queue,
            db,
            page_turns,
        }
    }

    /// Waits for the turn to save page `page_id`: held while the save is
    /// merged, rendered and committed. Without it, twenty saves from one
    /// base would all merge against the same revision and all but one find
    /// the page moved on when their shared batch runs them. Only this
    /// process's saves take turns; another process's commit still shows as
    /// [`crate::pages::db::SaveOutcome::Moved`].
    pub async fn page_turn(&self, page_id: i64) -> MutexGuard<'_, ()> {
        let stripe = page_id.rem_euclid(PAGE_TURNS as i64) as usize;
        self.page_turns[stripe].lock().await
    }

    /// Runs `job` inside a write transaction shared with the jobs queued
    /// beside it, and returns its result once that transaction committed.
    /// `job` may run more than once: only its last run is committed.
    pub async fn run<T, F>(&self, job: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Tx) -> BoxFuture<'c, sqlx::Result<T>> + Send + 'static,
    {
        let Some(queue) = &self.queue else {
            return alone(&self.db, job).await;
        };
        let (caller, answered) = oneshot::channel();
        let pending = Pending {
            job,
            result: None,
            caller,
        };
        queue
            .send(Box::new(pending))
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        answered.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// A save on PostgreSQL: its own transaction, as the database's own
/// concurrency is what lets writers go on together there (one commit does
/// not wait for another's fsync the way SQLite's single writer does): saves
/// share the content turn ([`crate::db::begin_save`]). A transaction the
/// database gave up on (a deadlock, a serialization failure) runs again, a
/// few times.
pub(crate) async fn alone<T, F>(db: &Db, job: F) -> sqlx::Result<T>
where
    F: for<'c> Fn(&'c mut Tx) -> BoxFuture<'c, sqlx::Result<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let mut tx = begin_save(db).await?;
        let result = match job(&mut tx).await {
            Ok(value) => tx.commit().await.map(|()| value),
            Err(err) => Err(err),
        };
        match result {
            Err(err) if tries < 5 && crate::error::is_retryable(&err) => continue,
            result => return result,
        }
    }
}

/// Takes every job queued while the last batch committed, and commits them
/// together. A panicking job ends its own batch (rolled back; its callers
/// get an error), never the writer.
async fn writer(pool: SqlitePool, mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(err) = tokio::spawn(commit(pool.clone(), batch)).await {
            tracing::error!(error = %err, "a batch of saves failed");
        }
    }
}

/// How one try at committing a batch ended.
enum Attempt {
    Committed,
    /// The job at this index failed; the transaction was rolled back.
    JobFailed(usize),
    /// BEGIN or COMMIT failed: nothing of the batch is kept.
    Failed(sqlx::Error),
}

/// Commits the batch, leaving out the jobs that fail, and answers everyone.
async fn commit(pool: SqlitePool, mut batch: Vec<Box<dyn Job>>) {
    let started = std::time::Instant::now();
    let size = batch.len();
    loop {
        match attempt(&pool, &mut batch).await {
            Attempt::JobFailed(index) => {
                batch.remove(index).answer(None);
                if batch.is_empty() {
                    return;
                }
            }
            Attempt::Committed => {
                tracing::debug!(size, us = started.elapsed().as_micros(), "batch of saves");
                return batch.into_iter().for_each(|job| job.answer(None));
            }
            Attempt::Failed(err) => {
                return batch.into_iter().for_each(|job| job.answer(Some(&err)));
            }
        }
    }
}

async fn attempt(pool: &SqlitePool, batch: &mut [Box<dyn Job>]) -> Attempt {
    let mut tx = match begin_write(&Db::Sqlite(pool.clone())).await {
        Ok(tx) => tx,
        Err(err) => return Attempt::Failed(err),
    };
    for (index, job) in batch.iter_mut().enumerate() {
        let (back, failed) = job.run(tx).await;
        if failed {
            // Dropping the transaction rolls it back.
            return Attempt::JobFailed(index);
        }
        tx = back;
    }
    match tx.commit().await {
        Ok(()) => Attempt::Committed,
        Err(err) => Attempt::Failed(err),
    }
}

/// One error of a batch for each of its callers, keeping what the error
/// pages need to know: whether the disk refuses writes (503) or not (500).
fn copy(err: &sqlx::Error) -> sqlx::Error {
    if crate::error::is_storage_unavailable(err) {
        sqlx::Error::Io(std::io::Error::other(err.to_string()))
    } else {
        sqlx::Error::Protocol(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = crate::db::connect(dir.path().join("g.db").to_str().expect("utf-8 path"))
            .await
            .expect("database");
        crate::on_db!(&pool, |pool| sqlx::query(
            "CREATE TABLE t (x INTEGER NOT NULL UNIQUE)"
        )
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .expect("table");
        (dir, pool)
    }

    fn insert(saves: &GroupCommit, x: i64) -> impl Future<Output = sqlx::Result<i64>> + use<> {
        let saves = saves.clone();
        async move {
            saves
                .run(move |conn| {
                    Box::pin(async move {
                        crate::on_tx!(&mut *conn, |conn| sqlx::query(
                            "INSERT INTO t (x) VALUES ($1)"
                        )
                        .bind(x)
                        .execute(&mut *conn)
                        .await
                        .map(|done| done.rows_affected()))?;
                        Ok(x)
                    })
                })
                .await
        }
    }

    async fn kept(pool: &Db) -> Vec<i64> {
        crate::on_db!(pool, |pool| sqlx::query_scalar(
            "SELECT x FROM t ORDER BY x"
        )
        .fetch_all(pool)
        .await)
        .expect("rows")
    }

    #[tokio::test]
    async fn jobs_that_arrive_together_all_commit_with_their_own_results() {
        let (_dir, pool) = pool().await;
        let saves = GroupCommit::start(pool.clone());
        let jobs: Vec<_> = (1..=40).map(|x| tokio::spawn(insert(&saves, x))).collect();
        for (x, job) in (1..=40).zip(jobs) {
            assert_eq!(job.await.expect("joined").expect("saved"), x);
        }
        assert_eq!(kept(&pool).await, (1..=40).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_failing_job_is_rolled_back_alone() {
        let (_dir, pool) = pool().await;
        let saves = GroupCommit::start(pool.clone());
        // Another writer holds the lock while the jobs queue, so they are
        // taken as one or two batches, not one by one.
        let other = crate::db::begin_write(&pool).await.expect("other writer");
        // 5 twice: one of the two fails on UNIQUE, whichever runs second.
        let jobs: Vec<_> = [1, 5, 2, 5, 3]
            .into_iter()
            .map(|x| tokio::spawn(insert(&saves, x)))
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        other.rollback().await.expect("rollback");
        let mut failures = 0;
        for job in jobs {
            if let Err(err) = job.await.expect("joined") {
                assert!(err.to_string().contains("UNIQUE"), "{err}");
                failures += 1;
            }
        }
        assert_eq!(failures, 1);
        assert_eq!(kept(&pool).await, vec![1, 2, 3, 5]);
    }
}
