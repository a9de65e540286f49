//! Marking the matched words of a result's title and choosing its passage,
//! for PostgreSQL. SQLite's FTS5 marks its own (`highlight()`,
//! `snippet()`); PostgreSQL's `ts_headline` re-parsed each result's whole
//! text in the database, 0.8 ms a result, a third of a first-time search at
//! 100,000 pages. Here the words are found in the text the query already
//! fetched, the same way the index folds them: lower case, accents off.
//!
//! The output carries \u{2}/\u{3} around matched words, as FTS5's does, for
//! [`super::marked_html`] to escape and turn into `<mark>`.

use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

use super::Term;

/// Words in a passage.
const PASSAGE_WORDS: usize = 30;
/// Words shown before the first match, to read it in its sentence.
const LEAD_WORDS: usize = 5;

/// The words a query looks for, folded; `true` where the word is a prefix
/// (the last word of `facil*` or `"peer assi"*`).
pub struct Marker {
    words: Vec<(String, bool)>,
}

impl Marker {
    /// The words of every term to find (exclusions are never shown).
    pub fn new(terms: &[Term]) -> Marker {
        let mut words = Vec::new();
        for term in terms {
            let folded = fold(&term.text);
            let parts: Vec<&str> = folded
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            let last = parts.len().saturating_sub(1);
            for (i, part) in parts.into_iter().enumerate() {
                words.push((part.to_owned(), term.prefix && i == last));
            }
        }
        Marker { words }
    }

    fn matches(&self, word: &str) -> bool {
        let folded = fold(word);
        self.words.iter().any(|(w, prefix)| {
            if *prefix {
                folded.starts_with(w.as_str())
            } else {
                folded == *w
            }
        })
    }

    /// `text` whole, every matched word marked.
    pub fn title(&self, text: &str) -> String {
        let words = words(text);
        self.marked(text, &words, 0, words.len(), 0, text.len())
    }

    /// At most [`PASSAGE_WORDS`] words of `text`, from [`LEAD_WORDS`]
    /// before its first match (from its start when no word of it matches,
    /// and all of it when it is that short), matches marked, `…` where the
    /// passage does not reach the start or the end of the text.
    pub fn passage(&self, text: &str) -> String {
        let words = words(text);
        if words.is_empty() {
            return String::new();
        }
        let first = words
            .iter()
            .position(|&(a, b)| self.matches(&text[a..b]))
            .unwrap_or(0);
        let start = first
            .saturating_sub(LEAD_WORDS)
            .min(words.len().saturating_sub(PASSAGE_WORDS));
        let end = (start + PASSAGE_WORDS).min(words.len());
        // From the text's start, or its end, when the passage reaches it
        // (punctuation before the first word or after the last included).
        let from = if start == 0 {
            text.len() - text.trim_start().len()
        } else {
            words[start].0
        };
        let to = if end == words.len() {
            text.trim_end().len()
        } else {
            words[end - 1].1
        };
        let mut out = String::new();
        if start > 0 {
            out.push('…');
        }
        out.push_str(&self.marked(text, &words, start, end, from, to));
        if end < words.len() {
            out.push('…');
        }
        out
    }

    /// `text[from..to]`, with the matched ones of `words[first..end]` marked.
    fn marked(
        &self,
        text: &str,
        words: &[(usize, usize)],
        first: usize,
        end: usize,
        from: usize,
        to: usize,
    ) -> String {
        let mut out = String::with_capacity(to - from + 16);
        let mut at = from;
        for &(a, b) in &words[first..end] {
            if self.matches(&text[a..b]) {
                out.push_str(&text[at..a]);
                out.push('\u{2}');
                out.push_str(&text[a..b]);
                out.push('\u{3}');
                at = b;
            }
        }
        out.push_str(&text[at..to]);
        out
    }
}

/// Lower case, accents off (the combining marks of the decomposed text
/// dropped), as the index's `cafe_fold` folds.
fn fold(text: &str) -> String {
    text.nfd()
        .filter(|&c| !is_combining_mark(c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The byte ranges of the words of `text`: runs of letters and digits (and
/// the combining marks within them).
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let inside = c.is_alphanumeric() || (start.is_some() && is_combining_mark(c));
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(query: &str) -> Marker {
        Marker::new(&super::super::Query::parse(query).include)
    }

    #[test]
    fn every_matched_word_of_a_title_is_marked_whatever_its_case_and_accents() {
        assert_eq!(
            marker("evaluation peer").title("Évaluation by Peers, peer-led"),
            "\u{2}Évaluation\u{3} by Peers, \u{2}peer\u{3}-led"
        );
        assert_eq!(
            marker("\"peer assi\"* facil*").title("Peer assists, facilitated"),
            "\u{2}Peer\u{3} \u{2}assists\u{3}, \u{2}facilitated\u{3}"
        );
    }

    #[test]
    fn a_passage_leads_into_the_first_match_and_says_where_it_is_cut() {
        let body: String = (1..=60).map(|i| format!("w{i} ")).collect::<String>() + "end.";
        let passage = marker("w10").passage(&body);
        assert!(
            passage.starts_with("…w5 w6 w7 w8 w9 \u{2}w10\u{3} w11"),
            "{passage}"
        );
        assert!(passage.ends_with("w34…"), "{passage}");
        let near_the_end = marker("w59").passage(&body);
        assert!(near_the_end.starts_with("…w32 "), "{near_the_end}");
        assert!(
            near_the_end.ends_with("\u{2}w59\u{3} w60 end."),
            "{near_the_end}"
        );
        let whole = marker("w1").passage("w1 and w2.");
        assert_eq!(whole, "\u{2}w1\u{3} and w2.");
    }

    #[test]
    fn without_a_match_the_passage_is_the_start_and_markup_stays_text() {
        assert_eq!(
            marker("absent").passage("<b>Tom & Jerry</b> met"),
            "<b>Tom & Jerry</b> met"
        );
        assert_eq!(marker("x").passage("  \n "), "");
    }
}
