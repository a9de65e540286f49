//! Markdown → sanitised HTML, with any input: it never panics, and its
//! output is a fixed point of the sanitiser (sanitising it again changes
//! nothing), so nothing the sanitiser would remove ever reaches a page;
//! and every id in it is in the authors' namespace (`user-content-`), so no
//! page text can take over the site's own ids (`roster`, `cafe-main`, …).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(md) = std::str::from_utf8(data) else {
        return;
    };
    // Some wiki links exist, some do not: both branches get exercised.
    let html = cafe::markdown::render(md, &|slug| slug.as_str().len() % 2 == 0);
    assert_eq!(
        cafe::markdown::sanitize(&html),
        html,
        "sanitising the rendered HTML again changed it"
    );
    for id in ids(&html) {
        assert!(
            id.starts_with(cafe::markdown::ID_PREFIX),
            "an id outside the authors' namespace: {id:?}"
        );
    }
    let _ = cafe::markdown::link_targets(md);
});

/// The values of the `id` attributes in serialised HTML. In the sanitiser's
/// output every `<` in text is escaped, so each `<` opens a tag, and inside a
/// tag attribute values are double-quoted.
fn ids(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let (mut in_tag, mut in_value) = (false, false);
    for (at, c) in html.char_indices() {
        match c {
            '<' if !in_tag => in_tag = true,
            '>' if in_tag && !in_value => in_tag = false,
            '"' if in_tag => {
                if !in_value && html[..at].ends_with(" id=") {
                    let rest = &html[at + 1..];
                    found.push(&rest[..rest.find('"').unwrap_or(rest.len())]);
                }
                in_value = !in_value;
            }
            _ => {}
        }
    }
    found
}
