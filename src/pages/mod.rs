//! Method pages and their revisions: the types, the SQL (`db`), and the
//! handlers (`routes`).

pub mod db;
pub mod routes;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::tags::TagList;

/// Longest slug made from a title; a `-2`, `-3`… suffix may follow.
pub const MAX_SLUG_CHARS: usize = 80;

/// A page's stable URL name: lower case letters and digits of any script,
/// single dashes between runs. Never changes once given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

/// Slugs that a route under `/methods/` uses as a literal path segment
/// (`/methods/new` is the creation form), so a page given one could never
/// be shown. A new route of that shape must add its word here.
pub const RESERVED_SLUGS: &[&str] = &["new"];

impl Slug {
    /// The slug a title gives; `None` when the title has no letter or digit.
    /// A title whose slug a route uses ([`RESERVED_SLUGS`]) gets the suffix
    /// a taken slug gets (`New` → `new-2`) here, in the one place every
    /// caller goes through, so that creating the page, importing it and a
    /// wiki link `[[New]]` all agree on where it lives.
    pub fn from_title(title: &str) -> Option<Slug> {
        let slug = Slug(crate::text::slugify(title, MAX_SLUG_CHARS));
        if slug.0.is_empty() {
            None
        } else if slug.is_reserved() {
            Some(slug.with_suffix(2))
        } else {
            Some(slug)
        }
    }

    /// Whether a route uses this slug for something other than a page.
    pub fn is_reserved(&self) -> bool {
        RESERVED_SLUGS.contains(&self.0.as_str())
    }

    /// A slug from a URL: accepted only if it is already in slug form, so
    /// `..`, `%00` or 300 characters are simply not found.
    pub fn parse(raw: &str) -> Option<Slug> {
        let ok = !raw.is_empty()
            && raw.chars().count() <= MAX_SLUG_CHARS + 8
            && crate::text::slugify(raw, MAX_SLUG_CHARS + 8) == raw;
        ok.then(|| Slug(raw.to_owned()))
    }

    /// The `n`th variant of a taken slug: `slug-2`, `slug-3`…
    pub fn with_suffix(&self, n: u32) -> Slug {
        Slug(format!("{}-{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// A page title: one line, 1–120 characters, with at least one letter or digit.
pub fn parse_title(raw: &str) -> Result<String, String> {
    let title = crate::text::one_line("The title", raw, MAX_TITLE_CHARS)?;
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
    let mut body = crate::text::clean_body(raw).trim_end().to_owned();
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
        let body = normalise_body(body);
        if body.len() > MAX_BODY_BYTES {
            errors.push(format!(
                "The text is longer than {} KiB.",
                MAX_BODY_BYTES / 1024
            ));
        }
        let tags = TagList::parse(tags).map_err(|e| errors.push(e)).ok();
        let summary = crate::text::one_line("The summary", summary, MAX_SUMMARY_CHARS)
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

/// The body a new method page starts from.
pub const METHOD_TEMPLATE: &str = "## Brief Description\n\n\n\n## Example Applications\n\n- \n\n## Full Description\n\n\n\n## Related Methods/Tools/Practices\n\n- \n\n## More Information/References/Related Resources\n\n- \n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_titles() {
        assert_eq!(
            Slug::from_title("After-Action Review").unwrap().as_str(),
            "after-action-review"
        );
        assert!(Slug::from_title("!!!").is_none());
    }

    #[test]
    fn a_title_whose_slug_a_route_uses_gets_a_suffix() {
        assert_eq!(Slug::from_title("New").unwrap().as_str(), "new-2");
        assert_eq!(Slug::from_title(" NEW! ").unwrap().as_str(), "new-2");
        assert_eq!(Slug::from_title("New ideas").unwrap().as_str(), "new-ideas");
        assert!(Slug::parse("new").unwrap().is_reserved());
    }

    #[test]
    fn url_slugs_must_already_be_in_slug_form() {
        assert!(Slug::parse("communities-of-practice").is_some());
        assert!(Slug::parse("communities-of-practice-2").is_some());
        assert!(Slug::parse("..").is_none());
        assert!(Slug::parse("a\0b").is_none());
        assert!(Slug::parse("Upper").is_none());
        assert!(Slug::parse(&"a".repeat(300)).is_none());
        assert!(Slug::parse("").is_none());
    }

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
    fn page_text_collects_every_error() {
        let many_tags: Vec<String> = (0..25).map(|i| format!("t{i}")).collect();
        let errors = PageText::parse("x", &many_tags.join(","), &"s".repeat(400)).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
