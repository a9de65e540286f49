//! Hostile input shared by the community and tag tests: the core's XSS
//! payload list, and a check that a returned page holds nothing active (no
//! script in the content, no event handler, no `javascript:`/`data:` URL).

use scraper::{Html, Selector};

/// The XSS payloads the core's hostile-input tests use (`tests/data/xss.txt`,
/// one a line, `#` starts a comment): script elements, event handlers,
/// dangerous URL schemes (mixed case, entity-encoded, with white space),
/// attribute and element break-outs, and Markdown and wiki links.
pub fn payloads() -> Vec<&'static str> {
    include_str!("../../data/xss.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect()
}

/// `s` cut to at most `max` characters, for fields with a length limit.
pub fn fit(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Elements that must never appear in a page's content.
const ACTIVE_ELEMENTS: &str =
    "script, iframe, frame, frameset, object, embed, applet, base, meta, link, style";

/// Attributes that hold a URL a browser may follow or load.
const URL_ATTRIBUTES: [&str; 11] = [
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "poster",
    "background",
    "cite",
    "srcset",
    "lowsrc",
    "dynsrc",
];

/// What is wrong with `html`, if anything: empty when it is inert.
pub fn active_content(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let mut problems = Vec::new();
    let in_main = Selector::parse(
        &ACTIVE_ELEMENTS
            .split(", ")
            .map(|e| format!("main {e}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
    .expect("selector");
    for element in doc.select(&in_main) {
        problems.push(format!("<{}> inside <main>", element.value().name()));
    }
    // The layout's own script is external (from /static); none may be inline.
    let scripts = Selector::parse("script").expect("selector");
    for script in doc.select(&scripts) {
        let src = script.value().attr("src").unwrap_or_default();
        if !src.starts_with("/static/") || !script.text().collect::<String>().trim().is_empty() {
            problems.push(format!("a script that is not the site's own: src={src:?}"));
        }
    }
    let all = Selector::parse("*").expect("selector");
    let main = Selector::parse("main *").expect("selector");
    for element in doc.select(&all) {
        for (name, value) in element.value().attrs() {
            let name = name.to_ascii_lowercase();
            if name.starts_with("on") {
                problems.push(format!(
                    "an event handler {name}={value:?} on <{}>",
                    element.value().name()
                ));
            }
            if name == "srcdoc" {
                problems.push(format!("srcdoc on <{}>", element.value().name()));
            }
            if URL_ATTRIBUTES.contains(&name.as_str()) {
                let squeezed: String = value
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                for scheme in ["javascript:", "data:", "vbscript:"] {
                    if squeezed.starts_with(scheme)
                        || (name == "srcset" && squeezed.contains(scheme))
                    {
                        problems.push(format!(
                            "a {scheme} URL in {name} on <{}>",
                            element.value().name()
                        ));
                    }
                }
            }
        }
    }
    for element in doc.select(&main) {
        if element.value().attr("style").is_some() {
            problems.push(format!(
                "a style attribute on <{}> inside <main>",
                element.value().name()
            ));
        }
    }
    problems
}

/// Fails, naming what is active and where it came from, unless `html` is inert.
#[track_caller]
pub fn assert_inert(html: &str, what: &str) {
    let problems = active_content(html);
    assert!(
        problems.is_empty(),
        "{what} holds active content: {problems:#?}\n{html}"
    );
}

/// The text of every element matching `css`, white space collapsed.
pub fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).expect("a valid selector");
    doc.select(&selector)
        .map(|e| collapse(&e.text().collect::<String>()))
        .collect()
}

/// Runs of white space made one space, trimmed (as one-line fields are stored).
pub fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
