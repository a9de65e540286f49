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
//! left behind when the server stops or crashes. Everything in it was made
//! at one [`Stamp`]; the first answer kept at another stamp (after any
//! write) starts a new file, and the old one is freed once the reads still
//! using it end. A file takes at most `limit` bytes; past that, answers are
//! no longer kept until the stamp moves.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::HeaderValue;

use super::{MAX_AGE, Stamp};

/// Answers kept in a file (see the module documentation).
pub struct DiskTier {
    /// Where the files are made.
    dir: PathBuf,
    limit: u64,
    current: Mutex<Option<Generation>>,
}

/// The file of one stamp and where its answers lie.
struct Generation {
    stamp: Stamp,
    file: Arc<File>,
    /// Bytes handed out so far (the next answer's offset).
    end: u64,
    kept: HashMap<String, Slot>,
}

/// One answer: where its body lies, and what is sent with it.
struct Slot {
    offset: u64,
    len: usize,
    made: Instant,
    content_type: Option<HeaderValue>,
}

/// A kept answer: its content type and body.
#[derive(Clone)]
pub struct Kept {
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

impl DiskTier {
    /// A tier of at most `limit` bytes per stamp, with its files made in
    /// the database `db`'s directory. Fails if no file can be made there.
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

    /// The answer kept for `key` at `stamp`, if there is one younger than
    /// [`MAX_AGE`]. Read on the request's own thread: from the kernel's
    /// page cache that is a few microseconds, less than the hop to a
    /// blocking thread would cost.
    pub fn get(&self, key: &str, stamp: Stamp) -> Option<Kept> {
        let (file, offset, len, content_type) = {
            let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            let generation = current.as_ref().filter(|g| g.stamp == stamp)?;
            let slot = generation.kept.get(key)?;
            if slot.made.elapsed() >= MAX_AGE {
                return None;
            }
            let file = Arc::clone(&generation.file);
            (file, slot.offset, slot.len, slot.content_type.clone())
        };
        let mut body = vec![0; len];
        file.read_exact_at(&mut body, offset).ok()?;
        Some(Kept {
            content_type,
            body: Bytes::from(body),
        })
    }

    /// Keeps the answer for `key` made at `stamp`, written in the
    /// background; it is found once the write has ended.
    pub fn put(self: &Arc<Self>, key: String, stamp: Stamp, kept: Kept) {
        let tier = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if let Err(err) = tier.write(key, stamp, kept.content_type, &kept.body) {
                tracing::debug!(%err, "page cache: answer not written to disk");
            }
        });
    }

    fn write(
        &self,
        key: String,
        stamp: Stamp,
        content_type: Option<HeaderValue>,
        body: &[u8],
    ) -> io::Result<()> {
        let Some((file, offset)) = self.reserve(stamp, body.len() as u64)? else {
            return Ok(());
        };
        file.write_all_at(body, offset)?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(generation) = current.as_mut().filter(|g| Arc::ptr_eq(&g.file, &file)) {
            let slot = Slot {
                offset,
                len: body.len(),
                made: Instant::now(),
                content_type,
            };
            generation.kept.insert(key, slot);
        }
        Ok(())
    }

    /// Room for `len` bytes in the file of `stamp`, starting that file if
    /// the stamp is new; `None` when it is full or the stamp is older than
    /// the file's (a write landed while this answer was made).
    fn reserve(&self, stamp: Stamp, len: u64) -> io::Result<Option<(Arc<File>, u64)>> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_none_or(|g| g.stamp != stamp) {
            if current
                .as_ref()
                .is_some_and(|g| g.stamp.writes > stamp.writes)
            {
                return Ok(None);
            }
            *current = Some(Generation {
                stamp,
                file: Arc::new(tempfile::tempfile_in(&self.dir)?),
                end: 0,
                kept: HashMap::new(),
            });
        }
        let Some(generation) = current.as_mut() else {
            return Ok(None);
        };
        if generation.end + len > self.limit {
            return Ok(None);
        }
        let offset = generation.end;
        generation.end += len;
        Ok(Some((Arc::clone(&generation.file), offset)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(writes: u64) -> Stamp {
        Stamp { writes, wal: None }
    }

    fn body(kept: Option<Kept>) -> Option<Vec<u8>> {
        kept.map(|kept| kept.body.to_vec())
    }

    #[test]
    fn an_answer_is_read_back_until_the_stamp_moves() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tier = DiskTier::open(&dir.path().join("cafe.db"), 1 << 20).expect("tier");
        let html = HeaderValue::from_static("text/html");
        tier.write("/a".into(), stamp(1), Some(html.clone()), b"<p>a</p>")
            .expect("write");
        tier.write("/b".into(), stamp(1), None, b"<p>b</p>")
            .expect("write");
        let a = tier.get("/a", stamp(1)).expect("kept");
        assert_eq!(a.content_type, Some(html));
        assert_eq!(&a.body[..], b"<p>a</p>");
        assert_eq!(
            body(tier.get("/b", stamp(1))).as_deref(),
            Some(&b"<p>b</p>"[..])
        );
        assert!(tier.get("/c", stamp(1)).is_none());
        assert!(tier.get("/a", stamp(2)).is_none(), "a write makes it stale");
        tier.write("/c".into(), stamp(2), None, b"c")
            .expect("write");
        assert!(tier.get("/b", stamp(1)).is_none(), "the old file is gone");
        assert_eq!(body(tier.get("/c", stamp(2))).as_deref(), Some(&b"c"[..]));
    }

    #[test]
    fn an_answer_made_before_a_write_is_not_kept_after_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tier = DiskTier::open(&dir.path().join("cafe.db"), 1 << 20).expect("tier");
        tier.write("/new".into(), stamp(5), None, b"new")
            .expect("write");
        tier.write("/old".into(), stamp(4), None, b"old")
            .expect("write");
        assert!(tier.get("/old", stamp(4)).is_none());
        assert!(tier.get("/new", stamp(5)).is_some(), "the newer file stays");
    }

    #[test]
    fn the_file_stays_within_its_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tier = DiskTier::open(&dir.path().join("cafe.db"), 10_000).expect("tier");
        for n in 0..5 {
            tier.write(format!("/p{n}"), stamp(1), None, &[b'x'; 4000])
                .expect("write");
        }
        let kept = (0..5)
            .filter(|n| tier.get(&format!("/p{n}"), stamp(1)).is_some())
            .count();
        assert_eq!(kept, 2, "two answers of 4,000 bytes fit in 10,000");
    }
}
