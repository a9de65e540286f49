//! Issue 18 in a real browser: a member asked "Still using …?" about an old
//! roster entry confirms it on the method page and on the Following page;
//! a member asks a practitioner privately (the mail goes through the outbox
//! to a local SMTP sink with the asker's address as `Reply-To`, the
//! practitioner's address never shown), and asks again after the
//! practitioner turned questions off; a member asks the practitioners in
//! public. axe-core on the method page with the prompt and with the public
//! question open, the Following page with the prompt, the ask page and the
//! mail settings, at 1280 and 360 px.

use anyhow::{Context, Result, bail, ensure};
use axum::http::StatusCode;

use crate::support::browser::{Browser, DESKTOP, Harness};
use crate::support::smtp::SmtpSink;
use crate::support::{Client, PASSWORD, TestApp};

/// A phone's viewport.
const PHONE: (u32, u32) = (360, 740);

/// Runs `sql` with its text parameters on either backend; the rows changed.
async fn exec(app: &TestApp, sql: &str, binds: &[&str]) -> u64 {
    cafe::on_db!(&app.state.pool, |pool| {
        let mut query = sqlx::query(sql);
        for value in binds {
            query = query.bind(*value);
        }
        query.execute(pool).await.map(|done| done.rows_affected())
    })
    .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// A new member `username` called `name`, signed in over HTTP.
async fn member(app: &TestApp, username: &str, name: &str) -> Client {
    let mut client = app.client();
    client
        .post(
            "/join",
            &[
                ("username", username),
                ("display_name", name),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    client
}

async fn join_roster(client: &mut Client, page: &str, tip: &str) {
    client
        .post(&format!("{page}/roster"), &[("tip", tip), ("location", "")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

/// Makes `username`'s entry on `slug`'s roster last confirmed in 2020.
async fn age_entry(app: &TestApp, username: &str, slug: &str) {
    let sql = "UPDATE roster SET confirmed_at = '2020-01-01T00:00:00Z'
               WHERE user_id = (SELECT id FROM users WHERE username = $1)
                 AND page_id = (SELECT id FROM pages WHERE slug = $2)";
    assert_eq!(exec(app, sql, &[username, slug]).await, 1, "aged");
}

/// Gives `username` the confirmed address `email` (daily digest; questions
/// allowed, the column's default).
async fn confirmed_address(app: &TestApp, username: &str, email: &str) {
    let sql = "INSERT INTO mail_settings (user_id, email, verified, delivery)
               SELECT id, $2, TRUE, 'daily' FROM users WHERE username = $1";
    assert_eq!(exec(app, sql, &[username, email]).await, 1, "address");
}

/// axe-core at desktop and phone widths; the page must not scroll sideways
/// on the phone. Leaves the window at the desktop size.
async fn axe_both_widths(b: &Browser, what: &str) -> Result<()> {
    let mut problems = Vec::new();
    for (width, height) in [DESKTOP, PHONE] {
        b.resize_viewport(width, height).await?;
        let sideways = b
            .js("return document.documentElement.scrollWidth > window.innerWidth")
            .await?;
        if sideways.as_bool() == Some(true) {
            problems.push(format!("{what} scrolls sideways at {width} px"));
        }
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

/// The visible text of `username`'s entry in the roster, if listed.
async fn roster_entry(b: &Browser, username: &str) -> Result<Option<(String, bool)>> {
    let found = b
        .js(&format!(
            "const a = document.querySelector('#roster li.roster-entry > a[href=\"/users/{username}\"]'); \
             if (!a) return null; const li = a.closest('li'); \
             return [li.innerText.replace(/\\s+/g, ' ').trim(), li.classList.contains('unconfirmed')]"
        ))
        .await?;
    Ok(found.as_array().map(|pair| {
        (
            pair[0].as_str().unwrap_or_default().to_owned(),
            pair[1].as_bool().unwrap_or(false),
        )
    }))
}

/// The page's HTML as the browser holds it.
async fn html(b: &Browser) -> Result<String> {
    Ok(b.js("return document.documentElement.outerHTML")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Whether the checkbox labelled `label` is ticked.
async fn is_checked(b: &Browser, label: &str) -> Result<bool> {
    Ok(b.field(label).await?.prop("checked").await?.as_deref() == Some("true"))
}

/// Runs a journey on a started harness and fails with where it stopped.
async fn finish(harness: Harness, result: Result<()>) {
    let place = harness.browser.place().await;
    harness.finish().await;
    if let Err(error) = result {
        panic!("{error:#}\n(at {place})");
    }
}

// ---- 1. "Still using …?" ------------------------------------------------

const STANDUP: &str = "/methods/daily-stand-up";
const WALL: &str = "/methods/retrospective-wall";

async fn still_using(b: &Browser) -> Result<()> {
    b.sign_in("alice").await?;

    // Both old entries are listed on the Following page.
    b.goto("/following").await?;
    b.expect_heading("Following").await?;
    b.expect_text("Still using these methods?").await?;
    b.button("Yes, I still use Daily Stand-up").await?;
    b.button("Yes, I still use Retrospective Wall").await?;
    axe_both_widths(b, "the Following page asking “Still using …?”").await?;

    // On the method page: the prompt, and the entry marked as old.
    b.goto(STANDUP).await?;
    b.expect_heading("Daily Stand-up").await?;
    b.expect_text("Still using Daily Stand-up? Your entry has not been confirmed for a while.")
        .await?;
    let (entry, unconfirmed) = roster_entry(b, "alice")
        .await?
        .context("alice is on the roster")?;
    ensure!(
        entry.contains("not confirmed since 2020-01-01") && unconfirmed,
        "alice's entry shows as not confirmed: {entry:?} (unconfirmed class: {unconfirmed})"
    );
    let (bobs, bob_old) = roster_entry(b, "bob").await?.context("bob is listed")?;
    ensure!(
        !bobs.contains("not confirmed") && !bob_old,
        "bob's entry is current: {bobs:?}"
    );
    axe_both_widths(b, "the method page asking “Still using …?”").await?;

    b.press("Yes, I still use it").await?;
    b.expect_path(STANDUP).await?;
    b.expect_flash("Thank you: your entry says you still use Daily Stand-up.")
        .await?;
    b.expect_no_text("Still using Daily Stand-up?").await?;
    ensure!(
        b.button("Yes, I still use it").await.is_err(),
        "the prompt's button is gone"
    );
    let (entry, unconfirmed) = roster_entry(b, "alice")
        .await?
        .context("alice is still on the roster")?;
    ensure!(
        !entry.contains("not confirmed") && !unconfirmed,
        "alice's entry is current again: {entry:?} (unconfirmed class: {unconfirmed})"
    );
    // Seen again, not only in the answer to the confirmation.
    b.goto(STANDUP).await?;
    b.expect_no_text("Still using Daily Stand-up?").await?;
    b.expect_no_text("not confirmed since").await?;

    // The Following page now asks only about the other method; its button
    // confirms that one.
    b.goto("/following").await?;
    b.expect_text("Still using these methods?").await?;
    ensure!(
        b.button("Yes, I still use Daily Stand-up").await.is_err(),
        "Daily Stand-up is confirmed: not asked again on the Following page"
    );
    b.press("Yes, I still use Retrospective Wall").await?;
    b.expect_path(WALL).await?;
    b.expect_flash("Thank you: your entry says you still use Retrospective Wall.")
        .await?;
    b.expect_no_text("Still using Retrospective Wall?").await?;
    b.expect_no_text("not confirmed since").await?;
    b.goto("/following").await?;
    b.expect_heading("Following").await?;
    b.expect_no_text("Still using these methods?").await?;
    Ok(())
}

#[tokio::test]
async fn a_member_confirms_an_old_roster_entry_in_the_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    let app = &harness.app;
    let mut alice = member(app, "alice", "Alice Archer").await;
    let mut bob = member(app, "bob", "Bob Baker").await;
    for (title, slug) in [
        ("Daily Stand-up", "daily-stand-up"),
        ("Retrospective Wall", "retrospective-wall"),
    ] {
        let page = alice.create_page(title, "Fifteen minutes.\n", "").await;
        join_roster(&mut alice, &page, "Keep it short").await;
        age_entry(app, "alice", slug).await;
    }
    join_roster(&mut bob, STANDUP, "Stand up for real").await;
    let result = still_using(&harness.browser).await;
    finish(harness, result).await;
}

// ---- 2. Asking a practitioner privately -----------------------------------

const CLINIC: &str = "/methods/practitioner-clinic";
const ASK_BOB: &str = "/methods/practitioner-clinic/roster/bob/ask";
const ALICE_MAIL: &str = "alice@example.org";
const BOB_MAIL: &str = "bob@example.org";
const QUESTION: &str = "How many outsiders do you invite?\nAnd for how long: a day & a night?";

/// Every page alice saw must be free of bob's address.
fn never_shows_bobs_address(seen: &[(String, String)]) -> Result<()> {
    for (place, page) in seen {
        ensure!(
            !page.contains(BOB_MAIL) && !page.contains("bob@"),
            "alice was shown bob's address {place}"
        );
    }
    Ok(())
}

async fn ask_privately(b: &Browser, app: &TestApp, sink: &SmtpSink) -> Result<()> {
    let mut seen: Vec<(String, String)> = Vec::new();
    b.sign_in("alice").await?;
    b.goto(CLINIC).await?;
    seen.push((b.place().await, html(b).await?));
    b.follow_in(
        "//li[contains(@class, 'roster-entry')]//span[@class='roster-ask']",
        "Ask Bob Baker a question",
    )
    .await?;
    b.expect_path(ASK_BOB).await?;
    b.expect_heading("Ask Bob Baker about Practitioner Clinic")
        .await?;
    b.expect_text(&format!(
        "Their answer comes straight to your address, {ALICE_MAIL}, which they will see."
    ))
    .await?;
    b.button("Send my question").await?;
    seen.push((b.place().await, html(b).await?));
    axe_both_widths(b, "the ask page").await?;

    b.fill("Your question", QUESTION).await?;
    b.press("Send my question").await?;
    b.expect_path(CLINIC).await?;
    b.expect_flash(&format!(
        "Your question is sent to Bob Baker. Their answer will come to {ALICE_MAIL}."
    ))
    .await?;
    seen.push((b.place().await, html(b).await?));
    never_shows_bobs_address(&seen)?;

    // The question waits in the outbox; one round sends it.
    ensure!(
        crate::mail::to(sink, BOB_MAIL).is_empty(),
        "nothing is sent before the outbox runs"
    );
    let sent = cafe::mail::outbox::send_due(&app.state).await?;
    ensure!(
        sent == 1,
        "one round sends the question alone: {sent} mails"
    );
    let mails = crate::mail::to(sink, BOB_MAIL);
    let [mail] = mails.as_slice() else {
        bail!("one mail to bob, not {}", mails.len());
    };
    ensure!(mail.to == [BOB_MAIL], "to bob alone: {:?}", mail.to);
    ensure!(
        mail.subject() == "[Cafe] Alice Archer asks you about Practitioner Clinic",
        "subject: {:?}",
        mail.subject()
    );
    ensure!(
        mail.header("Reply-To").as_deref() == Some(ALICE_MAIL),
        "the answer goes to alice: Reply-To {:?}",
        mail.header("Reply-To")
    );
    let from = mail.header("From").unwrap_or_default();
    ensure!(
        from.contains("cafe@example.org") && !from.contains(ALICE_MAIL),
        "sent by the site: From {from:?}"
    );
    let text = mail.part("text/plain").context("a text part")?;
    ensure!(text.contains(QUESTION), "the question in the mail:\n{text}");
    ensure!(
        crate::mail::to(sink, ALICE_MAIL).is_empty(),
        "alice gets no copy"
    );

    // Bob turns questions off in his mail settings.
    b.press("Sign out").await?;
    b.sign_in("bob").await?;
    b.goto("/account/notifications").await?;
    b.expect_heading("Mail settings").await?;
    b.expect_text("Questions from other members").await?;
    let label = "Members may send me questions about the methods whose roster I am on";
    ensure!(
        is_checked(b, label).await?,
        "questions are allowed at first"
    );
    axe_both_widths(b, "the mail settings").await?;
    b.choose(label).await?;
    b.press("Save my mail settings").await?;
    b.expect_path("/account/notifications").await?;
    b.expect_flash("Your mail settings are saved.").await?;
    ensure!(
        !is_checked(b, label).await?,
        "questions are off after saving"
    );
    b.expect_text("Confirmed.").await?;
    b.press("Sign out").await?;

    // Alice is told, and pointed to the public question.
    b.sign_in("alice").await?;
    b.goto(ASK_BOB).await?;
    b.expect_heading("Ask Bob Baker about Practitioner Clinic")
        .await?;
    b.expect_text("Bob Baker does not take questions by mail.")
        .await?;
    ensure!(
        b.button("Send my question").await.is_err(),
        "no form to send a question bob does not take"
    );
    seen.push((b.place().await, html(b).await?));
    never_shows_bobs_address(&seen)?;
    b.follow("Ask on the method's page, in public").await?;
    b.expect_path(CLINIC).await?;
    let hash = b.js("return location.hash").await?;
    ensure!(hash == "#stories", "the link goes to the stories: {hash}");
    b.expect_text("Ask the practitioners a question").await?;
    let more = cafe::mail::outbox::send_due(&app.state).await?;
    ensure!(more == 0, "nothing more was sent: {more}");
    Ok(())
}

#[tokio::test]
async fn a_member_asks_a_practitioner_privately_in_the_browser() {
    let sink = SmtpSink::start().await;
    let Some(harness) = Harness::start_configured(|base| {
        let mut config = crate::mail::config(&sink);
        config.public_url = Some(cafe::config::PublicUrl::parse(base).expect("the site's address"));
        config
    })
    .await
    else {
        return;
    };
    let app = &harness.app;
    let mut alice = member(app, "alice", "Alice Archer").await;
    let mut bob = member(app, "bob", "Bob Baker").await;
    alice
        .create_page(
            "Practitioner Clinic",
            "Ask a team that did it before.\n",
            "",
        )
        .await;
    join_roster(&mut bob, CLINIC, "Invite outsiders").await;
    confirmed_address(app, "alice", ALICE_MAIL).await;
    confirmed_address(app, "bob", BOB_MAIL).await;
    let result = ask_privately(&harness.browser, app, &sink).await;
    finish(harness, result).await;
}

// ---- 3. Asking in public ---------------------------------------------------

const COFFEE: &str = "/methods/lean-coffee";
const TITLE: &str = "How long should each topic run?";

async fn ask_in_public(b: &Browser) -> Result<()> {
    b.sign_in("alice").await?;
    b.goto(COFFEE).await?;
    b.expect_text("0 stories").await?;
    b.click_text("summary", "Ask the practitioners a question")
        .await?;
    let open = b
        .js("return document.querySelector('details.question-form').open")
        .await?;
    ensure!(open == true, "the question's form opens");
    b.fill("Your question, in a line", TITLE).await?;
    b.fill(
        "More about it (Markdown)",
        "We tried **five minutes** a topic; it felt short.",
    )
    .await?;
    axe_both_widths(b, "the method page with the public question open").await?;

    b.press("Ask in public").await?;
    let path = b.path().await?;
    ensure!(
        path.starts_with(&format!("{COFFEE}/stories/")),
        "the question's thread, not {path}"
    );
    b.expect_flash("Your question is asked. The people on this method's roster are told of it.")
        .await?;
    b.expect_heading(TITLE).await?;
    let bold = b
        .js(
            "const s = document.querySelector('.story-thread .prose strong'); \
             return s ? s.innerText : null",
        )
        .await?;
    ensure!(bold == "five minutes", "the Markdown is rendered: {bold}");

    b.goto(COFFEE).await?;
    let listed = b
        .js(
            "return Array.from(document.querySelectorAll('#stories li.story')).map(li => \
             [li.querySelector('a').innerText.trim(), li.querySelector('.story-outcome').innerText.trim(), \
              li.querySelector('a').getAttribute('href')])",
        )
        .await?;
    let expected = serde_json::json!([[TITLE, "Question", path]]);
    ensure!(
        listed == expected,
        "the story list shows the question as one: {listed}"
    );
    let tally = b
        .js("return document.querySelector('#stories .tally').textContent.replace(/\\s+/g, ' ').trim()")
        .await?;
    ensure!(tally == "1 question", "the tally: {tally}");
    Ok(())
}

#[tokio::test]
async fn a_member_asks_the_practitioners_in_public_in_the_browser() {
    let Some(harness) = Harness::start().await else {
        return;
    };
    let app = &harness.app;
    let mut alice = member(app, "alice", "Alice Archer").await;
    let mut bob = member(app, "bob", "Bob Baker").await;
    alice
        .create_page("Lean Coffee", "A meeting without an agenda.\n", "")
        .await;
    join_roster(&mut bob, COFFEE, "Vote with dots").await;
    let result = ask_in_public(&harness.browser).await;
    finish(harness, result).await;
}
