//! Asking a practitioner (issue 18): a question sent by mail to someone on
//! a method's roster (their address never shown, the answer going to the
//! asker's confirmed address, per-sender limit, turned off by the
//! recipient), and a question asked on the page in public, which the
//! roster hears of.

use axum::http::StatusCode;

use crate::mail::{PUBLIC, confirmed, round, site, to};
use crate::support::smtp::SmtpSink;
use crate::support::{Client, TestApp};

const PAGE: &str = "/methods/practitioner-clinic";
const ASK_BOB: &str = "/methods/practitioner-clinic/roster/bob/ask";

async fn join(client: &mut Client, tip: &str) {
    client
        .post(&format!("{PAGE}/roster"), &[("tip", tip), ("location", "")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

/// The mail site of `mail::site` (Alice confirmed), a Practitioner Clinic page
/// with Bob (confirmed too) on its roster.
async fn roster_site(
    adjust: impl FnOnce(&mut cafe::config::ServeArgs),
) -> (SmtpSink, TestApp, Client, Client) {
    let (sink, app, mut alice, mut bob) = site(adjust).await;
    confirmed(&app, &sink, &mut bob, "bob@example.org").await;
    alice
        .create_page("Practitioner Clinic", "Ask a team that did it before.", "")
        .await;
    join(&mut bob, "Invite outsiders.").await;
    // Alice watches her page: the mail about Bob joining goes out now.
    assert_eq!(round(&app).await, 1);
    (sink, app, alice, bob)
}

async fn ask(client: &mut Client, question: &str) -> crate::support::Page {
    client.post(ASK_BOB, &[("question", question)]).await
}

#[tokio::test]
async fn a_question_reaches_the_practitioner_by_mail_and_the_answer_goes_to_the_asker() {
    let (sink, app, mut alice, _bob) = roster_site(|_| {}).await;
    let page = alice.get(PAGE).await;
    page.assert_contains(&format!("href=\"{ASK_BOB}\""));
    let form = alice.get(ASK_BOB).await;
    form.assert_status(StatusCode::OK);
    form.assert_contains("Ask bob about Practitioner Clinic");
    form.assert_contains("alice@example.org");
    assert!(
        !form.body.contains("bob@example.org"),
        "never bob's address"
    );

    let question = "How many outsiders <b>do you</b> invite?\nAnd for how long?";
    let sent = ask(&mut alice, question).await;
    sent.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(sent.location(), Some("/methods/practitioner-clinic#roster"));
    let shown = alice.get(PAGE).await;
    shown.assert_contains(
        "Your question is sent to bob. Their answer will come to alice@example.org.",
    );
    assert!(!shown.body.contains("bob@example.org"));

    assert_eq!(round(&app).await, 1, "one mail");
    let mails = to(&sink, "bob@example.org");
    let mail = mails.last().expect("the question");
    assert_eq!(
        mail.subject(),
        "[Cafe] alice asks you about Practitioner Clinic"
    );
    assert_eq!(
        mail.header("Reply-To").as_deref(),
        Some("alice@example.org")
    );
    assert!(
        mail.header("From")
            .expect("from")
            .contains("cafe@example.org")
    );
    let text = mail.part("text/plain").expect("text");
    assert!(text.contains(question), "{text}");
    assert!(text.contains(&format!("{PUBLIC}/methods/practitioner-clinic")));
    let html = mail.part("text/html").expect("html");
    assert!(
        html.contains("&#60;b&#62;do you&#60;/b&#62;") && !html.contains("<b>do you"),
        "escaped: {html}"
    );
    assert!(mail.header("List-Unsubscribe").is_some());
    assert!(
        to(&sink, "alice@example.org")
            .iter()
            .all(|m| !m.subject().contains("asks you")),
        "the asker gets no copy"
    );
}

#[tokio::test]
async fn the_recipient_turns_questions_off_by_one_click_or_in_settings_and_on_again() {
    let (sink, app, mut alice, mut bob) = roster_site(|_| {}).await;
    ask(&mut alice, "Who facilitates?")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    round(&app).await;
    let mail = to(&sink, "bob@example.org").pop().expect("the question");
    let header = mail.header("List-Unsubscribe").expect("header");
    let url = header.trim_start_matches('<').trim_end_matches('>');
    let path = url
        .strip_prefix(PUBLIC)
        .expect("on the public URL")
        .to_owned();
    assert!(path.contains(".questions."), "a questions token: {path}");
    let mut nobody = app.client();
    nobody
        .post(&path, &[])
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("questions members send you");

    let form = alice.get(ASK_BOB).await;
    form.assert_contains("bob does not take questions by mail");
    form.assert_contains("#stories\">Ask on the method's page, in public</a>");
    let refused = ask(&mut alice, "Still there?").await;
    refused.assert_status(StatusCode::CONFLICT);
    refused.assert_contains("Still there?");
    assert_eq!(round(&app).await, 0, "nothing sent");
    let settings = bob.get("/account/notifications").await;
    settings.assert_contains("name=\"questions\" value=\"on\" aria-describedby");
    assert!(
        !settings
            .body
            .contains("value=\"on\" aria-describedby=\"mail-questions-help\" checked")
    );
    // The digest and the questions are separate: his delivery is kept.
    settings.assert_contains("value=\"each\" checked");

    bob.post(
        "/account/notifications",
        &[
            ("email", "bob@example.org"),
            ("delivery", "each"),
            ("questions_shown", "1"),
            ("questions", "on"),
        ],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    ask(&mut alice, "Still there?")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(round(&app).await, 1);

    // Unticked in the settings form: off again.
    bob.post(
        "/account/notifications",
        &[
            ("email", "bob@example.org"),
            ("delivery", "each"),
            ("questions_shown", "1"),
        ],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    alice
        .get(ASK_BOB)
        .await
        .assert_contains("bob does not take questions by mail");
}

#[tokio::test]
async fn asking_needs_a_confirmed_address_words_and_a_roster_member_and_is_limited_per_hour() {
    let (sink, app, mut alice, mut bob) = roster_site(|c| c.questions_per_hour = 2).await;
    let mut carol = app.member("carol").await;
    carol
        .get(ASK_BOB)
        .await
        .assert_contains("you need a confirmed e-mail address first");
    carol
        .post(ASK_BOB, &[("question", "Hello?")])
        .await
        .assert_status(StatusCode::CONFLICT);
    ask(&mut alice, "  \n ")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("Please write your question.");
    let long = "x".repeat(9000);
    ask(&mut alice, &long)
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("at most 8 KiB");
    alice
        .get("/methods/practitioner-clinic/roster/carol/ask")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    alice
        .get("/methods/no-such-method/roster/bob/ask")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    bob.get(ASK_BOB)
        .await
        .assert_contains("This is your own roster entry");
    bob.post(ASK_BOB, &[("question", "Me?")])
        .await
        .assert_status(StatusCode::CONFLICT);
    let visitor = app.client().get(ASK_BOB).await;
    assert!(visitor.status.is_redirection(), "{}", visitor.status);
    assert!(
        visitor
            .location()
            .unwrap_or_default()
            .starts_with("/signin")
    );

    for n in 1..=2 {
        ask(&mut alice, &format!("Question {n}?"))
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    let third = ask(&mut alice, "Question 3, kept?").await;
    third.assert_status(StatusCode::TOO_MANY_REQUESTS);
    third.assert_contains("You have sent 2 questions in the last hour");
    third.assert_contains("Question 3, kept?");
    assert!(third.header("retry-after").is_some());
    assert_eq!(round(&app).await, 2);
    assert_eq!(
        to(&sink, "bob@example.org")
            .iter()
            .filter(|m| m.subject().contains("asks you"))
            .count(),
        2
    );
}

#[tokio::test]
async fn without_a_mail_server_the_ask_page_points_to_the_public_question() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    alice
        .create_page("Practitioner Clinic", "Ask a team.", "")
        .await;
    join(&mut bob, "").await;
    let form = alice.get(ASK_BOB).await;
    form.assert_status(StatusCode::OK);
    form.assert_contains("This site sends no mail");
    ask(&mut alice, "Hello?")
        .await
        .assert_status(StatusCode::CONFLICT);
}

/// The unseen count in the header, if any.
fn badge(body: &str) -> Option<String> {
    let marker = "<span class=\"badge\">";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('<')? + start;
    Some(body[start..end].to_owned())
}

#[tokio::test]
async fn a_question_asked_in_public_is_a_thread_the_roster_hears_of_unless_it_muted_the_page() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut carol = app.member("carol").await;
    let mut dave = app.member("dave").await;
    alice
        .create_page("Practitioner Clinic", "Ask a team.", "")
        .await;
    // Bob joined before watching existed (no watch), Carol joined (and so
    // watches), Dave joined and then muted the page.
    join(&mut bob, "").await;
    let no_watch =
        "DELETE FROM watches WHERE user_id = (SELECT id FROM users WHERE username = 'bob')";
    match &app.state.pool {
        cafe::db::Db::Sqlite(pool) => sqlx::query(no_watch).execute(pool).await.map(|_| ()),
        cafe::db::Db::Postgres(pool) => sqlx::query(no_watch).execute(pool).await.map(|_| ()),
    }
    .expect("bob watches nothing");
    bob.get(PAGE).await.assert_contains("Watch this page");
    join(&mut carol, "").await;
    join(&mut dave, "").await;
    dave.post(&format!("{PAGE}/unwatch"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let empty = alice
        .post(
            &format!("{PAGE}/questions"),
            &[("title", " "), ("body", "Kept text.")],
        )
        .await;
    empty.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    empty.assert_contains("Please write your question in a line.");
    empty.assert_contains("Kept text.");
    empty.assert_contains("href=\"#question-title\"");

    let asked = alice
        .post(
            &format!("{PAGE}/questions"),
            &[
                ("title", "Who should we invite?"),
                ("body", "We have a *new* project."),
            ],
        )
        .await;
    asked.assert_status(StatusCode::SEE_OTHER);
    let thread = asked.location().expect("the thread").to_owned();
    let shown = alice.get(&thread).await;
    shown.assert_contains("Your question is asked.");
    shown.assert_contains("Question");
    shown.assert_contains("<em>new</em>");

    let page = app.client().get(PAGE).await;
    page.assert_contains("No stories yet, 1 question");
    page.assert_contains("Who should we invite?");
    app.client()
        .get("/search?q=outcome%3Aquestion")
        .await
        .assert_contains("Who should we invite?");

    for (client, heard) in [(&mut bob, true), (&mut carol, true), (&mut dave, false)] {
        let recent = client.get("/recent").await;
        assert_eq!(
            badge(&recent.body).is_some(),
            heard,
            "{}",
            recent.body.len()
        );
        let list = client.get("/following").await;
        assert_eq!(
            list.body
                .contains("Question “Who should we invite?” on Practitioner Clinic"),
            heard
        );
    }
    // Bob now watches the page: the answers reach him too.
    bob.get(PAGE)
        .await
        .assert_contains("Stop watching this page");
}

#[tokio::test]
async fn a_member_is_offered_to_ask_the_others_on_the_roster_but_not_themselves() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    alice
        .create_page("Practitioner Clinic", "Ask a team that did it before.", "")
        .await;
    join(&mut alice, "Start small.").await;
    join(&mut bob, "Invite outsiders.").await;
    let ask_alice = "/methods/practitioner-clinic/roster/alice/ask";
    // The first view is rendered for the member, the next ones are made
    // from the members' shared page: neither offers their own entry.
    for _ in 0..3 {
        let hers = alice.get(PAGE).await;
        hers.assert_contains(&format!("href=\"{ASK_BOB}\""));
        assert!(!hers.body.contains(ask_alice), "{}", hers.body);
        let his = bob.get(PAGE).await;
        his.assert_contains(&format!("href=\"{ask_alice}\""));
        assert!(!his.body.contains(ASK_BOB), "{}", his.body);
    }
    let visitor = app.client().get(PAGE).await;
    visitor.assert_contains(&format!("href=\"{ASK_BOB}\""));
    visitor.assert_contains(&format!("href=\"{ask_alice}\""));
}
