//! Method pages and their revisions: the types, the SQL (`db`), and the
//! handlers (`routes`).

pub mod db;
pub mod routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use crate::markup::slug::{MAX_SLUG_CHARS, RESERVED_SLUGS, Slug};
use crate::tags::TagList;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// A page title: one line, 1–120 characters, with at least one letter or digit.
pub fn parse_title(raw: &str) -> Result<String, String> {
    let title = crate::markup::text::one_line("The title", raw, MAX_TITLE_CHARS)?;
    if title.is_empty() {
        return Err("Please give the method a title.".to_owned());
    }
    if Slug::from_title(&title).is_none() {
        return Err("The title needs at least one letter or digit.".to_owned());
    }
    Ok(title)
}

/// Longest edit summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 300;
/// Longest page body, in bytes (the request limit is 1 MiB anyway).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// A body as stored: clean line endings, ending in exactly one newline, so
/// line-based diffs and three-way merges behave.
pub fn normalise_body(raw: &str) -> String {
    let mut body = crate::markup::text::clean_body(raw).trim_end().to_owned();
    body.push('\n');
    body
}

/// What a page save carries, parsed from the form.
#[derive(Debug, Clone)]
pub struct PageText {
    pub body: String,
    pub tags: TagList,
    pub summary: String,
}

impl PageText {
    /// Parses the shared fields of the create and edit forms; errors are
    /// messages for the re-shown form.
    pub fn parse(body: &str, tags: &str, summary: &str) -> Result<PageText, Vec<String>> {
        let mut errors = Vec::new();
        let body = normalise_body(&without_prompts(body));
        if body.len() > MAX_BODY_BYTES {
            errors.push(format!(
                "The text is longer than {} KiB.",
                MAX_BODY_BYTES / 1024
            ));
        }
        let tags = TagList::parse(tags).map_err(|e| errors.push(e)).ok();
        let summary = crate::markup::text::one_line("The summary", summary, MAX_SUMMARY_CHARS)
            .map_err(|e| errors.push(e))
            .ok();
        match (tags, summary) {
            (Some(tags), Some(summary)) if errors.is_empty() => Ok(PageText {
                body,
                tags,
                summary,
            }),
            _ => Err(errors),
        }
    }
}

/// Most method lists (sets of tags) [`ListCache`] keeps.
const LISTS_KEPT: usize = 128;
/// Most pages of one list [`ListCache`] keeps. A page of 100 methods is
/// 10-20 KB kept, so at most some 10 MB in all (the server's whole memory
/// target under load is 64 MiB).
const PAGES_KEPT: usize = 4;

/// A list's counts and the pages of it shown so far.
struct KeptList {
    counts: Arc<db::ListCounts>,
    pages: HashMap<usize, Arc<Vec<db::ListedPage>>>,
}

/// The method lists shown lately, by their (sorted) tags: the counts over
/// all of a list, and the pages of it shown. Counting takes time in
/// proportion to the matching methods (about 40 ms for 13,000 of 100,000)
/// and finding a page of 100 in title order takes a few milliseconds, yet
/// both change only when a page is created or its tags change (titles and
/// slugs never change). Everything kept carries the content clock's
/// `lists` it was read at ([`crate::cache::freshness`]), and is used only
/// while that is
/// unchanged, so a save from any process (the server or the CLI) makes it
/// stale at once.
#[derive(Default)]
pub struct ListCache(Mutex<HashMap<Vec<String>, KeptList>>);

impl ListCache {
    fn key(tags: &[crate::tags::Tag]) -> Vec<String> {
        let mut key: Vec<String> = tags.iter().map(|t| t.as_str().to_owned()).collect();
        key.sort();
        key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, KeptList>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The counts kept for these tags (whatever their order) at `generation`.
    pub fn counts(
        &self,
        tags: &[crate::tags::Tag],
        generation: i64,
    ) -> Option<Arc<db::ListCounts>> {
        let map = self.lock();
        let kept = map.get(&Self::key(tags))?;
        (kept.counts.generation == generation).then(|| Arc::clone(&kept.counts))
    }

    /// Page `number` of the list, kept at `generation`.
    pub fn page(
        &self,
        tags: &[crate::tags::Tag],
        generation: i64,
        number: usize,
    ) -> Option<Arc<Vec<db::ListedPage>>> {
        let map = self.lock();
        let kept = map.get(&Self::key(tags))?;
        if kept.counts.generation != generation {
            return None;
        }
        kept.pages.get(&number).cloned()
    }

    /// Keeps fresh counts (and forgets the pages kept with older ones),
    /// dropping lists of older generations, and all lists when too many are
    /// kept.
    pub fn put_counts(
        &self,
        tags: &[crate::tags::Tag],
        counts: db::ListCounts,
    ) -> Arc<db::ListCounts> {
        let counts = Arc::new(counts);
        let mut map = self.lock();
        map.retain(|_, kept| kept.counts.generation >= counts.generation);
        if map.len() >= LISTS_KEPT {
            map.clear();
        }
        map.insert(
            Self::key(tags),
            KeptList {
                counts: Arc::clone(&counts),
                pages: HashMap::new(),
            },
        );
        counts
    }

    /// Keeps page `number` of the list, read at `generation`, if the counts
    /// kept for it are of the same generation.
    pub fn put_page(
        &self,
        tags: &[crate::tags::Tag],
        generation: i64,
        number: usize,
        rows: Vec<db::ListedPage>,
    ) -> Arc<Vec<db::ListedPage>> {
        let rows = Arc::new(rows);
        let mut map = self.lock();
        if let Some(kept) = map.get_mut(&Self::key(tags))
            && kept.counts.generation == generation
        {
            if kept.pages.len() >= PAGES_KEPT {
                kept.pages.clear();
            }
            kept.pages.insert(number, Arc::clone(&rows));
        }
        rows
    }
}

/// What each section of a new method page asks for, as HTML comments (they
/// never show on the page); [`without_prompts`] drops the ones left as they
/// were when the page is saved.
pub const PROMPTS: [&str; 5] = [
    "<!-- In two or three sentences: what is this method, and what is it good for? -->",
    "<!-- Where has it been used? One line each: the office or project, when, and what came of it. -->",
    "<!-- How to run it, step by step: who takes part, how long it takes, what to prepare, what to watch out for. -->",
    "<!-- Methods that go well with this one or are alternatives to it: [[Method name]] links to their pages. -->",
    "<!-- Guides, templates, articles and contacts, with links. -->",
];

/// The body a new method page starts from: the five sections, each with its prompt.
pub static METHOD_TEMPLATE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "## Brief Description\n\n{}\n\n\n\n## Example Applications\n\n{}\n\n- \n\n## Full Description\n\n{}\n\n\n\n## Related Methods/Tools/Practices\n\n{}\n\n- \n\n## More Information/References/Related Resources\n\n{}\n\n- \n",
        PROMPTS[0], PROMPTS[1], PROMPTS[2], PROMPTS[3], PROMPTS[4]
    )
});

/// `body` without the template's prompts that were left unchanged (each
/// with the blank line after it), so they are not saved.
pub fn without_prompts(body: &str) -> std::borrow::Cow<'_, str> {
    if !PROMPTS.iter().any(|prompt| body.contains(prompt)) {
        return body.into();
    }
    let mut out = String::with_capacity(body.len());
    let mut skip_blank = false;
    for line in body.split_inclusive('\n') {
        if PROMPTS.contains(&line.trim()) {
            skip_blank = true;
            continue;
        }
        if skip_blank && line.trim().is_empty() {
            skip_blank = false;
            continue;
        }
        skip_blank = false;
        out.push_str(line);
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_one_line_and_need_a_letter() {
        assert_eq!(parse_title("  Peer \n Assist ").unwrap(), "Peer Assist");
        assert!(parse_title("   ").is_err());
        assert!(parse_title("???").is_err());
        assert!(parse_title(&"a".repeat(121)).is_err());
    }

    #[test]
    fn bodies_end_with_one_newline_and_unix_line_endings() {
        assert_eq!(normalise_body("a\r\nb\n\n\n"), "a\nb\n");
    }

    #[test]
    fn prompts_left_unchanged_are_not_saved_but_the_sections_are() {
        let saved = PageText::parse(&METHOD_TEMPLATE.replace("\n", "\r\n"), "", "")
            .unwrap()
            .body;
        assert!(!saved.contains("<!--"), "{saved}");
        assert!(
            saved.starts_with("## Brief Description\n\n\n\n## Example"),
            "{saved:?}"
        );
        let mine = "## Brief Description\n\n<!-- my own note -->\nText.\n";
        assert_eq!(PageText::parse(mine, "", "").unwrap().body, mine);
    }

    #[test]
    fn page_text_collects_every_error() {
        let many_tags: Vec<String> = (0..25).map(|i| format!("t{i}")).collect();
        let errors = PageText::parse("x", &many_tags.join(","), &"s".repeat(400)).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
