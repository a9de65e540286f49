//! Line diffs for people: changed lines with the changed words marked
//! inside them, grouped into hunks with a little context.

use similar::{ChangeTag, TextDiff};

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

/// The hunks turning `old` into `new`, with three lines of context.
pub fn hunks(old: &str, new: &str) -> Vec<Hunk> {
    let diff = TextDiff::from_lines(old, new);
    diff.grouped_ops(3)
        .iter()
        .map(|group| Hunk {
            lines: group
                .iter()
                .flat_map(|op| diff.iter_inline_changes(op))
                .map(|change| Line {
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
                })
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
