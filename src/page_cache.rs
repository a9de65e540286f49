//! Pages as visitors who are not signed in see them, kept rendered.
//!
//! A visitor's page (a method, a list, a story, the tags, a feed) depends
//! only on its address and the database, so what was sent can be sent again
//! until something is written. [`serve_visitors`] wraps the reading routes.
//! Every
//! write of this process makes the entries older than it stale at once
//! ([`crate::db::write_generation`]); writes by another process (`cafe
//! import` while the server runs) are seen within [`MAX_AGE`]. The cache is
//! bounded in bytes (`--page-cache-mib`) and keeps the most used pages, so
//! a wiki with more pages than fit still gets its popular pages from memory
//! and the others from the one-statement view.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::context::Ctx;

/// How long an entry may be served without a write of this process having
/// made it stale: the bound on how late another process's writes show.
pub const MAX_AGE: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Entry {
    generation: u64,
    made: Instant,
    content_type: Option<HeaderValue>,
    body: Bytes,
}

/// Weighs an entry by its HTML and key, so the bound is in bytes.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.body.len()) as u64
    }
}

/// Rendered pages for visitors, bounded in bytes; size 0 keeps none.
pub struct PageCache {
    entries: Option<quick_cache::sync::Cache<String, Entry, ByBytes>>,
}

/// An average visitor's method page is 6–8 KB of HTML.
const TYPICAL_PAGE: u64 = 7 * 1024;

impl PageCache {
    pub fn new(bytes: u64) -> PageCache {
        let entries = (bytes > 0).then(|| {
            let items = usize::try_from(bytes / TYPICAL_PAGE).unwrap_or(usize::MAX);
            quick_cache::sync::Cache::with_weighter(items.max(1), bytes, ByBytes)
        });
        PageCache { entries }
    }

    /// The answer kept for `key`, if it was made at `generation` (the
    /// current [`crate::db::write_generation`]: nothing written since) and
    /// is younger than [`MAX_AGE`].
    fn get(&self, key: &str, generation: u64) -> Option<Entry> {
        let entry = self.entries.as_ref()?.get(key)?;
        (entry.generation == generation && entry.made.elapsed() < MAX_AGE).then_some(entry)
    }

    /// Keeps an answer made from what the database held at `generation`
    /// (read before the handler ran, so a write meanwhile makes it stale).
    fn put(&self, key: String, generation: u64, content_type: Option<HeaderValue>, body: Bytes) {
        if let Some(entries) = &self.entries {
            let made = Instant::now();
            entries.insert(
                key,
                Entry {
                    generation,
                    made,
                    content_type,
                    body,
                },
            );
        }
    }
}

impl Entry {
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

/// Answers the GETs of visitors without a session from the cache, and keeps
/// the 200 answers it lets through. Anyone with a session (signed in, or
/// holding a sign-in form's CSRF token) is served fresh: their pages may
/// carry what is theirs alone.
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
    let key = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |pq| pq.as_str().to_owned());
    let generation = crate::db::write_generation();
    if let Some(entry) = state.page_cache.get(&key, generation) {
        return entry.into_response();
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    state
        .page_cache
        .put(key, generation, content_type, body.clone());
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_something_is_written() {
        let cache = PageCache::new(1 << 20);
        cache.put(
            "/methods/a".into(),
            7,
            None,
            Bytes::from_static(b"<p>a</p>"),
        );
        let body = cache.get("/methods/a", 7).map(|e| e.body);
        assert_eq!(body.as_deref(), Some(&b"<p>a</p>"[..]));
        assert!(cache.get("/methods/b", 7).is_none());
        assert!(
            cache.get("/methods/a", 8).is_none(),
            "a write makes entries stale"
        );
    }

    #[test]
    fn a_cache_of_size_zero_keeps_nothing() {
        let cache = PageCache::new(0);
        cache.put("/methods/a".into(), 1, None, Bytes::from_static(b"x"));
        assert!(cache.get("/methods/a", 1).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let cache = PageCache::new(64 * 1024);
        for n in 0..100 {
            cache.put(
                format!("/methods/p{n}"),
                1,
                None,
                Bytes::from(vec![b'x'; 4096]),
            );
        }
        let kept = (0..100)
            .filter(|n| cache.get(&format!("/methods/p{n}"), 1).is_some())
            .count();
        assert!(
            kept > 0 && kept <= 16,
            "kept {kept} pages of 4 KiB in 64 KiB"
        );
    }
}
