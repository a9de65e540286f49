//! Wayfinding and the editor in a real browser (issue 15): the breadcrumb
//! and the jump links near a method's title, "On this page" beside the
//! text at 1280 px and stacked at 360 px without sideways scrolling, the
//! editor's toolbar by keyboard and its preview beside the text; axe-core
//! on the method page and the edit form at 1280 and 360 px, light and
//! dark; screenshots under target/screenshots/.
//!
//! Skipped (and passing) without chromium and chromedriver, except under CI.

use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use axum::http::StatusCode;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::browser::{Browser, DESKTOP, Harness};

const FAIR: &str = "/methods/knowledge-fair";
const STORY: &str = "/methods/knowledge-fair/stories/1";

/// Runs each named step, keeps going after a failure, and fails the test
/// at the end listing every failed step.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    async fn step(&mut self, name: &str, work: impl Future<Output = Result<()>>) {
        let began = Instant::now();
        let result = work.await;
        let secs = began.elapsed().as_secs_f64();
        match result {
            Ok(()) => eprintln!("[browser_wayfinding] ok     {name} ({secs:.1} s)"),
            Err(error) => {
                eprintln!("[browser_wayfinding] FAILED {name} ({secs:.1} s)");
                self.0.push(format!("{name}:\n  {error:#}"));
            }
        }
    }

    fn finish(self) {
        if !self.0.is_empty() {
            panic!(
                "{} step(s) failed:\n\n{}",
                self.0.len(),
                self.0.join("\n\n")
            );
        }
    }
}

async fn seed(app: &TestApp) -> Result<()> {
    let mut erin = app.member("erin").await;
    let mut frank = app.member("frank").await;
    let body = "## Brief Description\n\nA market of stalls where teams show what they learned.\n\n\
## Example Applications\n\n| Office | Stalls |\n|---|---|\n| Nairobi | 12 |\n| Lima | 8 |\n\n\
## Full Description\n\n### Before the day\n\n- [x] Book the hall\n- [ ] Invite partners\n\n\
### On the day\n\n> Keep each stall to one lesson.\n\n\
## Related Methods/Tools/Practices\n\n- [[Peer Assist]]\n\n\
## More Information/References/Related Resources\n\n- `fair-checklist.md`\n";
    let path = erin
        .create_page("Knowledge Fair", body, "learning, lkm-1")
        .await;
    ensure!(path == FAIR, "unexpected path {path}");
    let base = erin.base_revision(&path).await;
    erin.edit_page(
        &path,
        &base,
        &body.replace("A market of stalls", "A lively market of stalls"),
        "learning, lkm-1",
        "Livelier opening sentence, so that readers see at once why a fair is worth the trouble",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let mut first_story = String::new();
    for (who, title, outcome) in [
        (0, "Our first fair", "success"),
        (1, "Too many stalls", "failure"),
        (1, "Second try", "success"),
    ] {
        let client = if who == 0 { &mut erin } else { &mut frank };
        let told = client
            .post(
                &format!("{path}/stories"),
                &[
                    ("title", title),
                    ("body", "What happened.\nWe learnt a lot.\n"),
                    ("outcome", outcome),
                    ("location", ""),
                ],
            )
            .await;
        told.assert_status(StatusCode::SEE_OTHER);
        if first_story.is_empty() {
            first_story = told.location().context("a thread")?.to_owned();
        }
    }
    ensure!(first_story == STORY, "unexpected story {first_story}");
    erin.post(
        &format!("{first_story}/edit"),
        &[
            ("title", "Our first fair"),
            ("body", "What happened.\nWe learnt a lot about timing.\n"),
            ("outcome", "mixed"),
            ("location", "Nairobi"),
            ("summary", "More precise"),
        ],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    for client in [&mut erin, &mut frank] {
        client
            .post(
                &format!("{path}/roster"),
                &[("tip", "Give every stall a timer"), ("location", "Nairobi")],
            )
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    Ok(())
}

/// The bounding box of the first element matching `css`: [left, top, right, bottom].
async fn rect(b: &Browser, css: &str) -> Result<[f64; 4]> {
    let value = b
        .js(&format!(
            "const e = document.querySelector({css:?}); if (!e) return null; \
             const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];"
        ))
        .await?;
    let Value::Array(parts) = value else {
        bail!("no element {css} {}", b.place().await);
    };
    let n: Vec<f64> = parts.iter().filter_map(Value::as_f64).collect();
    ensure!(n.len() == 4, "odd rectangle {parts:?}");
    Ok([n[0], n[1], n[2], n[3]])
}

async fn scrolls_sideways(b: &Browser) -> Result<bool> {
    Ok(
        b.js("return document.documentElement.scrollWidth > window.innerWidth")
            .await?
            .as_bool()
            .unwrap_or(true),
    )
}

async fn breadcrumb_and_jump_links(b: &Browser) -> Result<()> {
    b.goto(FAIR).await?;
    let crumbs = b
        .js("return [...document.querySelectorAll('nav[aria-label=Breadcrumb] li')].map(l => l.innerText.trim())")
        .await?;
    ensure!(
        crumbs == serde_json::json!(["Methods", "Knowledge Fair"]),
        "breadcrumb {crumbs}"
    );
    b.link_in("//nav[@aria-label='Breadcrumb']", "Methods")
        .await?;
    let jump = b.link("3 stories (1 success, 1 mixed, 1 failure)").await?;
    jump.click().await?;
    let url = b.client.current_url().await?;
    ensure!(url.fragment() == Some("stories"), "landed at {url}");
    let top = rect(b, "#stories").await?[1];
    ensure!(
        top.abs() < 40.0,
        "the stories section should be at the top of the window, it is at {top} px"
    );
    b.goto(FAIR).await?;
    b.link("2 people use this").await?.click().await?;
    let url = b.client.current_url().await?;
    ensure!(url.fragment() == Some("roster"), "landed at {url}");
    // A section of the text, from "On this page".
    b.goto(FAIR).await?;
    b.link_in("//aside", "On the day").await?.click().await?;
    let url = b.client.current_url().await?;
    ensure!(
        url.fragment() == Some("user-content-on-the-day"),
        "landed at {url}"
    );
    let top = rect(b, "#user-content-on-the-day").await?[1];
    ensure!(top.abs() < 40.0, "the heading is at {top} px");
    // The main menu says where one is.
    let current = b
        .js("return [...document.querySelectorAll('nav[aria-label=Main] a[aria-current]')].map(a => a.innerText)")
        .await?;
    ensure!(current == serde_json::json!(["Methods"]), "menu {current}");
    Ok(())
}

async fn sidebar_beside_then_stacked(b: &Browser) -> Result<()> {
    b.goto(FAIR).await?;
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    let aside = rect(b, "aside.page-aside").await?;
    let text = rect(b, ".method-main").await?;
    let title = rect(b, "h1").await?;
    ensure!(
        aside[0] >= text[2] && aside[0] > f64::from(DESKTOP.0) * 0.55,
        "at 1280 px the aside should be in the right third, beside the text: aside {aside:?}, text {text:?}"
    );
    ensure!(
        aside[1] < title[3] + 80.0,
        "the aside should start near the title: aside {aside:?}, title {title:?}"
    );
    ensure!(!scrolls_sideways(b).await?, "scrolls sideways at 1280 px");

    b.resize_viewport(360, 740).await?;
    b.goto(FAIR).await?;
    let aside = rect(b, "aside.page-aside").await?;
    let text = rect(b, ".method-main").await?;
    let header = rect(b, ".method-header").await?;
    ensure!(
        aside[1] >= header[3] && text[1] >= aside[3],
        "at 360 px title, outline and text stack: header {header:?}, aside {aside:?}, text {text:?}"
    );
    ensure!(
        !scrolls_sideways(b).await?,
        "the method page scrolls sideways at 360 px"
    );
    b.goto(&format!("{FAIR}/history")).await?;
    ensure!(
        !scrolls_sideways(b).await?,
        "the history page scrolls sideways at 360 px"
    );
    let table_scrolls = b
        .js("const f = document.querySelector('.history-form'); return f.scrollWidth > f.clientWidth")
        .await?;
    ensure!(
        table_scrolls == serde_json::json!(false),
        "the history table scrolls sideways inside its form at 360 px"
    );
    for cell in ["Who", "Summary"] {
        let css = if cell == "Who" {
            "td[data-label=Who]"
        } else {
            "td.history-summary"
        };
        let r = rect(b, css).await?;
        ensure!(
            r[2] <= 360.0,
            "the history's {cell} is off screen at 360 px: {r:?}"
        );
    }
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    Ok(())
}

/// axe at 1280 and 360 px on each page, and screenshots of both widths.
async fn axe_and_screenshots(b: &Browser, scheme: &str, pages: &[(&str, &str)]) -> Result<()> {
    let mut problems = Vec::new();
    for (name, path) in pages {
        b.goto(path).await?;
        for width in [360, 1280] {
            b.resize_viewport(width, 800).await?;
            if let Err(error) = b.axe(&format!("{path} at {width} px, {scheme}")).await {
                problems.push(format!("{error:#}"));
            }
            let (file, sideways) = b.screenshot(&format!("{name}-{scheme}"), width).await?;
            eprintln!("[browser_wayfinding] screenshot {}", file.display());
            if sideways {
                problems.push(format!("{path} scrolls sideways at {width} px ({scheme})"));
            }
        }
        b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

const AXE_PAGES: [(&str, &str); 5] = [
    ("wayfinding-method-page", FAIR),
    ("wayfinding-history", "/methods/knowledge-fair/history"),
    ("wayfinding-edit-form", "/methods/knowledge-fair/edit"),
    ("wayfinding-new-page-form", "/methods/new"),
    (
        "wayfinding-story-revision-changes",
        "/methods/knowledge-fair/stories/1/revisions/2",
    ),
];

/// The text area's value.
async fn text_value(b: &Browser) -> Result<String> {
    Ok(b.js("return document.getElementById('page-body').value")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Selects `word` in the text area and leaves the focus there.
async fn select_word(b: &Browser, word: &str) -> Result<()> {
    let found = b
        .js(&format!(
            "const t = document.getElementById('page-body'); const at = t.value.indexOf({word:?}); \
             if (at < 0) return false; t.focus(); t.setSelectionRange(at, at + {len}); return true;",
            len = word.encode_utf16().count()
        ))
        .await?;
    ensure!(found == serde_json::json!(true), "no {word:?} in the text");
    Ok(())
}

async fn toolbar_by_keyboard(b: &Browser) -> Result<()> {
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    b.goto(&format!("{FAIR}/edit")).await?;
    b.expect_heading("Editing Knowledge Fair").await?;
    select_word(b, "stalls").await?;
    // Back from the text to the toolbar above it, by keyboard only.
    let mut reached = false;
    for _ in 0..8 {
        b.chord(&[Key::Shift], Key::Tab).await?;
        let focus = b.focused().await?;
        ensure!(focus.ring, "{focus} shows no focus ring");
        if focus.name == "Bold" {
            reached = true;
            break;
        }
    }
    ensure!(
        reached,
        "Shift+Tab from the text never reached the Bold button"
    );
    b.key(Key::Enter).await?;
    let text = text_value(b).await?;
    ensure!(
        text.contains("market of **stalls** where"),
        "after Bold: {text}"
    );
    let focus = b.focused().await?;
    ensure!(
        focus.tag == "textarea",
        "the focus goes back to the text, not {focus}"
    );
    // Ctrl+I in the text.
    select_word(b, "market").await?;
    let control: char = Key::Control.into();
    let ctrl_i = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: control })
        .then(KeyAction::Down { value: 'i' })
        .then(KeyAction::Up { value: 'i' })
        .then(KeyAction::Up { value: control });
    b.client.perform_actions(ctrl_i).await?;
    let text = text_value(b).await?;
    ensure!(text.contains("lively *market* of"), "after Ctrl+I: {text}");
    // The wiki link button, Tab by Tab from the Bold button.
    select_word(b, "teams").await?;
    b.js("document.querySelector('.md-toolbar button').focus()")
        .await?;
    let focus = b.tab_to("Wiki link", 6).await?;
    ensure!(focus.tag == "button", "{focus}");
    b.key(Key::Enter).await?;
    let text = text_value(b).await?;
    ensure!(
        text.contains("where [[teams]] show"),
        "after Wiki link: {text}"
    );
    // The preview follows.
    let preview = b
        .js("return document.getElementById('page-preview').innerText")
        .await?;
    ensure!(
        preview.as_str().is_some_and(|p| p.contains("stalls")),
        "the preview shows the text: {preview}"
    );
    let followable = b
        .js("return document.querySelectorAll('#page-preview a:not([tabindex=\"-1\"])').length")
        .await?;
    ensure!(
        followable == serde_json::json!(0),
        "the preview's links stay out of the Tab order between the text and the tags"
    );
    // Leave without the unsaved-changes question (as after a save).
    b.js("document.querySelector('form.page-form').dispatchEvent(new Event('submit'))")
        .await?;
    Ok(())
}

async fn preview_beside_then_below(b: &Browser) -> Result<()> {
    b.goto("/methods/new").await?;
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    let text = rect(b, "#page-body").await?;
    let preview = rect(b, "#page-preview-section").await?;
    ensure!(
        preview[0] >= text[2] && (preview[1] - text[1]).abs() < 120.0,
        "at 1280 px the preview should be beside the text: text {text:?}, preview {preview:?}"
    );
    let shown = b
        .js("return document.getElementById('page-preview').innerText")
        .await?;
    ensure!(
        shown
            .as_str()
            .is_some_and(|p| p.contains("Brief Description") && !p.contains("<!--")),
        "the preview shows the sections without the prompts: {shown}"
    );
    b.resize_viewport(360, 740).await?;
    let text = rect(b, "#page-body").await?;
    let preview = rect(b, "#page-preview-section").await?;
    ensure!(
        preview[1] >= text[3],
        "at 360 px the preview should be below the text: text {text:?}, preview {preview:?}"
    );
    ensure!(
        !scrolls_sideways(b).await?,
        "the editor scrolls sideways at 360 px"
    );
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wayfinding_and_the_editor_in_a_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    seed(&harness.app).await.expect("seeding");
    let b = &harness.browser;
    let mut failures = Failures::default();
    failures
        .step("breadcrumb and jump links", breadcrumb_and_jump_links(b))
        .await;
    failures.step("sign in", b.sign_in("erin")).await;
    failures
        .step(
            "sidebar beside at 1280 px, stacked at 360 px; history fits at 360 px",
            sidebar_beside_then_stacked(b),
        )
        .await;
    failures
        .step("the editor's toolbar by keyboard", toolbar_by_keyboard(b))
        .await;
    failures
        .step(
            "the preview beside the text at 1280 px, below at 360 px",
            preview_beside_then_below(b),
        )
        .await;
    failures
        .step(
            "axe and screenshots, light",
            axe_and_screenshots(b, "light", &AXE_PAGES),
        )
        .await;
    match harness.dark_browser().await {
        Ok(dark) => {
            failures.step("sign in, dark", dark.sign_in("frank")).await;
            failures
                .step(
                    "axe and screenshots, dark",
                    axe_and_screenshots(&dark, "dark", &AXE_PAGES),
                )
                .await;
            let _ = dark.client.clone().close().await;
        }
        Err(error) => failures.0.push(format!("dark browser: {error:#}")),
    }
    harness.finish().await;
    failures.finish();
}
