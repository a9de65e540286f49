//! Answers as visitors who are not signed in see them, kept rendered.
//!
//! A visitor's page (a method, a list, a story, the tags, a feed) depends
//! only on its address and the database, so what was sent can be sent again
//! while nothing it shows has been written: the one freshness rule of
//! [`super::freshness`]. [`serve_sessionless`] answers before sessions are
//! loaded; [`serve_visitors`] wraps the reading routes and keeps their 200s.
//!
//! Two tiers: memory, bounded in bytes (`--page-cache-mib`), keeps the most
//! used pages; a file ([`super::disk`], `--page-cache-disk-mib`) keeps many
//! more at no cost to the server's memory, read back from the kernel's page
//! cache as a static file server's would be. A page in neither comes from
//! the one-statement view.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::disk::{DiskTier, Kept};
use super::freshness::{Clock, Freshness, KeepUntil, Made, scope_of};
use super::members;
use crate::state::AppState;
use crate::web::context::Ctx;

#[derive(Clone)]
struct Entry {
    made: Made,
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
    freshness: Arc<Freshness>,
    /// Answers served from here, and answers made and kept because none
    /// was fresh (for `GET /healthz/cache` and the benchmark's hit rate).
    /// A look for an address never kept (a form, a 404, this counter
    /// itself) is neither.
    hits: AtomicU64,
    misses: AtomicU64,
}

/// An average visitor's method page is 6–8 KB of HTML.
const TYPICAL_PAGE: u64 = 7 * 1024;

impl PageCache {
    /// A cache of `bytes` in memory and `disk_bytes` in a file beside the
    /// database file `db` (`None`: a database in memory, and no file). If
    /// no file can be made there, the memory tier works alone, with a
    /// warning.
    pub fn new(
        bytes: u64,
        disk_bytes: u64,
        db: Option<&Path>,
        freshness: Arc<Freshness>,
    ) -> PageCache {
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
        PageCache {
            entries,
            disk,
            freshness,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The clock now (read before making an answer to keep); `None` when it
    /// cannot be read, and then nothing is served from here.
    pub async fn now(&self) -> Option<Clock> {
        self.freshness.now().await
    }

    /// The answer kept for `key`, if nothing it shows was written since it
    /// was made: from memory, else from the file.
    fn get(&self, key: &str, now: Clock) -> Option<Kept> {
        let fresh = |made: &Made| self.freshness.is_fresh(made, now);
        let in_memory = self.entries.as_ref().and_then(|entries| entries.get(key));
        let found = match in_memory {
            Some(entry) if fresh(&entry.made) => Some(entry.kept),
            _ => self.disk.as_ref().and_then(|disk| disk.get(key, fresh)),
        };
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// How many answers were served from here, and how many were made and
    /// kept because none was fresh, since start.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Keeps an answer made from what the database held at `clock` (read
    /// before the handler ran, so a write meanwhile makes it stale).
    /// `path` is the address it answers (a member's skeleton is kept under
    /// a key of its own, see [`members::key`]).
    fn put(&self, key: String, path: &str, clock: Clock, kept: Kept, until: Option<SystemTime>) {
        let path = path.split('?').next().unwrap_or_default();
        let made = Made::new(clock, scope_of(path)).until(until);
        self.misses.fetch_add(1, Ordering::Relaxed);
        if let Some(disk) = &self.disk {
            disk.put(key.clone(), made.clone(), kept.clone());
        }
        if let Some(entries) = &self.entries {
            entries.insert(key, Entry { made, kept });
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

/// The clock read by [`serve_sessionless`] when it found nothing, for the
/// answer made now to be kept under (read before the handler runs).
#[derive(Clone, Copy)]
struct Missed(Clock);

/// Answers GETs from the cache before the session layer, the request
/// context and the router are built for them: a visitor's (no session
/// cookie) for the cost of a look at the cookies, a member's when their
/// session and account are in memory (see [`serve_kept_member`]). Misses go
/// on to the route, where [`serve_visitors`] keeps the answer.
pub async fn serve_sessionless(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // What needs no database is never kept, and need not wait for the
    // clock (on PostgreSQL a read of it; while the server cannot be reached,
    // the pool's whole timeout).
    if request.method() == Method::GET
        && !crate::web::unreachable::needs_no_database(request.uri().path())
        && let Some(now) = state.page_cache.now().await
    {
        let found = if !carries_session(&request) {
            Some(
                state
                    .page_cache
                    .get(key_of(&request), now)
                    .map(Kept::into_response),
            )
        } else {
            serve_kept_member(&state, &request, now)
        };
        match found {
            Some(Some(response)) => return response,
            Some(None) => {
                request.extensions_mut().insert(Missed(now));
            }
            None => {}
        }
    }
    next.run(request).await
}

/// A signed-in member's GET answered from their role's kept skeleton,
/// before the session layer, the request context and the router (the same
/// shortcut as a visitor's). `None`: the member could not be told from
/// memory alone (see [`super::sessions::signed_in_member`]); `Some(None)`:
/// nothing fresh is kept for them.
fn serve_kept_member(state: &AppState, request: &Request, now: Clock) -> Option<Option<Response>> {
    let id = crate::auth::cookie(request.headers(), crate::state::SESSION_COOKIE)?;
    if crate::web::flash::carried(request.headers()) {
        // A confirmation waits to be shown: the page is made for them alone.
        return None;
    }
    let (user, csrf) = super::sessions::signed_in_member(state, id, now.accounts)?;
    let follow = Some(state.follow.peek(user.id, now.tick)?);
    let path = key_of(request);
    let Some(kept) = state
        .page_cache
        .get(&members::key(path, user.is_admin), now)
    else {
        return Some(None);
    };
    let ctx = Ctx {
        user: Some(user),
        csrf,
        site: state.site.clone(),
        path: path.to_owned(),
        flash: None,
        follow,
    };
    let mut response = filled_in(kept, &ctx)?;
    // What the context middleware sets on anything a member is sent.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(crate::state::MEMBER_CACHE_CONTROL),
    );
    Some(Some(response))
}

/// Whether any cookie might be the session's. A cookie whose name merely
/// ends so counts too: such a request is only served the slower way.
fn carries_session(request: &Request) -> bool {
    let name = format!("{}=", crate::state::SESSION_COOKIE);
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .any(|cookies| cookies.to_str().map_or(true, |c| c.contains(&name)))
}

fn key_of(request: &Request) -> &str {
    request.uri().path_and_query().map_or("", |pq| pq.as_str())
}

/// Answers the GETs of the reading routes from the cache, and keeps the 200
/// answers it lets through: visitors' pages as they are sent, members' as a
/// skeleton of their role (see [`super::members`]). (A visitor who has seen
/// the sign-in form holds only its CSRF cookie, not a session, and is a
/// visitor.)
pub async fn serve_visitors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let ctx = match request.extensions().get::<Ctx>() {
        Some(ctx) if request.method() == Method::GET => ctx.clone(),
        _ => return next.run(request).await,
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    if ctx.flash.is_some() {
        // A page with a one-time confirmation is this member's alone.
        next.run(request).await
    } else if ctx.user.is_some() && members::serves(route) {
        serve_member(&state, ctx, request, next).await
    } else if ctx.user.is_none() && ctx.csrf.is_empty() {
        serve_visitor(&state, request, next).await
    } else {
        next.run(request).await
    }
}

async fn serve_visitor(state: &AppState, request: Request, next: Next) -> Response {
    let path = key_of(&request).to_owned();
    let now = match request.extensions().get::<Missed>() {
        Some(Missed(now)) => *now,
        None => {
            let Some(now) = state.page_cache.now().await else {
                return next.run(request).await;
            };
            if let Some(kept) = state.page_cache.get(&path, now) {
                return kept.into_response();
            }
            now
        }
    };
    let Some((kept, parts)) = run_and_keep(state, path.clone(), &path, now, request, next).await
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    Response::from_parts(parts, Body::from(kept.body))
}

/// A member's page: their role's skeleton, made now if none is fresh, with
/// what is theirs put in.
async fn serve_member(state: &AppState, ctx: Ctx, mut request: Request, next: Next) -> Response {
    let path = key_of(&request).to_owned();
    let is_admin = ctx.is_admin();
    let key = members::key(&path, is_admin);
    let (now, looked) = match request.extensions().get::<Missed>() {
        Some(Missed(now)) => (*now, true),
        None => match state.page_cache.now().await {
            Some(now) => (now, false),
            None => return next.run(request).await,
        },
    };
    if !looked
        && let Some(kept) = state.page_cache.get(&key, now)
        && let Some(response) = filled_in(kept, &ctx)
    {
        return response;
    }
    request
        .extensions_mut()
        .insert(members::skeleton_ctx(&ctx, is_admin));
    let Some((skeleton, mut parts)) = run_and_keep(state, key, &path, now, request, next).await
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(page) = members::personalise(&skeleton.body, &ctx) else {
        tracing::error!(path, "a member's skeleton made now could not be filled in");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(page))
}

/// A kept skeleton with what is the member's put in (`None`: it could not
/// be, see [`members::personalise`]).
fn filled_in(skeleton: Kept, ctx: &Ctx) -> Option<Response> {
    let page = members::personalise(&skeleton.body, ctx)?;
    let kept = Kept {
        content_type: skeleton.content_type,
        body: page.into(),
    };
    Some(kept.into_response())
}

/// Runs the handler and keeps its answer under `key` if it is a 200 (made
/// from what the database held at `now`, showing `path`). Returns the
/// answer's body and head; `None` if its body could not be read.
async fn run_and_keep(
    state: &AppState,
    key: String,
    path: &str,
    now: Clock,
    request: Request,
    next: Next,
) -> Option<(Kept, axum::http::response::Parts)> {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(path, %error, "an answer's body could not be read to keep it");
            return None;
        }
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    let kept = Kept { content_type, body };
    if parts.status == StatusCode::OK {
        let until = parts.extensions.get::<KeepUntil>().map(|until| until.0);
        state.page_cache.put(key, path, now, kept.clone(), until);
    }
    Some((kept, parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::freshness::Scope;
    use axum::body::Bytes;

    /// A cache over a seeded database, the clock as it stands, and a slug.
    async fn cache(bytes: u64) -> (tempfile::TempDir, crate::db::Db, PageCache, Clock) {
        let (dir, pool) = crate::seed::seeded_for_test().await;
        let freshness = Arc::new(Freshness::new(pool.clone(), None));
        let cache = PageCache::new(bytes, 0, None, freshness);
        let now = cache.now().await.expect("the clock");
        (dir, pool, cache, now)
    }

    fn kept(text: &'static str) -> Kept {
        Kept {
            content_type: None,
            body: Bytes::from_static(text.as_bytes()),
        }
    }

    #[tokio::test]
    async fn an_entry_is_served_until_what_it_shows_is_written() {
        let (_dir, pool, cache, now) = cache(1 << 20).await;
        let slug: String = crate::on_db!(&pool, |pool| sqlx::query_scalar(
            "SELECT slug FROM pages LIMIT 1"
        )
        .fetch_one(pool)
        .await)
        .expect("a page");
        let path = format!("/methods/{slug}");
        cache.put(path.clone(), &path, now, kept("<p>a</p>"), None);
        cache.put(
            "/methods/other".into(),
            "/methods/other",
            now,
            kept("<p>o</p>"),
            None,
        );
        let body = cache.get(&path, now).map(|e| e.body);
        assert_eq!(body.as_deref(), Some(&b"<p>a</p>"[..]));
        assert!(cache.get("/methods/b", now).is_none());
        crate::db::note_write();
        crate::on_db!(&pool, |pool| sqlx::query(
            "UPDATE pages SET body = 'new' WHERE slug = $1"
        )
        .bind(&slug)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .expect("a save");
        let later = cache.now().await.expect("the clock");
        assert!(cache.get(&path, later).is_none(), "a save makes it stale");
        assert!(
            cache.get("/methods/other", later).is_some(),
            "another page's answer stays"
        );
        assert_eq!(scope_of("/methods/other"), Scope::Page("other".into()));
    }

    #[tokio::test]
    async fn a_cache_of_size_zero_keeps_nothing() {
        let (_dir, _pool, cache, now) = cache(0).await;
        cache.put("/methods/a".into(), "/methods/a", now, kept("x"), None);
        assert!(cache.get("/methods/a", now).is_none());
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_bytes() {
        let (_dir, _pool, cache, now) = cache(64 * 1024).await;
        for n in 0..100 {
            let body = Bytes::from(vec![b'x'; 4096]);
            let path = format!("/methods/p{n}");
            let kept = Kept {
                content_type: None,
                body,
            };
            cache.put(path.clone(), &path, now, kept, None);
        }
        let kept = (0..100)
            .filter(|n| cache.get(&format!("/methods/p{n}"), now).is_some())
            .count();
        assert!(
            kept > 0 && kept <= 16,
            "kept {kept} pages of 4 KiB in 64 KiB"
        );
    }
}
