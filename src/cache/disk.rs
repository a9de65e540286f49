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
//! it past `limit` bytes, a new file starts with the answers written last
//! in the old one, up to half the limit, copied over by the writer that
//! found it full; the old one answers for those until they are copied, and
//! is freed once that and the reads still using it end.
//!
//! Why not start empty: a site whose pages read take close to `limit`
//! bytes then loses all of them at once each time the file fills with the
//! copies writes made stale, and renders every page again within seconds.
//! Kept this way, the answers written last (most of what is being read)
//! stay. Why half: the new file then has room for as many bytes again
//! before it fills, so the copying costs at most one byte per byte
//! appended. (Visitors' and members' pages share the limit: 20,000 pages
//! read by both at 100,000 pages did not fit in 256 MiB, with or without
//! this; see `--page-cache-disk-mib`.)

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
    files: Mutex<Files>,
}

/// The file answers are written to, and the one before it while its last
/// answers are being copied over.
#[derive(Default)]
struct Files {
    current: Option<Generation>,
    moving: Option<Generation>,
}

/// Where an answer is to be written (the file and the offset), and what
/// the writer must copy over after it when its answer found the file full.
type Room = (Arc<File>, u64, Option<Move>);

/// Answers of a full file to copy into the next: each one's slot in the
/// old file and its offset in the new.
struct Move {
    from: Arc<File>,
    to: Arc<File>,
    answers: Vec<(String, Slot, u64)>,
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
#[derive(Clone)]
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
            files: Mutex::default(),
        })
    }

    /// The answer kept for `key`, if `fresh` says what it was made from is
    /// still good. Read on the request's own thread: from the kernel's page
    /// cache that is a few microseconds, less than the hop to a blocking
    /// thread would cost.
    pub fn get(&self, key: &str, fresh: impl Fn(&Made) -> bool) -> Option<Kept> {
        let (file, offset, len, content_type) = {
            let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
            let (generation, slot) = [&files.current, &files.moving]
                .into_iter()
                .flatten()
                .find_map(|g| g.kept.get(key).map(|slot| (g, slot)))?;
            if !fresh(&slot.made) {
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
        let Some((file, offset, moving)) = self.reserve(body.len() as u64)? else {
            return Ok(());
        };
        file.write_all_at(body, offset)?;
        let slot = Slot {
            offset,
            len: body.len(),
            made,
            content_type,
        };
        self.keep(&file, vec![(key, slot)], true);
        if let Some(moving) = moving {
            self.copy(moving);
        }
        Ok(())
    }

    /// Puts `answers`, written to `file`, in the index if `file` is still
    /// the one in use: over what the index has for their addresses, or
    /// (answers copied from the file before) only where it has none, a
    /// newer answer having been written meanwhile.
    fn keep(&self, file: &Arc<File>, answers: Vec<(String, Slot)>, newest: bool) {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(generation) = files
            .current
            .as_mut()
            .filter(|g| Arc::ptr_eq(&g.file, file))
        {
            for (key, slot) in answers {
                if newest {
                    generation.kept.insert(key, slot);
                } else {
                    generation.kept.entry(key).or_insert(slot);
                }
            }
        }
    }

    /// Copies the answers a full file kept last into the new one, then lets
    /// the old one go. An answer that cannot be read back is left out.
    fn copy(&self, moving: Move) {
        let mut copied = Vec::with_capacity(moving.answers.len());
        let mut buffer = Vec::new();
        for (key, slot, offset) in moving.answers {
            buffer.resize(slot.len, 0);
            let done = moving
                .from
                .read_exact_at(&mut buffer, slot.offset)
                .and_then(|()| moving.to.write_all_at(&buffer, offset));
            if done.is_ok() {
                copied.push((key, Slot { offset, ..slot }));
            }
        }
        self.keep(&moving.to, copied, false);
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        if files
            .moving
            .as_ref()
            .is_some_and(|g| Arc::ptr_eq(&g.file, &moving.from))
        {
            files.moving = None;
        }
    }

    /// Room for `len` bytes, in a new file if the current one has no more
    /// (with what to copy into it: see the module documentation); `None`
    /// for an answer larger than the whole limit.
    fn reserve(&self, len: u64) -> io::Result<Option<Room>> {
        if len > self.limit {
            return Ok(None);
        }
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let mut moving = None;
        if files
            .current
            .as_ref()
            .is_none_or(|g| g.end + len > self.limit)
        {
            let mut next = Generation {
                file: Arc::new(tempfile::tempfile_in(&self.dir)?),
                end: 0,
                kept: HashMap::new(),
            };
            if let Some(full) = files.current.take() {
                moving = Some(self.to_move(&full, &mut next, len));
                files.moving = Some(full);
            }
            files.current = Some(next);
        }
        let Some(generation) = files.current.as_mut() else {
            return Ok(None);
        };
        let offset = generation.end;
        generation.end += len;
        Ok(Some((Arc::clone(&generation.file), offset, moving)))
    }

    /// The answers of `full` written last, up to half the limit (less the
    /// `len` about to be written), each given its place in `next`.
    fn to_move(&self, full: &Generation, next: &mut Generation, len: u64) -> Move {
        let mut newest: Vec<(&String, &Slot)> = full.kept.iter().collect();
        newest.sort_unstable_by_key(|(_, slot)| std::cmp::Reverse(slot.offset));
        let room = (self.limit / 2).saturating_sub(len);
        let mut answers = Vec::new();
        for (key, slot) in newest {
            let size = slot.len as u64;
            if next.end + size > room {
                break;
            }
            answers.push((key.clone(), slot.clone(), next.end));
            next.end += size;
        }
        Move {
            from: Arc::clone(&full.file),
            to: Arc::clone(&next.file),
            answers,
        }
    }

    /// Bytes of file in use, for tests.
    #[cfg(test)]
    fn used(&self) -> u64 {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.current.as_ref().map_or(0, |g| g.end)
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

    /// Ten answers of 1,000 bytes fill a 10,000-byte tier.
    fn full_tier(dir: &tempfile::TempDir) -> DiskTier {
        let tier = DiskTier::open(&dir.path().join("cafe.db"), 10_000).expect("tier");
        for n in 0..10 {
            tier.write(format!("/p{n}"), made(1), None, &[b'0' + n; 1000])
                .expect("write");
        }
        assert_eq!(tier.used(), 10_000);
        tier
    }

    fn kept(tier: &DiskTier) -> Vec<u8> {
        (0..11)
            .filter(|n| tier.get(&format!("/p{n}"), at(1)).is_some())
            .collect()
    }

    #[test]
    fn a_full_file_starts_again_with_the_answers_written_last() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tier = full_tier(&dir);
        tier.write("/p10".into(), made(1), None, &[b'x'; 1000])
            .expect("write");
        // Half the limit: the answer being written and the four before it.
        assert_eq!(kept(&tier), [6, 7, 8, 9, 10]);
        assert_eq!(tier.used(), 5_000);
        assert_eq!(
            body(tier.get("/p7", at(1))),
            Some(vec![b'7'; 1000]),
            "a copied answer reads back whole"
        );
        assert!(tier.files.lock().expect("lock").moving.is_none());
    }

    #[test]
    fn while_the_answers_move_they_are_read_from_the_old_file_and_newer_ones_win() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tier = full_tier(&dir);
        let (file, offset, moving) = tier.reserve(1000).expect("reserve").expect("room");
        let moving = moving.expect("the full file's answers to move");
        assert_eq!(
            body(tier.get("/p8", at(1))),
            Some(vec![b'8'; 1000]),
            "not copied yet: read from the full file"
        );
        file.write_all_at(&[b'x'; 1000], offset).expect("write");
        tier.write("/p9".into(), made(2), None, b"newer")
            .expect("write");
        tier.copy(moving);
        assert_eq!(body(tier.get("/p9", at(2))), Some(b"newer".to_vec()));
        assert_eq!(body(tier.get("/p8", at(1))), Some(vec![b'8'; 1000]));
        assert!(
            tier.get("/p5", at(1)).is_none(),
            "written before the last four"
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
