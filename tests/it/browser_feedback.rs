//! Issue 15, points 3, 4 and 8 in a real browser (with JavaScript and
//! without): a confirmation after saving and after telling a story, a
//! rejected story form scrolled to its error summary with the focus on it,
//! "Remove my name" asking first, the conflict page with its diff and the
//! other editor's name; axe-core on the conflict page and the profile edit
//! page at 1280 and 360 px, light and dark, with screenshots under
//! target/screenshots/.

use anyhow::{Context, Result, bail, ensure};
use axum::http::StatusCode;

use crate::support::browser::{Browser, DESKTOP, Harness};
use crate::support::{Client, TestApp};

const AAR: &str = "/methods/after-action-review";

/// Runs each step, prints how it went, and fails at the end listing every
/// failed step (so one failure does not hide the others).
struct Steps {
    failures: Vec<String>,
}

impl Steps {
    fn record(&mut self, name: &str, result: Result<()>) {
        match result {
            Ok(()) => eprintln!("[browser_feedback] ok     {name}"),
            Err(error) => {
                eprintln!("[browser_feedback] FAILED {name}");
                self.failures.push(format!("{name}:\n  {error:#}"));
            }
        }
    }

    fn finish(self) {
        if !self.failures.is_empty() {
            panic!(
                "{} step(s) failed:\n\n{}",
                self.failures.len(),
                self.failures.join("\n\n")
            );
        }
    }
}

/// Whether Cafe's script ran in the browser's pages (signed in): it adds
/// a hidden "characters left" note under the story title field.
async fn scripts_run(b: &Browser) -> Result<bool> {
    b.goto(AAR).await?;
    let notes = b
        .js("return document.querySelectorAll('#stories p.char-count').length")
        .await?;
    Ok(notes.as_u64().unwrap_or(0) > 0)
}

async fn save_an_edit(b: &Browser, line: &str) -> Result<()> {
    b.goto(&format!("{AAR}/edit")).await?;
    b.append("Text (Markdown", &format!("\n\n{line}\n")).await?;
    b.fill("Summary of your change", "a line more").await?;
    b.press("Save").await?;
    b.expect_path(AAR).await?;
    b.expect_flash("Saved as revision").await?;
    b.expect_text(line).await?;
    // Shown once: the next page says nothing.
    b.goto(AAR).await?;
    ensure!(
        b.flash().await?.is_empty(),
        "the confirmation should be shown once only"
    );
    Ok(())
}

async fn tell_a_story(b: &Browser, title: &str) -> Result<()> {
    b.goto(AAR).await?;
    b.click_text("summary", "Tell your story of this method")
        .await?;
    b.fill("Title", title).await?;
    b.choose("Success").await?;
    b.fill("Your story", "We ran it after every field visit.")
        .await?;
    b.press("Tell the story").await?;
    b.expect_heading(title).await?;
    b.expect_flash("Thank you: your story is told.").await
}

/// A story the server refuses (the browser's own checks turned off, as an
/// older browser would not make them): the page opens at the stories, with
/// the error summary focused and in view, linking to each field.
async fn rejected_story_lands_at_its_summary(b: &Browser) -> Result<()> {
    b.goto(AAR).await?;
    b.click_text("summary", "Tell your story of this method")
        .await?;
    b.js("document.querySelector('#stories form').noValidate = true; return null")
        .await?;
    b.fill("Title", "Half a story").await?;
    b.press("Tell the story").await?;
    let url = b.client.current_url().await?;
    ensure!(
        url.fragment() == Some("stories"),
        "the re-shown form should open at #stories, not at the top: {url}"
    );
    let state = b
        .js("const s = document.getElementById('story-errors'); \
             const r = s ? s.getBoundingClientRect() : null; \
             return s ? [document.activeElement === s, r.top >= 0 && r.top < window.innerHeight, \
               Array.from(s.querySelectorAll('a')).map(a => a.getAttribute('href'))] : null")
        .await?;
    ensure!(
        state != serde_json::Value::Null,
        "no error summary {}",
        b.place().await
    );
    ensure!(
        state[0] == serde_json::json!(true),
        "the error summary should have the focus: {state}"
    );
    ensure!(
        state[1] == serde_json::json!(true),
        "the error summary should be in view: {state}"
    );
    ensure!(
        state[2] == serde_json::json!(["#story-body", "#story-outcome-success"]),
        "the summary links to each field in error: {state}"
    );
    b.axe("a rejected story form").await?;
    let (file, _) = b.screenshot("story-form-errors", 1280).await?;
    eprintln!("[browser_feedback] screenshot {}", file.display());
    Ok(())
}

/// `axe`: whether to run axe-core on the question (it needs scripts).
async fn remove_my_name_asks_first(b: &Browser, axe: bool) -> Result<()> {
    b.goto(AAR).await?;
    b.fill("Your tip for others", "Write it down the same day")
        .await?;
    b.press("Add my name").await?;
    b.expect_flash("Your name is on the roster").await?;
    b.follow("Remove my name…").await?;
    b.expect_heading("Remove your name from the roster of After-Action Review?")
        .await?;
    b.expect_text("Your tip will be lost").await?;
    b.expect_text("Write it down the same day").await?;
    if axe {
        b.axe("the remove-my-name question").await?;
    }
    b.press("Yes, remove my name").await?;
    b.expect_flash("Your name is removed from the roster.")
        .await?;
    b.expect_no_text("Write it down the same day").await
}

/// The other member saves a change to the line this browser is editing,
/// then the browser saves: the conflict page.
async fn conflict_page(b: &Browser, other: &mut Client, other_name: &str, tag: &str) -> Result<()> {
    b.goto(&format!("{AAR}/edit")).await?;
    let text = b.value("Text (Markdown").await?;
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .context("a line to change")?
        .to_owned();
    let base = other.base_revision(AAR).await;
    let current = other.get(&format!("{AAR}/source")).await.body;
    let theirs = current.replacen(&first, &format!("{first} ({other_name} {tag})"), 1);
    other
        .edit_page(AAR, &base, &theirs, "lkm-1", "theirs")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let mine = text.replacen(&first, &format!("{first} (mine {tag})"), 1);
    b.fill("Text (Markdown", &mine).await?;
    b.fill("Summary of your change", "mine").await?;
    b.press("Save").await?;
    b.expect_heading("Edit conflict").await?;
    b.expect_text(&format!("{other_name} saved this page"))
        .await?;
    let diff = b
        .js("return [Array.from(document.querySelectorAll('.conflict-diff tr.removed')).map(r => r.innerText).join(' '), \
                     Array.from(document.querySelectorAll('.conflict-diff tr.added')).map(r => r.innerText).join(' ')]")
        .await?;
    ensure!(
        diff[0]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("({other_name} {tag})"))
            && diff[1]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("(mine {tag})")),
        "the diff should show their line against mine: {diff}"
    );
    ensure!(
        b.value("Your text")
            .await?
            .contains(&format!("(mine {tag})")),
        "my text is in the editor"
    );
    b.button("Save my merged text").await?;
    b.link("Discard mine").await?;
    let width = b
        .js("const t = document.getElementById('conflict-body'); return [t.getBoundingClientRect().width, document.querySelector('main').clientWidth]")
        .await?;
    let (editor, main) = (
        width[0].as_f64().unwrap_or(0.0),
        width[1].as_f64().unwrap_or(1.0),
    );
    ensure!(
        editor >= main * 0.8,
        "the editor should take the width of the page: {editor} of {main} px"
    );
    Ok(())
}

/// axe at desktop and phone width, and screenshots at both.
async fn axe_both_widths(b: &Browser, what: &str, shot: &str) -> Result<()> {
    let mut problems = Vec::new();
    for width in [1280, 360] {
        let (file, sideways) = b.screenshot(shot, width).await?;
        eprintln!("[browser_feedback] screenshot {}", file.display());
        if sideways {
            problems.push(format!("{what} scrolls sideways at {width} px"));
        }
        b.resize_viewport(width, 800).await?;
        if let Err(error) = b.axe(&format!("{what} at {width} px")).await {
            problems.push(format!("{error:#}"));
        }
    }
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

async fn profile_edit(b: &Browser, username: &str, shot: &str) -> Result<()> {
    b.goto("/account/profile").await?;
    b.expect_page("Your profile").await?;
    axe_both_widths(b, "the profile edit page", shot).await?;
    b.fill("Role", "Knowledge management officer").await?;
    b.fill("Office or country", "Nairobi").await?;
    b.fill("What I can help with", "After-action reviews")
        .await?;
    b.fill("How to reach me", "extension 4711").await?;
    b.press("Save my profile").await?;
    b.expect_path(&format!("/users/{username}")).await?;
    b.expect_flash("Your profile is saved.").await?;
    b.expect_text("Knowledge management officer").await?;
    b.expect_text("extension 4711").await?;
    // The confirmation's colours pass too (light and dark).
    b.axe("a profile with its confirmation").await?;
    let (file, _) = b.screenshot(&format!("{shot}-saved"), 1280).await?;
    eprintln!("[browser_feedback] screenshot {}", file.display());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_errors_at_the_form_the_conflict_page_and_profiles_in_a_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    let app: &TestApp = &harness.app;
    // Accounts: the browsers' (made by joining) and the other editor.
    for name in ["fiona", "gita", "hana"] {
        app.member(name).await;
    }
    let mut other = app.member("omar").await;
    let mut steps = Steps {
        failures: Vec::new(),
    };

    // With JavaScript.
    let b = &harness.browser;
    steps.record(
        "sign in, with a confirmation",
        async {
            b.sign_in("fiona").await?;
            b.expect_flash("You are signed in.").await?;
            ensure!(scripts_run(b).await?, "scripts should run");
            Ok(())
        }
        .await,
    );
    steps.record(
        "a confirmation after saving (JS)",
        save_an_edit(b, "Line added with JavaScript.").await,
    );
    steps.record(
        "a confirmation after a story (JS)",
        tell_a_story(b, "Told with JavaScript").await,
    );
    steps.record(
        "a rejected story form lands at its focused error summary",
        rejected_story_lands_at_its_summary(b).await,
    );
    steps.record(
        "remove my name asks first (JS)",
        remove_my_name_asks_first(b, true).await,
    );
    steps.record(
        "the conflict page (light)",
        async {
            conflict_page(b, &mut other, "omar", "light").await?;
            axe_both_widths(b, "the conflict page", "conflict-page").await
        }
        .await,
    );
    steps.record(
        "the profile edit page (light)",
        profile_edit(b, "fiona", "profile-edit").await,
    );

    // Dark.
    match harness.dark_browser().await {
        Ok(dark) => {
            steps.record(
                "the conflict page (dark)",
                async {
                    dark.sign_in("gita").await?;
                    conflict_page(&dark, &mut other, "omar", "dark").await?;
                    axe_both_widths(&dark, "the conflict page, dark", "conflict-page-dark").await
                }
                .await,
            );
            steps.record(
                "the profile edit page (dark)",
                profile_edit(&dark, "gita", "profile-edit-dark").await,
            );
            let _ = dark.client.clone().close().await;
        }
        Err(error) => steps.record("a dark browser", Err(error)),
    }

    // Without JavaScript.
    match harness.browser_without_script().await {
        Ok(plain) => {
            steps.record(
                "sign in without JS",
                async {
                    plain.sign_in("hana").await?;
                    plain.expect_flash("You are signed in.").await?;
                    ensure!(!scripts_run(&plain).await?, "scripts should not run");
                    Ok(())
                }
                .await,
            );
            steps.record(
                "a confirmation after saving (no JS)",
                save_an_edit(&plain, "Line added without JavaScript.").await,
            );
            steps.record(
                "a confirmation after a story (no JS)",
                tell_a_story(&plain, "Told without JavaScript").await,
            );
            steps.record(
                "remove my name asks first (no JS)",
                remove_my_name_asks_first(&plain, false).await,
            );
            let _ = plain.client.clone().close().await;
        }
        Err(error) => steps.record("a browser without JavaScript", Err(error)),
    }

    harness.finish().await;
    steps.finish();
}
