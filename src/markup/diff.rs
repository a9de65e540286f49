//! Line diffs for people: changed lines with the changed words marked
//! inside them, grouped into hunks with a little context.
//!
//! Any visitor can ask for a diff of any two revisions, so the work is
//! bounded: the line diff stops at a deadline (a less minimal diff, never a
//! wrong one), changed words are marked only inside small changes, a diff
//! that would show more than [`MAX_SHOWN_LINES`] lines or
//! [`MAX_SHOWN_BYTES`] of text is not drawn at all, and the work runs on the
//! blocking pool a few at a time ([`off_thread`]) so that a burst of diffs
//! never holds the threads that answer other requests.

use std::time::{Duration, Instant};

use similar::{Algorithm, ChangeTag, TextDiff};

/// How a line changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Same,
    Added,
    Removed,
}

/// A piece of a line; `changed` pieces are the words that differ.
#[derive(Debug, Clone)]
pub struct Piece {
    pub text: String,
    pub changed: bool,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub kind: LineKind,
    pub old_number: Option<usize>,
    pub new_number: Option<usize>,
    pub pieces: Vec<Piece>,
}

impl Line {
    pub fn marker(&self) -> &'static str {
        match self.kind {
            LineKind::Same => " ",
            LineKind::Added => "+",
            LineKind::Removed => "−",
        }
    }

    pub fn class(&self) -> &'static str {
        match self.kind {
            LineKind::Same => "same",
            LineKind::Added => "added",
            LineKind::Removed => "removed",
        }
    }
}

/// A run of nearby changes.
#[derive(Debug, Clone)]
pub struct Hunk {
    pub lines: Vec<Line>,
}

/// Lines a diff page shows at most (changed lines and their context).
pub const MAX_SHOWN_LINES: usize = 2_000;
/// Text a diff page shows at most, in bytes.
pub const MAX_SHOWN_BYTES: usize = 512 * 1024;
/// How long the line diff may search for the smallest diff.
const DEADLINE: Duration = Duration::from_millis(200);
/// Changed words are marked only inside changes of at most this many lines
/// a side: word diffs of large changes cost much and say little.
const INLINE_MAX_LINES: usize = 50;

/// A diff as a page shows it.
#[derive(Debug)]
pub enum Comparison {
    /// The hunks turning one text into the other (none: the same text).
    Hunks(Vec<Hunk>),
    /// Too large to show: how many lines it removes and adds.
    TooLarge { removed: usize, added: usize },
}

/// Compares two texts within the bounds above.
pub fn compare(old: &str, new: &str) -> Comparison {
    let deadline = Instant::now() + DEADLINE;
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .deadline(deadline)
        .diff_lines(old, new);
    let groups = diff.grouped_ops(3);
    let (mut shown, mut bytes) = (0, 0);
    for op in groups.iter().flatten() {
        let (_, old_range, new_range) = op.as_tag_tuple();
        shown += old_range.len().max(new_range.len());
        bytes += diff.old_slices()[old_range]
            .iter()
            .map(|l| l.len())
            .sum::<usize>();
        bytes += diff.new_slices()[new_range]
            .iter()
            .map(|l| l.len())
            .sum::<usize>();
    }
    if shown > MAX_SHOWN_LINES || bytes > MAX_SHOWN_BYTES {
        let (mut removed, mut added) = (0, 0);
        for op in diff.ops() {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            if tag != similar::DiffTag::Equal {
                removed += old_range.len();
                added += new_range.len();
            }
        }
        return Comparison::TooLarge { removed, added };
    }
    Comparison::Hunks(hunks_of(&diff, &groups, deadline))
}

/// At most this many diffs or merges run at once: one fewer than the cores.
static TURNS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
});

/// Runs bounded text work (a diff, a merge) on the blocking pool, waiting
/// for a turn first, so the async workers stay free for other requests.
/// `None` if the work panicked.
pub async fn off_thread<T, F>(work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let _turn = TURNS.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Compares two texts as a page shows them ([`off_thread`], within the
/// bounds of [`compare`]): the hunks, or, when the texts are too large, none
/// and how many lines go and come. `None` when the task could not run.
pub async fn compare_for_page(
    old: String,
    new: String,
) -> Option<(Vec<Hunk>, Option<(usize, usize)>)> {
    let comparison = off_thread(move || compare(&old, &new)).await?;
    Some(match comparison {
        Comparison::Hunks(hunks) => (hunks, None),
        Comparison::TooLarge { removed, added } => (Vec::new(), Some((removed, added))),
    })
}

/// The hunks turning `old` into `new`, with three lines of context, with no
/// bound on their size (for texts known to be small).
pub fn hunks(old: &str, new: &str) -> Vec<Hunk> {
    let deadline = Instant::now() + DEADLINE;
    let diff = TextDiff::configure()
        .deadline(deadline)
        .diff_lines(old, new);
    hunks_of(&diff, &diff.grouped_ops(3), deadline)
}

fn hunks_of<'a>(
    diff: &'a TextDiff<'a, 'a, 'a, str>,
    groups: &[Vec<similar::DiffOp>],
    deadline: Instant,
) -> Vec<Hunk> {
    let line = |change: similar::InlineChange<'_, str>| Line {
        kind: match change.tag() {
            ChangeTag::Equal => LineKind::Same,
            ChangeTag::Insert => LineKind::Added,
            ChangeTag::Delete => LineKind::Removed,
        },
        old_number: change.old_index().map(|i| i + 1),
        new_number: change.new_index().map(|i| i + 1),
        pieces: change
            .iter_strings_lossy()
            .map(|(changed, text)| Piece {
                text: text.trim_end_matches('\n').to_owned(),
                changed,
            })
            .filter(|p| !p.text.is_empty() || !p.changed)
            .collect(),
    };
    groups
        .iter()
        .map(|group| Hunk {
            lines: group
                .iter()
                .flat_map(|op| {
                    let (_, old_range, new_range) = op.as_tag_tuple();
                    let small = old_range.len().max(new_range.len()) <= INLINE_MAX_LINES;
                    let changes: Box<dyn Iterator<Item = similar::InlineChange<'a, str>>> =
                        if small && Instant::now() < deadline {
                            Box::new(diff.iter_inline_changes_deadline(op, Some(deadline)))
                        } else {
                            // A large change, or no time left: whole lines only.
                            Box::new(diff.iter_changes(op).map(similar::InlineChange::from))
                        };
                    changes
                })
                .map(line)
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_word_is_marked_inside_its_line() {
        let hunks = hunks("one\ntwo three\nfour\n", "one\ntwo THREE\nfour\n");
        assert_eq!(hunks.len(), 1);
        let removed = hunks[0]
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Removed)
            .unwrap();
        let added = hunks[0]
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Added)
            .unwrap();
        assert!(
            removed
                .pieces
                .iter()
                .any(|p| p.changed && p.text == "three")
        );
        assert!(added.pieces.iter().any(|p| p.changed && p.text == "THREE"));
        assert!(
            added
                .pieces
                .iter()
                .any(|p| !p.changed && p.text.starts_with("two"))
        );
    }

    #[test]
    fn identical_texts_have_no_hunks() {
        assert!(hunks("a\nb\n", "a\nb\n").is_empty());
    }
}
