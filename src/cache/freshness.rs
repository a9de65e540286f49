//! The one freshness rule: a kept answer is served while nothing it shows
//! has been written since it was made.
//!
//! What an answer shows is its [`Scope`]: the pages of one method (its
//! text, history, stories, replies, roster), the method lists (which
//! methods exist, their titles and tags), or the whole site (search,
//! feeds, recent changes, tags, profiles). The database keeps a content
//! clock (`migrations/sqlite/0009_content_clock.sql`): triggers move it, in the
//! writer's own transaction, for every content write and for the slug it
//! touched. Sessions, throttles and the search index's upkeep write no
//! content, so they make nothing stale, and another process's commit
//! (`cafe import` while the server runs) moves the clock like our own.
//!
//! Reading the clock for every request would cost a query per cache hit.
//! So [`Freshness`] keeps what it last read and reads again only when
//! something may have committed since: this process began a write
//! ([`crate::db::note_write`], before `BEGIN` and again after the request
//! that wrote has its answer), the WAL file changed size or time (any
//! commit of any process), or [`RECHECK`] passed (two commits of another
//! process after a WAL restart, within one tick of the file system's clock,
//! can leave the file looking the same). Nothing expires by age: on a
//! quiet site the only cost of time passing is one small query a second.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::db::Db;

/// How often the clock is read even when nothing seems to have changed.
pub const RECHECK: Duration = Duration::from_secs(1);

/// What a kept answer shows, and so which writes make it stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The pages of the method with this slug (`/methods/{slug}/…`).
    Page(String),
    /// The method lists: which methods exist, their titles and tags.
    Lists,
    /// Anything else: stale after any content write.
    Site,
}

/// The content clock as read at one moment (see the migration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Clock {
    pub tick: i64,
    pub lists: i64,
    pub everything: i64,
    /// Moves on any change to an account (`migrations/sqlite/0010`): not content,
    /// but what [`super::sessions`] keeps of a session's member.
    pub accounts: i64,
}

/// What the database looked like when an answer was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Made {
    clock: Clock,
    scope: Scope,
    /// When what the answer shows turns false with no write at all (see
    /// [`KeepUntil`]).
    until: Option<SystemTime>,
}

impl Made {
    pub fn new(clock: Clock, scope: Scope) -> Made {
        Made {
            clock,
            scope,
            until: None,
        }
    }

    /// The same, kept no later than `until`.
    pub fn until(self, until: Option<SystemTime>) -> Made {
        Made { until, ..self }
    }
}

/// Set on a response by a handler whose page shows something that time
/// alone makes untrue: a roster entry shown as confirmed stops being so
/// when its confirmation grows too old, though nothing was written. The
/// caches keep such a page no later than this.
#[derive(Clone, Copy, Debug)]
pub struct KeepUntil(pub SystemTime);

/// The clock as this process last read it, and the slugs written since it
/// started with the tick of their last write.
#[derive(Default)]
struct Known {
    clock: Clock,
    pages: HashMap<String, i64>,
}

/// What was true when the clock was last read: a later read is needed
/// once any of it changes.
#[derive(PartialEq, Eq, Clone, Copy)]
struct Signs {
    own_writes: u64,
    wal: Option<(u64, SystemTime)>,
    /// Commits other instances announced ([`Heard`]; PostgreSQL only).
    heard: u64,
}

/// What the PostgreSQL listener has heard: every content commit of any
/// instance is announced on [`CHANNEL`] (the triggers' `pg_notify`, sent
/// when the writer commits), so an instance that listens need not read
/// the clock for every request. Counted, not kept: a new count is a sign
/// to read the clock again.
#[derive(Default)]
struct Heard {
    commits: AtomicU64,
    /// Changes to sessions announced (a sign-out, a new or re-saved
    /// session on any instance; payload [`SESSIONS`]), for the sessions
    /// kept in memory ([`super::sessions::Records`]).
    sessions: AtomicU64,
    /// Whether the listener is connected and listening now. While it is
    /// not, announcements may be missed: the clock is read for every
    /// request as if there were no listener.
    listening: std::sync::atomic::AtomicBool,
}

/// The payload of a notice about sessions rather than content.
const SESSIONS: &str = "sessions";

/// What the listener heard of sessions, for [`super::sessions::Records`]:
/// a generation that moves whenever a session may have changed or ended
/// on any instance, or the listener was away.
#[derive(Clone)]
pub struct SessionSigns(Arc<Heard>);

impl SessionSigns {
    /// The current generation, or `None` while the listener is not
    /// listening (then nothing may be served from memory).
    pub fn generation(&self) -> Option<u64> {
        self.0
            .listening
            .load(Ordering::Acquire)
            .then(|| self.0.sessions.load(Ordering::Acquire))
    }
}

/// The channel the PostgreSQL triggers announce content commits on
/// (`migrations/postgres/0102_clock_at_commit.sql`, `cafe_flush_touches`,
/// once per committing transaction).
pub const CHANNEL: &str = "cafe_content";

/// The content clock, read again only when it may have moved.
pub struct Freshness {
    pool: Db,
    /// The database's WAL file, which every commit of any process changes.
    wal: Option<PathBuf>,
    known: RwLock<Known>,
    /// When the clock was last read, and the signs it was read under.
    checked: Mutex<Option<(Signs, Instant)>>,
    /// One reader of the clock at a time; the others wait and use its read.
    reading: tokio::sync::Mutex<()>,
    /// Reads of the clock begun, and the number of the last one finished:
    /// on a shared database (PostgreSQL, several instances) a request may
    /// use only a read that began after it arrived (see [`Freshness::now`]).
    reads_begun: AtomicU64,
    read_done: AtomicU64,
    /// PostgreSQL: what the listener task heard (see [`Heard`]).
    heard: Option<Arc<Heard>>,
    /// Dropped with this, which ends the listener task.
    _stop_listening: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Freshness {
    /// The clock of the database `pool` opens; `wal` is its WAL file
    /// (`None` for a database in memory, which only this process writes).
    ///
    /// On PostgreSQL this starts the task that listens for other instances'
    /// commits (on the current tokio runtime); it ends once the returned
    /// value is dropped.
    pub fn new(pool: Db, wal: Option<PathBuf>) -> Freshness {
        let heard = match &pool {
            Db::Postgres(pg) => {
                let heard = Arc::new(Heard::default());
                let (stop, stopped) = tokio::sync::oneshot::channel();
                tokio::spawn(listen(pg.clone(), heard.clone(), stopped));
                Some((heard, stop))
            }
            Db::Sqlite(_) => None,
        };
        let (heard, stop_listening) = heard.unzip();
        Freshness {
            heard,
            _stop_listening: stop_listening,
            pool,
            wal,
            known: RwLock::default(),
            checked: Mutex::new(None),
            reading: tokio::sync::Mutex::const_new(()),
            reads_begun: AtomicU64::new(0),
            read_done: AtomicU64::new(0),
        }
    }

    /// PostgreSQL: the signs sessions kept in memory are checked against.
    pub fn session_signs(&self) -> Option<SessionSigns> {
        self.heard.clone().map(SessionSigns)
    }

    fn signs(&self) -> Signs {
        let wal = self
            .wal
            .as_ref()
            .and_then(|wal| std::fs::metadata(wal).ok())
            .map(|meta| {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                (meta.len(), modified)
            });
        Signs {
            own_writes: crate::db::write_generation(),
            wal,
            heard: self
                .heard
                .as_ref()
                .map_or(0, |heard| heard.commits.load(Ordering::Acquire)),
        }
    }

    fn still_checked(&self, signs: Signs) -> bool {
        let checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        checked.is_some_and(|(seen, at)| seen == signs && at.elapsed() < RECHECK)
    }

    fn known_clock(&self) -> Clock {
        self.known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clock
    }

    /// The clock now: everything committed before this call is counted.
    /// `None` if the database cannot be read (then nothing is served from
    /// a cache, nor kept).
    pub async fn now(&self) -> Option<Clock> {
        let listening = self
            .heard
            .as_ref()
            .map(|heard| heard.listening.load(Ordering::Acquire));
        if listening == Some(false) {
            return self.now_shared().await;
        }
        if self.still_checked(self.signs()) {
            return Some(self.known_clock());
        }
        let _turn = self.reading.lock().await;
        // Whoever read while this waited may have seen all there is.
        let signs = self.signs();
        if self.still_checked(signs) {
            return Some(self.known_clock());
        }
        match self.read(signs).await {
            Ok(clock) => Some(clock),
            Err(err) => {
                tracing::warn!(%err, "cannot read the content clock");
                None
            }
        }
    }

    /// The clock now on a database other processes write without a sign
    /// this one can see (PostgreSQL while the listener is not listening):
    /// read for every request,
    /// but one read serves every request that arrived before it began, so
    /// under load the reads do not grow with the requests (one primary-key
    /// row and, after writes, the slugs they touched).
    async fn now_shared(&self) -> Option<Clock> {
        let arrived = self.reads_begun.load(Ordering::Acquire);
        if self.read_done.load(Ordering::Acquire) > arrived {
            return Some(self.known_clock());
        }
        let _turn = self.reading.lock().await;
        if self.read_done.load(Ordering::Acquire) > arrived {
            return Some(self.known_clock());
        }
        let number = self.reads_begun.fetch_add(1, Ordering::AcqRel) + 1;
        match self.read(self.signs()).await {
            Ok(clock) => {
                self.read_done.store(number, Ordering::Release);
                Some(clock)
            }
            Err(err) => {
                tracing::warn!(%err, "cannot read the content clock");
                None
            }
        }
    }

    /// Reads the clock, then the slugs written since the last read (in
    /// that order: a slug written in between is seen as newer than the
    /// clock, which can only make an answer stale, never fresh). On
    /// PostgreSQL both in one statement, so in one snapshot: after every
    /// save of this instance the clock is read again, and a round trip is
    /// much of what a save costs there.
    async fn read(&self, signs: Signs) -> sqlx::Result<Clock> {
        let since = self.known_clock().tick;
        let (clock, written) = match &self.pool {
            Db::Postgres(pool) => read_postgres(pool, since).await?,
            Db::Sqlite(pool) => read_sqlite(pool, since).await?,
        };
        {
            let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
            known.pages.extend(written);
            known.clock = clock;
        }
        *self.checked.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((signs, Instant::now()));
        Ok(clock)
    }

    /// Whether an answer made at `made` may still be served at `now`.
    pub fn is_fresh(&self, made: &Made, now: Clock) -> bool {
        if made.clock.everything != now.everything
            || made.until.is_some_and(|until| SystemTime::now() >= until)
        {
            return false;
        }
        match &made.scope {
            Scope::Site => made.clock.tick == now.tick,
            Scope::Lists => made.clock.lists == now.lists,
            Scope::Page(slug) => {
                let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
                // A slug unwritten since the server started was last
                // written before any answer it keeps was made.
                known
                    .pages
                    .get(slug)
                    .is_none_or(|&tick| tick <= made.clock.tick)
            }
        }
    }
}

/// At most this many slugs come with the clock in one statement (the
/// `LIMIT` of [`read_postgres`], written out: a kept plan must know it);
/// more (an import, a rename linked from everywhere) are read by a second.
const WRITTEN_AT_ONCE: usize = 1000;

/// The clock, and the slugs written after tick `since` with their ticks,
/// read in one statement (see [`Freshness::read`]).
///
/// Written so that PostgreSQL keeps one plan for it: `since` is read
/// through a subquery, whose value no plan depends on, and the slugs come
/// from the tick index in order, at most [`WRITTEN_AT_ONCE`]. With `since`
/// a plain parameter, every plan made for a known `since` looked cheaper
/// than the kept one, so the statement was planned again at each of its
/// calls, one and a half a save: 0.09 ms of planning against 0.02 ms of
/// running (bench/save_statements.sh, bench/RESULTS.md).
async fn read_postgres(
    pool: &sqlx::PgPool,
    since: i64,
) -> sqlx::Result<(Clock, Vec<(String, i64)>)> {
    let (tick, lists, everything, accounts, written) =
        sqlx::query_as::<_, (i64, i64, i64, i64, String)>(
            "SELECT tick, lists, everything, accounts,
                    CASE WHEN tick = $1 THEN '[]'
                         ELSE (SELECT coalesce(json_agg(json_build_array(w.slug, w.tick)), '[]')::text
                               FROM (SELECT t.slug, t.tick FROM page_ticks t
                                     WHERE t.tick > (SELECT $1::bigint)
                                     ORDER BY t.tick LIMIT 1000) w) END
             FROM content_clock WHERE id = 1",
        )
        .bind(since)
        .fetch_one(pool)
        .await?;
    let mut written: Vec<(String, i64)> =
        serde_json::from_str(&written).map_err(|err| sqlx::Error::Decode(err.into()))?;
    if written.len() >= WRITTEN_AT_ONCE {
        // Read after the clock, so possibly with slugs written since: seen
        // as newer than the clock, they can only make answers stale.
        written =
            sqlx::query_as::<_, (String, i64)>("SELECT slug, tick FROM page_ticks WHERE tick > $1")
                .bind(since)
                .fetch_all(pool)
                .await?;
    }
    let clock = Clock {
        tick,
        lists,
        everything,
        accounts,
    };
    Ok((clock, written))
}

/// The clock, then the slugs written after tick `since` if it moved.
async fn read_sqlite(
    pool: &sqlx::SqlitePool,
    since: i64,
) -> sqlx::Result<(Clock, Vec<(String, i64)>)> {
    let (tick, lists, everything, accounts) = sqlx::query_as::<_, (i64, i64, i64, i64)>(
        "SELECT tick, lists, everything, accounts FROM content_clock WHERE id = 1",
    )
    .fetch_one(pool)
    .await?;
    let written = if tick != since {
        sqlx::query_as::<_, (String, i64)>("SELECT slug, tick FROM page_ticks WHERE tick > $1")
            .bind(since)
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    let clock = Clock {
        tick,
        lists,
        everything,
        accounts,
    };
    Ok((clock, written))
}

/// Listens for the commits other instances announce, counting each in
/// `heard`. It has a
/// connection of its own (a pool of one, made from `pool`'s options), so
/// the site's pool keeps all its connections for requests. A lost
/// connection counts as a commit heard (anything may have been missed
/// while it was down) and is made again, a second apart. It ends when
/// `stop`'s sender is dropped with the [`Freshness`].
async fn listen(
    pool: sqlx::PgPool,
    heard: Arc<Heard>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    use sqlx::postgres::{PgListener, PgPoolOptions};
    let options = (*pool.connect_options()).clone();
    drop(pool);
    let own = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(options);
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    'connect: loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = retry.tick() => {}
        }
        let listener = async {
            let mut listener = PgListener::connect_with(&own).await?;
            // A lost connection is said at once (`Ok(None)`), not after
            // trying to connect again inside `try_recv`: meanwhile this
            // instance must not believe it is still hearing everything.
            listener.eager_reconnect(false);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match listener.await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(%err, "cannot listen for other instances' commits: reading the content clock for every request");
                continue;
            }
        };
        // Listening from now on: whatever came before is read afresh.
        heard.commits.fetch_add(1, Ordering::AcqRel);
        heard.sessions.fetch_add(1, Ordering::AcqRel);
        heard.listening.store(true, Ordering::Release);
        loop {
            let next = tokio::select! {
                _ = &mut stop => break 'connect,
                next = listener.try_recv() => next,
            };
            if let Ok(Some(notice)) = &next
                && notice.payload() == SESSIONS
            {
                heard.sessions.fetch_add(1, Ordering::AcqRel);
                continue;
            }
            heard.commits.fetch_add(1, Ordering::AcqRel);
            if !matches!(next, Ok(Some(_))) {
                heard.sessions.fetch_add(1, Ordering::AcqRel);
                heard.listening.store(false, Ordering::Release);
                tracing::warn!("lost the connection listening for other instances' commits");
                continue 'connect;
            }
        }
    }
    own.close().await;
}

/// What the answer at `path` (without its query) shows.
pub fn scope_of(path: &str) -> Scope {
    if path == "/methods" {
        return Scope::Lists;
    }
    match path.strip_prefix("/methods/") {
        Some(rest) => {
            let slug = rest.split('/').next().unwrap_or_default();
            Scope::Page(slug.to_owned())
        }
        None => Scope::Site,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_the_scope_of_what_it_shows() {
        assert_eq!(scope_of("/methods"), Scope::Lists);
        assert_eq!(
            scope_of("/methods/peer-assist"),
            Scope::Page("peer-assist".into())
        );
        assert_eq!(
            scope_of("/methods/peer-assist/stories/4"),
            Scope::Page("peer-assist".into())
        );
        assert_eq!(scope_of("/methods.atom"), Scope::Site);
        assert_eq!(scope_of("/search"), Scope::Site);
        assert_eq!(scope_of("/tags/lkm-1"), Scope::Site);
    }

    async fn clock_of(pool: &Db) -> (Freshness, Clock) {
        let freshness = Freshness::new(pool.clone(), None);
        let now = freshness.now().await.expect("the clock");
        (freshness, now)
    }

    async fn write(pool: &Db, sql: &str) {
        crate::db::note_write();
        crate::on_db!(pool, |pool| sqlx::query(sql)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .expect(sql);
        crate::db::note_write();
    }

    #[tokio::test]
    async fn a_save_to_one_page_leaves_the_others_fresh_and_the_site_stale() {
        let (_dir, pool) = crate::seed::seeded_for_test().await;
        let slugs: Vec<String> = crate::on_db!(&pool, |pool| sqlx::query_scalar(
            "SELECT slug FROM pages ORDER BY id LIMIT 2"
        )
        .fetch_all(pool)
        .await)
        .expect("two seeded pages");
        let (freshness, before) = clock_of(&pool).await;
        let page = |n: usize| Made::new(before, Scope::Page(slugs[n].clone()));
        let (site, lists) = (
            Made::new(before, Scope::Site),
            Made::new(before, Scope::Lists),
        );
        write(
            &pool,
            &format!(
                "UPDATE pages SET body = body || 'x' WHERE slug = '{}'",
                slugs[0]
            ),
        )
        .await;
        let now = freshness.now().await.expect("the clock");
        assert!(
            !freshness.is_fresh(&page(0), now),
            "the saved page is stale"
        );
        assert!(
            freshness.is_fresh(&page(1), now),
            "another page stays fresh"
        );
        assert!(
            !freshness.is_fresh(&site, now),
            "search and feeds are stale"
        );
        assert!(freshness.is_fresh(&lists, now), "a body shows in no list");
        write(
            &pool,
            &format!(
                "UPDATE pages SET title = 'Renamed' WHERE slug = '{}'",
                slugs[1]
            ),
        )
        .await;
        let now = freshness.now().await.expect("the clock");
        assert!(!freshness.is_fresh(&lists, now), "a title shows in lists");
        assert!(!freshness.is_fresh(&page(1), now));
    }

    #[tokio::test]
    async fn writes_that_are_not_content_make_nothing_stale() {
        let (_dir, pool) = crate::seed::seeded_for_test().await;
        let (freshness, before) = clock_of(&pool).await;
        let site = Made::new(before, Scope::Site);
        write(&pool, "UPDATE users SET auth_epoch = auth_epoch + 1").await;
        write(
            &pool,
            "INSERT INTO search_index(search_index) VALUES ('optimize')",
        )
        .await;
        let now = freshness.now().await.expect("the clock");
        assert_eq!(now, before);
        assert!(freshness.is_fresh(&site, now));
    }

    #[tokio::test]
    async fn a_name_or_an_indicator_makes_everything_stale() {
        let (_dir, pool) = crate::seed::seeded_for_test().await;
        let (freshness, before) = clock_of(&pool).await;
        let page = Made::new(before, Scope::Page("any".into()));
        write(
            &pool,
            "INSERT INTO indicators (code, tag, name) VALUES ('T-1', 't-1', 'A test')",
        )
        .await;
        let now = freshness.now().await.expect("the clock");
        assert!(!freshness.is_fresh(&page, now));
    }
}
