//! E-mail (issue 18): address confirmation, a mail for each change through
//! the outbox to a real SMTP conversation on 127.0.0.1 (`support::smtp`),
//! coalescing, one mail per page until seen, one-click unsubscribe, an SMTP
//! server that is down or refuses, and two instances over one database.

use axum::http::StatusCode;

use crate::support::smtp::{Received, SmtpSink};
use crate::support::{Client, TestApp, count};
use cafe::config::{PublicUrl, ServeArgs};

pub(crate) const PUBLIC: &str = "https://wiki.example.org";

pub(crate) fn config(sink: &SmtpSink) -> ServeArgs {
    let mut config = ServeArgs::defaults();
    config.smtp_url = Some(cafe::mail::smtp::SmtpUrl::parse(&sink.url()).expect("url"));
    config.mail_from = Some("Cafe <cafe@example.org>".to_owned());
    config.public_url = Some(PublicUrl::parse(PUBLIC).expect("public url"));
    config.mail_coalesce_secs = 0;
    config.mail_retry_secs = 1;
    config
}

async fn mail_app(sink: &SmtpSink) -> TestApp {
    TestApp::with_config(config(sink)).await
}

/// A round of the background tasks: changes into mails, mails out.
pub(crate) async fn round(app: &TestApp) -> usize {
    queue(app).await;
    cafe::mail::outbox::send_due(&app.state)
        .await
        .expect("send")
}

pub(crate) fn to(sink: &SmtpSink, address: &str) -> Vec<Received> {
    sink.received()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .collect()
}

/// The site path of the first link in `text` that starts with `prefix`.
pub(crate) fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(&format!("{PUBLIC}{prefix}"))
        .unwrap_or_else(|| panic!("a link to {prefix} in {text}"));
    let rest = &text[start + PUBLIC.len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '>')
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

/// Gives the member `address`, confirms it through the mailed link, and
/// chooses a mail for each change.
pub(crate) async fn confirmed(app: &TestApp, sink: &SmtpSink, client: &mut Client, address: &str) {
    client
        .post(
            "/account/notifications",
            &[("email", address), ("delivery", "each")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    round(app).await;
    let mails = to(sink, address);
    let mail = mails.last().expect("a confirmation mail");
    assert!(mail.subject().contains("Confirm your e-mail address"));
    let path = link(
        &mail.part("text/plain").expect("text"),
        "/account/email/verify",
    );
    client.get(&path).await.assert_status(StatusCode::SEE_OTHER);
    client
        .get("/account/notifications")
        .await
        .assert_contains("Confirmed.");
}

async fn edit(client: &mut Client, page: &str, body: &str) {
    client
        .edit_body(page, body)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

/// A site mailing through its sink, with Alice (her address confirmed,
/// a mail for each change) and Bob.
pub(crate) async fn site(
    adjust: impl FnOnce(&mut ServeArgs),
) -> (SmtpSink, TestApp, Client, Client) {
    let sink = SmtpSink::start().await;
    let mut settings = config(&sink);
    adjust(&mut settings);
    let app = TestApp::with_config(settings).await;
    let mut alice = app.member("alice").await;
    let bob = app.member("bob").await;
    confirmed(&app, &sink, &mut alice, "alice@example.org").await;
    (sink, app, alice, bob)
}

/// Changes into mails, without sending them.
async fn queue(app: &TestApp) {
    cafe::mail::notify::run_once(&app.state)
        .await
        .expect("notify");
}

#[tokio::test]
async fn an_address_gets_only_its_confirmation_until_its_member_opens_the_link() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;

    let page = alice.get("/account/notifications").await;
    page.assert_status(StatusCode::OK);
    page.assert_contains("value=\"daily\" checked");
    let bad = alice
        .post(
            "/account/notifications",
            &[("email", "alice@"), ("delivery", "each")],
        )
        .await;
    bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("That is not an e-mail address");
    bad.assert_contains("value=\"alice@\"");

    alice
        .post(
            "/account/notifications",
            &[("email", "alice@example.org"), ("delivery", "each")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let wiki = alice.create_page("Buddy Review", "Ask a team.", "").await;
    edit(&mut bob, &wiki, "Ask a team that did it.").await;
    round(&app).await;
    let mails = to(&sink, "alice@example.org");
    assert_eq!(mails.len(), 1, "only the confirmation: {mails:?}");
    let text = mails[0].part("text/plain").expect("text");
    let path = link(&text, "/account/email/verify");
    alice
        .get("/account/notifications")
        .await
        .assert_contains("Not confirmed yet");

    // Another member cannot confirm it, nor a made-up token.
    bob.get(&path).await.assert_status(StatusCode::BAD_REQUEST);
    alice
        .get("/account/email/verify?token=00")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
    alice.get(&path).await.assert_status(StatusCode::SEE_OTHER);
    alice
        .get("/account/notifications")
        .await
        .assert_contains("Confirmed.");
    alice
        .get(&path)
        .await
        .assert_status(StatusCode::BAD_REQUEST);

    // The change before the confirmation is not mailed after it either;
    // the next one is.
    round(&app).await;
    assert_eq!(to(&sink, "alice@example.org").len(), 1);
    edit(&mut bob, &wiki, "Ask a team that did it, before you start.").await;
    round(&app).await;
    assert_eq!(to(&sink, "alice@example.org").len(), 2);
}

#[tokio::test]
async fn each_change_is_mailed_once_in_two_parts_with_one_click_unsubscribe_and_never_to_its_author()
 {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    confirmed(&app, &sink, &mut bob, "bob@example.org").await;
    let page = alice
        .create_page("Lessons Circle", "What happened?", "")
        .await;
    edit(&mut bob, &page, "What happened, and why?").await;
    assert_eq!(round(&app).await, 1);
    assert_eq!(round(&app).await, 0, "nothing more to send");

    let mails = to(&sink, "alice@example.org");
    assert_eq!(mails.len(), 2, "confirmation and one change");
    let mail = &mails[1];
    assert_eq!(
        mail.subject(),
        "[Cafe] Lessons Circle: revision 2",
        "{}",
        mail.raw
    );
    let text = mail.part("text/plain").expect("a plain-text part");
    assert!(
        text.contains("Lessons Circle: revision 2, by bob"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{PUBLIC}/methods/lessons-circle/diff?from=1&to=2")),
        "{text}"
    );
    let html = mail.part("text/html").expect("an HTML part");
    assert!(
        html.contains(&format!(
            "<a href=\"{PUBLIC}/methods/lessons-circle/diff?from=1&#38;to=2\">"
        )),
        "{html}"
    );
    let unsubscribe = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        unsubscribe.starts_with(&format!("<{PUBLIC}/unsubscribe?token=")),
        "{unsubscribe}"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // Bob made the change: nothing but his own confirmation.
    assert_eq!(to(&sink, "bob@example.org").len(), 1);
}

#[tokio::test]
async fn one_members_repeated_edits_make_one_mail() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    let page = alice.create_page("World Cafe", "Tables.", "").await;
    edit(&mut bob, &page, "Tables and hosts.").await;
    queue(&app).await;
    edit(&mut bob, &page, "Tables, hosts and a harvest.").await;
    edit(&mut bob, &page, "Tables, hosts, a harvest and tea.").await;
    assert_eq!(round(&app).await, 1);
    let mails = to(&sink, "alice@example.org");
    assert_eq!(mails.len(), 2, "confirmation and one mail");
    assert_eq!(mails[1].subject(), "[Cafe] World Cafe: 3 changes");
    let text = mails[1].part("text/plain").expect("text");
    for n in 2..=4 {
        assert!(
            text.contains(&format!("World Cafe: revision {n}")),
            "{text}"
        );
    }
}

fn upto(following: &str) -> String {
    let marker = "name=\"upto\" value=\"";
    let start = following.find(marker).expect("the seen form") + marker.len();
    let end = following[start..].find('"').expect("end") + start;
    following[start..end].to_owned()
}

#[tokio::test]
async fn a_page_is_mailed_about_once_until_the_member_has_looked() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    let page = alice.create_page("Open Space", "Two feet.", "").await;
    let other = alice.create_page("Fishbowl", "Chairs.", "").await;
    edit(&mut bob, &page, "The law of two feet.").await;
    assert_eq!(round(&app).await, 1);
    edit(&mut bob, &page, "The law of two feet; bumblebees.").await;
    assert_eq!(round(&app).await, 0, "not seen yet: no second mail");
    edit(&mut bob, &other, "Chairs in a circle.").await;
    assert_eq!(round(&app).await, 1, "another page is mailed");

    let following = alice.get("/following").await;
    alice
        .post("/following/seen", &[("upto", &upto(&following.body))])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    edit(&mut bob, &page, "The law of two feet; butterflies.").await;
    assert_eq!(round(&app).await, 1, "seen: the next change is mailed");
    let subjects: Vec<String> = to(&sink, "alice@example.org")
        .iter()
        .map(Received::subject)
        .collect();
    assert_eq!(
        subjects[1..],
        [
            "[Cafe] Open Space: revision 2",
            "[Cafe] Fishbowl: revision 2",
            "[Cafe] Open Space: revision 4"
        ]
    );
}

#[tokio::test]
async fn looking_at_the_page_again_lets_its_next_change_be_mailed() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    let page = alice.create_page("Open Space", "Two feet.", "").await;
    edit(&mut bob, &page, "The law of two feet.").await;
    assert_eq!(round(&app).await, 1);
    edit(&mut bob, &page, "The law of two feet; bumblebees.").await;
    assert_eq!(round(&app).await, 0, "not looked at yet: no second mail");
    // She follows the mail's link to the diff, under the page.
    let mail = to(&sink, "alice@example.org").pop().expect("the mail");
    let diff = link(
        &mail.part("text/plain").expect("text"),
        "/methods/open-space/diff",
    );
    alice.get(&diff).await.assert_status(StatusCode::OK);
    // Noted after the answer: wait for it.
    let mailed = "SELECT count(*) FROM mail_page_state";
    for _ in 0..100 {
        if count(&app.state.pool, mailed).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count(&app.state.pool, mailed).await, 0, "looked at");
    edit(&mut bob, &page, "The law of two feet; butterflies.").await;
    assert_eq!(round(&app).await, 1, "looked at: the next change is mailed");
    // Bob's own look at it changes nothing of Alice's.
    bob.get(&page).await.assert_status(StatusCode::OK);
    edit(
        &mut bob,
        &page,
        "The law of two feet; butterflies; a market.",
    )
    .await;
    assert_eq!(round(&app).await, 0);
}

#[tokio::test]
async fn one_click_unsubscribe_needs_no_session_and_only_its_own_token_works() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    confirmed(&app, &sink, &mut bob, "bob@example.org").await;
    let page = alice.create_page("Knowledge Fair", "Stalls.", "").await;
    edit(&mut bob, &page, "Stalls and posters.").await;
    round(&app).await;
    let mail = to(&sink, "alice@example.org").pop().expect("a mail");
    let header = mail.header("List-Unsubscribe").expect("header");
    let url = header.trim_start_matches('<').trim_end_matches('>');
    let path = url.strip_prefix(PUBLIC).expect("on the public URL");
    let token = path.split("token=").nth(1).expect("a token").to_owned();
    let alice_id = token.split('.').next().expect("id").to_owned();
    let bob_id = {
        let id = cafe::accounts::db::profile(&app.state.pool, "bob")
            .await
            .expect("query")
            .expect("bob");
        id.id.to_string()
    };

    // A link scanner's GET changes nothing.
    let mut visitor = app.client();
    let ask = visitor.get(path).await;
    ask.assert_status(StatusCode::OK);
    ask.assert_contains("Stop the mail for each change?");
    alice
        .get("/account/notifications")
        .await
        .assert_contains("value=\"each\" checked");

    // Forged: another member's id under Alice's MAC, another subscription, junk.
    let one_click = "List-Unsubscribe=One-Click";
    for forged in [
        token.replacen(&format!("{alice_id}."), &format!("{bob_id}."), 1),
        token.replacen(".each.", ".digest.", 1),
        format!("{bob_id}.each.{}", "0".repeat(64)),
        String::new(),
    ] {
        app.client()
            .post_raw(&format!("/unsubscribe?token={forged}"), one_click)
            .await
            .assert_status(StatusCode::BAD_REQUEST);
    }
    bob.get("/account/notifications")
        .await
        .assert_contains("value=\"each\" checked");

    // The real one, by POST without a session or form token (RFC 8058).
    let done = app.client().post_raw(path, one_click).await;
    done.assert_status(StatusCode::OK);
    done.assert_contains("you will get no more of the mail for each change");
    alice
        .get("/account/notifications")
        .await
        .assert_contains("value=\"off\" checked");
    bob.get("/account/notifications")
        .await
        .assert_contains("value=\"each\" checked");
    edit(&mut bob, &page, "Stalls, posters and tea.").await;
    let following = alice.get("/following").await;
    alice
        .post("/following/seen", &[("upto", &upto(&following.body))])
        .await;
    edit(&mut bob, &page, "Stalls, posters, tea and cake.").await;
    round(&app).await;
    assert_eq!(to(&sink, "alice@example.org").len(), 2, "no mail after");
}

#[tokio::test]
async fn mail_queued_while_the_smtp_server_is_down_is_delivered_once_when_it_is_back() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    let first = alice.create_page("Retrospective", "Look back.", "").await;
    let second = alice.create_page("Storytelling", "Tell it.", "").await;
    sink.set_down();
    edit(&mut bob, &first, "Look back together.").await;
    edit(&mut bob, &second, "Tell it well.").await;
    assert_eq!(round(&app).await, 0);
    let waiting = "SELECT count(*) FROM outbox WHERE kind = 'each' AND state = 'pending' \
                   AND attempts = 1 AND last_error <> ''";
    assert_eq!(count(&app.state.pool, waiting).await, 2);
    sink.set_up();
    assert_eq!(round(&app).await, 0, "not due before the back-off");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(round(&app).await, 2);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(round(&app).await, 0);
    let subjects: Vec<String> = to(&sink, "alice@example.org")
        .iter()
        .map(Received::subject)
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(subjects.contains(&"[Cafe] Retrospective: revision 2".to_owned()));
    assert!(subjects.contains(&"[Cafe] Storytelling: revision 2".to_owned()));
}

#[tokio::test]
async fn a_mail_refused_every_time_is_marked_failed_and_shown_to_its_member() {
    let (sink, app, mut alice, mut bob) = site(|config| config.mail_max_attempts = 2).await;
    let page = alice.create_page("Mentoring", "Pairs.", "").await;
    sink.set_refusing();
    edit(&mut bob, &page, "Pairs that meet.").await;
    round(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    round(&app).await;
    let failed = "SELECT count(*) FROM outbox WHERE state = 'failed' AND attempts = 2";
    assert_eq!(count(&app.state.pool, failed).await, 1);
    let settings = alice.get("/account/notifications").await;
    settings.assert_contains("Mail that could not be delivered");
    settings.assert_contains("Mentoring: revision 2");
    sink.set_up();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    round(&app).await;
    assert_eq!(
        to(&sink, "alice@example.org").len(),
        1,
        "failed stays failed"
    );
}

#[tokio::test]
async fn a_job_whose_sender_died_goes_back_to_pending_and_is_sent_once() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    let page = alice.create_page("Communities", "People.", "").await;
    edit(&mut bob, &page, "People who meet.").await;
    queue(&app).await;
    // A sender that took the job and was killed (its lease ends at once).
    let now = cafe::mail::now_ms();
    let taken = cafe::mail::db::claim(&app.state.pool, "killed", now, now, now - 1)
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(taken.attempts, 1);
    assert_eq!(round(&app).await, 1);
    assert_eq!(round(&app).await, 0);
    assert!(
        !cafe::mail::db::finish(&app.state.pool, taken.id, "killed", "sent", now, "")
            .await
            .expect("finish"),
        "the dead sender's lease is gone"
    );
    assert_eq!(to(&sink, "alice@example.org").len(), 2);
}

#[tokio::test]
async fn two_instances_over_one_database_never_send_the_same_mail_twice() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    let other = cafe::AppState::new(app.state.pool.clone(), config(&sink))
        .await
        .expect("second instance");
    let mut pages = Vec::new();
    for n in 0..6 {
        pages.push(alice.create_page(&format!("Method {n}"), "Text.", "").await);
    }
    for page in &pages {
        edit(&mut bob, page, "Text, edited.").await;
    }
    // Both instances' tasks at once, a few rounds each.
    let rounds = |state: cafe::AppState| async move {
        for _ in 0..3 {
            cafe::mail::notify::run_once(&state).await.expect("notify");
            cafe::mail::outbox::send_due(&state).await.expect("send");
        }
    };
    tokio::join!(rounds(app.state.clone()), rounds(other.clone()));
    let mut subjects: Vec<String> = to(&sink, "alice@example.org")
        .iter()
        .map(Received::subject)
        .filter(|s| s.contains("Method"))
        .collect();
    subjects.sort();
    assert_eq!(subjects.len(), 6, "{subjects:?}");
    subjects.dedup();
    assert_eq!(subjects.len(), 6, "no mail twice");
    let sent = "SELECT count(*) FROM outbox WHERE kind = 'each' AND state = 'sent'";
    assert_eq!(count(&app.state.pool, sent).await, 6);
}

#[tokio::test]
async fn without_an_smtp_server_the_settings_say_no_mail_is_sent() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice
        .get("/account/notifications")
        .await
        .assert_contains("This site sends no mail");
    alice
        .post(
            "/account/notifications",
            &[("email", "alice@example.org"), ("delivery", "weekly")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let page = alice.get("/account/notifications").await;
    page.assert_contains("value=\"weekly\" checked");
    page.assert_contains("Not confirmed yet");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM outbox").await,
        0
    );
    app.client()
        .get("/account/notifications")
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_digest_lists_the_unseen_changes_since_the_last_one_in_one_mail() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    alice
        .post(
            "/account/notifications",
            &[("email", "alice@example.org"), ("delivery", "daily")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let first = alice
        .create_page("Job Shadowing", "Follow a day.", "")
        .await;
    let second = alice.create_page("Exit Interview", "Ask why.", "").await;
    edit(&mut bob, &first, "Follow a colleague for a day.").await;
    edit(&mut bob, &second, "Ask why, and what to keep.").await;
    assert_eq!(round(&app).await, 0, "no mail for each change");
    let digest = || async {
        cafe::mail::digest::send(&app.state, true)
            .await
            .expect("digest");
        cafe::mail::outbox::send_due(&app.state)
            .await
            .expect("send")
    };
    assert_eq!(digest().await, 1);
    let mails = to(&sink, "alice@example.org");
    assert_eq!(mails.len(), 2, "confirmation and the digest");
    assert_eq!(mails[1].subject(), "[Cafe] Your daily digest: 2 changes");
    let text = mails[1].part("text/plain").expect("text");
    let one = text.find("Job Shadowing: revision 2").expect("first");
    let two = text.find("Exit Interview: revision 2").expect("second");
    assert!(one < two, "oldest first: {text}");
    assert!(mails[1].part("text/html").expect("html").contains("<li>"));
    let unsubscribe = mails[1].header("List-Unsubscribe").expect("header");
    assert!(unsubscribe.contains(".digest."), "{unsubscribe}");

    assert_eq!(digest().await, 0, "nothing new: no digest");
    edit(&mut bob, &first, "Follow a colleague for a whole day.").await;
    assert_eq!(digest().await, 1);
    let mails = to(&sink, "alice@example.org");
    assert_eq!(mails[2].subject(), "[Cafe] Your daily digest: 1 change");
    let text = mails[2].part("text/plain").expect("text");
    assert!(text.contains("Job Shadowing: revision 3"), "{text}");
    assert!(!text.contains("Exit Interview"), "{text}");

    // Unsubscribing from the digests turns them off.
    let path = unsubscribe
        .trim_start_matches('<')
        .trim_end_matches('>')
        .strip_prefix(PUBLIC)
        .expect("public")
        .to_owned();
    app.client()
        .post_raw(&path, "List-Unsubscribe=One-Click")
        .await
        .assert_status(StatusCode::OK);
    edit(&mut bob, &second, "Ask why, what to keep, what to change.").await;
    assert_eq!(digest().await, 0);
}

#[tokio::test]
async fn a_digest_asks_whether_an_old_roster_entry_is_still_true() {
    let (sink, app, mut alice, mut bob) = site(|_| {}).await;
    alice
        .post(
            "/account/notifications",
            &[("email", "alice@example.org"), ("delivery", "daily")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let old = alice
        .create_page("Job Shadowing", "Follow a day.", "")
        .await;
    let new = alice.create_page("Exit Interview", "Ask why.", "").await;
    for page in [&old, &new] {
        alice
            .post(&format!("{page}/roster"), &[("tip", ""), ("location", "")])
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    crate::following::age_entry(&app, "alice", "job-shadowing").await;
    edit(&mut bob, &new, "Ask why, and what to keep.").await;
    cafe::mail::digest::send(&app.state, true)
        .await
        .expect("digest");
    round(&app).await;
    let digest = to(&sink, "alice@example.org").pop().expect("the digest");
    let text = digest.part("text/plain").expect("text");
    assert!(text.contains("Still using Job Shadowing?"), "{text}");
    assert!(text.contains(&format!("{PUBLIC}/methods/job-shadowing#roster")));
    assert!(text.contains(&format!("{PUBLIC}/methods/job-shadowing/roster/remove")));
    assert!(
        !text.contains("Still using Exit Interview?"),
        "current: {text}"
    );
    let html = digest.part("text/html").expect("html");
    assert!(html.contains("<strong>Still using Job Shadowing?</strong>"));

    // Confirmed: the next digest does not ask.
    alice
        .post(&format!("{old}/roster/confirm"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    edit(&mut bob, &new, "Ask why, what to keep, what to change.").await;
    cafe::mail::digest::send(&app.state, true)
        .await
        .expect("digest");
    round(&app).await;
    let text = to(&sink, "alice@example.org")
        .pop()
        .and_then(|m| m.part("text/plain"))
        .expect("the next digest");
    assert!(text.contains("Exit Interview: revision 3"), "{text}");
    assert!(!text.contains("Still using"), "{text}");
}
