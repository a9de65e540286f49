//! Following in a real browser (issue 18): a member watches a method page
//! with its button, another member edits it, the header counts the change,
//! the Following page lists it and marks it seen, and the page's button
//! stops the watch; axe-core on the Following page at 1280 and 360 px.

use anyhow::{Context, Result, ensure};

use crate::support::TestApp;
use crate::support::browser::{Browser, DESKTOP, Harness};

async fn seed(app: &TestApp) -> crate::support::Client {
    let mut alice = app.member("alice").await;
    alice
        .create_page("Knowledge Fair", "Stalls of practice.\n", "")
        .await;
    app.member("bob").await;
    alice
}

/// The header's unseen count, if any.
async fn header_count(b: &Browser) -> Result<Option<String>> {
    let count = b
        .js("const n = document.querySelector('.following .badge'); \
             return n ? n.firstChild.textContent.trim() : null")
        .await?;
    Ok(count.as_str().map(str::to_owned))
}

async fn journey(b: &Browser, app: &TestApp, alice: &mut crate::support::Client) -> Result<()> {
    b.sign_in("bob").await?;
    b.goto("/methods/knowledge-fair").await?;
    b.press("Watch this page").await?;
    b.expect_flash("You are watching “Knowledge Fair”").await?;
    b.button("Stop watching this page")
        .await
        .context("the button now stops the watch")?;
    ensure!(header_count(b).await?.is_none(), "nothing is new yet");

    let base = alice.base_revision("/methods/knowledge-fair").await;
    let saved = alice
        .edit_page(
            "/methods/knowledge-fair",
            &base,
            "Stalls of practice, with posters.\n",
            "",
            "posters",
        )
        .await;
    ensure!(
        saved.status.is_redirection(),
        "alice's edit: {}",
        saved.status
    );
    let _ = app;

    b.goto("/recent").await?;
    ensure!(
        header_count(b).await?.as_deref() == Some("1"),
        "the header counts alice's edit: {:?}",
        header_count(b).await?
    );
    b.goto("/following").await?;
    b.expect_heading("Following").await?;
    b.expect_text("1 new change.").await?;
    b.expect_text("Knowledge Fair: revision 2").await?;
    for (width, height) in [DESKTOP, (360, 740)] {
        b.resize_viewport(width, height).await?;
        b.axe(&format!("the Following page at {width} px")).await?;
    }
    b.resize_viewport(DESKTOP.0, DESKTOP.1).await?;
    b.press("Mark all as seen").await?;
    b.expect_text("No new changes.").await?;
    ensure!(header_count(b).await?.is_none(), "seen: no count");

    b.goto("/methods/knowledge-fair").await?;
    b.press("Stop watching this page").await?;
    b.button("Watch this page")
        .await
        .context("the button offers the watch again")?;
    Ok(())
}

#[tokio::test]
async fn following_in_the_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    let mut alice = seed(&harness.app).await;
    let result = journey(&harness.browser, &harness.app, &mut alice).await;
    let place = harness.browser.place().await;
    harness.finish().await;
    if let Err(error) = result {
        panic!("{error:#}\n(at {place})");
    }
}
