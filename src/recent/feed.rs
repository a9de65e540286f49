//! Atom feeds (RFC 4287), rendered from `templates/recent/feed.xml`.
//!
//! askama escapes `.xml` templates like HTML (`& < > " '`), which is also
//! correct XML; [`xml_text`] drops the few characters XML 1.0 cannot hold
//! at all, so a hostile title can neither break nor inject markup.

use askama::Template;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, AppResult};

/// Entries per feed.
pub const FEED_ENTRIES: i64 = 50;

/// A feed, its links already absolute (on `--public-url`, never on a
/// request's `Host`: the visitors' cache keeps feeds under their path alone).
pub struct Feed {
    pub id: String,
    pub title: String,
    pub self_url: String,
    pub html_url: String,
    pub author: String,
    pub entries: Vec<FeedEntry>,
}

/// One entry. `updated` is RFC 3339 (how Cafe stores times).
pub struct FeedEntry {
    pub id: String,
    pub title: String,
    pub updated: String,
    pub url: String,
    pub author: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "recent/feed.xml")]
struct AtomTemplate<'a> {
    feed: &'a Feed,
    updated: &'a str,
}

impl Feed {
    /// The feed as `application/atom+xml`. Its `updated` is its newest
    /// entry's, so fetching an unchanged feed twice gives the same document.
    pub fn into_response(mut self) -> AppResult<Response> {
        self.title = xml_text(&self.title);
        self.author = xml_text(&self.author);
        for entry in &mut self.entries {
            entry.title = xml_text(&entry.title);
            entry.author = xml_text(&entry.author);
            entry.summary = xml_text(&entry.summary);
        }
        let updated = self
            .entries
            .iter()
            .map(|e| e.updated.as_str())
            .max()
            .map_or_else(crate::clock::now, str::to_owned);
        let xml = AtomTemplate {
            feed: &self,
            updated: &updated,
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
