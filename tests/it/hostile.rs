//! Hostile input: the Big List of Naughty Strings and an XSS payload list
//! (`tests/data/`) posted into every text field, pathological Markdown, and
//! malformed paths, queries and forms.
//!
//! Every response must be free of 5xx, and every HTML response is parsed
//! with a real HTML parser (`scraper`, html5ever) and must hold no script,
//! iframe, object, embed, style, base, form or meta element other than the
//! site's own (recognised by their exact shape: the one deferred script from
//! `/static/`, the charset and viewport metas, forms posting to the site
//! outside user content), no `on*` or `style` attribute, no element or
//! attribute outside what the templates and the sanitiser produce (which
//! catches text breaking out of an attribute), and no URL with a scheme other
//! than http, https or mailto.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use crate::support::{Client, PASSWORD, Page, TestApp, encode};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use scraper::{ElementRef, Html, Selector};

use cafe::config::ServeArgs;

// ------------------------------------------------------------------ corpus

/// How many strings the Big List of Naughty Strings has (they come first).
const BLNS_LEN: usize = 485;

/// The Big List of Naughty Strings, then the XSS payloads.
static CORPUS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let blns: Vec<String> = serde_json::from_str(include_str!("../data/blns.json"))
        .expect("blns.json is a JSON list of strings");
    let xss = include_str!("../data/xss.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned);
    blns.into_iter().chain(xss).collect()
});

#[test]
fn the_corpus_holds_both_lists() {
    assert!(CORPUS.len() > BLNS_LEN + 50, "{} strings", CORPUS.len());
    assert_eq!(
        CORPUS[BLNS_LEN - 1],
        serde_json::from_str::<Vec<String>>(include_str!("../data/blns.json")).unwrap()
            [BLNS_LEN - 1]
    );
    assert!(
        CORPUS
            .iter()
            .any(|s| s.contains("<script>alert(1)</script>"))
    );
    assert!(
        CORPUS.iter().any(|s| s.contains('\u{202B}')),
        "the bidi strings of the naughty list"
    );
}

// ------------------------------------------------------------ the checks

/// Element names the templates and the sanitiser (ammonia's defaults plus
/// Cafe's additions) can produce.
const ELEMENTS: &[&str] = &[
    "html",
    "head",
    "body",
    "title",
    "link",
    "meta",
    "script",
    "header",
    "nav",
    "main",
    "footer",
    "section",
    "article",
    "aside",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hgroup",
    "p",
    "a",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "form",
    "input",
    "button",
    "label",
    "textarea",
    "select",
    "option",
    "datalist",
    "fieldset",
    "legend",
    "table",
    "caption",
    "colgroup",
    "col",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "span",
    "div",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "strike",
    "code",
    "pre",
    "kbd",
    "samp",
    "var",
    "blockquote",
    "q",
    "cite",
    "abbr",
    "acronym",
    "dfn",
    "del",
    "ins",
    "sup",
    "sub",
    "small",
    "mark",
    "img",
    "hr",
    "br",
    "wbr",
    "details",
    "summary",
    "time",
    "data",
    "figure",
    "figcaption",
    "bdi",
    "bdo",
    "ruby",
    "rp",
    "rt",
    "rtc",
    "center",
    "tt",
    "map",
    "area",
];

/// Attribute names the templates and the sanitiser can produce (besides
/// any `data-*` and `aria-*`, which run nothing).
const ATTRIBUTES: &[&str] = &[
    "action",
    "method",
    // The upload form's (`files/list.html`).
    "enctype",
    "multiple",
    "href",
    "src",
    "alt",
    "title",
    "class",
    "id",
    "name",
    "value",
    "type",
    "for",
    "form",
    "rel",
    "lang",
    "charset",
    "content",
    "role",
    "scope",
    "rows",
    "cols",
    "list",
    "maxlength",
    "minlength",
    "placeholder",
    "autocomplete",
    "inputmode",
    "tabindex",
    "target",
    "required",
    "checked",
    "selected",
    "disabled",
    "readonly",
    "defer",
    "hidden",
    "open",
    "hreflang",
    "dir",
    "cite",
    "datetime",
    "start",
    "colspan",
    "rowspan",
    "headers",
    "abbr",
    "align",
    "char",
    "charoff",
    "span",
    "summary",
    "valign",
    "width",
    "height",
    "size",
    "label",
    "multiple",
    "data-preview",
    "reversed",
    "shape",
    "coords",
    "aria-current",
    "aria-describedby",
    "aria-label",
    "aria-labelledby",
    "aria-hidden",
    "aria-invalid",
    "aria-live",
    "spellcheck",
    "pattern",
    "min",
    "max",
    "step",
    "autofocus",
    "novalidate",
    "translate",
];

/// Attributes holding a URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "cite",
    "background",
    "poster",
    "srcset",
    "data",
];

static ALL: LazyLock<Selector> = LazyLock::new(|| Selector::parse("*").expect("selector"));

/// The scheme of a URL as a browser reads it (the WHATWG URL parser: strip
/// leading C0 controls and spaces, drop tabs and newlines anywhere, then a
/// letter followed by letters, digits, `+`, `-` or `.` up to a `:`), if any.
/// Anything else (`\x0Bjavascript:…` with a literal backslash, say) is a
/// relative URL.
fn scheme(url: &str) -> Option<String> {
    let cleaned: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let (candidate, _) = cleaned.split_once(':')?;
    let mut chars = candidate.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| candidate.to_ascii_lowercase())
}

#[test]
fn schemes_are_read_as_browsers_read_them() {
    assert_eq!(scheme("java\tscript:x").as_deref(), Some("javascript"));
    assert_eq!(scheme(" \u{1}JavaScript:x").as_deref(), Some("javascript"));
    assert_eq!(scheme("https://x.example/").as_deref(), Some("https"));
    assert_eq!(scheme("/methods/new?title=javascript:x"), None);
    assert_eq!(scheme("\\x0Bjavascript:x"), None);
    assert_eq!(scheme("#a:b"), None);
}

fn inside(element: ElementRef<'_>, css_class: &str) -> bool {
    element
        .ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| a.value().classes().any(|c| c == css_class))
}

fn in_head(element: ElementRef<'_>) -> bool {
    element
        .ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| a.value().name() == "head")
}

/// What is wrong with `html`, if anything (empty when it is safe).
fn problems(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let mut found = Vec::new();
    let (mut scripts, mut metas) = (0, 0);
    let mut ids = std::collections::HashSet::new();
    for element in doc.select(&ALL) {
        let el = element.value();
        let name = el.name();
        if let Some(id) = el.id() {
            // Two authors' texts on one page may both name an id; only the
            // site's own must be unique.
            if !id.starts_with("user-content-") && !ids.insert(id.to_owned()) {
                found.push(format!("id {id:?} used twice"));
            }
            if inside(element, "prose") && !id.starts_with("user-content-") {
                found.push(format!("author-written id {id:?} outside user-content-"));
            }
        }
        let attr_names: Vec<&str> = el.attrs().map(|(n, _)| n).collect();
        let shown = || {
            format!(
                "<{name} {}>",
                el.attrs()
                    .map(|(n, v)| format!("{n}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        if !ELEMENTS.contains(&name) {
            found.push(format!("unexpected element {}", shown()));
        }
        for (attr, value) in el.attrs() {
            let lower = attr.to_ascii_lowercase();
            if lower.starts_with("on") {
                found.push(format!("event handler attribute in {}", shown()));
            } else if lower == "style" || lower == "srcdoc" || lower == "formaction" {
                found.push(format!("{lower} attribute in {}", shown()));
            } else if !ATTRIBUTES.contains(&lower.as_str())
                && !lower.starts_with("data-")
                && !lower.starts_with("aria-")
            {
                found.push(format!("unexpected attribute {attr:?} in {}", shown()));
            }
            if URL_ATTRIBUTES.contains(&lower.as_str())
                && let Some(scheme) = scheme(value)
                && !matches!(scheme.as_str(), "http" | "https" | "mailto")
            {
                found.push(format!("{scheme}: URL in {}", shown()));
            }
        }
        let site_shaped = match name {
            "script" => {
                scripts += 1;
                in_head(element)
                    && attr_names.len() == 2
                    && el.attr("src").is_some_and(|s| s.starts_with("/static/"))
                    && el.attr("defer").is_some()
                    && element.text().all(|t| t.trim().is_empty())
            }
            "meta" => {
                metas += 1;
                in_head(element)
                    && (attr_names == ["charset"]
                        || (matches!(el.attr("name"), Some("viewport" | "description"))
                            && attr_names.len() == 2))
            }
            "link" => {
                in_head(element)
                    && el
                        .attr("href")
                        .is_some_and(|h| h.starts_with('/') && !h.starts_with("//"))
                    && matches!(el.attr("rel"), Some("stylesheet" | "alternate" | "icon"))
            }
            "form" => {
                !inside(element, "prose")
                    && el
                        .attr("action")
                        .is_some_and(|a| a.starts_with('/') && !a.starts_with("//"))
                    && el
                        .attr("enctype")
                        .is_none_or(|e| e == "multipart/form-data")
                    && attr_names.iter().all(|a| {
                        [
                            "method",
                            "action",
                            "enctype",
                            "class",
                            "role",
                            "id",
                            "aria-label",
                            "aria-labelledby",
                        ]
                        .contains(a)
                    })
            }
            // A task list's box is the one control content may hold: disabled.
            "input" if inside(element, "prose") => {
                el.attr("type") == Some("checkbox")
                    && el.attr("disabled").is_some()
                    && attr_names
                        .iter()
                        .all(|a| ["type", "disabled", "checked", "aria-label"].contains(a))
            }
            "input" | "button" | "textarea" | "select" | "label" => !inside(element, "prose"),
            "title" => in_head(element),
            _ => true,
        };
        if !site_shaped {
            found.push(format!("element not of the site's shape: {}", shown()));
        }
    }
    if scripts > 1 {
        found.push(format!("{scripts} script elements"));
    }
    if metas > 3 {
        found.push(format!("{metas} meta elements"));
    }
    found
}

/// No 5xx, and a safe page when it is HTML.
#[track_caller]
fn check(page: &Page, what: &str) {
    assert!(
        !page.status.is_server_error(),
        "{what}: status {}\n{}",
        page.status,
        page.body.chars().take(2000).collect::<String>()
    );
    let html = page
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html"));
    if html {
        let found = problems(&page.body);
        assert!(
            found.is_empty(),
            "{what}: unsafe HTML:\n  {}",
            found.join("\n  ")
        );
    }
}

#[test]
fn the_checks_catch_what_they_must() {
    let site_head = r#"<html><head><meta charset="utf-8"><script src="/static/app.js" defer></script></head><body>"#;
    let bad = [
        "<div class=prose><script>alert(1)</script></div>",
        "<iframe src=x></iframe>",
        "<object data=x></object>",
        "<embed src=x>",
        "<style>p{}</style>",
        "<base href=/x>",
        "<meta http-equiv=refresh content=0>",
        "<div class=prose><form action=/methods></form></div>",
        "<p onclick=x>p</p>",
        "<a href=\"java\tscript:alert(1)\">a</a>",
        "<a href=\"data:text/html,x\">a</a>",
        "<img src=\"vbscript:x\">",
        "<p style=\"color:red\">s</p>",
        "<input value=\"\" x=\"\">",
        "<svg></svg>",
        "<div id=roster></div><section id=roster></section>",
        "<div class=prose><h2 id=stories>x</h2></div>",
    ];
    for body in bad {
        let html = format!("{site_head}{body}</body></html>");
        assert!(!problems(&html).is_empty(), "not caught: {body}");
    }
    let good = format!(
        "{site_head}<form method=post action=/methods><input name=title value=\"&lt;script&gt;\"></form>\
         <div class=prose><a href=\"https://x.example/\" rel=\"noopener noreferrer nofollow\">x</a> <a href=\"mailto:a@b.c\">m</a> \
         <a href=\"/methods/new?title=javascript:x\">r</a> <img src=\"//x.example/i.png\" alt=\"\">\
         <h2 id=\"user-content-roster\">r</h2></div><section id=\"roster\"></section></body></html>"
    );
    assert_eq!(problems(&good), Vec::<String>::new());
}

// ------------------------------------------------------- a quick browser

/// A client that keeps its CSRF token (fetched once per session) so that
/// thousands of posts do not each fetch a form first.
struct Browser {
    client: Client,
    token: String,
}

impl Browser {
    async fn new(mut client: Client) -> Browser {
        let token = client.csrf().await;
        Browser { client, token }
    }

    async fn get(&mut self, path: &str) -> Page {
        let page = self.client.get(path).await;
        check(&page, &format!("GET {path}"));
        page
    }

    /// POSTs a form; follows a 303 with a GET and checks both answers.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)], what: &str) -> Page {
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", self.token.as_str())];
        all.extend_from_slice(fields);
        let page = self.client.post_raw(path, encode(&all)).await;
        check(&page, &format!("POST {path} ({what})"));
        assert_ne!(
            page.status,
            StatusCode::FORBIDDEN,
            "POST {path} ({what}): CSRF token refused"
        );
        if page.status == StatusCode::SEE_OTHER
            && ["/join", "/signin", "/account/password"].contains(&path)
        {
            // A new signed-in session has a new token.
            self.token = self.client.csrf().await;
        }
        if page.status == StatusCode::SEE_OTHER
            && let Some(location) = page.location()
        {
            let location = location.to_owned();
            self.get(&location).await;
        }
        page
    }
}

fn hostile_config() -> ServeArgs {
    let mut config = ServeArgs::defaults();
    config.joins_per_addr = 100_000;
    config.signin_failures_per_addr = 100_000;
    config.signin_failures_per_user = 100_000;
    config
}

fn short(s: &str) -> String {
    s.chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

// --------------------------------------------------- every text field

#[tokio::test]
async fn naughty_strings_in_page_titles_bodies_summaries_and_tags_stay_inert() {
    let app = TestApp::with_config(hostile_config()).await;
    let member = app.member("alice").await;
    let mut alice = Browser::new(member).await;
    let (mut created, mut tagged) = (0, 0);
    for (n, s) in CORPUS.iter().enumerate() {
        let what = format!("#{n} {}", short(s));
        let body = format!("{s}\n\nMore text {n}: {s}");
        let page = alice
            .post(
                "/methods",
                // Strings alike but for case or accents are one title: the
                // duplicate offer (issue 15) is confirmed, as this test is
                // about what is shown, not about duplicates.
                &[
                    ("title", s),
                    ("body", &body),
                    ("summary", s),
                    ("tags", ""),
                    ("create_anyway", "1"),
                ],
                &what,
            )
            .await;
        // Titles without a letter are refused (422); give those pages a plain title.
        let path = match page.location() {
            Some(location) => {
                created += 1;
                location.to_owned()
            }
            None => {
                // Refused (422): a title without a letter, or a summary with
                // characters that cannot be shown. Make the page plainly.
                page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
                let title = format!("Naughty {n}");
                let page = alice
                    .post(
                        "/methods",
                        &[
                            ("title", &title),
                            ("body", "plain"),
                            ("summary", ""),
                            ("tags", ""),
                        ],
                        &what,
                    )
                    .await;
                page.assert_status(StatusCode::SEE_OTHER);
                page.location().unwrap_or_default().to_owned()
            }
        };
        let tags = format!("{s}, plain-{n}");
        let edit = alice
            .post(
                &format!("{path}/edit"),
                &[
                    ("base_revision", "1"),
                    ("body", s),
                    ("tags", &tags),
                    ("summary", s),
                ],
                &what,
            )
            .await;
        if edit.status == StatusCode::SEE_OTHER {
            tagged += 1;
        } else {
            edit.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        }
        if n % 50 == 0 {
            alice.get(&format!("{path}/history")).await;
            alice.get(&format!("{path}/revisions/1")).await;
            alice.get(&format!("{path}/diff?from=1&to=2")).await;
        }
    }
    eprintln!(
        "{} strings: {created} became page titles, {tagged} edits with the string as a tag saved",
        CORPUS.len()
    );
    assert!(
        created > CORPUS.len() / 2 && tagged > CORPUS.len() / 3,
        "too few accepted: the test would prove little"
    );
    for path in ["/", "/methods", "/tags", "/users/alice", "/recent"] {
        alice.get(path).await;
    }
    let feed = alice.client.get("/recent.atom").await;
    check(&feed, "the Atom feed");
}

#[tokio::test]
async fn naughty_strings_in_stories_replies_and_roster_entries_stay_inert() {
    let app = TestApp::with_config(hostile_config()).await;
    let member = app.member("bob").await;
    let mut bob = Browser::new(member).await;
    let page = "/methods/communities-of-practice";
    let mut stories = 0;
    for (n, s) in CORPUS.iter().enumerate() {
        let what = format!("#{n} {}", short(s));
        let story = bob
            .post(
                &format!("{page}/stories"),
                &[
                    ("title", s),
                    ("body", s),
                    ("outcome", "mixed"),
                    ("location", s),
                ],
                &what,
            )
            .await;
        let thread = match story.location() {
            Some(location) => {
                stories += 1;
                location.to_owned()
            }
            None => {
                story.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
                let title = format!("Story {n}");
                let story = bob
                    .post(
                        &format!("{page}/stories"),
                        &[
                            ("title", &title),
                            ("body", "plain"),
                            ("outcome", "mixed"),
                            ("location", ""),
                        ],
                        &what,
                    )
                    .await;
                story.assert_status(StatusCode::SEE_OTHER);
                story.location().unwrap_or_default().to_owned()
            }
        };
        let thread = thread.split('#').next().unwrap_or_default().to_owned();
        let reply = bob
            .post(&format!("{thread}/replies"), &[("body", s)], &what)
            .await;
        assert!(
            matches!(reply.status.as_u16(), 303 | 422),
            "{what}: reply {}",
            reply.status
        );
        if n % 25 == 0 {
            let edit = bob
                .post(
                    &format!("{thread}/edit"),
                    &[
                        ("title", s),
                        ("body", s),
                        ("outcome", "failure"),
                        ("location", s),
                        ("summary", s),
                    ],
                    &what,
                )
                .await;
            assert!(
                matches!(edit.status.as_u16(), 303 | 422),
                "{what}: story edit {}",
                edit.status
            );
            bob.get(&format!("{thread}/history")).await;
        }
        // On another page, whose view does not grow with every story.
        let roster = bob
            .post(
                "/methods/peer-assist/roster",
                &[("tip", s), ("location", s)],
                &what,
            )
            .await;
        assert!(
            matches!(roster.status.as_u16(), 303 | 422),
            "{what}: roster {}",
            roster.status
        );
    }
    eprintln!("{} strings: {stories} became stories", CORPUS.len());
    assert!(stories > CORPUS.len() / 2);
    for path in [
        page,
        "/users/bob",
        "/",
        "/recent",
        &format!("{page}?outcome=mixed"),
    ] {
        bob.get(path).await;
    }
}

#[tokio::test]
async fn naughty_strings_as_usernames_display_names_and_search_terms_stay_inert() {
    let app = TestApp::with_config(hostile_config()).await;
    let mut joined = 0;
    for (n, s) in CORPUS.iter().enumerate() {
        let what = format!("#{n} {}", short(s));
        // As a username: mostly refused, always re-shown safely.
        let mut visitor = Browser::new(app.client()).await;
        let page = visitor
            .post(
                "/join",
                &[
                    ("username", s),
                    ("display_name", "Plain Name"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
                &what,
            )
            .await;
        assert!(
            matches!(page.status.as_u16(), 303 | 422),
            "{what}: join {}",
            page.status
        );
        if page.status == StatusCode::SEE_OTHER {
            joined += 1;
        }
        // Each sign-in costs a password hash: every XSS payload, every fourth naughty string.
        if n % 4 == 0 || n >= BLNS_LEN {
            let fields = [
                ("username", s.as_str()),
                ("password", "wrong password here"),
                ("next", s.as_str()),
            ];
            let signin = visitor.post("/signin", &fields, &what).await;
            assert!(
                matches!(signin.status.as_u16(), 401 | 303),
                "{what}: sign-in {}",
                signin.status
            );
        }

        // Reflected in queries.
        let q = encode(&[("q", s)]);
        visitor.get(&format!("/search?{q}")).await;
        let tag = encode(&[("tag", s)]);
        visitor.get(&format!("/methods?{tag}")).await;
        let title = encode(&[("title", s)]);
        visitor.get(&format!("/methods/new?{title}")).await;
        let next = encode(&[("next", s)]);
        visitor.get(&format!("/signin?{next}")).await;
        let path_tag = encode(&[("", s)])
            .trim_start_matches('=')
            .replace('+', "%20");
        visitor.get(&format!("/tags/{path_tag}")).await;
        visitor.get(&format!("/users/{path_tag}")).await;
        // As a display name: the account exists and the name shows in the
        // header and on the profile. Joining costs a password hash: every XSS
        // payload, every other naughty string.
        if n % 2 == 1 && n < BLNS_LEN {
            continue;
        }
        let username = format!("dn{n}");
        let mut member = Browser::new(app.client()).await;
        let page = member
            .post(
                "/join",
                &[
                    ("username", &username),
                    ("display_name", s),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
                &what,
            )
            .await;
        if page.status == StatusCode::SEE_OTHER {
            member.get(&format!("/users/{username}")).await;
            member.get(&format!("/methods/new?{title}")).await;
        } else {
            page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        }
    }
    eprintln!("{} strings: {joined} accepted as usernames", CORPUS.len());
    Browser::new(app.client()).await.get("/").await;
}

// ------------------------------------------------- pathological Markdown

/// Inputs that make naive Markdown parsers or sanitisers go quadratic or
/// recurse without bound.
fn pathological() -> Vec<(&'static str, String)> {
    vec![
        ("100k [", "[".repeat(100_000)),
        ("100k [[", "[[".repeat(50_000)),
        ("10k nested >", format!("{} x", ">".repeat(10_000))),
        (
            "10k nested > with spaces",
            format!("{}x", "> ".repeat(10_000)),
        ),
        (
            "nested > lines",
            (1..=2_000)
                .map(|n| format!("{} x\n", ">".repeat(n % 100)))
                .collect(),
        ),
        ("50k *", "*".repeat(50_000)),
        ("50k * a", "*a".repeat(25_000)),
        ("50k _", "_".repeat(50_000)),
        (
            "10k nested lists on a line",
            format!("{}item", "- ".repeat(10_000)),
        ),
        (
            "10k nested ordered lists",
            format!("{}item", "1. ".repeat(10_000)),
        ),
        (
            "deep indented list",
            (0..500)
                .map(|n| format!("{}- item\n", "  ".repeat(n)))
                .collect(),
        ),
        (
            "mixed list and quote nesting",
            format!("{}x", "- > 1. ".repeat(3_000)),
        ),
        ("20k backticks", "`".repeat(20_000)),
        ("links", "[a](".repeat(30_000)),
        ("images", "![a](b ".repeat(20_000)),
        (
            "emphasis ladder",
            (0..10_000)
                .map(|n| if n % 2 == 0 { "*a " } else { "_b " })
                .collect(),
        ),
        ("html nesting", "<div>".repeat(20_000)),
        (
            "table",
            format!("|{}\n|{}\n", "a|".repeat(5_000), "-|".repeat(5_000)),
        ),
        (
            "footnotes",
            (0..5_000).map(|n| format!("[^{n}] ")).collect::<String>() + "\n\n[^1]: x\n",
        ),
        ("wiki links", "[[a|".repeat(30_000)),
        ("entities", "&#x".repeat(30_000)),
        (
            "nested emphasis",
            format!("{}x{}", "*_".repeat(10_000), "_*".repeat(10_000)),
        ),
        (
            "nested strong",
            format!("{}x{}", "**".repeat(10_000), "**".repeat(10_000)),
        ),
        (
            "inline html nesting",
            format!("x {}", "<span>".repeat(20_000)),
        ),
        ("unclosed formatting html", "<b><i><u><s>".repeat(5_000)),
        ("2000 nested divs", "<div>".repeat(2_000)),
    ]
}

/// Under a second each. The Markdown parser and the sanitiser are built
/// optimised even in test builds (see `[profile.dev.package.*]` in
/// Cargo.toml), so this measures what the server does; Cafe's own code
/// around them is a small part of the time. Before the nesting limits in
/// `cafe::markdown`, 10,000 nested `- ` took 1.5 s in a release build.
const RENDER_BOUND: Duration = Duration::from_secs(1);

#[test]
fn pathological_markdown_renders_quickly_and_safely() {
    let mut report = Vec::new();
    for (name, md) in pathological() {
        // The best of three: the machine is shared, a busy moment is not
        // the renderer's doing, and a slow algorithm is slow every time.
        let mut took = Duration::MAX;
        let mut html = String::new();
        for _ in 0..3 {
            let started = Instant::now();
            html = cafe::markdown::render(&md, &|_| true);
            took = took.min(started.elapsed());
        }
        report.push(format!("{name}: {took:?}"));
        assert!(
            took < RENDER_BOUND,
            "{name}: {took:?} (bound {RENDER_BOUND:?})"
        );
        assert_eq!(
            cafe::markdown::sanitize(&html),
            html,
            "{name}: sanitising twice changed the output"
        );
        let wrapped =
            format!("<html><head></head><body><div class=\"prose\">{html}</div></body></html>");
        let found = problems(&wrapped);
        assert!(found.is_empty(), "{name}: {found:?}");
    }
    eprintln!("render times: {}", report.join(", "));
}

#[tokio::test]
async fn pathological_markdown_can_be_saved_and_viewed() {
    let app = TestApp::new().await;
    let mut alice = Browser::new(app.member("alice").await).await;
    for (name, md) in pathological() {
        let title = format!("Pathological {name}");
        let page = alice
            .post(
                "/methods",
                // Names alike but for punctuation are one title: the
                // duplicate offer (issue 15) is confirmed.
                &[
                    ("title", &title),
                    ("body", &md),
                    ("summary", ""),
                    ("tags", ""),
                    ("create_anyway", "1"),
                ],
                name,
            )
            .await;
        page.assert_status(StatusCode::SEE_OTHER);
    }
}

// ------------------------------------------ inputs from the hardening probe

/// Markdown that tried to take over the site's element ids, to hide the rest
/// of the page behind a raw-text element, or to break out through a
/// footnote's name. Each ends with text that must still be shown.
fn takeovers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("heading id", "# Taken {#roster}\n\nstill shown"),
        ("div id", "<div id=\"stories\">x</div>\n\nstill shown"),
        ("skip link target", "## Main {#cafe-main}\n\nstill shown"),
        (
            "form field ids",
            "<span id=\"body\">x</span> <a id=\"title\" href=\"#roster\">y</a>\n\nstill shown",
        ),
        (
            "style block",
            "<style>*{display:none}</style>\n\nstill shown",
        ),
        ("unclosed style", "<style>\n*{display:none}\n\nstill shown"),
        ("unclosed script", "<script>\nalert(1)\n\nstill shown"),
        ("unclosed textarea", "<textarea>\n\nstill shown"),
        ("unclosed title", "<title>\n\nstill shown"),
        (
            "footnote named like a site id",
            "x[^roster]\n\n[^roster]: still shown",
        ),
        (
            "twice the same heading",
            "## Stories\n\n## Stories\n\nstill shown",
        ),
    ]
}

#[tokio::test]
async fn markdown_taking_site_ids_or_hiding_the_page_stays_inert_on_pages_and_stories() {
    let app = TestApp::with_config(hostile_config()).await;
    let mut alice = Browser::new(app.member("alice").await).await;
    for (name, md) in takeovers() {
        let title = format!("Takeover {name}");
        let page = alice
            .post(
                "/methods",
                &[
                    ("title", &title),
                    ("body", md),
                    ("summary", ""),
                    ("tags", ""),
                ],
                name,
            )
            .await;
        page.assert_status(StatusCode::SEE_OTHER);
        let path = page.location().expect("a new page's address").to_owned();
        let told = alice
            .post(
                &format!("{path}/stories"),
                &[
                    ("title", name),
                    ("body", md),
                    ("outcome", "success"),
                    ("location", ""),
                ],
                name,
            )
            .await;
        told.assert_status(StatusCode::SEE_OTHER);
        let thread = told.location().expect("the story's address").to_owned();
        for shown_at in [path, thread] {
            let shown = alice.get(&shown_at).await;
            let text = Html::parse_document(&shown.body)
                .root_element()
                .text()
                .collect::<String>();
            assert!(
                text.contains("still shown"),
                "{name}: the text after it is hidden at {shown_at}"
            );
        }
    }
}

/// Headers a client may set to anything, with what the probe sent. None of
/// them may change an answer's links, nor the answer another client gets.
const HOSTILE_HEADERS: &[(&str, &str)] = &[
    ("host", "evil.example"),
    ("host", "evil.example:443\\x"),
    ("x-forwarded-host", "evil.example"),
    ("x-forwarded-proto", "javascript"),
    ("x-forwarded-for", "1.2.3.4, <script>"),
    ("x-real-ip", "' OR 1=1 --"),
    ("forwarded", "for=evil;host=evil.example;proto=https"),
    ("x-original-url", "/account/password"),
    ("x-rewrite-url", "/admin"),
];

#[tokio::test]
async fn hostile_request_headers_change_no_link_and_no_later_answer() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Header Probe", "A page for the header probe.", "")
        .await;
    let targets = [
        "/".to_owned(),
        "/methods".to_owned(),
        path.clone(),
        format!("{path}/history"),
        "/methods.atom".to_owned(),
        format!("{path}/history.atom"),
        "/recent".to_owned(),
        "/recent.atom".to_owned(),
        "/search?q=probe".to_owned(),
        "/signin".to_owned(),
        "/join".to_owned(),
    ];
    let mut visitor = app.client();
    for target in &targets {
        for (name, value) in HOSTILE_HEADERS {
            let request = Request::get(target.as_str())
                .header(*name, *value)
                .body(Body::empty())
                .expect("a request");
            let page = visitor.send(request).await;
            assert_refused_or_harmless(
                &page,
                &format!("GET {target} with {name}: {value}"),
                &[200],
            );
            assert!(
                !page.body.contains("evil.example") && !page.body.contains("javascript:"),
                "GET {target} with {name}: {value} put it in the answer"
            );
        }
        let later = app.client().get(target).await;
        assert!(
            !later.body.contains("evil.example"),
            "GET {target}: an earlier request's header reached a later reader"
        );
    }
}

/// Sign-in and join forms with a megabyte in each field: refused with a 4xx
/// (or the form again), never a 5xx, and the server keeps answering.
#[tokio::test]
async fn megabyte_usernames_and_passwords_are_refused_cleanly() {
    let app = TestApp::with_config(hostile_config()).await;
    let huge = "n".repeat(1 << 20);
    let mut visitor = Browser::new(app.client()).await;
    for path in ["/signin", "/join"] {
        for fields in [
            [("username", huge.as_str()), ("password", PASSWORD)],
            [("username", "someone"), ("password", huge.as_str())],
        ] {
            let page = visitor.post(path, &fields, "a megabyte field").await;
            assert!(
                page.status.is_client_error(),
                "POST {path} with a megabyte field: {}",
                page.status
            );
        }
    }
    visitor.get("/healthz").await.assert_status(StatusCode::OK);
}

// ------------------------------------------ paths, queries, bytes, forms

/// 4xx (and never 5xx) for malformed requests; some may also be a 200 or a
/// 303 where the request is harmless (a lossy query value).
#[track_caller]
fn assert_refused_or_harmless(page: &Page, what: &str, allowed: &[u16]) {
    check(page, what);
    assert!(
        page.status.is_client_error() || allowed.contains(&page.status.as_u16()),
        "{what}: status {}",
        page.status
    );
}

#[tokio::test]
async fn malformed_paths_are_refused_never_a_server_error() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let long = "a".repeat(300);
    let paths = [
        "/methods/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/methods/..%2f..%2fCargo.toml/source".to_owned(),
        "/static/..%2F..%2FCargo.toml".to_owned(),
        "/static/..%2Fsrc%2Fmain.rs".to_owned(),
        "/static/%2e%2e/Cargo.toml".to_owned(),
        "/methods/../../etc/passwd".to_owned(),
        "/methods/%00".to_owned(),
        "/methods/a%00b".to_owned(),
        "/methods/a%00b/edit".to_owned(),
        "/users/%00".to_owned(),
        "/tags/%00".to_owned(),
        format!("/methods/{long}"),
        format!("/methods/{long}/edit"),
        format!("/methods/{long}/history"),
        format!("/methods/{long}/source"),
        format!("/methods/{long}/stories/1"),
        format!("/tags/{long}"),
        format!("/users/{long}"),
        format!("/static/{long}"),
        "/methods/%FF%FE".to_owned(),
        "/methods/%C3%28".to_owned(),
        "/users/%FF".to_owned(),
        "/tags/%FF%FE%FD".to_owned(),
        "/methods/communities-of-practice/revisions/%FF".to_owned(),
        "/methods/communities-of-practice/revisions/99999999999999999999999".to_owned(),
        "/methods/communities-of-practice/revisions/-1".to_owned(),
        "/methods/communities-of-practice/stories/-1".to_owned(),
        "/methods/communities-of-practice/stories/99999999999999999999999".to_owned(),
        "/methods/communities-of-practice/stories/1/revisions/0".to_owned(),
        "/indicators/%FF/edit".to_owned(),
        "/%E2%80%AE".to_owned(),
    ];
    for path in &paths {
        let page = alice.get(path).await;
        assert_refused_or_harmless(&page, path, &[]);
    }
    // Lossy or out-of-range query values are harmless: a page or a refusal.
    let queries = [
        "/search?q=%00",
        "/search?q=%FF%FE",
        "/methods?tag=%FF%FE",
        "/methods?tag=%00",
        "/methods/new?title=%FF",
        "/signin?next=%FF",
        "/methods/communities-of-practice?outcome=%FF",
        "/methods/communities-of-practice/history?page=%FF",
        "/methods/communities-of-practice/history?page=-9223372036854775808",
        "/methods/communities-of-practice/history?page=9223372036854775807",
        "/methods/communities-of-practice/diff?from=%FF&to=1",
        "/methods/communities-of-practice/diff?from=-9223372036854775808&to=9223372036854775807",
        "/methods/communities-of-practice/diff?to=-9223372036854775808",
        "/methods/communities-of-practice/diff?from=9223372036854775807",
        "/recent?kind=%FF",
    ];
    for path in queries {
        let page = alice.get(path).await;
        assert_refused_or_harmless(&page, path, &[200, 303]);
    }
}

#[tokio::test]
async fn malformed_form_bodies_are_refused_never_a_server_error() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let token = alice.csrf().await;
    let path = alice.create_page("Target page", "Some text.\n", "").await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "percent-encoded invalid UTF-8",
            format!("csrf_token={token}&title=%FF%FE&body=%C3%28&tags=%FF&summary=x").into_bytes(),
        ),
        (
            "raw invalid UTF-8",
            [
                format!("csrf_token={token}&title=").into_bytes(),
                vec![0xFF, 0xFE, 0x80],
                b"&body=x".to_vec(),
            ]
            .concat(),
        ),
        (
            "NUL bytes",
            format!("csrf_token={token}&title=a%00b&body=%00&tags=%00").into_bytes(),
        ),
        (
            "repeated fields",
            format!("csrf_token={token}&title=a&title=b&body=x&body=y").into_bytes(),
        ),
        (
            "no equals signs",
            format!("csrf_token={token}&title&body&&&=&==").into_bytes(),
        ),
        (
            "base_revision not a number",
            format!("csrf_token={token}&base_revision=%FF&body=x").into_bytes(),
        ),
        (
            "base_revision overflow",
            format!("csrf_token={token}&base_revision=99999999999999999999999&body=x").into_bytes(),
        ),
        (
            "base_revision minimum",
            format!("csrf_token={token}&base_revision=-9223372036854775808&body=x").into_bytes(),
        ),
    ];
    for target in [
        "/methods".to_owned(),
        format!("{path}/edit"),
        format!("{path}/stories"),
        format!("{path}/roster"),
        "/account/password".to_owned(),
    ] {
        for (what, body) in &bodies {
            let page = alice.post_raw(&target, body.clone()).await;
            assert_refused_or_harmless(&page, &format!("POST {target}: {what}"), &[303]);
        }
    }
    // A form without its content type, and one over the size limit.
    let request = Request::post("/methods")
        .header(header::COOKIE, alice.cookie.clone().unwrap_or_default())
        .body(Body::from(format!("csrf_token={token}&title=x&body=y")))
        .expect("request");
    let page = alice.send(request).await;
    assert_refused_or_harmless(&page, "no content type", &[]);
    let huge = format!(
        "csrf_token={token}&title=x&body={}",
        "a".repeat(2 * 1024 * 1024)
    );
    let page = alice.post_raw("/methods", huge).await;
    page.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    // Anonymous forms with raw bytes.
    let mut visitor = app.client();
    let token = visitor.csrf().await;
    let raw = [
        format!("csrf_token={token}&username=").into_bytes(),
        vec![0xC0, 0xAF, 0xFF],
        b"&password=%FF".to_vec(),
    ]
    .concat();
    for target in ["/signin", "/join"] {
        let page = visitor.post_raw(target, raw.clone()).await;
        assert_refused_or_harmless(&page, &format!("POST {target} raw bytes"), &[]);
    }
}

/// Raw bytes that no `http::Uri` would hold, sent over a socket to a real
/// server: the HTTP layer refuses them before the router.
#[tokio::test]
async fn raw_non_utf8_bytes_in_the_request_line_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = app
        .router
        .clone()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    let requests: [&[u8]; 5] = [
        b"GET /methods/\xFF\xFE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /search?q=\xFF\xC0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /methods/a\x00b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /users/\xE2\x80\xAE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /methods/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ];
    for raw in requests {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(raw).await.expect("write");
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        let status_line = answer.lines().next().unwrap_or_default().to_owned();
        let what = String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned();
        // A closed connection without an answer is a refusal too.
        if !status_line.is_empty() {
            let code: u16 = status_line
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            assert!((400..500).contains(&code), "{what:?}: {status_line}");
        }
    }
    server.abort();
}

// ------------------------------------------------------------ uploads

/// Hostile files sent through the upload form: truncated images, a PNG
/// declaring 50,000 × 50,000 pixels, and polyglots (a GIF header before a
/// script, HTML before a PDF, a zip holding a web page). Each is refused
/// with a 4xx and the file list again, never a 5xx; nothing is stored and
/// the server keeps answering.
#[tokio::test]
async fn hostile_uploads_are_refused_with_a_4xx_and_the_server_keeps_answering() {
    use crate::files::{crc32, jpeg, zip};
    use crate::support::uploads::{download, pdf, png, upload};

    let app = TestApp::with_config(hostile_config()).await;
    let mut alice = app.member("alice").await;
    let page = alice.create_page("Upload target", "Text.\n", "").await;
    let files = format!("{page}/files");

    let whole_png = png(64, 64, 3);
    let whole_jpeg = jpeg(64, 64, 3);
    let mut bomb = png(1, 1, 1);
    // IHDR: its type at 12..16, width and height at 16..24, its CRC at 29..33.
    bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let gif_script =
        b"GIF89a/*\x00\x00*/=1;alert(document.domain);//<script>alert(1)</script>".to_vec();
    let html_pdf = [
        b"<html><body><script>alert(1)</script></body></html>\n".as_slice(),
        &pdf("inside"),
    ]
    .concat();
    let html = b"<!doctype html><script>alert(1)</script>".as_slice();
    let zipped_page = zip(&[("index.html", html)]);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "half a PNG",
            "chart.png",
            whole_png[..whole_png.len() / 2].to_vec(),
        ),
        (
            "a PNG cut after its header",
            "chart.png",
            whole_png[..20].to_vec(),
        ),
        (
            "half a JPEG",
            "photo.jpg",
            whole_jpeg[..whole_jpeg.len() / 2].to_vec(),
        ),
        (
            "a JPEG cut after its start",
            "photo.jpg",
            whole_jpeg[..4].to_vec(),
        ),
        ("a 50000x50000 PNG", "bomb.png", bomb),
        (
            "a GIF header before a script",
            "pixel.gif",
            gif_script.clone(),
        ),
        (
            "a GIF header before a script, as text",
            "pixel.txt",
            gif_script,
        ),
        ("HTML before a PDF", "guide.pdf", html_pdf.clone()),
        ("HTML before a PDF, as text", "guide.txt", html_pdf),
        ("a zip holding a web page", "site.zip", zipped_page.clone()),
        (
            "a zip holding a web page, as docx",
            "plan.docx",
            zipped_page.clone(),
        ),
        (
            "a zip holding a web page, as html",
            "index.html",
            zipped_page,
        ),
    ];
    let started = Instant::now();
    for (what, name, bytes) in &cases {
        let page = upload(&mut alice, &files, &[(name, bytes)], "").await;
        check(&page, what);
        assert!(
            page.status.is_client_error(),
            "{what}: status {}",
            page.status
        );
        page.assert_contains("The upload was refused:");
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused quickly"
    );
    let stored = crate::support::count(&app.state.pool, "SELECT count(*) FROM files").await;
    assert_eq!(stored, 0);
    let visitor = app.client();
    for (_, name, _) in &cases {
        let (status, _, _) = download(&visitor, &format!("{files}/{name}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    }
    // The server keeps answering, and a good upload still works.
    app.client()
        .get("/healthz")
        .await
        .assert_status(StatusCode::OK);
    upload(&mut alice, &files, &[("chart.png", &png(8, 8, 1))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
}
