//! The visitors' cache's second tier: answers kept in a file.
//!
//! Memory is what the server is short of (it aims to stay under 64 MiB while
//! serving 100,000 pages), and a wiki's visitors read far more pages than
//! fit in the memory tier. The kernel's page cache is not the server's to
//! count: reading a few kilobytes back from it is one `pread`, as cheap as
//! a static file server's read of the same page, where a miss costs a
//! statement touching dozens of b-tree pages.
//!
//! So answers are also appended to a file, and an index in memory says
//! where each one lies (about 100 bytes an answer). The file is anonymous
//! (`O_TMPFILE` beside the database where the system has it): nothing is
//! left behind when the server stops or crashes. An answer is appended only
//! when none fresh is kept for its address (the first time, or after a write
//! to what it shows), so a quiet site appends nothing, and the file grows
//! only by the answers writes made stale. When the next answer would take
//! it past `limit` bytes, a new file starts empty and the old one is freed
//! once the reads still using it end.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::http::HeaderValue;

use super::freshness::Made;

/// Answers kept in a file (see the module documentation).
pub struct DiskTier {
    /// Where the files are made.
    dir: PathBuf,
    limit: u64,
    current: Mutex<Option<Generation>>,
}

/// The file in use and where its answers lie.
struct Generation {
    file: Arc<File>,
    /// Bytes handed out so far (the next answer's offset).
    end: u64,
    kept: HashMap<String, Slot>,
}

/// One answer: where its body lies, what it was made from, and what is
/// sent with it.
struct Slot {
    offset: u64,
    len: usize,
    made: Made,
    content_type: Option<HeaderValue>,
}

/// A kept answer: its content type and body.
#[derive(Clone)]
pub struct Kept {
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

impl DiskTier {
    /// A tier of at most `limit` bytes of file, made in the database `db`'s
    /// directory. Fails if no file can be made there.
    pub fn open(db: &Path, limit: u64) -> io::Result<DiskTier> {
        let dir = match db.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        tempfile::tempfile_in(&dir)?;
        Ok(DiskTier {
            dir,
            limit,
            current: Mutex::default(),
        })
    }

    /// The answer kept for `key`, if `fresh` says what it was made from is
    /// still good. Read on the request's own thread: from the kernel's page
    /// cache that is a few microseconds, less than the hop to a blocking
    /// thread would cost.
    pub fn get(&self, key: &str, fresh: impl Fn(&Made) -> bool) -> Option<Kept> {
        let (file, offset, len, content_type) = {
            let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = current.as_ref()?.kept.get(key)?;
            if !fresh(&slot.made) {
                return None;
            }
            let file = Arc::clone(&current.as_ref()?.file);
            (file, slot.offset, slot.len, slot.content_type.clone())
        };
        let mut body = vec![0; len];
        file.read_exact_at(&mut body, offset).ok()?;
        Some(Kept {
            content_type,
            body: Bytes::from(body),
        })
    }

    /// Keeps the answer for `key`, written in the background; it is found
    /// once the write has ended.
    pub fn put(self: &Arc<Self>, key: String, made: Made, kept: Kept) {
        let tier = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if let Err(err) = tier.write(key, made, kept.content_type, &kept.body) {
                tracing::debug!(%err, "page cache: answer not written to disk");
            }
        });
    }

    fn write(
        &self,
        key: String,
        made: Made,
        content_type: Option<HeaderValue>,
        body: &[u8],
    ) -> io::Result<()> {
        let Some((file, offset)) = self.reserve(body.len() as u64)? else {
            return Ok(());
        };
        file.write_all_at(body, offset)?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(generation) = current.as_mut().filter(|g| Arc::ptr_eq(&g.file, &file)) {
            let slot = Slot {
                offset,
                len: body.len(),
                made,
                content_type,
            };
            generation.kept.insert(key, slot);
        }
        Ok(())
    }

    /// Room for `len` bytes, in a new file if the current one has no more;
    /// `None` for an answer larger than the whole limit.
    fn reserve(&self, len: u64) -> io::Result<Option<(Arc<File>, u64)>> {
        if len > self.limit {
            return Ok(None);
        }
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_none_or(|g| g.end + len > self.limit) {
            *current = Some(Generation {
                file: Arc::new(tempfile::tempfile_in(&self.dir)?),
                end: 0,
                kept: HashMap::new(),
            });
        }
        let Some(generation) = current.as_mut() else {
            return Ok(None);
        };
        let offset = generation.end;
        generation.end += len;
        Ok(Some((Arc::clone(&generation.file), offset)))
    }

    /// Bytes of file in use, for tests.
    #[cfg(test)]
    fn used(&self) -> u64 {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map_or(0, |g| g.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::freshness::{Clock, Scope};

    fn made(tick: i64) -> Made {
        let clock = Clock {
            tick,
            ..Clock::default()
        };
        Made::new(clock, Scope::Site)
    }

    /// Fresh when made at `tick`, as a site-wide answer would be.
    fn at(tick: i64) -> impl Fn(&Made) -> bool {
        move |m: &Made| *m == made(tick)
    }

    fn body(kept: Option<Kept>) -> Option<Vec<u8>> {
        kept.map(|kept| kept.body.to_vec())
    }

    #[test]
    fn an_answer_is_read_back_while_it_is_fresh() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tier = DiskTier::open(&dir.path().join("cafe.db"), 1 << 20).expect("tier");
        let html = HeaderValue::from_static("text/html");
        tier.write("/a".into(), made(1), Some(html.clone()), b"<p>a</p>")
            .expect("write");
        tier.write("/b".into(), made(1), None, b"<p>b</p>")
            .expect("write");
        let a = tier.get("/a", at(1)).expect("kept");
        assert_eq!(a.content_type, Some(html));
        assert_eq!(&a.body[..], b"<p>a</p>");
        assert_eq!(
            body(tier.get("/b", at(1))).as_deref(),
            Some(&b"<p>b</p>"[..])
        );
        assert!(tier.get("/c", at(1)).is_none());
        assert!(
            tier.get("/a", at(2)).is_none(),
            "a stale answer is not read"
        );
        tier.write("/c".into(), made(2), None, b"c").expect("write");
        assert!(
            tier.get("/b", at(1)).is_some(),
            "an answer made before stays while it is fresh"
        );
    }

    #[test]
    fn past_its_limit_the_file_starts_again_instead_of_refusing_answers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tier = DiskTier::open(&dir.path().join("cafe.db"), 10_000).expect("tier");
        for n in 0..5 {
            tier.write(format!("/p{n}"), made(1), None, &[b'x'; 4000])
                .expect("write");
            assert!(tier.used() <= 10_000, "the file passed its limit");
            assert!(
                tier.get(&format!("/p{n}"), at(1)).is_some(),
                "the answer just written is kept"
            );
        }
        let kept = (0..5)
            .filter(|n| tier.get(&format!("/p{n}"), at(1)).is_some())
            .count();
        assert_eq!(kept, 1, "4,000 bytes again after two: a new file");
        assert!(
            tier.write("/big".into(), made(1), None, &[0; 10_001])
                .is_ok()
        );
        assert!(tier.get("/big", at(1)).is_none(), "larger than the limit");
    }
}
