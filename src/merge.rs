//! Three-way merge of line-based texts: an edit made from an old revision
//! is combined with what was saved since, or refused where both changed the
//! same lines.
//!
//! Both line diffs from the base stop at a deadline (a coarser diff, never a
//! wrong one: a coarser diff can only turn a clean merge into a conflict), so
//! a merge of two large, unrelated texts costs milliseconds, not minutes.
//! Lines keep their own line ends, so a text without a final newline stays
//! without one.

use std::ops::Range;
use std::time::{Duration, Instant};

use similar::{Algorithm, DiffTag};

/// How long each of the two line diffs may search.
const DEADLINE: Duration = Duration::from_millis(150);

/// Texts with more lines than this are not merged: the edit is a conflict.
pub const MAX_LINES: usize = 200_000;

/// The two edits changed the same lines (or touching ones).
#[derive(Debug, PartialEq, Eq)]
pub struct Conflict;

/// One side's change: base lines `base` replaced by that side's lines `new`.
#[derive(Debug, Clone)]
struct Change {
    base: Range<usize>,
    new: Range<usize>,
    ours: bool,
}

fn changes(base: &[&str], side: &[&str], ours: bool) -> Vec<Change> {
    let deadline = Instant::now() + DEADLINE;
    similar::capture_diff_slices_deadline(Algorithm::Myers, base, side, Some(deadline))
        .iter()
        .map(similar::DiffOp::as_tag_tuple)
        .filter(|(tag, _, _)| *tag != DiffTag::Equal)
        .map(|(_, base, new)| Change { base, new, ours })
        .collect()
}

/// Merges `ours` (the edit being saved) and `theirs` (what was saved since),
/// both made from `base`. Changes that overlap or touch are a [`Conflict`]
/// unless both sides made the very same change.
pub fn three_way(base: &str, ours: &str, theirs: &str) -> Result<String, Conflict> {
    let (base, ours, theirs) = (text_lines(base), text_lines(ours), text_lines(theirs));
    if [&base, &ours, &theirs].iter().any(|t| t.len() > MAX_LINES) {
        return Err(Conflict);
    }
    let mut all = changes(&base, &ours, true);
    all.extend(changes(&base, &theirs, false));
    all.sort_by_key(|c| (c.base.start, c.base.end));

    let mut out = String::with_capacity(theirs.iter().map(|l| l.len()).sum());
    let mut done = 0;
    let mut i = 0;
    while i < all.len() {
        // A group: changes whose base ranges overlap or touch.
        let start = all[i].base.start;
        let mut end = all[i].base.end;
        let mut j = i + 1;
        while j < all.len() && all[j].base.start <= end {
            end = end.max(all[j].base.end);
            j += 1;
        }
        let group = &all[i..j];
        out.extend(base[done..start].iter().copied());
        let side = |is_ours: bool, text: &[&str]| {
            apply(
                &base,
                start..end,
                group.iter().filter(|c| c.ours == is_ours),
                text,
            )
        };
        let from_ours = group.iter().any(|c| c.ours);
        let from_theirs = group.iter().any(|c| !c.ours);
        let merged = match (from_ours, from_theirs) {
            (true, false) => side(true, &ours),
            (false, true) => side(false, &theirs),
            _ => {
                let (a, b) = (side(true, &ours), side(false, &theirs));
                if a != b {
                    return Err(Conflict);
                }
                a
            }
        };
        out.push_str(&merged);
        done = end;
        i = j;
    }
    out.extend(base[done..].iter().copied());
    Ok(out)
}

/// The lines of `region` of the base with one side's changes applied.
fn apply<'a>(
    base: &[&str],
    region: Range<usize>,
    changes: impl Iterator<Item = &'a Change>,
    side: &[&str],
) -> String {
    let mut text = String::new();
    let mut at = region.start;
    for change in changes {
        text.extend(base[at..change.base.start].iter().copied());
        text.extend(side[change.new.clone()].iter().copied());
        at = change.base.end;
    }
    text.extend(base[at..region.end].iter().copied());
    text
}

/// Lines with their line ends (the last may have none).
fn text_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\n";

    #[test]
    fn changes_in_separate_places_are_both_kept() {
        let ours = BASE.replace("two", "TWO");
        let theirs = BASE.replace("six", "SIX");
        assert_eq!(
            three_way(BASE, &ours, &theirs).unwrap(),
            "one\nTWO\nthree\nfour\nfive\nSIX\nseven\n"
        );
    }

    #[test]
    fn changes_to_the_same_line_conflict() {
        let ours = BASE.replace("four", "FOUR");
        let theirs = BASE.replace("four", "4");
        assert_eq!(three_way(BASE, &ours, &theirs), Err(Conflict));
    }

    #[test]
    fn changes_to_touching_lines_conflict() {
        let ours = BASE.replace("three", "THREE");
        let theirs = BASE.replace("four", "FOUR");
        assert_eq!(three_way(BASE, &ours, &theirs), Err(Conflict));
    }

    #[test]
    fn the_same_change_on_both_sides_is_taken_once() {
        let both = BASE.replace("five", "FIVE");
        assert_eq!(three_way(BASE, &both, &both).unwrap(), both);
    }

    #[test]
    fn additions_at_the_same_place_conflict_unless_equal() {
        let ours = format!("{BASE}eight\n");
        let theirs = format!("{BASE}huit\n");
        assert_eq!(three_way(BASE, &ours, &theirs), Err(Conflict));
        assert_eq!(three_way(BASE, &ours, &ours).unwrap(), ours);
    }

    #[test]
    fn a_text_without_a_final_newline_keeps_none() {
        let base = "alpha\nbeta\ngamma\ndelta\nepsilon";
        let ours = base.replace("alpha", "ALPHA");
        let theirs = base.replace("epsilon", "EPSILON");
        assert_eq!(
            three_way(base, &ours, &theirs).unwrap(),
            "ALPHA\nbeta\ngamma\ndelta\nEPSILON"
        );
        let theirs = base.replace("delta", "DELTA");
        assert_eq!(
            three_way(base, &ours, &theirs).unwrap(),
            "ALPHA\nbeta\ngamma\nDELTA\nepsilon"
        );
    }

    #[test]
    fn one_side_unchanged_gives_the_other() {
        let ours = BASE.replace("one", "ONE");
        assert_eq!(three_way(BASE, &ours, BASE).unwrap(), ours);
        assert_eq!(three_way(BASE, BASE, &ours).unwrap(), ours);
    }

    #[test]
    fn two_large_unrelated_texts_are_a_conflict() {
        let base: String = (0..40_000).map(|i| format!("base line {i}\n")).collect();
        let ours: String = (0..40_000).map(|i| format!("ours line {i}\n")).collect();
        let theirs: String = (0..40_000).map(|i| format!("theirs {i}\n")).collect();
        assert_eq!(three_way(&base, &ours, &theirs), Err(Conflict));
    }
}
