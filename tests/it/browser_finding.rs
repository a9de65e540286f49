//! Finding your way (issue 15) in a real browser: the tag box suggests every
//! tag of the comma-separated field with the indicator's name and group, by
//! keyboard; tags that look like slips are questioned, with and without
//! JavaScript, on a form axe-core finds no fault with (1280 and 360 px, light
//! and dark); a tag chip in a filtered list narrows the filter.
//! Screenshots go to target/screenshots/finding-*.png.

use anyhow::{Context, Result, bail, ensure};
use fantoccini::key::Key;

use crate::support::browser::{Browser, DESKTOP, Harness};

/// The texts of the suggestions shown under the tag box.
async fn suggestions(b: &Browser) -> Result<Vec<String>> {
    let shown = b
        .js("const l = document.querySelector('[role=listbox]'); \
             return l && !l.hidden ? Array.from(l.querySelectorAll('[role=option]')).map(o => o.innerText.replace(/\\s+/g, ' ').trim()) : []")
        .await?;
    Ok(serde_json::from_value(shown)?)
}

/// Sizes the viewport, once more after a pause if the window was still
/// settling from the previous size (chromedriver then reports odd sizes).
async fn resize(b: &Browser, width: u32, height: u32) -> Result<()> {
    if b.resize_viewport(width, height).await.is_ok() {
        return Ok(());
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    b.resize_viewport(width, height).await
}

/// Axe at phone and desktop width, and a screenshot of each, named `name`.
async fn check_page(b: &Browser, name: &str, what: &str) -> Result<()> {
    let mut problems = Vec::new();
    for width in [360, 1280] {
        let (file, sideways) = b.screenshot(name, width).await?;
        eprintln!("[browser_finding] screenshot {}", file.display());
        if sideways {
            problems.push(format!("{what} scrolls sideways at {width} px"));
        }
        resize(b, width, 800).await?;
        if let Err(error) = b.axe(&format!("{what} at {width} px")).await {
            problems.push(format!("{error:#}"));
        }
    }
    resize(b, DESKTOP.0, DESKTOP.1).await?;
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// With JavaScript: the second tag of the field gets suggestions with the
/// indicator's name and group; the arrow keys and Enter pick one, which
/// replaces just that tag.
async fn suggestions_for_the_second_tag(b: &Browser) -> Result<()> {
    b.goto("/methods/peer-assist/edit").await?;
    b.fill("Tags", "learning, lkm").await?;
    let shown = suggestions(b).await?;
    ensure!(
        shown.first().map(String::as_str)
            == Some("lkm-1 Learning agenda in place · Learning & Knowledge Management"),
        "the suggestions for “lkm” are {shown:?}"
    );
    b.key(Key::Down).await?;
    b.key(Key::Down).await?;
    let (file, _) = b.screenshot("finding-tag-suggestions", 360).await?;
    eprintln!("[browser_finding] screenshot {}", file.display());
    resize(b, DESKTOP.0, DESKTOP.1).await?;
    let active = b
        .js("const i = document.activeElement; const a = document.getElementById(i.getAttribute('aria-activedescendant')); return a ? a.innerText : ''")
        .await?;
    ensure!(
        active.as_str().is_some_and(|a| a.starts_with("lkm-2")),
        "the second suggestion is active: {active}"
    );
    b.key(Key::Enter).await?;
    ensure!(
        b.path().await? == "/methods/peer-assist/edit",
        "Enter on a suggestion must not submit the form"
    );
    let value = b.value("Tags").await?;
    ensure!(value == "learning, lkm-2, ", "after picking: {value:?}");
    ensure!(
        suggestions(b).await?.is_empty(),
        "the list closes after a pick"
    );
    b.type_text("me").await?;
    let shown = suggestions(b).await?;
    ensure!(
        shown.iter().any(|s| s.starts_with("me-1 ")),
        "a third tag gets suggestions too: {shown:?}"
    );
    b.key(Key::Escape).await?;
    ensure!(suggestions(b).await?.is_empty(), "Escape closes the list");
    Ok(())
}

/// An unknown indicator-like code is questioned on the re-shown form, and
/// confirming saves it.
async fn unknown_indicator_is_questioned(b: &Browser, screenshots: bool) -> Result<()> {
    b.goto("/methods/peer-assist/edit").await?;
    b.fill("Tags", "learning, lkm-9").await?;
    b.key(Key::Escape).await?;
    b.press("Save").await?;
    b.expect_text("lkm-9 is not a CCASS indicator — did you mean")
        .await?;
    b.expect_text("Learning agenda in place").await?;
    ensure!(
        b.value("Tags").await? == "learning, lkm-9",
        "the tags are kept as typed"
    );
    if screenshots {
        check_page(b, "finding-tag-warning", "the edit form with a tag warning").await?;
    }
    b.choose("Save these tags as typed").await?;
    b.press("Save").await?;
    b.expect_path("/methods/peer-assist").await?;
    b.expect_text("lkm-9").await?;
    Ok(())
}

/// Without JavaScript the tag box is a plain field with its datalist, and
/// the warning works the same.
async fn without_javascript(harness: &Harness) -> Result<()> {
    let b = harness.browser_without_script().await?;
    b.sign_in("finder").await?;
    b.goto("/methods/new").await?;
    let plain = b
        .js("const i = document.querySelector('input[name=tags]'); return [i.getAttribute('list'), i.getAttribute('role')]")
        .await?;
    ensure!(
        plain == serde_json::json!(["tag-vocabulary", null]),
        "without JavaScript the tag box stays a plain field: {plain}"
    );
    a_tag_chip_adds_to_the_filter(&b, false)
        .await
        .context("the tag chip without JavaScript")?;
    b.goto("/methods/new").await?;
    b.fill("Title", "Learning Walk").await?;
    b.fill("Tags", "LKM1, learning").await?;
    b.press("Save").await?;
    b.expect_text("lkm1 is not a CCASS indicator — did you mean lkm-1 (Learning agenda in place)?")
        .await?;
    b.choose("Save these tags as typed").await?;
    b.press("Save").await?;
    b.expect_path("/methods/learning-walk").await?;
    Ok(())
}

/// The re-shown form with a warning in the dark scheme: axe at both widths.
async fn dark_warning(harness: &Harness) -> Result<()> {
    let dark = harness.dark_browser().await?;
    dark.sign_in("finder").await?;
    dark.goto("/methods/new").await?;
    dark.fill("Title", "Dark Walk").await?;
    dark.fill("Tags", "learnings").await?;
    dark.key(Key::Escape).await?;
    dark.press("Save").await?;
    dark.expect_text("learnings is a new tag, close to the existing tag")
        .await?;
    check_page(&dark, "finding-tag-warning-dark", "the tag warning, dark").await
}

/// In a list filtered by one tag, a method's tag chip narrows the filter
/// to both tags (a plain link: the same with or without JavaScript).
async fn a_tag_chip_adds_to_the_filter(b: &Browser, with_axe: bool) -> Result<()> {
    b.goto("/methods?tag=learning").await?;
    b.expect_text("methods have all of these tags:").await?;
    let chip = b
        .client
        .find(fantoccini::Locator::Css("ul.method-list a.tag.adds"))
        .await
        .context("a chip that adds its tag to the filter")?;
    let added = chip.attr("href").await?.unwrap_or_default();
    ensure!(
        added.starts_with("/methods?tag=learning&tag="),
        "the chip should add to the filter: {added}"
    );
    b.click_and_wait(&chip).await?;
    ensure!(b.path().await? == added, "followed to {}", b.path().await?);
    b.expect_text("has all of these tags:")
        .await
        .or(b.expect_text("have all of these tags:").await)?;
    let chosen = b
        .js("return Array.from(document.querySelectorAll('ul.tags.selected .tag')).length")
        .await?;
    ensure!(chosen == serde_json::json!(2), "two tags chosen: {chosen}");
    let (file, sideways) = b.screenshot("finding-filtered-list", 360).await?;
    eprintln!("[browser_finding] screenshot {}", file.display());
    ensure!(!sideways, "the filtered list scrolls sideways at 360 px");
    b.screenshot("finding-filtered-list", 1280).await?;
    resize(b, DESKTOP.0, DESKTOP.1).await?;
    if with_axe {
        // axe-core waits on timers, which do not run without JavaScript.
        b.axe("a list filtered by two tags").await?;
    }
    Ok(())
}

/// The indicator tables (one per group) and the Cafe Tags lists line their
/// columns up from group to group at desktop width.
async fn indicator_columns_line_up(b: &Browser) -> Result<()> {
    resize(b, DESKTOP.0, DESKTOP.1).await?;
    b.goto("/indicators").await?;
    let lefts = b
        .js("return Array.from(document.querySelectorAll('table.coverage')).map(t => \
             Array.from(t.querySelectorAll('thead th')).map(th => Math.round(th.getBoundingClientRect().left)))")
        .await?;
    let lefts: Vec<Vec<i64>> = serde_json::from_value(lefts)?;
    ensure!(lefts.len() >= 2, "several groups: {lefts:?}");
    ensure!(
        lefts.iter().all(|l| *l == lefts[0]),
        "the columns of /indicators differ between groups: {lefts:?}"
    );
    check_page(b, "finding-indicators", "the indicator tables").await?;
    b.goto("/tags").await?;
    let names = b
        .js("return Array.from(document.querySelectorAll('.tag-group > ul:not(.free-tags) > li strong')).map(s => Math.round(s.getBoundingClientRect().left))")
        .await?;
    let names: Vec<i64> = serde_json::from_value(names)?;
    let columns: std::collections::BTreeSet<i64> = names.iter().copied().collect();
    ensure!(
        names.len() >= 8 && columns.len() <= 2,
        "the indicator names on /tags should start in one column per side: {names:?}"
    );
    check_page(b, "finding-tags", "Cafe Tags").await
}

#[tokio::test]
async fn the_tag_box_in_a_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    harness.app.member("finder").await;
    let b = &harness.browser;
    let mut failures = Vec::new();
    let mut run = |name: &str, result: Result<()>| {
        if let Err(error) = result {
            failures.push(format!("{name}: {error:#}"));
        }
    };
    run("sign in", b.sign_in("finder").await);
    run(
        "suggestions for the second tag",
        suggestions_for_the_second_tag(b).await,
    );
    run(
        "an unknown indicator is questioned",
        unknown_indicator_is_questioned(b, true).await,
    );
    run(
        "a tag chip adds to the filter",
        a_tag_chip_adds_to_the_filter(b, true).await,
    );
    run(
        "indicator columns line up",
        indicator_columns_line_up(b).await,
    );
    run("without JavaScript", without_javascript(&harness).await);
    run("dark scheme", dark_warning(&harness).await);
    harness.finish().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
