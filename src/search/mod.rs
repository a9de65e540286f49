//! Full-text search over method pages and stories: the query language
//! people type, turned into a safe FTS5 expression (`Query::parse`), the SQL
//! (`db`), and the `/search` handler (`routes`).
//!
//! User text never reaches `MATCH` as written: every word or phrase becomes
//! an FTS5 string (`"…"`, inner quotes doubled), so operators typed by
//! people (`AND`, `NEAR`, `:`, `^`, parentheses…) are searched for as plain
//! words and can never make the expression invalid. The index itself is kept
//! in step by triggers (`migrations/sqlite/0002_search.sql`).

pub mod db;
pub mod marks;
pub mod routes;
pub mod upkeep;

use std::sync::Arc;

use crate::db::{Db, Look};

pub use crate::cache::search::Cache;

use crate::tags::{Tag, TagList};

/// Longest query read, in characters; the rest is ignored (and said so).
pub const MAX_QUERY_CHARS: usize = 500;
/// Most words, phrases and filters read from one query.
pub const MAX_TERMS: usize = 12;
/// Longest single word or phrase, in characters.
const MAX_TERM_CHARS: usize = 100;

/// Story outcomes, as stored and as typed after `outcome:`.
pub const OUTCOMES: [&str; 5] = ["success", "mixed", "failure", "too-early", "question"];

/// A word or phrase to look for (or to exclude).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    /// `facil*`: the last word of the term is a prefix.
    pub prefix: bool,
}

impl Term {
    /// The term as a PostgreSQL `tsquery`: its words (letters and digits
    /// only, so nothing in them is read as syntax) one after another
    /// (`<->`), the last one `:*` for a prefix. `None` when no word is left.
    /// Folding (case, accents) is done by the database (`cafe_fold`), as
    /// for the indexed text.
    fn to_tsquery(&self) -> Option<String> {
        // Combining marks are dropped first: some count as letters (U+0345)
        // yet fold to nothing, which would leave an empty word, a syntax
        // error in a `tsquery`; and "t̶h̵e" then finds "the".
        let text: String = self
            .text
            .chars()
            .filter(|&c| !unicode_normalization::char::is_combining_mark(c))
            .collect();
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return None;
        }
        let phrase = words.join(" <-> ");
        Some(if self.prefix {
            format!("({phrase}:*)")
        } else {
            format!("({phrase})")
        })
    }

    /// The pairs of words side by side in a phrase (`first second`), as
    /// PostgreSQL's `search_index.pairs` hashes them, or `None` when there
    /// is no whole pair or a word might be split or folded by the database
    /// otherwise than here: only words of ASCII letters and digits, which
    /// PostgreSQL's parser keeps whole and folding only lowercases. A
    /// prefix's last pair is left out (a hash cannot match a beginning).
    /// A row matching the phrase has every pair, so the pairs only narrow
    /// what is checked, never the result.
    fn to_pairs(&self) -> Option<Vec<String>> {
        if !self.text.is_ascii() {
            return None;
        }
        let words: Vec<String> = self
            .text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        if words.iter().any(|w| w.len() > 100) {
            return None;
        }
        let whole = if self.prefix {
            words.len().saturating_sub(1)
        } else {
            words.len()
        };
        let pairs: Vec<String> = words[..whole]
            .windows(2)
            .map(|pair| format!("{} {}", pair[0], pair[1]))
            .collect();
        (!pairs.is_empty()).then_some(pairs)
    }

    /// The term as an FTS5 string: quoted, inner quotes doubled, so nothing
    /// in it is read as syntax.
    fn to_fts(&self) -> String {
        let quoted = format!("\"{}\"", self.text.replace('"', "\"\""));
        if self.prefix { quoted + "*" } else { quoted }
    }
}

/// A parsed search query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// All must match.
    pub include: Vec<Term>,
    /// None may match.
    pub exclude: Vec<Term>,
    /// `tag:name`: only pages carrying every one of these (and their stories).
    pub tags: Vec<Tag>,
    /// `outcome:failure`: only stories with one of these outcomes.
    pub outcomes: Vec<&'static str>,
    /// Why nothing can be searched for (shown instead of results).
    pub problem: Option<String>,
    /// What was ignored in the query, shown above the results.
    pub notes: Vec<String>,
}

impl Query {
    /// Reads what someone typed. Never fails: what cannot be used is
    /// dropped and explained in `notes` or `problem`.
    pub fn parse(raw: &str) -> Query {
        let mut query = Query::default();
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if cleaned.chars().count() > MAX_QUERY_CHARS {
            query.notes.push(format!(
                "Your search was long: only its first {MAX_QUERY_CHARS} characters were used."
            ));
        }
        let text: Vec<char> = cleaned.chars().take(MAX_QUERY_CHARS).collect();
        let mut terms = 0;
        let mut i = 0;
        while i < text.len() {
            if text[i].is_whitespace() {
                i += 1;
                continue;
            }
            let negated = text[i] == '-';
            if negated {
                i += 1;
            }
            let (token, next) = read_token(&text, i);
            i = next;
            if terms == MAX_TERMS {
                query.notes.push(format!(
                    "Only the first {MAX_TERMS} words, phrases or filters were used."
                ));
                break;
            }
            if query.add(token, negated) {
                terms += 1;
            }
        }
        if query.problem.is_none()
            && query.include.is_empty()
            && query.tags.is_empty()
            && query.outcomes.is_empty()
        {
            query.problem = if query.exclude.is_empty() {
                Some("Type one or more words to look for.".to_owned())
            } else {
                Some("Say what to look for, not only what to leave out: add a word without a “-” in front.".to_owned())
            };
        }
        query
    }

    /// Adds one token; false when it held nothing searchable.
    fn add(&mut self, token: Token, negated: bool) -> bool {
        match token {
            Token::Filter {
                key: FilterKey::Tag,
                value,
            } => {
                match Tag::parse(&value) {
                    Ok(_) if negated => {
                        self.notes.push("Leaving out a tag (“-tag:”) is not supported; that filter was ignored.".to_owned());
                        false
                    }
                    Ok(tag) => {
                        if !self.tags.contains(&tag) {
                            self.tags.push(tag);
                        }
                        true
                    }
                    Err(_) => {
                        self.notes
                            .push("An empty or invalid “tag:” filter was ignored.".to_owned());
                        false
                    }
                }
            }
            Token::Filter {
                key: FilterKey::Outcome,
                value,
            } => {
                let wanted = value.trim().to_lowercase().replace([' ', '_'], "-");
                match OUTCOMES.iter().find(|o| **o == wanted) {
                    Some(_) if negated => {
                        self.notes
                            .push("Leaving out an outcome (“-outcome:”) is not supported; that filter was ignored.".to_owned());
                        false
                    }
                    Some(outcome) => {
                        if !self.outcomes.contains(outcome) {
                            self.outcomes.push(outcome);
                        }
                        true
                    }
                    None => {
                        self.problem = Some(format!(
                            "“outcome:{}” is not an outcome: use outcome:success, outcome:mixed, outcome:failure, outcome:too-early or outcome:question.",
                            value.chars().take(40).collect::<String>()
                        ));
                        false
                    }
                }
            }
            Token::Words { text, prefix } => {
                // A term without a letter or digit has no token to look for.
                if !text.chars().any(char::is_alphanumeric) {
                    return false;
                }
                let text: String = text.chars().take(MAX_TERM_CHARS).collect();
                let term = Term { text, prefix };
                let list = if negated {
                    &mut self.exclude
                } else {
                    &mut self.include
                };
                if !list.contains(&term) {
                    list.push(term);
                }
                true
            }
        }
    }

    /// The FTS5 expression for the words to look for, `None` when the query
    /// only filters (then [`Query::exclusions`] applies on its own).
    pub fn fts_expression(&self) -> Option<String> {
        if self.include.is_empty() {
            return None;
        }
        let include: Vec<String> = self.include.iter().map(Term::to_fts).collect();
        let mut expr = format!("({})", include.join(" AND "));
        for term in &self.exclude {
            expr.push_str(" NOT ");
            expr.push_str(&term.to_fts());
        }
        Some(expr)
    }

    /// [`Query::fts_expression`] as a PostgreSQL `tsquery` (see
    /// [`Term::to_tsquery`]): the same parse, the same meaning.
    pub fn ts_expression(&self) -> Option<String> {
        let include: Vec<String> = self.include.iter().filter_map(Term::to_tsquery).collect();
        if include.is_empty() {
            return None;
        }
        let mut expr = include.join(" & ");
        for term in self.exclude.iter().filter_map(Term::to_tsquery) {
            expr.push_str(" & !");
            expr.push_str(&term);
        }
        Some(expr)
    }

    /// The pairs of words every match must have side by side (see
    /// [`Term::to_pairs`]), as a JSON list for `cafe_query_pair_hashes`
    /// (migrations/postgres/0115_pair_hashes.sql); `None` when no phrase
    /// gives any.
    pub fn ts_pairs(&self) -> Option<String> {
        let pairs: Vec<String> = self
            .include
            .iter()
            .filter_map(Term::to_pairs)
            .flatten()
            .collect();
        (!pairs.is_empty()).then(|| crate::db::json_list(pairs.iter().map(String::as_str)))
    }

    /// [`Query::exclusions`] as a PostgreSQL `tsquery`.
    pub fn ts_exclusions(&self) -> Option<String> {
        let exclude: Vec<String> = self.exclude.iter().filter_map(Term::to_tsquery).collect();
        (!exclude.is_empty()).then(|| exclude.join(" | "))
    }

    /// The FTS5 expression matching any excluded term (for queries that only
    /// filter, where there is nothing to put `NOT` after).
    pub fn exclusions(&self) -> Option<String> {
        (!self.exclude.is_empty()).then(|| {
            self.exclude
                .iter()
                .map(Term::to_fts)
                .collect::<Vec<_>>()
                .join(" OR ")
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterKey {
    Tag,
    Outcome,
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Words { text: String, prefix: bool },
    Filter { key: FilterKey, value: String },
}

/// Reads a quoted phrase (to the closing quote, or to the end when there is
/// none), a `tag:`/`outcome:` filter (its value may be quoted), or a word.
fn read_token(text: &[char], start: usize) -> (Token, usize) {
    let rest: String = text[start..]
        .iter()
        .take(8)
        .collect::<String>()
        .to_lowercase();
    for (prefix, key) in [("tag:", FilterKey::Tag), ("outcome:", FilterKey::Outcome)] {
        if rest.starts_with(prefix) {
            let (value, next) = read_word_or_phrase(text, start + prefix.chars().count());
            return (
                Token::Filter {
                    key,
                    value: value.trim_end_matches('*').to_owned(),
                },
                next,
            );
        }
    }
    let (value, mut next) = read_word_or_phrase(text, start);
    if text.get(start) == Some(&'"') {
        // `"some phrase"*`: the phrase's last word is a prefix.
        let prefix = text.get(next) == Some(&'*');
        while text.get(next) == Some(&'*') {
            next += 1;
        }
        return (
            Token::Words {
                text: value,
                prefix,
            },
            next,
        );
    }
    let trimmed = value.trim_end_matches('*');
    let prefix = trimmed.len() < value.len();
    (
        Token::Words {
            text: trimmed.to_owned(),
            prefix,
        },
        next,
    )
}

/// A phrase when `start` is a quote, else a word up to white space.
fn read_word_or_phrase(text: &[char], start: usize) -> (String, usize) {
    if text.get(start) == Some(&'"') {
        let end = text[start + 1..]
            .iter()
            .position(|&c| c == '"')
            .map_or(text.len(), |p| start + 1 + p);
        let phrase: String = text[start + 1..end].iter().collect();
        return (phrase, (end + 1).min(text.len()));
    }
    let end = text[start..]
        .iter()
        .position(|c| c.is_whitespace())
        .map_or(text.len(), |p| start + p);
    (text[start..end].iter().collect(), end)
}

/// Results per page.
pub const PER_PAGE: i64 = 20;
/// Pages of results offered (200 results); past these, people refine the
/// query instead, and PostgreSQL stops counting (`db/postgres.rs`).
pub const MAX_PAGES: i64 = 10;

/// One result as shown.
#[derive(Clone)]
pub struct Hit {
    pub url: String,
    /// The title, escaped, matched words in `<mark>`.
    pub title_html: String,
    /// A passage of the body, escaped, matched words in `<mark>`.
    pub snippet_html: String,
    /// The page's tags (for a story: the tags of its page).
    pub tags: TagList,
    /// The same tags as shown: an indicator with its name.
    pub tag_links: Vec<crate::tags::TagLink>,
    pub story: Option<StoryHit>,
}

/// What a story result shows besides its title.
#[derive(Clone)]
pub struct StoryHit {
    pub outcome: String,
    pub location: String,
    pub page_title: String,
    pub page_url: String,
}

/// One page of results and how many there are in all.
pub struct Results {
    pub hits: Vec<Hit>,
    pub total: i64,
}

/// Runs a parsed query (one without a `problem`); `page` counts from 1.
/// A page asked for again before anything changed comes from `cache`.
pub async fn run(pool: &Db, cache: &Cache, query: &Query, page: i64) -> sqlx::Result<Arc<Results>> {
    let page = page.clamp(1, MAX_PAGES);
    let (matching, excluding, pairs) = match pool.backend() {
        crate::db::Backend::Sqlite => (query.fts_expression(), query.exclusions(), None),
        crate::db::Backend::Postgres => (
            query.ts_expression(),
            query.ts_exclusions(),
            query.ts_pairs(),
        ),
    };
    let tags: Vec<&str> = query.tags.iter().map(Tag::as_str).collect();
    // Debug formatting quotes and escapes each part, so no two queries
    // share a key.
    let key = format!(
        "{page} {matching:?} {excluding:?} {tags:?} {:?}",
        query.outcomes
    );
    let looked = crate::db::cached_or_turn(pool, || {
        let key = &key;
        async move {
            let generation = db::generation(pool).await?;
            Ok::<_, sqlx::Error>(match cache.get(generation, key) {
                Some(results) => Look::Found(results),
                None => Look::Missing(generation),
            })
        }
    });
    let (_turn, generation) = match looked.await? {
        Look::Found(results) => return Ok(results),
        Look::Missing(missing) => missing,
    };
    let search = db::Search {
        matching: matching.as_deref(),
        excluding: excluding.as_deref(),
        tags: &query.tags,
        outcomes: &query.outcomes,
        pairs: pairs.as_deref(),
        terms: &query.include,
    };
    let rows = db::search(pool, &search, PER_PAGE, (page - 1) * PER_PAGE).await?;
    let total = match rows.first() {
        Some(row) => row.total,
        // Past the last page there is no row to carry the total.
        None if page > 1 => db::count(pool, &search).await?,
        None => 0,
    };
    let labels = if rows.iter().any(|row| !row.tags.is_empty()) {
        crate::tags::db::labels(pool).await?
    } else {
        Default::default()
    };
    let hits = rows
        .into_iter()
        .map(|row| Hit::from_row(row, matching.is_some(), &labels))
        .collect();
    let results = Arc::new(Results { hits, total });
    cache.put(generation, key, Arc::clone(&results));
    Ok(results)
}

impl Hit {
    fn from_row(
        row: db::HitRow,
        ranked: bool,
        labels: &std::collections::HashMap<String, String>,
    ) -> Hit {
        let page_url = format!("/methods/{}", row.slug);
        let passage = if ranked {
            row.snippet
        } else {
            shorten(&row.snippet, 200)
        };
        let snippet = readable(&passage);
        let story = row.story_id.map(|_| StoryHit {
            outcome: crate::stories::outcome_label(row.outcome.as_deref().unwrap_or_default())
                .to_owned(),
            location: row.location.unwrap_or_default(),
            page_title: row.page_title.clone(),
            page_url: page_url.clone(),
        });
        Hit {
            url: match row.story_id {
                Some(id) => format!("{page_url}/stories/{id}"),
                None => page_url,
            },
            title_html: marked_html(&row.title),
            snippet_html: marked_html(&snippet),
            tag_links: crate::tags::TagLink::all(&TagList::from_stored(&row.tags), labels),
            tags: TagList::from_stored(&row.tags),
            story,
        }
    }
}

/// A passage of Markdown as the page reads it: rendered to its text, one
/// line, wiki links as their labels, no emphasis, heading or list markers
/// and no inline HTML; a heading set apart from the text after it by “ — ”,
/// blocks by “ · ” (or a space after a full stop). The \u{2}/\u{3} marks
/// stay. The passage is a cut of the body, so a stray `*` of emphasis cut
/// in two is dropped too.
fn readable(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag as Md, TagEnd};
    let source = wiki_link_labels(markdown);
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut out = String::with_capacity(source.len());
    // What separates the next text from what came before it.
    let mut gap: Option<&str> = None;
    let block_gap = |out: &str| {
        let end = out.trim_end_matches(['\u{2}', '\u{3}']);
        if end.ends_with(['.', '!', '?', ':', ';', '…']) {
            " "
        } else {
            " · "
        }
    };
    for event in Parser::new_ext(&source, options) {
        match event {
            Event::Text(text) | Event::Code(text) => {
                let text = text.replace('*', "");
                if text.trim().is_empty() && out.is_empty() {
                    continue;
                }
                if let Some(sep) = gap.take()
                    && !out.is_empty()
                {
                    out.truncate(out.trim_end().len());
                    out.push_str(sep);
                }
                out.push_str(&text);
            }
            Event::SoftBreak | Event::HardBreak => {
                gap.get_or_insert(" ");
            }
            Event::End(TagEnd::Heading(_)) => gap = Some(" — "),
            Event::Start(Md::Heading { .. }) => {
                gap = Some(block_gap(&out));
            }
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Item
                | TagEnd::TableCell
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::FootnoteDefinition,
            ) if gap != Some(" — ") => gap = Some(block_gap(&out)),
            _ => {}
        }
    }
    crate::markup::text::collapse_spaces(&out)
}

/// `[[Target|label]]` as the page shows it: the label alone. A link cut
/// off by either end of the passage (`…get|label]]`, `[[Target|lab…`)
/// loses its target too.
fn wiki_link_labels(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    if let Some(end) = rest.find("]]") {
        let head = &rest[..end];
        if let (false, Some(bar)) = (head.contains("[["), head.rfind('|')) {
            if head.starts_with('…') {
                out.push('…');
            }
            out.push_str(&head[bar + 1..]);
            rest = &rest[end + 2..];
        }
    }
    while let Some(start) = rest.find("[[") {
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..];
        let (link, after) = match inner.find("]]") {
            Some(end) => (&inner[..end], &inner[end + 2..]),
            None => (inner, ""),
        };
        match link.split_once('|') {
            Some((_, label)) => out.push_str(label),
            None => out.push_str(link),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The first `max` characters of `text`, cut at a space, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut
        .rsplit_once(char::is_whitespace)
        .map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end())
}

/// Text from the index with matched words between the \u{2} and \u{3}
/// markers (as `snippet()`/`highlight()` were asked to mark them), made
/// into HTML: everything escaped, the markers turned into `<mark>` tags,
/// always balanced.
pub fn marked_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 32);
    let mut open = false;
    for ch in raw.chars() {
        match ch {
            '\u{2}' if !open => {
                out.push_str("<mark>");
                open = true;
            }
            '\u{3}' if open => {
                out.push_str("</mark>");
                open = false;
            }
            '\u{2}' | '\u{3}' => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &Query) -> Vec<(&str, bool)> {
        q.include
            .iter()
            .map(|t| (t.text.as_str(), t.prefix))
            .collect()
    }

    #[test]
    fn plain_words_must_all_match() {
        let q = Query::parse("peer  assist");
        assert_eq!(words(&q), [("peer", false), ("assist", false)]);
        assert_eq!(q.fts_expression().unwrap(), r#"("peer" AND "assist")"#);
        assert!(q.problem.is_none());
    }

    #[test]
    fn phrases_prefixes_and_exclusions_become_quoted_fts_strings() {
        let q = Query::parse(r#""after action" facil* -army"#);
        assert_eq!(
            q.fts_expression().unwrap(),
            r#"("after action" AND "facil"*) NOT "army""#
        );
    }

    #[test]
    fn quotes_inside_words_are_doubled_and_operators_are_words() {
        let q = Query::parse(r#"a"b NEAR( x^y"#);
        assert_eq!(
            q.fts_expression().unwrap(),
            r#"("a""b" AND "NEAR(" AND "x^y")"#
        );
    }

    #[test]
    fn an_unbalanced_quote_runs_to_the_end() {
        let q = Query::parse(r#"story "of a failure"#);
        assert_eq!(words(&q), [("story", false), ("of a failure", false)]);
    }

    #[test]
    fn tag_and_outcome_filters_are_read_quoted_or_not() {
        let q = Query::parse(
            r#"review tag:"Peer Learning" TAG:lkm-1 outcome:failure outcome:"too early""#,
        );
        assert_eq!(words(&q), [("review", false)]);
        let tags: Vec<&str> = q.tags.iter().map(Tag::as_str).collect();
        assert_eq!(tags, ["peer learning", "lkm-1"]);
        assert_eq!(q.outcomes, ["failure", "too-early"]);
    }

    #[test]
    fn an_unknown_outcome_is_a_problem_not_an_empty_search() {
        let q = Query::parse("outcome:great");
        assert!(q.problem.unwrap().contains("outcome:failure"));
    }

    #[test]
    fn a_query_that_only_excludes_asks_for_a_word() {
        let q = Query::parse("-army -navy");
        assert!(q.problem.unwrap().contains("not only what to leave out"));
        let filtered = Query::parse("tag:learning -army -navy");
        assert!(filtered.problem.is_none());
        assert_eq!(
            filtered.exclusions().as_deref(),
            Some(r#""army" OR "navy""#)
        );
    }

    #[test]
    fn punctuation_alone_is_not_a_term() {
        let q = Query::parse(r#"( ) * ^ : - "" AND"#);
        assert_eq!(words(&q), [("AND", false)]);
        assert!(Query::parse("*** ((( ").problem.is_some());
    }

    #[test]
    fn long_queries_are_cut_and_say_so() {
        let q = Query::parse(&"word ".repeat(4000));
        assert_eq!(q.include.len(), 1, "duplicates collapse");
        let q = Query::parse(
            &(0..100)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
        assert_eq!(q.include.len(), MAX_TERMS);
        assert!(!q.notes.is_empty());
    }

    #[test]
    fn combining_marks_never_leave_an_empty_word_in_a_tsquery() {
        // U+0345 counts as a letter but folds to nothing; U+0336 strikes through.
        let q = Query::parse("t\u{336}h\u{336}e\u{345} \u{345} wall*");
        assert_eq!(
            q.ts_expression().as_deref(),
            Some("(the) & (wall:*)"),
            "{q:?}"
        );
    }

    #[test]
    fn phrases_of_plain_words_give_the_pairs_every_match_has() {
        let q =
            Query::parse(r#""Women-led Results" "after action review"* peer -"not this" "né à""#);
        assert_eq!(
            q.ts_pairs().as_deref(),
            Some(r#"["women led","led results","after action"]"#),
            "{q:?}"
        );
        assert_eq!(Query::parse("peer assist*").ts_pairs(), None);
        // A prefix's last pair cannot be hashed: a two-word one gives none.
        assert_eq!(Query::parse("\"after act\"*").ts_pairs(), None);
        // Struck-through letters fold to one word in the tsquery: no pairs.
        assert_eq!(Query::parse("\"t\u{336}he wall\"").ts_pairs(), None);
    }

    #[test]
    fn snippets_read_as_text_not_markdown() {
        assert_eq!(
            readable(
                "…end.\n\n## Related \u{2}Methods\u{3}\n\n- [[After-Action Review]]\n- **bold** `code`"
            ),
            "…end. Related \u{2}Methods\u{3} — After-Action Review · bold code"
        );
    }

    #[test]
    fn wiki_links_in_snippets_show_their_label_not_their_target() {
        assert_eq!(
            readable("See [[Peer Assist|our \u{2}assists\u{3}]] and [[After-Action Review]]."),
            "See our \u{2}assists\u{3} and After-Action Review."
        );
        assert_eq!(
            readable("cut off in [[Some Page|the lab…"),
            "cut off in the lab…"
        );
        assert_eq!(
            readable("…age|the \u{2}label\u{3}]] and on"),
            "…the \u{2}label\u{3} and on"
        );
        assert_eq!(readable("a table | with | pipes"), "a table | with | pipes");
    }

    #[test]
    fn snippets_come_from_the_rendered_text() {
        assert_eq!(
            readable(
                "*The \u{2}fair\u{3}* was _good_.\n\n## Steps\nInvite people.\n\n1. One\n2. Two"
            ),
            "The \u{2}fair\u{3} was good. Steps — Invite people. One · Two"
        );
        assert_eq!(
            readable("cut in two* here <b>bold</b> &amp; done"),
            "cut in two here bold & done"
        );
        assert_eq!(
            readable("| Step | Who |\n|---|---|\n| Plan | [[Team Lead|lead]] |"),
            "Step · Who · Plan · lead"
        );
    }

    #[test]
    fn marked_text_is_escaped_and_marks_are_balanced() {
        assert_eq!(
            marked_html("<b>\u{2}x&y\u{3}</b>"),
            "&lt;b&gt;<mark>x&amp;y</mark>&lt;/b&gt;"
        );
        assert_eq!(marked_html("\u{3}a\u{2}b"), "a<mark>b</mark>");
    }
}
