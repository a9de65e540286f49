//! Group commit: page saves that arrive together share one transaction, so
//! one WAL fsync acknowledges several of them.
//!
//! With `synchronous=FULL` every commit waits for the disk (1–4 ms here), so
//! one save per transaction cannot pass a few hundred saves a second however
//! little else it does. A single writer task takes the saves queued while
//! the previous batch was committing, runs each in its own savepoint (a save
//! that fails is rolled back alone), commits once, and only then answers
//! each caller: an acknowledged save is on disk exactly as before.

use std::future::Future;
use std::pin::Pin;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::db::begin_write;

/// A boxed future borrowing the batch's connection.
pub type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Saves in one transaction at most: bounds how long the first waits.
const MAX_BATCH: usize = 64;

/// Answers a job's caller once the batch's commit is known (its error, if any).
type Deliver = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;

struct Ran {
    /// A copy of the job's error, if it failed.
    failed: Option<sqlx::Error>,
    deliver: Deliver,
}

/// The batch's transaction.
type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

/// A queued job: given the batch's transaction to run in (and hand back),
/// or told why it cannot run. It owns the transaction while it runs, so its
/// type needs no lifetime.
type Task =
    Box<dyn FnOnce(Result<Tx, sqlx::Error>) -> BoxFuture<'static, (Option<Tx>, Ran)> + Send>;

/// The queue to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::UnboundedSender<Task>,
}

impl GroupCommit {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(pool: SqlitePool) -> GroupCommit {
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(writer(pool, jobs));
        GroupCommit { queue }
    }

    /// Runs `job` inside a write transaction shared with the jobs queued
    /// beside it, and returns its result once that transaction committed.
    pub async fn run<T, F>(&self, job: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>>
            + Send
            + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let task: Task = Box::new(move |tx| {
            Box::pin(async move {
                let (tx, result) = match tx {
                    Ok(mut tx) => {
                        let result = job(&mut tx).await;
                        (Some(tx), result)
                    }
                    Err(err) => (None, Err(err)),
                };
                let failed = result.as_ref().err().map(copy);
                let deliver: Deliver = Box::new(move |commit_error| {
                    let result = match (result, commit_error) {
                        (Ok(_), Some(err)) => Err(copy(err)),
                        (result, _) => result,
                    };
                    // The caller may have gone (client disconnected): nothing to tell.
                    let _ = answer.send(result);
                });
                (tx, Ran { failed, deliver })
            })
        });
        self.queue
            .send(task)
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        answered.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// Takes every job queued while the last batch committed, and commits them
/// together. A panicking job ends its own batch (rolled back; its callers
/// get an error), never the writer.
async fn writer(pool: SqlitePool, mut jobs: mpsc::UnboundedReceiver<Task>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(task) => batch.push(task),
                Err(_) => break,
            }
        }
        if let Err(err) = tokio::spawn(commit(pool.clone(), batch)).await {
            tracing::error!(error = %err, "a batch of saves failed");
        }
    }
}

async fn commit(pool: SqlitePool, batch: Vec<Task>) {
    let mut tx = match begin_write(&pool).await {
        Ok(tx) => tx,
        Err(err) => {
            for task in batch {
                (task(Err(copy(&err))).await.1.deliver)(None);
            }
            return;
        }
    };
    let mut ran: Vec<Deliver> = Vec::with_capacity(batch.len());
    let mut tasks = batch.into_iter();
    let mut failure = None;
    for task in tasks.by_ref() {
        if let Err(err) = run_sql(&mut tx, &["SAVEPOINT job"]).await {
            (task(Err(copy(&err))).await.1.deliver)(None);
            failure = Some(err);
            break;
        }
        let (back, Ran { failed, deliver }) = task(Ok(tx)).await;
        ran.push(deliver);
        let Some(back) = back else {
            // A task always hands the transaction back; without it there
            // is nothing to commit (dropping it rolled it back).
            failure = Some(sqlx::Error::WorkerCrashed);
            return deliver_all(ran, tasks, failure).await;
        };
        tx = back;
        let end = match failed {
            None => &["RELEASE job"][..],
            Some(_) => &["ROLLBACK TO job", "RELEASE job"][..],
        };
        if let Err(err) = run_sql(&mut tx, end).await {
            // SQLite rolled the whole transaction back itself (SQLITE_FULL
            // does): the job's own error says why, better than "no such
            // savepoint".
            failure = Some(failed.unwrap_or(err));
            break;
        }
    }
    let failure = match failure {
        Some(err) => Some(err),
        None => tx.commit().await.err(),
    };
    deliver_all(ran, tasks, failure).await;
}

/// Answers the callers of a batch: those whose job ran get their result
/// unless the commit failed; those not reached get the batch's error.
async fn deliver_all(
    ran: Vec<Deliver>,
    not_run: impl Iterator<Item = Task>,
    failure: Option<sqlx::Error>,
) {
    for deliver in ran {
        deliver(failure.as_ref());
    }
    for task in not_run {
        let err = failure.as_ref().map_or(sqlx::Error::WorkerCrashed, copy);
        (task(Err(err)).await.1.deliver)(None);
    }
}

/// Runs fixed statements on the batch's connection, one by one.
async fn run_sql(conn: &mut SqliteConnection, statements: &[&'static str]) -> sqlx::Result<()> {
    for sql in statements {
        sqlx::query(sql).execute(&mut *conn).await?;
    }
    Ok(())
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

    async fn pool() -> (tempfile::TempDir, SqlitePool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = crate::db::connect(dir.path().join("g.db").to_str().expect("utf-8 path"))
            .await
            .expect("database");
        sqlx::query("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
            .execute(&pool)
            .await
            .expect("table");
        (dir, pool)
    }

    fn insert(saves: &GroupCommit, x: i64) -> impl Future<Output = sqlx::Result<i64>> + use<> {
        let saves = saves.clone();
        async move {
            saves
                .run(move |conn| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO t (x) VALUES (?)")
                            .bind(x)
                            .execute(&mut *conn)
                            .await?;
                        Ok(x)
                    })
                })
                .await
        }
    }

    async fn kept(pool: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(pool)
            .await
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
        // 5 twice: one of the two fails on UNIQUE, whichever runs second.
        let jobs: Vec<_> = [1, 5, 2, 5, 3]
            .into_iter()
            .map(|x| tokio::spawn(insert(&saves, x)))
            .collect();
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
