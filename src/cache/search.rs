//! Recent pages of results, kept while nothing they depend on changes.
//!
//! Ranking is the cost of a search: bm25 scores every matching row before
//! the best twenty are known, and a word or prefix found in most pages
//! means thousands of rows (tens of milliseconds at 10,000 pages). People
//! repeat the same searches far more often than pages change, so a page of
//! results is kept, keyed by the query as parsed and the page number, for
//! as long as the content clock's tick ([`crate::cache::freshness`])
//! stands still. Triggers move it on every content write, in the writer's
//! transaction, whichever process writes.
//!
//! An entry is stored under the generation read *before* its results were
//! computed, and served only to a search that read that same generation:
//! a write landing in between moves the counter, so the entry is never
//! served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::search::Results;

/// Pages of results kept at most (a page is about 10 KiB); when full, all
/// are dropped and the cache fills again with what is asked next.
const MAX_KEPT: usize = 512;

/// Shared by every request (in `AppState`).
#[derive(Default)]
pub struct Cache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: i64,
    pages: HashMap<String, Arc<Results>>,
}

impl Inner {
    /// Drops everything kept when the index has moved to another generation.
    fn follow(&mut self, generation: i64) {
        if self.generation != generation {
            self.generation = generation;
            self.pages.clear();
        }
    }
}

impl Cache {
    /// The page kept for `key`, if it was computed at `generation`.
    pub fn get(&self, generation: i64, key: &str) -> Option<Arc<Results>> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.follow(generation);
        inner.pages.get(key).cloned()
    }

    /// Keeps a page computed after reading `generation`.
    pub fn put(&self, generation: i64, key: String, results: Arc<Results>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.follow(generation);
        if inner.pages.len() >= MAX_KEPT {
            inner.pages.clear();
        }
        inner.pages.insert(key, results);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(total: i64) -> Arc<Results> {
        Arc::new(Results {
            hits: Vec::new(),
            total,
        })
    }

    #[test]
    fn a_page_is_served_only_at_the_generation_it_was_computed_at() {
        let cache = Cache::default();
        cache.put(3, "q".to_owned(), results(7));
        assert_eq!(cache.get(3, "q").map(|r| r.total), Some(7));
        assert!(cache.get(3, "other").is_none());
        assert!(cache.get(4, "q").is_none(), "a write moved the counter");
        assert!(cache.get(3, "q").is_none(), "moving on dropped it");
    }

    #[test]
    fn a_full_cache_starts_again() {
        let cache = Cache::default();
        for i in 0..MAX_KEPT {
            cache.put(1, i.to_string(), results(1));
        }
        assert!(cache.get(1, "0").is_some());
        cache.put(1, "one more".to_owned(), results(2));
        assert!(cache.get(1, "0").is_none());
        assert_eq!(cache.get(1, "one more").map(|r| r.total), Some(2));
    }
}
