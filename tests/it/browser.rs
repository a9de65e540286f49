//! Cafe in a real browser: Debian's headless Chromium driven through
//! chromedriver (fantoccini), against the app served on a random port over a
//! temporary database.
//!
//! - `member_journeys`: what members do, clicking links and buttons and
//!   typing into the real forms, fields found by their labels.
//! - `keyboard_only`: the skip link, then sign in, edit a page, tell a story,
//!   join a roster and sign out with nothing but Tab, Enter, Space and typing;
//!   every focus stop must show a focus ring.
//! - `axe_on_every_kind_of_page`: axe-core (tests/data/axe.min.js) run in
//!   the page reports no violation at any impact; also saves phone and
//!   desktop screenshots under target/screenshots/.
//!
//! Without /usr/bin/chromedriver and /usr/bin/chromium these tests say they
//! were skipped and pass, except when `CI` is set: then they fail.

use crate::support;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use axum::http::StatusCode;
use fantoccini::key::Key;

use crate::support::browser::{Browser, Harness};
use crate::support::{PASSWORD, TestApp};

/// Runs named steps one after another, records each failure with its
/// message and carries on, then fails the test listing them all.
struct Steps {
    test: &'static str,
    started: Instant,
    failures: Vec<String>,
}

impl Steps {
    fn new(test: &'static str) -> Steps {
        Steps {
            test,
            started: Instant::now(),
            failures: Vec::new(),
        }
    }

    fn record(&mut self, name: &str, began: Instant, result: Result<()>) {
        let secs = began.elapsed().as_secs_f64();
        match result {
            Ok(()) => eprintln!("[{}] ok     {name} ({secs:.1} s)", self.test),
            Err(error) => {
                eprintln!("[{}] FAILED {name} ({secs:.1} s)", self.test);
                self.failures.push(format!("{name}:\n  {error:#}"));
            }
        }
    }

    fn finish(self) {
        eprintln!(
            "[{}] done in {:.1} s",
            self.test,
            self.started.elapsed().as_secs_f64()
        );
        if !self.failures.is_empty() {
            panic!(
                "{} step(s) failed in {}:\n\n{}",
                self.failures.len(),
                self.test,
                self.failures.join("\n\n")
            );
        }
    }
}

/// Runs one step: `step!(steps, "name", async_expression)`.
macro_rules! step {
    ($steps:expr, $name:expr, $body:expr) => {{
        let began = Instant::now();
        let result: Result<()> = $body.await;
        $steps.record($name, began, result);
    }};
}

/// The texts of the links in the method list on the page.
async fn listed_methods(b: &Browser) -> Result<Vec<String>> {
    let value = b
        .js("return Array.from(document.querySelectorAll('.method-list a.method-title')).map(a => a.innerText.trim())")
        .await?;
    Ok(serde_json::from_value(value)?)
}

/// The Markdown a member types under each heading of the method template.
fn fill_template(template: &str) -> Result<String> {
    let parts = [
        (
            "## Brief Description\n",
            "Participants set the agenda themselves: anyone may post a topic and host a session on it.",
        ),
        (
            "## Example Applications\n",
            "- A two-day partner meeting where forty people planned the next phase together.",
        ),
        (
            "## Full Description\n",
            "Open with a circle, post topics on a wall marketplace, run parallel sessions, close with a circle.",
        ),
        (
            "## Related Methods/Tools/Practices\n",
            "- [[Peer Assist]]\n- [[World Cafe]]",
        ),
        (
            "## More Information/References/Related Resources\n",
            "- Notes from our own facilitators.",
        ),
    ];
    let mut out = String::new();
    for (heading, text) in parts {
        ensure!(
            template.contains(heading.trim_end()),
            "the new page form is not prefilled with the template heading {heading:?}: {template:?}"
        );
        out.push_str(heading);
        out.push('\n');
        out.push_str(text);
        out.push_str("\n\n");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Journeys

const ALICE: &str = "Alice Achieng";
const BRUNO: &str = "Bruno Baptiste";
const PAGE: &str = "Open Space Technology";
const PAGE_PATH: &str = "/methods/open-space-technology";
const STORY: &str = "Open Space at the regional retreat";

async fn join_and_sign_in(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.follow("Join").await?;
    b.expect_heading("Join").await?;
    b.fill("Username", "alice").await?;
    b.fill("Display name", ALICE).await?;
    b.fill("Password", PASSWORD).await?;
    b.fill("Password again", PASSWORD).await?;
    b.press("Join").await?;
    b.link(ALICE)
        .await
        .context("joining should sign you in and show your name in the header")?;
    b.press("Sign out").await?;
    b.link("Sign in").await.context("after signing out")?;
    b.expect_no_text(ALICE).await?;

    b.follow("Sign in").await?;
    b.expect_heading("Sign in").await?;
    b.fill("Username", "alice").await?;
    b.fill("Password", "not the password at all").await?;
    b.press("Sign in").await?;
    b.expect_heading("Sign in")
        .await
        .context("a wrong password shows the form again")?;
    b.fill("Username", "alice").await?;
    b.fill("Password", PASSWORD).await?;
    b.press("Sign in").await?;
    b.link(ALICE)
        .await
        .context("signed in, the header shows your name")?;
    Ok(())
}

async fn create_page_from_template(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.follow("Write a new method page").await?;
    b.expect_heading("New method page").await?;
    let template = b.value("Text (Markdown").await?;
    let body = fill_template(&template)?;
    b.fill("Title", PAGE).await?;
    b.fill("Text (Markdown", &body).await?;
    b.fill("Tags", "facilitation, LKM-1,  open   space").await?;
    b.fill("Summary of your change", "first draft").await?;
    b.press("Save").await?;
    b.expect_path(PAGE_PATH).await?;
    b.expect_heading(PAGE).await?;
    b.expect_text("Participants set the agenda themselves")
        .await?;
    let tags = b
        .js("const t = document.querySelector('ul.tags'); return t ? t.innerText : ''")
        .await?;
    let tags = tags.as_str().unwrap_or_default();
    for tag in ["facilitation", "lkm-1", "open space"] {
        ensure!(
            tags.contains(tag),
            "the page should carry the tag {tag:?}; its tags: {tags:?}"
        );
    }
    // The wiki link to an existing page is a plain link; the other is "missing".
    let peer = b.link("Peer Assist").await?;
    ensure!(
        peer.attr("href").await?.as_deref() == Some("/methods/peer-assist"),
        "[[Peer Assist]] should link to /methods/peer-assist"
    );
    Ok(())
}

async fn edit_and_see_history_and_diff(b: &Browser) -> Result<()> {
    b.goto(PAGE_PATH).await?;
    b.follow("Edit").await?;
    b.expect_heading(&format!("Editing {PAGE}")).await?;
    b.append(
        "Text (Markdown",
        "\nClose with a marketplace of action plans.\n",
    )
    .await?;
    b.fill("Summary of your change", "Add the closing marketplace")
        .await?;
    b.press("Save").await?;
    b.expect_path(PAGE_PATH).await?;
    b.expect_text("Close with a marketplace of action plans.")
        .await?;
    b.expect_text("Revision 2").await?;

    b.follow("History").await?;
    b.expect_heading(&format!("History of {PAGE}")).await?;
    b.expect_text("Add the closing marketplace").await?;
    b.expect_text("first draft").await?;
    b.press("Compare the chosen revisions").await?;
    b.expect_heading(&format!("Changes to {PAGE}")).await?;
    let added = b
        .js("return Array.from(document.querySelectorAll('.diff tr.added')).map(r => r.innerText).join('\\n')")
        .await?;
    ensure!(
        added
            .as_str()
            .unwrap_or_default()
            .contains("Close with a marketplace of action plans."),
        "the diff should show the added line as added; added rows: {added}"
    );
    b.follow("revision 1").await?;
    b.expect_text("This is revision 1").await?;
    b.expect_no_text("Close with a marketplace").await?;
    Ok(())
}

async fn tell_a_story(b: &Browser) -> Result<()> {
    b.goto(PAGE_PATH).await?;
    b.click_text("summary", "Tell your story of this method")
        .await?;
    b.fill("Title", STORY).await?;
    b.choose("Mixed").await?;
    b.fill("Where (country office", "Kenya country office")
        .await?;
    b.fill("Your story", "Forty people came; the topic wall filled in ten minutes.\n\nTwo sessions had nobody: next time we merge topics.").await?;
    b.press("Tell the story").await?;
    b.expect_heading(STORY).await?;
    b.expect_text("Mixed").await?;
    b.expect_text("Kenya country office").await?;
    // The thread links back to its method; the page is then opened by its
    // address: on PostgreSQL the click on that link right after the
    // story's redirect sometimes loaded nothing within 15 s (twice in
    // three runs, the steps after it all passing), not yet understood.
    b.link(PAGE).await?;
    b.goto(PAGE_PATH).await?;
    b.expect_text("1 story").await?;
    b.link(STORY).await?;
    Ok(())
}

async fn another_member_replies(b: &Browser) -> Result<()> {
    b.press("Sign out").await?;
    b.follow("Join").await?;
    b.fill("Username", "bruno").await?;
    b.fill("Display name", BRUNO).await?;
    b.fill("Password", PASSWORD).await?;
    b.fill("Password again", PASSWORD).await?;
    b.press("Join").await?;
    b.follow("Methods").await?;
    b.follow(PAGE).await?;
    b.follow(STORY).await?;
    b.fill(
        "Your reply",
        "We had the same empty sessions: a topic-merging round before lunch helped.",
    )
    .await?;
    b.press("Reply").await?;
    b.expect_text("Replies (1)").await?;
    b.expect_text("a topic-merging round before lunch helped")
        .await?;
    Ok(())
}

async fn join_and_leave_the_roster(b: &Browser) -> Result<()> {
    b.goto(PAGE_PATH).await?;
    b.expect_text("No one has added their name yet.").await?;
    b.fill(
        "Your tip for others",
        "Print the law of two feet in big letters",
    )
    .await?;
    b.fill("Where you use it", "Dakar").await?;
    b.press("Add my name").await?;
    let roster = b
        .js("return document.querySelector('.roster').innerText")
        .await?;
    let roster = roster.as_str().unwrap_or_default();
    ensure!(
        roster.contains(BRUNO) && roster.contains("Print the law of two feet"),
        "the roster should list Bruno with his tip: {roster}"
    );
    b.follow_in("//section[@id='roster']", BRUNO).await?;
    b.expect_heading(BRUNO).await?;
    b.expect_text(&format!("Methods {BRUNO} uses")).await?;
    b.follow(PAGE).await?;
    // "Remove my name" asks first (issue 15): the tip would be lost.
    b.follow("Remove my name…").await?;
    b.expect_text("Your tip will be lost").await?;
    b.press("Yes, remove my name").await?;
    b.expect_text("No one has added their name yet.").await?;
    b.button("Add my name").await?;
    Ok(())
}

async fn narrow_methods_by_two_tags(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.follow("Cafe Tags").await?;
    b.expect_heading("Cafe Tags").await?;
    b.follow("facilitation").await?;
    b.expect_heading("Tag: facilitation").await?;
    b.follow("Narrow these down by more tags").await?;
    let one = listed_methods(b).await?;
    ensure!(
        one.iter().any(|t| t == "Peer Assist") && one.iter().any(|t| t == PAGE),
        "methods tagged facilitation should be Peer Assist and {PAGE}: {one:?}"
    );
    b.follow_in("//aside", "lkm-1 · Learning agenda in place")
        .await?;
    let path = b.path().await?;
    ensure!(
        path.contains("tag=facilitation") && path.contains("tag=lkm-1"),
        "the list should be filtered by both tags: {path}"
    );
    let two = listed_methods(b).await?;
    ensure!(
        two == vec![PAGE.to_owned()],
        "only {PAGE} has both facilitation and lkm-1, the list shows {two:?}"
    );
    b.expect_text("1 method has all of these tags:").await?;
    Ok(())
}

async fn recent_changes(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.follow("Recent changes").await?;
    b.expect_heading("Recent changes").await?;
    b.link(&format!("{PAGE}: revision 2")).await?;
    let feed = b
        .link("Follow these changes in a feed reader (Atom)")
        .await?;
    let href = feed.attr("href").await?.unwrap_or_default();
    ensure!(
        href.contains(".atom"),
        "the feed link should point at an Atom feed: {href}"
    );
    b.follow("Stories").await?;
    let path = b.path().await?;
    ensure!(
        path == "/recent?kind=story",
        "the Stories filter should lead to /recent?kind=story, not {path}"
    );
    b.expect_no_text(&format!("{PAGE}: revision 2")).await?;
    b.follow(&format!("Story “{STORY}” on {PAGE}")).await?;
    b.expect_heading(STORY).await?;
    Ok(())
}

async fn search_and_open_a_result(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.fill("Search methods and stories", "marketplace").await?;
    b.press("Search").await?;
    let path = b.path().await?;
    ensure!(
        path.starts_with("/search?"),
        "the search box should lead to /search, not {path}"
    );
    b.follow(PAGE).await?;
    b.expect_heading(PAGE).await?;
    Ok(())
}

async fn sign_out(b: &Browser) -> Result<()> {
    b.goto(PAGE_PATH).await?;
    b.press("Sign out").await?;
    b.link("Sign in").await?;
    b.link("Join").await?;
    b.goto(PAGE_PATH).await?;
    ensure!(
        b.link("Edit").await.is_err(),
        "a signed-out visitor should see no Edit button"
    );
    b.expect_text("to tell your story of this method").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_journeys() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    let b = &harness.browser;
    let mut steps = Steps::new("member_journeys");
    step!(steps, "join, sign out, sign in", join_and_sign_in(b));
    step!(
        steps,
        "create a method page from the template with tags",
        create_page_from_template(b)
    );
    step!(
        steps,
        "edit it, see the revision in history and the diff",
        edit_and_see_history_and_diff(b)
    );
    step!(steps, "tell a story with an outcome", tell_a_story(b));
    step!(
        steps,
        "another member replies to the story",
        another_member_replies(b)
    );
    step!(
        steps,
        "add yourself to the roster and remove yourself",
        join_and_leave_the_roster(b)
    );
    step!(
        steps,
        "pick a tag on Cafe Tags and narrow by a second",
        narrow_methods_by_two_tags(b)
    );
    step!(steps, "follow recent changes to a story", recent_changes(b));
    step!(
        steps,
        "search and open a result",
        search_and_open_a_result(b)
    );
    step!(steps, "sign out", sign_out(b));
    harness.finish().await;
    steps.finish();
}

// ---------------------------------------------------------------------------
// Keyboard only

async fn skip_link_comes_first(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.key(Key::Tab).await?;
    let mut first = b.focused().await?;
    if first.tag == "body" {
        // The browser's first window may not hold the keyboard yet when the
        // very first key arrives (seen once in CI): load the page again and
        // press Tab once more. The skip link must still be the first stop.
        b.goto("/").await?;
        b.key(Key::Tab).await?;
        first = b.focused().await?;
    }
    ensure!(
        first.tag == "a" && first.class.contains("skip-link") && first.name == "Skip to content",
        "the first Tab should reach the skip link, it reached {first}"
    );
    ensure!(
        first.on_screen,
        "the focused skip link should be visible on screen"
    );
    ensure!(first.ring, "the focused skip link should show a focus ring");
    b.key(Key::Enter).await?;
    let main = b.focused().await?;
    ensure!(
        main.tag == "main" && main.id == "cafe-main",
        "Enter on the skip link should move the focus to <main>, it is on {main}"
    );
    Ok(())
}

/// Tab from the top of a page through the skip link into the content.
async fn skip_to_content(b: &Browser) -> Result<()> {
    b.key(Key::Tab).await?;
    let focus = b.focused().await?;
    ensure!(
        focus.name == "Skip to content",
        "expected the skip link first, got {focus}"
    );
    b.key(Key::Enter).await?;
    Ok(())
}

async fn keyboard_sign_in(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.tab_to("Sign in", 20).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.expect_heading("Sign in").await?;
    skip_to_content(b).await?;
    b.tab_to("Username", 5).await?;
    b.type_text("dora").await?;
    b.tab_to("Password", 2).await?;
    b.type_text(PASSWORD).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.link("dora")
        .await
        .context("signed in with the keyboard, the header shows the name")?;
    Ok(())
}

async fn keyboard_edit(b: &Browser) -> Result<()> {
    b.tab_to("Methods", 20).await?;
    b.key_to_navigate(Key::Enter).await?;
    skip_to_content(b).await?;
    b.tab_to("Peer Assist", 30).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.expect_heading("Peer Assist").await?;
    skip_to_content(b).await?;
    b.tab_to("Edit", 5).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.expect_heading("Editing Peer Assist").await?;
    skip_to_content(b).await?;
    // Past the Markdown toolbar (six buttons) to the text.
    b.tab_to("Text (Markdown", 12).await?;
    b.chord(&[Key::Control], Key::End).await?;
    b.type_text("\n\nKeyboard note: ask the visiting team for one question each.\n")
        .await?;
    b.tab_to("Summary of your change", 5).await?;
    b.type_text("A note typed with the keyboard").await?;
    b.tab_to("Save", 3).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.expect_heading("Peer Assist").await?;
    b.expect_text("Keyboard note: ask the visiting team for one question each.")
        .await?;
    b.expect_text("Revision 2").await?;
    Ok(())
}

async fn keyboard_story(b: &Browser) -> Result<()> {
    skip_to_content(b).await?;
    b.tab_to("Tell your story of this method", 60).await?;
    b.key(Key::Enter).await?; // opens the <details>
    b.tab_to("Title", 2).await?;
    b.type_text("Peer assist before the flood response").await?;
    b.key(Key::Tab).await?;
    let radio = b.focused().await?;
    ensure!(
        radio.name == "Success",
        "Tab from the title should reach the first outcome, it reached {radio}"
    );
    b.key(Key::Space).await?;
    b.tab_to("Where (country office", 2).await?;
    b.type_text("Mozambique").await?;
    b.tab_to("Your story", 2).await?;
    b.type_text("A team from the next province visited for a day.")
        .await?;
    b.tab_to("Tell the story", 2).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.expect_heading("Peer assist before the flood response")
        .await?;
    b.expect_text("Success").await?;
    Ok(())
}

async fn keyboard_search(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.tab_to("Search methods and stories", 20).await?;
    b.type_text("visiting team").await?;
    b.key_to_navigate(Key::Enter).await?;
    let path = b.path().await?;
    ensure!(
        path.starts_with("/search?"),
        "Enter in the search box should search, not lead to {path}"
    );
    skip_to_content(b).await?;
    b.tab_to("Peer Assist", 10).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.expect_heading("Peer Assist").await?;
    Ok(())
}

async fn keyboard_tags(b: &Browser) -> Result<()> {
    b.tab_to("Cafe Tags", 20).await?;
    b.key_to_navigate(Key::Enter).await?;
    skip_to_content(b).await?;
    b.tab_to("facilitation", 60).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.expect_heading("Tag: facilitation").await?;
    skip_to_content(b).await?;
    b.tab_to("Narrow these down by more tags", 10).await?;
    b.key_to_navigate(Key::Enter).await?;
    skip_to_content(b).await?;
    b.tab_to_within("aside", "meetings", 40).await?;
    b.key_to_navigate(Key::Enter).await?;
    let path = b.path().await?;
    ensure!(
        path.contains("tag=facilitation") && path.contains("tag=meetings"),
        "the facet should add a second tag: {path}"
    );
    ensure!(
        listed_methods(b).await? == vec!["Peer Assist".to_owned()],
        "only Peer Assist has both tags"
    );
    Ok(())
}

async fn keyboard_roster(b: &Browser) -> Result<()> {
    skip_to_content(b).await?;
    b.tab_to("Peer Assist", 5).await?; // the breadcrumb back to the page
    // The breadcrumb leads to /methods/peer-assist#stories: the next Tab
    // starts from the stories section.
    b.key_to_navigate(Key::Enter).await?;
    b.tab_to("Your tip for others", 80).await?;
    b.type_text("Send the questions a week ahead").await?;
    b.key_to_navigate(Key::Enter).await?; // Enter in a text field submits its form
    let roster = b
        .js("return document.querySelector('.roster').innerText")
        .await?;
    ensure!(
        roster
            .as_str()
            .unwrap_or_default()
            .contains("Send the questions a week ahead"),
        "the roster should show the tip: {roster}"
    );
    Ok(())
}

async fn keyboard_sign_out(b: &Browser) -> Result<()> {
    b.tab_to("Sign out", 40).await?;
    b.key_to_navigate(Key::Enter).await?;
    b.link("Sign in").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    harness.app.member("dora").await;
    let b = &harness.browser;
    let mut steps = Steps::new("keyboard_only");
    step!(
        steps,
        "the skip link is the first stop and moves focus to main",
        skip_link_comes_first(b)
    );
    step!(steps, "sign in with the keyboard", keyboard_sign_in(b));
    step!(
        steps,
        "edit a page and save with the keyboard",
        keyboard_edit(b)
    );
    step!(steps, "tell a story with the keyboard", keyboard_story(b));
    step!(
        steps,
        "join the roster with the keyboard",
        keyboard_roster(b)
    );
    step!(
        steps,
        "search and open a result with the keyboard",
        keyboard_search(b)
    );
    step!(
        steps,
        "narrow methods by two tags with the keyboard",
        keyboard_tags(b)
    );
    step!(steps, "sign out with the keyboard", keyboard_sign_out(b));
    harness.finish().await;
    steps.finish();
}

// ---------------------------------------------------------------------------
// Accessibility (axe-core) and screenshots

const FAIR_PATH: &str = "/methods/knowledge-fair";

/// A page with every kind of content, two revisions, stories with replies
/// and a roster, made through the app's own forms.
async fn seed_rich_page(app: &TestApp) -> Result<i64> {
    let mut erin = app.member("erin").await;
    let mut frank = app.member("frank").await;
    let body = "## Brief Description\n\nA market of stalls where teams show what they learned.\n\n\
## Example Applications\n\n| Office | Stalls |\n|---|---|\n| Nairobi | 12 |\n| Lima | 8 |\n\n\
## Full Description\n\n- [x] Book the hall\n- [ ] Invite partners[^1]\n\n> Keep each stall to one lesson.\n\n\
## Related Methods/Tools/Practices\n\n- [[Peer Assist]]\n- [[Not written yet]]\n\n\
## More Information/References/Related Resources\n\n- `fair-checklist.md`\n\n[^1]: Partners bring their own stalls.\n";
    let path = erin
        .create_page("Knowledge Fair", body, "learning, lkm-1, pc-2, fairs")
        .await;
    ensure!(path == FAIR_PATH, "unexpected path {path}");
    let base = erin.base_revision(&path).await;
    let edited = body.replace("A market of stalls", "A lively market of stalls");
    erin.edit_page(
        &path,
        &base,
        &edited,
        "learning, lkm-1, pc-2, fairs, events",
        "livelier",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let story = erin
        .post(
            &format!("{path}/stories"),
            &[
                ("title", "Our first fair"),
                ("body", "It **worked**."),
                ("outcome", "success"),
                ("location", "Nairobi"),
            ],
        )
        .await;
    story.assert_status(StatusCode::SEE_OTHER);
    let story_path = story.location().context("story redirect")?.to_owned();
    let id: i64 = story_path.rsplit('/').next().context("story id")?.parse()?;
    frank
        .post(
            &format!("{path}/stories"),
            &[
                ("title", "Too many stalls"),
                ("body", "Nobody could see them all."),
                ("outcome", "failure"),
                ("location", ""),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    frank
        .post(
            &format!("{story_path}/replies"),
            &[("body", "Congratulations!")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    erin.post(
        &format!("{path}/roster"),
        &[("tip", "Give every stall a timer"), ("location", "Nairobi")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    frank
        .post(&format!("{path}/roster"), &[("tip", ""), ("location", "")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    app.admin("gina").await;
    Ok(id)
}

/// Opens `path`, checks it is the page meant (its heading or title shows
/// `expected`, see `Browser::expect_page`), then runs axe on it.
async fn axe_at(b: &Browser, what: &str, path: &str, expected: &str) -> Result<()> {
    b.goto(path).await?;
    b.expect_page(expected)
        .await
        .with_context(|| format!("{what} ({path})"))?;
    b.axe(what).await
}

/// Two people edit the same line from the same revision: the second save
/// is a 409 conflict page.
async fn produce_conflict(harness: &Harness) -> Result<()> {
    let b = &harness.browser;
    b.goto(&format!("{FAIR_PATH}/edit")).await?;
    let mine = b
        .value("Text (Markdown")
        .await?
        .replace("A lively market of stalls", "A quiet market of stalls");
    // Meanwhile, frank saves a change to the same line.
    let mut frank = harness.app.client();
    frank.signin("frank", PASSWORD).await;
    let base = frank.base_revision(FAIR_PATH).await;
    let theirs = mine.replace("A quiet market of stalls", "A noisy market of stalls");
    frank
        .edit_page(
            FAIR_PATH,
            &base,
            &theirs,
            "learning, lkm-1, pc-2, fairs, events",
            "noisier",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    b.fill("Text (Markdown", &mine).await?;
    b.fill("Summary of your change", "quieter").await?;
    b.press("Save").await?;
    b.expect_heading("Edit conflict").await?;
    let kept = b.value("Your text").await?;
    ensure!(
        kept.contains("A quiet market of stalls"),
        "the conflict page should keep my text: {kept}"
    );
    b.axe("the 409 edit conflict page").await
}

async fn anonymous_pages(b: &Browser) -> Result<()> {
    b.forget_cookies().await?;
    axe_at(b, "home, signed out", "/", "Home").await?;
    axe_at(b, "a method page, signed out", FAIR_PATH, "Knowledge Fair").await?;
    axe_at(b, "join", "/join", "Join").await?;
    // The join form re-shown with messages (422).
    b.fill("Username", "no spaces allowed").await?;
    b.fill("Display name", "X").await?;
    b.fill("Password", "short enough not").await?;
    b.fill("Password again", "something else entirely").await?;
    b.press("Join").await?;
    b.axe("join with form errors").await?;
    axe_at(b, "sign in", "/signin", "Sign in").await?;
    b.fill("Username", "erin").await?;
    b.fill("Password", "wrong wrong wrong").await?;
    b.press("Sign in").await?;
    b.expect_heading("Sign in").await?;
    b.axe("sign in after a wrong password (401)").await
}

/// Phone and desktop screenshots of a method page, the edit form and Cafe
/// Tags; at phone width the page must not scroll sideways and axe must
/// find nothing either.
async fn screenshots(b: &Browser) -> Result<()> {
    let mut problems = Vec::new();
    for (name, path, expected) in [
        ("method-page", FAIR_PATH.to_owned(), "Knowledge Fair"),
        (
            "edit-form",
            format!("{FAIR_PATH}/edit"),
            "Editing Knowledge Fair",
        ),
        ("cafe-tags", "/tags".to_owned(), "Cafe Tags"),
    ] {
        b.goto(&path).await?;
        b.expect_page(expected).await?;
        for width in [360, 1280] {
            let (file, scrolls) = b.screenshot(name, width).await?;
            eprintln!("[axe_on_every_kind_of_page] screenshot {}", file.display());
            if scrolls {
                problems.push(format!("{path} scrolls sideways at {width} px"));
            }
        }
        b.resize_viewport(360, 740).await?;
        if let Err(error) = b.axe(&format!("{path} at phone width")).await {
            problems.push(format!("{error:#}"));
        }
        b.resize_viewport(support::browser::DESKTOP.0, support::browser::DESKTOP.1)
            .await?;
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// The same checks (contrast above all) with the dark colour scheme.
async fn dark_scheme(harness: &Harness) -> Result<()> {
    let dark = harness.dark_browser().await?;
    let dark_mode = dark
        .js("return matchMedia('(prefers-color-scheme: dark)').matches")
        .await?;
    ensure!(
        dark_mode == serde_json::json!(true),
        "the dark browser should prefer a dark scheme"
    );
    dark.sign_in("erin").await?;
    let mut problems = Vec::new();
    for (path, expected) in [
        ("/".to_owned(), "Home"),
        ("/methods?tag=learning&tag=lkm-1".to_owned(), "Methods"),
        (FAIR_PATH.to_owned(), "Knowledge Fair"),
        (format!("{FAIR_PATH}/edit"), "Editing Knowledge Fair"),
        (format!("{FAIR_PATH}/history"), "History of Knowledge Fair"),
        (
            format!("{FAIR_PATH}/diff?from=1&to=2"),
            "Changes to Knowledge Fair",
        ),
        (
            format!("{FAIR_PATH}/revisions/1"),
            "Knowledge Fair, revision 1",
        ),
        (format!("{FAIR_PATH}/stories/1"), "Our first fair"),
        ("/tags".to_owned(), "Cafe Tags"),
        ("/indicators".to_owned(), "CCASS indicators"),
        ("/search?q=fair".to_owned(), "Search: fair"),
        ("/recent".to_owned(), "Recent changes"),
        ("/users/erin".to_owned(), "erin"),
        ("/methods/no-such-method".to_owned(), "Not found"),
    ] {
        if let Err(error) = axe_at(&dark, "the dark scheme", &path, expected).await {
            problems.push(format!("{error:#}"));
        }
    }
    dark.goto(FAIR_PATH).await?;
    let (file, _) = dark.screenshot("method-page-dark", 1280).await?;
    eprintln!("[axe_on_every_kind_of_page] screenshot {}", file.display());
    dark.goto("/signin").await?;
    if let Err(error) = dark.axe("sign in, signed out, dark").await {
        problems.push(format!("{error:#}"));
    }
    let _ = dark.client.clone().close().await;
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// axe must catch a fault planted in a page, or a clean run means nothing.
async fn axe_catches_a_planted_fault(b: &Browser) -> Result<()> {
    b.goto("/").await?;
    b.js("const i = document.createElement('input'); i.id = 'planted-unlabelled'; document.querySelector('main').append(i); return null")
        .await?;
    match b.axe("home with a planted unlabelled input").await {
        Ok(()) => bail!("axe reported nothing for an unlabelled input"),
        Err(error) => {
            let report = format!("{error:#}");
            ensure!(
                report.contains("label") && report.contains("#planted-unlabelled"),
                "axe should name the rule and the element: {report}"
            );
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_on_every_kind_of_page() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    let story_id = seed_rich_page(&harness.app)
        .await
        .expect("seeding the rich page");
    let story = format!("{FAIR_PATH}/stories/{story_id}");
    let b = &harness.browser;
    let mut steps = Steps::new("axe_on_every_kind_of_page");
    step!(
        steps,
        "axe catches a planted fault",
        axe_catches_a_planted_fault(b)
    );
    step!(steps, "sign in as a member", b.sign_in("erin"));
    // Each page with what its heading or title must show: the sweep checks
    // the page it names, not an error page in its place.
    let member_pages: Vec<(&str, String, &str)> = vec![
        ("home", "/".into(), "Home"),
        (
            "the method list filtered by two tags",
            "/methods?tag=learning&tag=lkm-1".into(),
            "Methods",
        ),
        ("the method list", "/methods".into(), "Methods"),
        (
            "a method page with stories and a roster",
            FAIR_PATH.into(),
            "Knowledge Fair",
        ),
        (
            "a method page filtered by outcome",
            format!("{FAIR_PATH}?outcome=failure"),
            "Knowledge Fair",
        ),
        (
            "the edit form",
            format!("{FAIR_PATH}/edit"),
            "Editing Knowledge Fair",
        ),
        (
            "the new page form",
            "/methods/new".into(),
            "New method page",
        ),
        (
            "history",
            format!("{FAIR_PATH}/history"),
            "History of Knowledge Fair",
        ),
        (
            "a diff",
            format!("{FAIR_PATH}/diff?from=1&to=2"),
            "Changes to Knowledge Fair",
        ),
        (
            "an old revision",
            format!("{FAIR_PATH}/revisions/1"),
            "Knowledge Fair, revision 1",
        ),
        ("a story thread", story.clone(), "Our first fair"),
        (
            "the story edit form",
            format!("{story}/edit"),
            "Editing Our first fair",
        ),
        (
            "a story's history",
            format!("{story}/history"),
            "History of Our first fair",
        ),
        ("Cafe Tags", "/tags".into(), "Cafe Tags"),
        ("a tag page", "/tags/lkm-1".into(), "lkm-1"),
        ("the indicators", "/indicators".into(), "CCASS indicators"),
        ("a profile", "/users/erin".into(), "erin"),
        ("a 404 page", "/methods/no-such-method".into(), "Not found"),
        (
            "a 404 for an unknown path",
            "/no/such/thing".into(),
            "Not found",
        ),
    ];
    for (what, path, expected) in &member_pages {
        step!(
            steps,
            &format!("axe: {what} ({path})"),
            axe_at(b, what, path, expected)
        );
    }
    for (what, path, expected) in [
        ("search results", "/search?q=fair", "Search: fair"),
        (
            "search without results",
            "/search?q=zzzzqqq",
            "Search: zzzzqqq",
        ),
        ("the search page", "/search", "Search"),
        ("recent changes", "/recent", "Recent changes"),
        (
            "recent changes: stories",
            "/recent?kind=story",
            "Recent changes",
        ),
    ] {
        step!(
            steps,
            &format!("axe: {what} ({path})"),
            axe_at(b, what, path, expected)
        );
    }
    step!(
        steps,
        "screenshots at 360 and 1280 px, axe at 360 px",
        screenshots(b)
    );
    step!(
        steps,
        "axe: a 409 edit conflict",
        produce_conflict(&harness)
    );
    step!(
        steps,
        "axe in the dark colour scheme",
        dark_scheme(&harness)
    );
    step!(steps, "sign in as an administrator", b.sign_in("gina"));
    for (what, path, expected) in [
        (
            "the indicators as an administrator",
            "/indicators",
            "CCASS indicators",
        ),
        ("the new indicator form", "/indicators/new", "New indicator"),
        (
            "a method page as an administrator",
            FAIR_PATH,
            "Knowledge Fair",
        ),
        ("a profile as an administrator", "/users/frank", "frank"),
    ] {
        step!(
            steps,
            &format!("axe: {what}"),
            axe_at(b, what, path, expected)
        );
    }
    step!(
        steps,
        "axe: pages for visitors who are signed out",
        anonymous_pages(b)
    );
    harness.finish().await;
    steps.finish();
}
