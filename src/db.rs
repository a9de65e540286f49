//! Opening the SQLite database: the pragmas that make it durable and
//! concurrent, and the migrations (the first-start seed is `seed.rs`'s).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// How long a writer waits for the write lock before it is answered "busy".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Turns `--db` (a path or a `sqlite:` URL) into connect options with the
/// pragmas every connection needs: WAL so readers never wait for the writer,
/// `synchronous=FULL` so an acknowledged save survives a power cut, foreign
/// keys on, and a busy timeout so writers queue instead of failing.
pub fn options(db: &str) -> anyhow::Result<SqliteConnectOptions> {
    let options = if db.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(db).with_context(|| format!("bad database URL {db}"))?
    } else {
        SqliteConnectOptions::new().filename(db)
    };
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("temp_store", "memory")
        // 2 MiB of page cache per connection: eight connections stay small
        // (bench: peak RSS after page views 95-105 MiB at 8 MiB, 38-41 MiB at 2).
        .pragma("cache_size", "-2000"))
}

/// Whether a connection going back to the pool can be reused. A write that
/// fails on a full disk (SQLITE_FULL) makes SQLite roll the transaction back
/// by itself; sqlx's own ROLLBACK then fails and it goes on believing the
/// connection is inside a transaction, so every later `BEGIN` on it failed
/// (a 500 for each save on that connection, even once space came back).
/// Such a connection is closed instead. Only a connection that still looks
/// inside a transaction is pinged: the ping waits for a rollback that a
/// dropped transaction queued. Pinging every connection cost every read a
/// second round trip to the connection's worker thread.
async fn still_usable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::{Connection as _, TransactionManager as _};
    let depth = |conn: &sqlx::SqliteConnection| {
        <sqlx::Sqlite as sqlx::Database>::TransactionManager::get_transaction_depth(conn)
    };
    if depth(conn) == 0 {
        return Ok(true);
    }
    conn.ping().await?;
    Ok(depth(conn) == 0)
}

/// Opens (creating if needed) and migrates the database.
pub async fn connect(db: &str) -> anyhow::Result<SqlitePool> {
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        // Every connection is checked as it comes back (`still_usable`), so a
        // second check on the way out would only add a round trip per query.
        .test_before_acquire(false)
        .after_release(|conn, _| Box::pin(async move { still_usable(conn).await }))
        .connect_with(options(db)?)
        .await
        .with_context(|| format!("cannot open the database {db}"))?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .context("cannot migrate the database")?;
    Ok(pool)
}

/// Uncached reads whose work grows with the data (ranking every match of a
/// search: 10-30 ms for a common word at 10,000 pages; counting a filtered
/// list: 45 ms and megabytes of temporary b-trees for 13,000 of 100,000
/// methods) run this many at once: one fewer than the cores, at least one.
/// With as many as the cores, answers from the caches waited for a core
/// while the caches filled (search p99 18-30 ms at 4 connections), and
/// eight lists counted at once took peak RSS from 48 to 65 MiB.
static HEAVY_READS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
});

/// A turn at a heavy read ([`HEAVY_READS`]), and whether it had to wait for
/// it: a caller that waited looks in its cache again first, since whoever
/// went before may have been reading the very same thing.
pub struct HeavyTurn {
    /// `None` only if the semaphore were closed, which nothing does.
    _permit: Option<tokio::sync::SemaphorePermit<'static>>,
    pub waited: bool,
}

/// Waits for a turn at a heavy read.
pub async fn heavy_read_turn() -> HeavyTurn {
    if let Ok(permit) = HEAVY_READS.try_acquire() {
        return HeavyTurn {
            _permit: Some(permit),
            waited: false,
        };
    }
    HeavyTurn {
        _permit: HEAVY_READS.acquire().await.ok(),
        waited: true,
    }
}

/// Writers of this process queue here for their turn to take SQLite's write
/// lock, one at a time and first come first served, without holding a
/// pooled connection. Without it every waiting writer sat in SQLite's busy
/// handler holding a connection: eight busy writers took all eight, so page
/// views waited for a connection, and the busy handler's sleeps made the
/// order of writers a lottery (save p99 over half a second under load).
static WRITE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Start a write transaction. `BEGIN IMMEDIATE` takes the write lock up front,
/// so a busy database makes the transaction wait (busy timeout) instead of
/// failing later with "database is locked" when it first writes. Only the
/// writer whose turn it is waits inside SQLite (for the current transaction,
/// or another process such as `cafe backup`); the others wait in
/// [`WRITE_TURN`].
pub async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    // As long as SQLite's own busy timeout: a writer that cannot have its
    // turn by then is answered "busy" (503), never left waiting.
    let Ok(_turn) = tokio::time::timeout(BUSY_TIMEOUT, WRITE_TURN.lock()).await else {
        return Err(sqlx::Error::PoolTimedOut);
    };
    note_write();
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Counts the writes this process began, as a sign for the caches that the
/// content clock may have moved ([`crate::cache::freshness`]). A write is
/// counted when its transaction begins here and again when the request
/// that made it has its answer (`web::context::middleware`, after the commit),
/// so the clock is read again before anything is served after a commit.
static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The number of writes counted so far (see [`WRITES`]).
pub fn write_generation() -> u64 {
    WRITES.load(std::sync::atomic::Ordering::Acquire)
}

/// Counts a write (see [`WRITES`]).
pub fn note_write() {
    WRITES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

/// A list bound as one JSON array parameter, for `IN (SELECT value FROM
/// json_each(?))`: a variable-length list stays a single bound parameter.
pub fn json_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_heavy_read_past_the_limit_waits_for_a_turn_and_says_so() {
        let mut held = Vec::new();
        while HEAVY_READS.available_permits() > 0 {
            let turn = heavy_read_turn().await;
            assert!(!turn.waited, "a free turn was waited for");
            held.push(turn);
        }
        assert!(!held.is_empty(), "no heavy read may run at all");
        let waiting = tokio::spawn(heavy_read_turn());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a heavy read went past the limit");
        held.pop();
        let turn = waiting.await.expect("the waiting read");
        assert!(turn.waited);
    }
}
