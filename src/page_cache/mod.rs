//! Pages as visitors who are not signed in see them, kept rendered.
//!
//! A visitor's page (a method, a list, a story, the tags, a feed) depends
//! only on its address and the database, so what was sent can be sent again
//! until something is written. [`serve_visitors`] wraps the reading routes.
//! Every write of this process makes the entries older than it stale at
//! once ([`crate::db::write_generation`]); a commit by another process
//! (`cafe import` while the server runs, a script) is seen through the WAL
//! file, whose size or modification time it changes. Two such commits
//! landing within one tick of the file system's clock, after the WAL has
//! been restarted, can leave both the same; [`MAX_AGE`] bounds how long an
//! answer made between them is served.
//!
//! Two tiers: memory, bounded in bytes (`--page-cache-mib`), keeps the most
//! used pages; files ([`disk`], `--page-cache-disk-mib`) keep many more at
//! no cost to the server's memory, read back from the kernel's page cache
//! as a static file server's would be. A page in neither comes from the
//! one-statement view.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::context::Ctx;
use disk::{DiskTier, Kept};

pub mod disk;

/// How long an entry may be served at most: the bound on how late another
/// process's writes show in the rare case its commits leave the WAL file's
/// size and time as they were.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// What the database looked like when an answer was made: the writes of
/// this process so far, and the WAL file's size and modification time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stamp {
    writes: u64,
    wal: Option<(u64, SystemTime)>,
}

#[derive(Clone)]
struct Entry {
    stamp: Stamp,
    made: Instant,
    kept: Kept,
}

/// Weighs an entry by its HTML and key, so the bound is in bytes.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.kept.body.len()) as u64
    }
}

/// Rendered pages for visitors, bounded in bytes; size 0 keeps none.
pub struct PageCache {
    entries: Option<quick_cache::sync::Cache<String, Entry, ByBytes>>,
    /// The second tier, for a database in a file and a size above 0.
    disk: Option<Arc<DiskTier>>,
    /// The database's WAL file, which every commit of any process changes.
    wal: Option<PathBuf>,
}

/// An average visitor's method page is 6–8 KB of HTML.
const TYPICAL_PAGE: u64 = 7 * 1024;

impl PageCache {
    /// A cache of `bytes` in memory and `disk_bytes` in files for the
    /// database file `db` (`None`: a database in memory, and no file). If
    /// no file can be made beside the database, the memory tier works
    /// alone, with a warning.
    pub fn new(bytes: u64, disk_bytes: u64, db: Option<&Path>) -> PageCache {
        let entries = (bytes > 0).then(|| {
            let items = usize::try_from(bytes / TYPICAL_PAGE).unwrap_or(usize::MAX);
            quick_cache::sync::Cache::with_weighter(items.max(1), bytes, ByBytes)
        });
        let disk = db.filter(|_| disk_bytes > 0).and_then(|db| {
            DiskTier::open(db, disk_bytes)
                .inspect_err(|err| tracing::warn!(%err, "page cache: no files kept"))
                .ok()
                .map(Arc::new)
        });
        let wal = db.map(|db| {
            let mut wal = db.as_os_str().to_owned();
            wal.push("-wal");
            PathBuf::from(wal)
        });
        PageCache { entries, disk, wal }
    }

    /// The database as it is now (read before making an answer to keep).
    pub fn stamp(&self) -> Stamp {
        let wal = self
            .wal
            .as_ref()
            .and_then(|wal| std::fs::metadata(wal).ok())
            .map(|meta| {
                (
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                )
            });
        Stamp {
            writes: crate::db::write_generation(),
            wal,
        }
    }

    /// The answer kept for `key`, if it was made at `stamp` (the current
    /// one: nothing written since) and is younger than [`MAX_AGE`]: from
    /// memory, else from its file.
    fn get(&self, key: &str, stamp: Stamp) -> Option<Kept> {
        let in_memory = self.entries.as_ref().and_then(|entries| entries.get(key));
        match in_memory {
            Some(entry) if entry.stamp == stamp && entry.made.elapsed() < MAX_AGE => {
                Some(entry.kept)
            }
            _ => self.disk.as_ref()?.get(key, stamp),
        }
    }

    /// Keeps an answer made from what the database held at `stamp` (taken
    /// before the handler ran, so a write meanwhile makes it stale).
    fn put(&self, key: String, stamp: Stamp, content_type: Option<HeaderValue>, body: Bytes) {
        let kept = Kept { content_type, body };
        if let Some(disk) = &self.disk {
            disk.put(key.clone(), stamp, kept.clone());
        }
        if let Some(entries) = &self.entries {
            let made = Instant::now();
            entries.insert(key, Entry { stamp, made, kept });
        }
    }
}

impl Kept {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        if let Some(content_type) = self.content_type {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        response
    }
}

/// The stamp read by [`serve_sessionless`] when it found nothing, for the
/// answer made now to be kept under (read before the handler runs).
#[derive(Clone, Copy)]
struct Missed(Stamp);

/// Answers GETs that carry no session cookie from the cache before the
/// session, the request context and the router are built for them: the
/// common case, a visitor reading, for the cost of a look at the cookies.
/// Misses go on to the route, where [`serve_visitors`] keeps the answer.
pub async fn serve_sessionless(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::GET && !carries_session(&request) {
        let stamp = state.page_cache.stamp();
        if let Some(kept) = state.page_cache.get(key_of(&request), stamp) {
            return kept.into_response();
        }
        request.extensions_mut().insert(Missed(stamp));
    }
    next.run(request).await
}

/// Whether any cookie might be the session's. A cookie whose name merely
/// ends so counts too: such a request is only served the slower way.
fn carries_session(request: &Request) -> bool {
    let name = format!("{}=", crate::app::SESSION_COOKIE);
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .any(|cookies| cookies.to_str().map_or(true, |c| c.contains(&name)))
}

fn key_of(request: &Request) -> &str {
    request.uri().path_and_query().map_or("", |pq| pq.as_str())
}

/// Answers the GETs of visitors without a session from the cache, and keeps
/// the 200 answers it lets through. A signed-in member is served fresh:
/// their pages carry what is theirs alone. (A visitor who has seen the
/// sign-in form holds only its CSRF cookie, not a session, and is a visitor.)
pub async fn serve_visitors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let anonymous = request
        .extensions()
        .get::<Ctx>()
        .is_some_and(|ctx| ctx.user.is_none() && ctx.csrf.is_empty());
    if request.method() != Method::GET || !anonymous {
        return next.run(request).await;
    }
    let key = key_of(&request).to_owned();
    let stamp = match request.extensions().get::<Missed>() {
        Some(Missed(stamp)) => *stamp,
        None => {
            let stamp = state.page_cache.stamp();
            if let Some(kept) = state.page_cache.get(&key, stamp) {
                return kept.into_response();
            }
            stamp
        }
    };
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    state.page_cache.put(key, stamp, content_type, body.clone());
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(writes: u64) -> Stamp {
        Stamp { writes, wal: None }
    }

    #[test]
    fn an_entry_is_served_until_something_is_written() {
        let cache = PageCache::new(1 << 20, 0, None);
        cache.put(
            "/methods/a".into(),
            stamp(7),
            None,
            Bytes::from_static(b"<p>a</p>"),
        );
        let body = cache.get("/methods/a", stamp(7)).map(|e| e.body);
        assert_eq!(body.as_deref(), Some(&b"<p>a</p>"[..]));
        assert!(cache.get("/methods/b", stamp(7)).is_none());
        assert!(
            cache.get("/methods/a", stamp(8)).is_none(),
            "a write makes entries stale"
        );
    }

    /// Another process's commit appends to the WAL file: the stamp moves.
    #[test]
    fn a_commit_by_another_process_moves_the_stamp() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("cafe.db");
        let cache = PageCache::new(1 << 20, 0, Some(&db));
        let before = cache.stamp();
        let mut wal = std::fs::File::create(dir.path().join("cafe.db-wal")).expect("wal");
        wal.write_all(&[0; 4096]).expect("write");
        let created = cache.stamp();
        assert_ne!(before, created);
        wal.write_all(&[0; 4096]).expect("write");
        assert_ne!(created, cache.stamp());
        assert_eq!(cache.stamp(), cache.stamp());
    }

    #[test]
    fn a_cache_of_size_zero_keeps_nothing() {
        let cache = PageCache::new(0, 0, None);
        cache.put(
            "/methods/a".into(),
            stamp(1),
            None,
            Bytes::from_static(b"x"),
        );
        assert!(cache.get("/methods/a", stamp(1)).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let cache = PageCache::new(64 * 1024, 0, None);
        for n in 0..100 {
            cache.put(
                format!("/methods/p{n}"),
                stamp(1),
                None,
                Bytes::from(vec![b'x'; 4096]),
            );
        }
        let kept = (0..100)
            .filter(|n| cache.get(&format!("/methods/p{n}"), stamp(1)).is_some())
            .count();
        assert!(
            kept > 0 && kept <= 16,
            "kept {kept} pages of 4 KiB in 64 KiB"
        );
    }
}
