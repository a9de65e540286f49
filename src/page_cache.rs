//! Method pages as visitors who are not signed in see them, kept rendered.
//!
//! A visitor's method page depends only on its address and the database, so
//! the HTML of a view can be served again until something is written. Every
//! write of this process makes the entries older than it stale at once
//! ([`crate::db::write_generation`]); writes by another process (`cafe
//! import` while the server runs) are seen within [`MAX_AGE`]. The cache is
//! bounded in bytes (`--page-cache-mib`) and keeps the most used pages, so
//! a wiki with more pages than fit still gets its popular pages from memory
//! and the others from the one-statement view.

use std::time::{Duration, Instant};

use axum::body::Bytes;

/// How long an entry may be served without a write of this process having
/// made it stale: the bound on how late another process's writes show.
pub const MAX_AGE: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Entry {
    generation: u64,
    made: Instant,
    html: Bytes,
}

/// Weighs an entry by its HTML and key, so the bound is in bytes.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.html.len()) as u64
    }
}

/// Rendered method pages for visitors, bounded in bytes; size 0 keeps none.
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

    /// The HTML kept for `key`, if it was rendered at `generation` (the
    /// current [`crate::db::write_generation`]: nothing written since) and
    /// is younger than [`MAX_AGE`].
    pub fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        let entry = self.entries.as_ref()?.get(key)?;
        (entry.generation == generation && entry.made.elapsed() < MAX_AGE).then_some(entry.html)
    }

    /// Keeps `html`, rendered from what the database held at `generation`
    /// (read before the view's query, so a write during it makes it stale).
    pub fn put(&self, key: String, generation: u64, html: Bytes) {
        if let Some(entries) = &self.entries {
            let made = Instant::now();
            entries.insert(
                key,
                Entry {
                    generation,
                    made,
                    html,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_something_is_written() {
        let cache = PageCache::new(1 << 20);
        cache.put("/methods/a".into(), 7, Bytes::from_static(b"<p>a</p>"));
        assert_eq!(
            cache.get("/methods/a", 7).as_deref(),
            Some(&b"<p>a</p>"[..])
        );
        assert_eq!(cache.get("/methods/b", 7), None);
        assert_eq!(
            cache.get("/methods/a", 8),
            None,
            "a write makes entries stale"
        );
    }

    #[test]
    fn a_cache_of_size_zero_keeps_nothing() {
        let cache = PageCache::new(0);
        cache.put("/methods/a".into(), 1, Bytes::from_static(b"x"));
        assert_eq!(cache.get("/methods/a", 1), None);
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let cache = PageCache::new(64 * 1024);
        for n in 0..100 {
            cache.put(format!("/methods/p{n}"), 1, Bytes::from(vec![b'x'; 4096]));
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
