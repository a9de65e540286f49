//! Markdown → sanitised HTML, with any input: it never panics, and its
//! output is a fixed point of the sanitiser (sanitising it again changes
//! nothing), so nothing the sanitiser would remove ever reaches a page.

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
    let _ = cafe::markdown::link_targets(md);
});
