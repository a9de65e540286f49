//! Atom feeds (RFC 4287), rendered from `templates/recent/feed.xml`.
//!
//! askama escapes `.xml` templates like HTML (`& < > " '`), which is also
//! correct XML; [`xml_text`] drops the few characters XML 1.0 cannot hold
//! at all, so a hostile title can neither break nor inject markup.

use askama::Template;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::tag_prefix;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Entries per feed.
pub const FEED_ENTRIES: i64 = 50;

/// A feed as its handler tells it: ids after the site's [`tag_prefix`] and
/// links as paths. [`Feed::respond`] does what every feed does alike: it
/// makes them absolute on `--public-url` (never on a request's `Host`: the
/// visitors' cache keeps feeds under their path alone, which is all their
/// caching needs), names the site, cleans the text and sends the XML.
pub struct Feed {
    /// After the site's `tag:` prefix; permanent.
    pub id: String,
    /// What the feed follows: its title is "{site}: {about}".
    pub about: String,
    /// The HTML page the feed follows, path and query; the feed itself is
    /// at that path with `.atom`, and the same query.
    pub page: String,
    pub entries: Vec<FeedEntry>,
}

/// One entry, as its handler tells it.
pub struct FeedEntry {
    /// After the site's `tag:` prefix (a revision's is [`super::revision_id`]).
    pub id: String,
    pub title: String,
    /// RFC 3339 (how Cafe stores times).
    pub updated: String,
    /// Where to read it, a path on the site.
    pub path: String,
    /// `None`: the site's name.
    pub author: Option<String>,
    pub summary: String,
}

/// The document as sent, every link absolute and every text clean.
#[derive(Template)]
#[template(path = "recent/feed.xml")]
struct AtomTemplate {
    id: String,
    title: String,
    updated: String,
    self_url: String,
    html_url: String,
    author: String,
    entries: Vec<AtomEntry>,
}

struct AtomEntry {
    id: String,
    title: String,
    updated: String,
    url: String,
    author: String,
    summary: String,
}

impl Feed {
    /// The feed as `application/atom+xml`. Its `updated` is its newest
    /// entry's, so fetching an unchanged feed twice gives the same document.
    pub fn respond(self, state: &AppState) -> AppResult<Response> {
        let site = state.config.base_url();
        let tag = tag_prefix(&site);
        let name = &state.site.name;
        let entries: Vec<AtomEntry> = self
            .entries
            .into_iter()
            .map(|entry| AtomEntry {
                id: format!("{tag}{}", entry.id),
                title: xml_text(&entry.title),
                url: site.join(&entry.path),
                author: xml_text(entry.author.as_deref().unwrap_or(name)),
                summary: xml_text(&entry.summary),
                updated: entry.updated,
            })
            .collect();
        let updated = entries
            .iter()
            .map(|e| e.updated.as_str())
            .max()
            .map_or_else(crate::clock::now, str::to_owned);
        let (path, query) = self
            .page
            .split_at(self.page.find('?').unwrap_or(self.page.len()));
        let xml = AtomTemplate {
            id: format!("{tag}{}", self.id),
            title: xml_text(&format!("{name}: {}", self.about)),
            updated,
            self_url: site.join(&format!("{path}.atom{query}")),
            html_url: site.join(&self.page),
            author: xml_text(name),
            entries,
        }
        .render()
        .map_err(|err| AppError::Internal(err.into()))?;
        Ok((
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            xml,
        )
            .into_response())
    }
}

/// Text without the characters XML 1.0 forbids (controls other than tab
/// and line breaks, U+FFFE, U+FFFF).
pub fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || !(c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_drops_what_xml_cannot_hold() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\td\u{FFFF}"), "abc\td");
    }
}
