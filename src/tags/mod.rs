//! Cafe Tags: the tag type, parsing of the comma-separated tag box, and (in
//! submodules) the tag index, the CCASS indicator table and tag filtering.

pub mod check;
pub mod db;
pub mod indicators;
pub mod routes;

use std::fmt;

/// Most tags a page may carry.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// A normalised tag: trimmed, lower-cased, inner white space collapsed to one
/// space, no commas, no control characters, 1–40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

/// The address of a tag's page (`/tags/{tag}`), its spaces as `%20`.
pub fn tag_path(tag: &str) -> String {
    format!(
        "/tags/{}",
        crate::markup::text::url_encode(tag).replace('+', "%20")
    )
}

impl Tag {
    pub fn parse(raw: &str) -> Result<Tag, String> {
        let tag = crate::markup::text::collapse_spaces(raw).to_lowercase();
        if tag.is_empty() {
            return Err("A tag cannot be empty.".to_owned());
        }
        if tag.contains(',') || tag.chars().any(crate::markup::text::is_forbidden_char) {
            return Err(format!(
                "The tag “{tag}” contains characters a tag cannot hold."
            ));
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(format!(
                "The tag “{}…” is longer than {MAX_TAG_CHARS} characters.",
                tag.chars().take(20).collect::<String>()
            ));
        }
        Ok(Tag(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag's own page, percent-encoded.
    pub fn url(&self) -> String {
        format!(
            "/tags/{}",
            crate::markup::text::url_encode(&self.0).replace('+', "%20")
        )
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tags of one page: normalised, without duplicates, in the order typed,
/// at most [`MAX_TAGS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList(Vec<Tag>);

impl TagList {
    /// Parses the tag box: comma separated, empty entries ignored.
    pub fn parse(raw: &str) -> Result<TagList, String> {
        let mut tags: Vec<Tag> = Vec::new();
        for piece in raw.split(',') {
            if piece.trim().is_empty() {
                continue;
            }
            let tag = Tag::parse(piece)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(format!(
                "A page can carry at most {MAX_TAGS} tags; this one has {}.",
                tags.len()
            ));
        }
        Ok(TagList(tags))
    }

    /// Tags as stored (already normalised): comma separated.
    pub fn from_stored(stored: &str) -> TagList {
        TagList(
            stored
                .split(',')
                .filter(|t| !t.is_empty())
                .map(|t| Tag(t.to_owned()))
                .collect(),
        )
    }

    pub fn to_stored(&self) -> String {
        self.0.iter().map(Tag::as_str).collect::<Vec<_>>().join(",")
    }

    /// As typed in the tag box: `a, b, c`.
    pub fn to_input(&self) -> String {
        self.0
            .iter()
            .map(Tag::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.contains(tag)
    }

    /// Three-way merge of tag sets: start from `theirs` (the current tags),
    /// add what `ours` added to `base`, drop what `ours` removed from it.
    pub fn merge(base: &TagList, ours: &TagList, theirs: &TagList) -> TagList {
        let mut out: Vec<Tag> = theirs
            .iter()
            .filter(|t| !base.contains(t) || ours.contains(t))
            .cloned()
            .collect();
        for tag in ours.iter() {
            if !base.contains(tag) && !out.contains(tag) {
                out.push(tag.clone());
            }
        }
        out.truncate(MAX_TAGS);
        TagList(out)
    }

    /// Tags in `self` but not in `other`.
    pub fn minus<'a>(&'a self, other: &'a TagList) -> impl Iterator<Item = &'a Tag> + 'a {
        self.0.iter().filter(move |t| !other.contains(t))
    }

    /// The tags in `self` that `before` did not have, as a list.
    pub fn added_to(&self, before: &TagList) -> TagList {
        TagList(self.minus(before).cloned().collect())
    }
}

/// A tag as shown: its page, and for an indicator its code and name.
#[derive(Debug, Clone)]
pub struct TagLink {
    pub tag: String,
    pub url: String,
    /// The indicator's name, for an indicator tag.
    pub label: Option<String>,
    /// In a filtered list: the tag is one of the filter's (shown, not linked).
    pub in_filter: bool,
    /// In a filtered list: `url` adds the tag to the filter.
    pub adds_to_filter: bool,
}

impl TagLink {
    pub fn all(tags: &TagList, labels: &std::collections::HashMap<String, String>) -> Vec<TagLink> {
        tags.iter()
            .map(|t| TagLink {
                tag: t.as_str().to_owned(),
                url: t.url(),
                label: labels.get(t.as_str()).cloned(),
                in_filter: false,
                adds_to_filter: false,
            })
            .collect()
    }

    /// The tags of a method listed under a filter of `chosen` tags: each
    /// chip adds its tag to the filter instead of leaving it (issue 15).
    pub fn within_filter(
        tags: &TagList,
        labels: &std::collections::HashMap<String, String>,
        chosen: &[Tag],
    ) -> Vec<TagLink> {
        let mut links = TagLink::all(tags, labels);
        if chosen.is_empty() {
            return links;
        }
        for (link, tag) in links.iter_mut().zip(tags.iter()) {
            if chosen.contains(tag) {
                link.in_filter = true;
            } else {
                let mut with: Vec<&Tag> = chosen.iter().collect();
                with.push(tag);
                link.url = crate::pages::routes::filter_url(&with);
                link.adds_to_filter = true;
            }
        }
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_lower_cased_and_collapsed() {
        assert_eq!(
            Tag::parse("  Peer   Learning ").unwrap().as_str(),
            "peer learning"
        );
        assert_eq!(Tag::parse("LKM-1").unwrap().as_str(), "lkm-1");
    }

    #[test]
    fn a_tag_over_forty_characters_is_refused() {
        assert!(Tag::parse(&"a".repeat(40)).is_ok());
        assert!(Tag::parse(&"a".repeat(41)).is_err());
    }

    #[test]
    fn the_tag_box_drops_empties_and_duplicates() {
        let tags = TagList::parse("Learning, ,learning, LKM-1,").unwrap();
        assert_eq!(tags.to_stored(), "learning,lkm-1");
    }

    #[test]
    fn twenty_one_tags_are_refused() {
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(TagList::parse(&many.join(",")).is_err());
        assert!(TagList::parse(&many[..20].join(",")).is_ok());
    }

    #[test]
    fn control_characters_in_a_tag_are_refused() {
        assert!(Tag::parse("a\u{202E}b").is_err());
    }

    #[test]
    fn merging_tags_keeps_both_sides_changes() {
        let base = TagList::parse("a, b").unwrap();
        let ours = TagList::parse("a, c").unwrap();
        let theirs = TagList::parse("a, b, d").unwrap();
        assert_eq!(TagList::merge(&base, &ours, &theirs).to_stored(), "a,d,c");
    }

    #[test]
    fn tag_urls_are_percent_encoded() {
        assert_eq!(
            Tag::parse("peer learning").unwrap().url(),
            "/tags/peer%20learning"
        );
    }
}
