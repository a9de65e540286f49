//! Markdown to sanitised HTML. Runs only when something is saved: the HTML is
//! stored and served as is, so a page view never parses Markdown.
//!
//! CommonMark plus tables, footnotes, strikethrough, task lists and heading
//! ids; `[[Page title]]` and `[[Page title|label]]` link to method pages, and
//! a link whose target does not exist yet is marked `missing` and points to
//! the page-creation form. Whatever the author typed, the output goes through
//! ammonia: no script, style, event handler or non-http(s)/mailto URL survives.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::pages::Slug;

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_WIKILINKS
}

thread_local! {
    static PARSES: Cell<u64> = const { Cell::new(0) };
}

/// How many times Markdown was parsed on this thread. A test driving the
/// router on a single-threaded runtime uses it to prove that a page view
/// never parses Markdown, so the fast path cannot silently regress.
pub fn parses_on_this_thread() -> u64 {
    PARSES.with(Cell::get)
}

fn parser(md: &str) -> Parser<'_> {
    PARSES.with(|n| n.set(n.get() + 1));
    Parser::new_ext(md, options())
}

/// The slugs that the wiki links of `md` point to, without duplicates, in order.
pub fn link_targets(md: &str) -> Vec<Slug> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for event in parser(md) {
        if let Event::Start(Tag::Link {
            link_type: LinkType::WikiLink { .. },
            dest_url,
            ..
        }) = event
            && let Some(slug) = Slug::from_title(&dest_url)
            && seen.insert(slug.clone())
        {
            out.push(slug);
        }
    }
    out
}

/// Deepest nesting of Markdown elements (quotes, lists, emphasis…) kept;
/// deeper ones keep their text but lose their markup. The HTML parser inside
/// the sanitiser takes time quadratic in the nesting depth: 10,000 nested
/// `>` or `- ` (20 KB of text) took over a second, a wiki page needs a few levels.
pub const MAX_NESTING: usize = 48;

/// Most raw HTML tags a text may hold before all of its raw HTML is shown as
/// text instead: the same quadratic cost as above, reached with
/// `<div><div>…`, whose depth the Markdown parser cannot see.
pub const MAX_RAW_HTML_TAGS: usize = 2_000;

/// The parser's events with the start and end of every element nested deeper
/// than [`MAX_NESTING`] dropped (its content stays). Starts and ends come in
/// matching pairs, so a stack of "kept?" flags pairs them up.
fn shallow<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut kept: Vec<bool> = Vec::new();
    let mut depth = 0;
    events.filter(move |event| match event {
        Event::Start(_) => {
            let keep = depth < MAX_NESTING;
            kept.push(keep);
            depth += usize::from(keep);
            keep
        }
        Event::End(_) => {
            let keep = kept.pop().unwrap_or(true);
            depth -= usize::from(keep && depth > 0);
            keep
        }
        _ => true,
    })
}

/// Counts what may open an HTML tag: `<` then a letter.
fn raw_tags(html: &str) -> usize {
    html.as_bytes()
        .windows(2)
        .filter(|w| w[0] == b'<' && w[1].is_ascii_alphabetic())
        .count()
}

/// Renders `md` to sanitised HTML; `exists` says whether a wiki link's
/// target page exists (else the link is shown as missing).
pub fn render(md: &str, exists: &dyn Fn(&Slug) -> bool) -> String {
    let mut events: Vec<Event> = Vec::new();
    let mut in_wikilink = false;
    let mut linked = false;
    let mut heading: Option<Vec<Event>> = None;
    let mut heading_ids: HashMap<String, usize> = HashMap::new();
    // Counted in the source: an upper bound of the raw HTML tags (code spans
    // and autolinks count too), without a second parse.
    let raw_as_text = raw_tags(md) > MAX_RAW_HTML_TAGS;

    for event in shallow(parser(md)) {
        let event = match event {
            // Too much raw HTML to sanitise quickly: the author's raw HTML is
            // shown as text. (Cafe's own markup below is not affected.)
            Event::Html(raw) | Event::InlineHtml(raw) if raw_as_text => Event::Text(raw),
            Event::Start(Tag::Link {
                link_type: LinkType::WikiLink { .. },
                dest_url,
                ..
            }) => {
                // A link to nothing (`[[ ]]`) keeps its text and loses the link.
                let open = wikilink_open(&dest_url, exists);
                in_wikilink = true;
                linked = open.is_some();
                Event::InlineHtml(open.unwrap_or_default().into())
            }
            Event::End(TagEnd::Link) if in_wikilink => {
                in_wikilink = false;
                Event::InlineHtml(if linked { "</a>" } else { "" }.into())
            }
            Event::TaskListMarker(done) => Event::InlineHtml(
                if done {
                    r#"<span class="task">☑</span> "#
                } else {
                    r#"<span class="task">☐</span> "#
                }
                .into(),
            ),
            other => other,
        };
        // A heading is buffered until its end so its id can come from its text.
        match heading.as_mut() {
            Some(buffer) if matches!(event, Event::End(TagEnd::Heading(_))) => {
                let mut buffered = std::mem::take(buffer);
                heading = None;
                set_heading_id(&mut buffered, &mut heading_ids);
                events.extend(buffered);
                events.push(event);
            }
            Some(buffer) => buffer.push(event),
            None if matches!(event, Event::Start(Tag::Heading { .. })) => {
                heading = Some(vec![event])
            }
            None => events.push(event),
        }
    }
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    settled(sanitize(&html))
}

/// Sanitises `clean` again until nothing changes (at most twice more). The
/// sanitiser's tree can serialise to HTML that parses into another tree: raw
/// HTML such as an unclosed `<iframe>` in a heading leaves the heading open,
/// the next heading lands inside it, and a browser (or the sanitiser, once
/// more) closes the first heading instead (found by the `markdown` fuzz
/// target). Stored HTML is then exactly what a browser builds from it.
fn settled(mut clean: String) -> String {
    for _ in 0..2 {
        let again = sanitize(&clean);
        if again == clean {
            break;
        }
        clean = again;
    }
    clean
}

/// The opening tag of a wiki link; `None` when the target has no letter
/// or digit to make a page of.
fn wikilink_open(target: &str, exists: &dyn Fn(&Slug) -> bool) -> Option<String> {
    let slug = Slug::from_title(target)?;
    Some(if exists(&slug) {
        format!(r#"<a href="/methods/{}" class="wikilink">"#, slug.as_str())
    } else {
        format!(
            r#"<a href="/methods/new?title={}" class="wikilink missing">"#,
            crate::text::url_encode(target.trim())
        )
    })
}

fn set_heading_id(buffer: &mut [Event], used: &mut HashMap<String, usize>) {
    let text: String = buffer
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    if let Some(Event::Start(Tag::Heading { id, .. })) = buffer.first_mut() {
        let base = match id {
            Some(given) => crate::text::slugify(given, 60),
            None => crate::text::slugify(&text, 60),
        };
        let base = if base.is_empty() {
            "section".to_owned()
        } else {
            base
        };
        let count = used.entry(base.clone()).or_insert(0);
        *count += 1;
        let unique = if *count == 1 {
            base
        } else {
            format!("{base}-{count}")
        };
        *id = Some(CowStr::from(unique));
    }
}

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("h1", ["id"])
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .add_tag_attributes("h4", ["id"])
        .add_tag_attributes("h5", ["id"])
        .add_tag_attributes("h6", ["id"])
        .add_tag_attributes("div", ["id"])
        .add_tag_attributes("li", ["id"])
        .add_allowed_classes("a", ["wikilink", "missing"])
        .add_allowed_classes("span", ["task"])
        .add_allowed_classes("div", ["footnote-definition"])
        .add_allowed_classes("sup", ["footnote-reference", "footnote-definition-label"]);
    builder
});

/// Sanitises HTML from Markdown (or from anywhere) with Cafe's allow-list.
pub fn sanitize(html: &str) -> String {
    CLEANER.clean(html).to_string()
}

/// Renders text with no wiki-link lookups (stories and replies: their links
/// are checked against existing pages by the caller when it can).
pub fn render_plain(md: &str) -> String {
    render(md, &|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(md: &str) -> String {
        render(md, &|slug| slug.as_str() == "learning-communities")
    }

    #[test]
    fn wiki_links_point_to_method_pages() {
        let out = html("See [[Learning communities]].");
        assert!(
            out.contains(r#"href="/methods/learning-communities""#),
            "{out}"
        );
        assert!(out.contains(">Learning communities</a>"), "{out}");
    }

    #[test]
    fn piped_wiki_links_show_their_label() {
        let out = html("[[Learning communities|our circles]]");
        assert!(
            out.contains(r#"href="/methods/learning-communities""#),
            "{out}"
        );
        assert!(out.contains(">our circles</a>"), "{out}");
    }

    #[test]
    fn missing_wiki_links_offer_to_create_the_page() {
        let out = html("[[Knowledge Fair]]");
        assert!(out.contains(r#"class="wikilink missing""#), "{out}");
        assert!(out.contains("/methods/new?title=Knowledge+Fair"), "{out}");
    }

    #[test]
    fn an_empty_wiki_link_is_no_link() {
        let out = html("- [[ ]] and [[!!|x]]");
        assert!(!out.contains("<a"), "{out}");
    }

    #[test]
    fn link_targets_are_slugs_without_duplicates() {
        let targets = link_targets("[[A b]] [[a B|x]] [[C]] `[[not a link]]`");
        let slugs: Vec<&str> = targets.iter().map(Slug::as_str).collect();
        assert_eq!(slugs, ["a-b", "c"]);
    }

    #[test]
    fn headings_get_unique_ids() {
        let out = html("## Brief Description\n\n## Brief Description\n");
        assert!(out.contains(r#"<h2 id="brief-description">"#), "{out}");
        assert!(out.contains(r#"<h2 id="brief-description-2">"#), "{out}");
    }

    #[test]
    fn tables_footnotes_strikethrough_and_tasks_render() {
        let out = html(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ note[^1]\n\n[^1]: the note\n\n- [x] done\n- [ ] todo\n",
        );
        assert!(out.contains("<table>"), "{out}");
        assert!(out.contains("<del>old</del>"), "{out}");
        assert!(out.contains("footnote-definition"), "{out}");
        assert!(out.contains("☑") && out.contains("☐"), "{out}");
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_are_removed() {
        let inputs = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "<a href=\"data:text/html,x\">d</a>",
            "<p style=\"color:red\">s</p>",
            "[[Learning communities]]<svg onload=alert(1)>",
        ];
        for input in inputs {
            let lower = html(input).to_lowercase();
            for bad in [
                "<script",
                "onerror=",
                "onload=",
                "href=\"javascript:",
                "href=\"data:",
                "style=",
                "<svg",
            ] {
                assert!(
                    !lower.contains(bad),
                    "{bad} survived in {lower} (from {input})"
                );
            }
        }
    }

    #[test]
    fn deep_nesting_keeps_its_text_and_renders_quickly() {
        let started = std::time::Instant::now();
        let out = html(&format!("{}deep", "> ".repeat(10_000)));
        assert_eq!(
            out.matches("<blockquote>").count(),
            MAX_NESTING,
            "{}",
            &out[..200]
        );
        assert!(out.contains("deep"));
        let out = html(&format!("{}item", "- ".repeat(10_000)));
        assert!(out.matches("<ul>").count() <= MAX_NESTING && out.contains("item"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_flood_of_raw_html_is_shown_as_text() {
        let out = html(&format!("x {}", "<span>".repeat(MAX_RAW_HTML_TAGS + 1)));
        assert!(
            out.contains("&lt;span&gt;") && !out.contains("<span>"),
            "{}",
            &out[..200]
        );
        let out = html(
            "<details><summary>More</summary>\n\nHidden [[Learning communities]].\n\n</details>\n",
        );
        assert!(
            out.contains("<details>") && out.contains("wikilink"),
            "{out}"
        );
    }

    #[test]
    fn html_that_parses_differently_once_sanitised_is_settled() {
        // Found by the fuzz target: an <iframe> left open in a heading.
        let md = "# T {#id .cl1ssocl nitt\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0} <im im sg#.h><mp>x</mi></math><iframe src=x><=x></>d</detailclah0 oncl\u{0}\u{0}\u{0}\u{5}x}\n\n'# T\n\n##div><\u{0}\u{0}\u{17}# <im sgrcO\u{0}\u{8}\u{0}\u{0}ro\u{0}\u{0}\u{0}=ale\u{1}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{5}S=x(/n*rro@=al</iframe></didetails><summ#ary>s</&}\n\n##";
        let mut raw = String::new();
        pulldown_cmark::html::push_html(&mut raw, Parser::new_ext(md, options()));
        let once = sanitize(&raw);
        assert_ne!(sanitize(&once), once, "one pass is not a fixed point here");
        let out = html(md);
        assert_eq!(sanitize(&out), out);
    }

    #[test]
    fn sanitising_twice_changes_nothing() {
        let once = html("# T\n\n[[Learning communities]] <b onclick=x>b</b> [^n]\n\n[^n]: n");
        assert_eq!(sanitize(&once), once);
    }
}
