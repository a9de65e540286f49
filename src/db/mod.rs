//! Opening the SQLite database: the pragmas that make it durable and
//! concurrent, and the migrations (the first-start seed is `seed.rs`'s).

use std::str::FromStr;
use std::time::Duration;

pub mod health;
mod postgres;

pub use postgres::{password, redacted};

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

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

/// Which database a `--db` value names: a `postgres://` or `postgresql://`
/// URL is PostgreSQL; anything else (a path, a `sqlite:` URL) is SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(db: &str) -> Backend {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// How a pool is sized and how long a statement may run (`--db-pool-size`,
/// `--db-statement-timeout-secs`). SQLite ignores the timeout: its writers
/// wait at most [`BUSY_TIMEOUT`] and its reads are bounded by the heavy-read
/// turns.
#[derive(Debug, Clone, Copy)]
pub struct DbOptions {
    pub pool_size: u32,
    pub statement_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> DbOptions {
        DbOptions {
            pool_size: 8,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The site's database, whichever backend holds it. Cheap to clone. Each
/// domain's `db` module is the one place that knows its SQL for both
/// backends; handlers only ever hold a `Db`.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction on either backend.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// SQL that differs between the backends, kept side by side so a reader sees
/// both at once. Everything else is written once, with `$N` placeholders
/// (which sqlx's SQLite driver takes too).
#[derive(Debug, Clone, Copy)]
pub struct Sql {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`, once per
/// backend: the body is written once and compiled for each driver.
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the concrete connection of the
/// transaction `$tx` (a `&mut Tx`).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The text of `sql` for this backend.
    pub fn pick(&self, sql: &Sql) -> &'static str {
        match self {
            Db::Sqlite(_) => sql.sqlite,
            Db::Postgres(_) => sql.postgres,
        }
    }

    /// `sql` as this backend spells it (see [`for_postgres`]).
    pub fn text<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        match self {
            Db::Sqlite(_) => std::borrow::Cow::Borrowed(sql),
            Db::Postgres(_) => std::borrow::Cow::Owned(for_postgres(sql)),
        }
    }

    /// The SQLite pool, for what only SQLite has (the WAL file, `VACUUM INTO`).
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match self {
            Db::Sqlite(pool) => Some(pool),
            Db::Postgres(_) => None,
        }
    }

    pub async fn close(&self) {
        on_db!(self, |pool| pool.close().await)
    }
}

/// SQLite's spelling of what PostgreSQL spells otherwise, in the few
/// statements written once for both (the JSON that builds a page view or a
/// list in one statement): `json_object(` and `json_array(` become
/// `json_build_object(` and `json_build_array(`, and `X COLLATE NOCASE`
/// becomes `lower(X)`; SQLite's `INDEXED BY` index choice is dropped
/// (PostgreSQL's planner picks `pages_title` itself). SQLite's `json_each`, `json_array_length`,
/// `json_group_array` and `json_group_object` exist on PostgreSQL as
/// functions of Cafe's own (`migrations/postgres`), so they need no change.
pub fn for_postgres(sql: &str) -> String {
    let sql = sql
        .replace("json_object(", "json_build_object(")
        .replace("json_array(", "json_build_array(");
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql.as_str();
    while let Some(at) = rest.find(" COLLATE NOCASE") {
        let head = &rest[..at];
        let start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '$'))
            .map_or(0, |i| i + 1);
        out.push_str(&head[..start]);
        out.push_str("lower(");
        out.push_str(&head[start..]);
        out.push(')');
        rest = &rest[at + " COLLATE NOCASE".len()..];
    }
    out.push_str(rest);
    while let Some(at) = out.find(" INDEXED BY ") {
        let after = at + " INDEXED BY ".len();
        let end = out[after..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(out.len(), |i| after + i);
        out.replace_range(at..end, "");
    }
    out
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// The text of `sql` for this backend.
    pub fn pick(&self, sql: &Sql) -> &'static str {
        match self {
            Tx::Sqlite(_) => sql.sqlite,
            Tx::Postgres(_) => sql.postgres,
        }
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// The pool size and statement timeout the command line chose, for every
/// database the process opens ([`connect`]); unset, [`DbOptions::default`].
static CHOSEN: std::sync::OnceLock<DbOptions> = std::sync::OnceLock::new();

/// Sets what [`connect`] uses; only the first call counts.
pub fn choose_options(options: DbOptions) {
    let _ = CHOSEN.set(options);
}

/// Opens (creating if needed, for SQLite) and migrates the database, with
/// the pool size and statement timeout chosen at start.
pub async fn connect(db: &str) -> anyhow::Result<Db> {
    connect_with(db, CHOSEN.get().copied().unwrap_or_default()).await
}

/// Opens and migrates the database `db` names (see [`Backend::of`]).
pub async fn connect_with(db: &str, options: DbOptions) -> anyhow::Result<Db> {
    match Backend::of(db) {
        Backend::Sqlite => connect_sqlite(db, options, true).await.map(Db::Sqlite),
        Backend::Postgres => postgres::connect(db, options).await.map(Db::Postgres),
    }
}

/// As [`connect`], for a database that must exist already (what `cafe
/// copy` reads from): a mistyped SQLite path is an error, not a new empty
/// file that would be copied as an empty site. It is still migrated, so
/// its tables have the columns this version of Cafe reads.
pub async fn connect_existing(db: &str) -> anyhow::Result<Db> {
    let options = CHOSEN.get().copied().unwrap_or_default();
    match Backend::of(db) {
        Backend::Sqlite => connect_sqlite(db, options, false).await.map(Db::Sqlite),
        Backend::Postgres => postgres::connect(db, options).await.map(Db::Postgres),
    }
}

async fn connect_sqlite(db: &str, options: DbOptions, create: bool) -> anyhow::Result<SqlitePool> {
    let pool = SqlitePoolOptions::new()
        .max_connections(options.pool_size.max(1))
        .min_connections(1)
        // Every connection is checked as it comes back (`still_usable`), so a
        // second check on the way out would only add a round trip per query.
        .test_before_acquire(false)
        .after_release(|conn, _| Box::pin(async move { still_usable(conn).await }))
        .connect_with(self::options(db)?.create_if_missing(create))
        .await
        .with_context(|| format!("cannot open the database {db}"))?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .context("cannot migrate the database")?;
    Ok(pool)
}

/// Uncached reads whose work grows with the data (ranking every match of a
/// search: 10-30 ms for a common word at 10,000 pages; counting a filtered
/// list: 45 ms and megabytes of temporary b-trees for 13,000 of 100,000
/// methods) run this many at once on SQLite, where they run inside this
/// process: one fewer than the cores, at least one. With as many as the
/// cores, answers from the caches waited for a core while the caches
/// filled (search p99 18-30 ms at 4 connections), and eight lists counted
/// at once took peak RSS from 48 to 65 MiB.
static HEAVY_READS: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(cores().saturating_sub(1).max(1)));

/// On PostgreSQL the work is the database server's and this process only
/// waits for it, so as many as the cores (at least two) run at once: one
/// at a time, four first-time searches at 100,000 pages queued behind each
/// other for 60 ms (p50) where each took 15.
static HEAVY_READS_POSTGRES: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(cores().max(2)));

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// A turn at a heavy read ([`HEAVY_READS`]), and whether it had to wait for
/// it: a caller that waited looks in its cache again first, since whoever
/// went before may have been reading the very same thing.
pub struct HeavyTurn {
    /// `None` only if the semaphore were closed, which nothing does.
    _permit: Option<tokio::sync::SemaphorePermit<'static>>,
    pub waited: bool,
}

/// Waits for a turn at a heavy read of `db`.
pub async fn heavy_read_turn(db: &Db) -> HeavyTurn {
    let reads: &'static tokio::sync::Semaphore = match db {
        Db::Sqlite(_) => &HEAVY_READS,
        Db::Postgres(_) => &HEAVY_READS_POSTGRES,
    };
    if let Ok(permit) = reads.try_acquire() {
        return HeavyTurn {
            _permit: Some(permit),
            waited: false,
        };
    }
    HeavyTurn {
        _permit: reads.acquire().await.ok(),
        waited: true,
    }
}

/// What a look in a cache found: the answer, or what was read to find it
/// missing (the clock an answer would be kept under), for the read that
/// follows.
pub enum Look<T, M> {
    Found(T),
    Missing(M),
}

/// An answer from a cache, else a turn at a heavy read to make it: `look`
/// runs once, and once more if the turn had to be waited for, since
/// whoever went first may have been reading the very same thing and kept
/// it (many people asking for one new list or search then cost one heavy
/// read, not one each). `Missing` holds the turn, to keep while reading,
/// and what the last look read. The method lists and search both take
/// their turns here, so the two cannot drift apart.
///
/// `look` is a closure returning a future rather than an async closure:
/// with an async closure the compiler no longer proves the handlers'
/// futures `Send` ("not general enough", over the borrowed arguments'
/// lifetimes), and axum needs them to be.
pub async fn cached_or_turn<T, M, E, F>(
    db: &Db,
    mut look: impl FnMut() -> F,
) -> Result<Look<T, (HeavyTurn, M)>, E>
where
    F: Future<Output = Result<Look<T, M>, E>>,
{
    let missing = match look().await? {
        Look::Found(answer) => return Ok(Look::Found(answer)),
        Look::Missing(missing) => missing,
    };
    let turn = heavy_read_turn(db).await;
    if !turn.waited {
        return Ok(Look::Missing((turn, missing)));
    }
    Ok(match look().await? {
        Look::Found(answer) => Look::Found(answer),
        Look::Missing(fresh) => Look::Missing((turn, fresh)),
    })
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
///
/// On PostgreSQL the transaction takes the whole content turn
/// ([`content_turn`]): it runs alone among content writers, as every write
/// did before saves were let run side by side ([`begin_save`]).
pub async fn begin_write(db: &Db) -> Result<Tx, sqlx::Error> {
    begin(db, Turn::Whole).await
}

/// Start a page save's write transaction ([`crate::pages::db::save_in`]
/// and nothing else). On SQLite, the same as [`begin_write`]. On
/// PostgreSQL, saves share the content turn with each other
/// ([`content_turn`]): two saves of different pages never wait for one
/// another but at the clock's row during their commits, and two saves of
/// one page wait at that page's row, which `save_in` locks before it reads
/// the revision it saves over.
pub async fn begin_save(db: &Db) -> Result<Tx, sqlx::Error> {
    begin(db, Turn::Shared).await
}

/// How much of the content turn a transaction takes on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// Alone among content writers: creations, stories, replies, the
    /// roster, admin changes, seeding, imports.
    Whole,
    /// Beside the other saves, never beside a [`Turn::Whole`] writer.
    Shared,
}

async fn begin(db: &Db, turn: Turn) -> Result<Tx, sqlx::Error> {
    match db {
        Db::Sqlite(pool) => {
            // As long as SQLite's own busy timeout: a writer that cannot have
            // its turn by then is answered "busy" (503), never left waiting.
            let Ok(_turn) = tokio::time::timeout(BUSY_TIMEOUT, WRITE_TURN.lock()).await else {
                return Err(sqlx::Error::PoolTimedOut);
            };
            note_write();
            pool.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite)
        }
        // PostgreSQL: no turn of this process's (several processes write);
        // content writes take the database's content turn instead.
        Db::Postgres(pool) => {
            note_write();
            pool.begin_with(content_turn(turn)).await.map(Tx::Postgres)
        }
    }
}

/// The content turn's advisory lock on PostgreSQL: the two-key form, which
/// never meets the one-key locks of `web::shared_throttle`. ("Cafe", 1.)
const CONTENT_TURN: (i32, i32) = (0x4361_6665, 1);

/// On PostgreSQL, what begins a write transaction: `BEGIN` and the
/// content turn, held to the end of the transaction, sent together as one
/// simple query (one round trip; sqlx stops at an error of either and
/// returns it). On SQLite, `BEGIN IMMEDIATE` gives the whole database to
/// the transaction: nothing to do.
///
/// The content clock is no longer the turn: every content write moves it
/// once, as it commits (`migrations/postgres/0102_clock_at_commit.sql`),
/// and holds its row only from there to the end of the commit, so ticks
/// still follow commits. What taking the clock's row first thing used to
/// give every write is kept by narrower means:
///
/// - A [`Turn::Whole`] writer runs alone among content writers, so what it
///   read is still true when it writes, whatever other processes write
///   meanwhile: two pages of one title cannot both take one slug, two
///   instances cannot both seed an empty site, a new page's `relink` sees
///   every link to it and every save sees that the page exists, and the
///   tag counts of stories agree with the tags of their page. Such writes
///   are rare; they wait for the saves in flight, and saves for them.
/// - Saves ([`Turn::Shared`]) go on together. What they could disagree on
///   is locked row by row: a page's row before its revision is read
///   (`FOR UPDATE` in `save_in`: two saves from one revision cannot both
///   write the next), and the tag count rows a changed tag list moves.
///   They change no slug and no page's existence, which only whole-turn
///   writers do.
/// - Locks come in one order: the turn, then rows, then the clock's row
///   at commit, after which only `page_ticks` rows are written, by the
///   clock's holder alone. Two saves whose tag lists change can still lock
///   two tag counts in opposite orders; PostgreSQL then ends one with a
///   deadlock error, and saves run again on those
///   (`group_commit`, [`crate::error::is_retryable`]).
fn content_turn(turn: Turn) -> String {
    let lock = match turn {
        Turn::Whole => "pg_advisory_xact_lock",
        Turn::Shared => "pg_advisory_xact_lock_shared",
    };
    let (first, second) = CONTENT_TURN;
    format!("BEGIN; SELECT {lock}({first}, {second})")
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

    #[test]
    fn statements_shared_with_sqlite_are_spelled_for_postgres() {
        assert_eq!(
            for_postgres(
                "SELECT json_group_array(json_object('a', x) ORDER BY q.title COLLATE NOCASE, id)"
            ),
            "SELECT json_group_array(json_build_object('a', x) ORDER BY lower(q.title), id)"
        );
        assert_eq!(
            for_postgres("ORDER BY grp COLLATE NOCASE, sort"),
            "ORDER BY lower(grp), sort"
        );
        assert_eq!(
            for_postgres("FROM pages q INDEXED BY pages_title WHERE"),
            "FROM pages q WHERE"
        );
    }

    #[tokio::test]
    async fn a_heavy_read_past_the_limit_waits_for_a_turn_and_says_so() {
        // Pools that never connect: the turns do not touch the database.
        let sqlite = Db::Sqlite(SqlitePool::connect_lazy("sqlite::memory:").expect("pool"));
        let postgres = Db::Postgres(
            sqlx::PgPool::connect_lazy("postgres://cafe@127.0.0.1:1/none").expect("pool"),
        );
        for (db, reads, least) in [
            (sqlite, &HEAVY_READS, 1),
            (postgres, &HEAVY_READS_POSTGRES, 2),
        ] {
            let mut held = Vec::new();
            while reads.available_permits() > 0 {
                let turn = heavy_read_turn(&db).await;
                assert!(!turn.waited, "a free turn was waited for");
                held.push(turn);
            }
            assert!(
                held.len() >= least,
                "only {} heavy reads at once",
                held.len()
            );
            let waiting = tokio::spawn({
                let db = db.clone();
                async move { heavy_read_turn(&db).await }
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!waiting.is_finished(), "a heavy read went past the limit");
            held.pop();
            let turn = waiting.await.expect("the waiting read");
            assert!(turn.waited);
        }
    }
}
