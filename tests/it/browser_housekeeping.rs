//! Page housekeeping in a real browser (issue 15): the duplicate-title
//! offer, a rename followed by its old address and an old wiki link, and
//! delete → 410 → undelete; with JavaScript and without; axe-core on the
//! rename form and the deleted page at 1280 and 360 px, light and dark;
//! screenshots under target/screenshots/.

use anyhow::{Context, Result, bail, ensure};

use crate::support::TestApp;
use crate::support::browser::{Browser, DESKTOP, Harness};

/// Axe on the page shown, at desktop and phone width, and neither width
/// scrolls sideways.
async fn axe_both_widths(b: &Browser, what: &str) -> Result<()> {
    let mut problems = Vec::new();
    for (width, height) in [DESKTOP, (360, 740)] {
        b.resize_viewport(width, height).await?;
        if let Err(error) = b.axe(&format!("{what} at {width} px")).await {
            problems.push(format!("{error:#}"));
        }
        let sideways = b
            .js("return document.documentElement.scrollWidth > window.innerWidth")
            .await?;
        if sideways == serde_json::json!(true) {
            problems.push(format!("{what} scrolls sideways at {width} px"));
        }
    }
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

async fn shots(b: &Browser, name: &str) -> Result<()> {
    for width in [360, 1280] {
        let (file, sideways) = b.screenshot(name, width).await?;
        eprintln!("[browser_housekeeping] screenshot {}", file.display());
        ensure!(!sideways, "{name} scrolls sideways at {width} px");
    }
    Ok(())
}

/// A new page titled like a seeded one is offered the existing page; the
/// author opens the offer's edit link, comes back and confirms a new page.
async fn duplicate_offer(
    b: &Browser,
    title: &str,
    expected_slug: &str,
    javascript: bool,
) -> Result<()> {
    b.goto("/methods/new").await?;
    // cafe.js shows the live preview: proof of whether scripts run.
    let preview_hidden = b
        .js("return document.getElementById('page-preview-section').hidden")
        .await?;
    ensure!(
        preview_hidden == serde_json::json!(!javascript),
        "JavaScript should be {} here (preview hidden: {preview_hidden})",
        if javascript { "on" } else { "off" }
    );
    b.fill("Title", title).await?;
    b.press("Save").await?;
    b.expect_text("A method page with this title already exists")
        .await?;
    b.link("edit “Peer Assist”").await?;
    b.link("Peer Assist").await?;
    if javascript {
        b.axe("the duplicate-title offer").await?;
        shots(b, "duplicate-title-offer").await?;
    }
    ensure!(
        b.value("Title").await? == title,
        "the offer keeps the title typed"
    );
    b.choose("Create a new page with this title anyway").await?;
    b.press("Save").await?;
    b.expect_path(expected_slug).await?;
    b.expect_heading(title).await
}

/// Rename through the form, then the old address and a wiki link written
/// with the old title lead to the renamed page.
async fn rename_then_old_address_and_link(
    b: &Browser,
    old: &str,
    new_title: &str,
    new_path: &str,
    linker: &str,
    check_axe: bool,
) -> Result<()> {
    b.goto(old).await?;
    b.follow("Rename").await?;
    b.expect_page("Rename").await?;
    if check_axe {
        axe_both_widths(b, "the rename form").await?;
        shots(b, "rename-form").await?;
    }
    b.fill("New title", new_title).await?;
    b.fill("Summary of your change", "a clearer name").await?;
    b.press("Rename").await?;
    b.expect_path(new_path).await?;
    b.expect_heading(new_title).await?;
    b.goto(old).await?;
    b.expect_path(new_path)
        .await
        .context("the old address should answer 301 to the new one")?;
    b.goto(linker).await?;
    let old_title = old.trim_start_matches("/methods/");
    let link = b
        .js(&format!(
            "const a = document.querySelector('.prose a[href=\"/methods/{old_title}\"]'); \
             return a ? a.className : null"
        ))
        .await?;
    ensure!(
        link.as_str().is_some_and(|c| !c.contains("missing")),
        "the wiki link written with the old title should be a real link, found {link}"
    );
    let link = b
        .client
        .find(fantoccini::Locator::Css(&format!(
            ".prose a[href=\"/methods/{old_title}\"]"
        )))
        .await?;
    b.click_and_wait(&link).await?;
    b.expect_path(new_path).await?;
    b.expect_heading(new_title).await
}

/// An admin deletes the page: 410 with who and when and a restore button,
/// which brings it back.
async fn delete_then_restore(
    admin: &Browser,
    member: Option<&Browser>,
    path: &str,
    title: &str,
    check: bool,
) -> Result<()> {
    admin.goto(path).await?;
    admin
        .click_text("summary", "Delete or merge this page")
        .await?;
    admin.press("Delete this page").await?;
    admin.expect_heading("Deleted").await?;
    admin.expect_text("was deleted by root").await?;
    admin.expect_text("Deleted on").await?;
    if check {
        axe_both_widths(admin, "the deleted page (admin)").await?;
        shots(admin, "deleted-page-admin").await?;
    }
    if let Some(member) = member {
        member.goto(path).await?;
        member.expect_heading("Deleted").await?;
        member.expect_no_text("Restore").await?;
        if check {
            axe_both_widths(member, "the deleted page (member)").await?;
        }
        member.goto("/methods").await?;
        member.expect_no_text(title).await?;
    }
    admin.press(&format!("Restore “{title}”")).await?;
    admin.expect_path(path).await?;
    admin.expect_heading(title).await?;
    admin.goto("/methods").await?;
    admin.expect_text(title).await
}

/// Runs each step, collecting failures.
struct Steps(Vec<String>);

impl Steps {
    fn record(&mut self, name: &str, result: Result<()>) {
        match result {
            Ok(()) => eprintln!("[browser_housekeeping] ok     {name}"),
            Err(error) => {
                eprintln!("[browser_housekeeping] FAILED {name}");
                self.0.push(format!("{name}:\n  {error:#}"));
            }
        }
    }
}

async fn seed(app: &TestApp) {
    let mut alice = app.member("alice").await;
    for (title, body) in [
        ("Fishbowl", "Chairs in a circle.\n"),
        ("Linker", "See [[Fishbowl]] and [[World Cafe]].\n"),
        ("World Cafe", "Tables.\n"),
        ("Open Space", "Marketplace.\n"),
    ] {
        alice.create_page(title, body, "").await;
    }
    app.admin("root").await;
}

#[tokio::test]
async fn housekeeping_in_the_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    seed(&harness.app).await;
    let b = &harness.browser;
    let mut steps = Steps(Vec::new());
    steps.record("sign in as a member", b.sign_in("alice").await);
    steps.record(
        "duplicate-title offer (JavaScript on)",
        duplicate_offer(b, "peer assist", "/methods/peer-assist-2", true).await,
    );
    steps.record(
        "rename, old address 301, old wiki link (JavaScript on)",
        rename_then_old_address_and_link(
            b,
            "/methods/fishbowl",
            "Fishbowl Conversation",
            "/methods/fishbowl-conversation",
            "/methods/linker",
            true,
        )
        .await,
    );
    match harness.dark_browser().await {
        Ok(dark) => {
            steps.record("sign in as an admin (dark)", dark.sign_in("root").await);
            steps.record(
                "delete → 410 → undelete (JavaScript on, dark, axe)",
                delete_then_restore(
                    &dark,
                    Some(b),
                    "/methods/fishbowl-conversation",
                    "Fishbowl Conversation",
                    true,
                )
                .await,
            );
            let rename_dark = async {
                dark.goto("/methods/open-space/rename").await?;
                dark.expect_page("Rename").await?;
                axe_both_widths(&dark, "the rename form (dark)").await?;
                dark.screenshot("rename-form-dark", 1280).await?;
                dark.goto("/methods/open-space").await?;
                dark.click_text("summary", "Delete or merge this page")
                    .await?;
                dark.press("Delete this page").await?;
                dark.expect_heading("Deleted").await?;
                axe_both_widths(&dark, "the deleted page (dark)").await?;
                dark.screenshot("deleted-page-dark", 1280).await?;
                dark.press("Restore “Open Space”").await?;
                dark.expect_heading("Open Space").await
            };
            let tools = async {
                dark.goto("/methods/world-cafe").await?;
                dark.click_text("summary", "Delete or merge this page")
                    .await?;
                dark.button("Merge").await?;
                axe_both_widths(
                    &dark,
                    "a method page with the housekeeping tools open (dark)",
                )
                .await?;
                dark.screenshot("method-page-housekeeping-tools-dark", 1280)
                    .await?;
                Ok::<(), anyhow::Error>(())
            };
            steps.record("the admin's housekeeping tools (dark)", tools.await);
            steps.record(
                "rename form and deleted page in the dark scheme",
                rename_dark.await,
            );
        }
        Err(error) => steps.record("open the dark browser", Err(error)),
    }
    match harness.browser_without_script().await {
        Ok(plain) => {
            steps.record(
                "sign in as an admin (no JavaScript)",
                plain.sign_in("root").await,
            );
            steps.record(
                "duplicate-title offer (no JavaScript)",
                duplicate_offer(&plain, "Peer Assist", "/methods/peer-assist-3", false).await,
            );
            steps.record(
                "rename, old address 301, old wiki link (no JavaScript)",
                rename_then_old_address_and_link(
                    &plain,
                    "/methods/world-cafe",
                    "World Cafe Conversation",
                    "/methods/world-cafe-conversation",
                    "/methods/linker",
                    false,
                )
                .await,
            );
            steps.record(
                "delete → 410 → undelete (no JavaScript)",
                delete_then_restore(&plain, None, "/methods/linker", "Linker", false).await,
            );
        }
        Err(error) => steps.record("open the browser without JavaScript", Err(error)),
    }
    let tools = async {
        b.press("Sign out").await?;
        b.sign_in("root").await?;
        b.goto("/methods/open-space").await?;
        b.click_text("summary", "Delete or merge this page").await?;
        axe_both_widths(b, "a method page with the housekeeping tools open").await?;
        shots(b, "method-page-housekeeping-tools").await
    };
    steps.record("the admin's housekeeping tools (light)", tools.await);
    harness.finish().await;
    if !steps.0.is_empty() {
        panic!(
            "{} step(s) failed:\n\n{}",
            steps.0.len(),
            steps.0.join("\n\n")
        );
    }
}
