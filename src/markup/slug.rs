//! A page's stable URL name ([`Slug`]): made from a title, parsed from a
//! URL or a wiki link. It lives with the markup, not with the pages, so the
//! Markdown renderer can resolve `[[links]]` without importing the pages.

use std::fmt;

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
        let slug = Slug(crate::markup::text::slugify(title, MAX_SLUG_CHARS));
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
            && crate::markup::text::slugify(raw, MAX_SLUG_CHARS + 8) == raw;
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
}
