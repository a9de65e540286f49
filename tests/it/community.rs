//! Story threads, replies, rosters, profiles and the admin actions (hide,
//! protect, block) through the real router, as members, visitors and
//! administrators would use them — refusals and hostile input included.

use crate::support;
use crate::support::attrs as attr;
use crate::support::inert::{assert_inert, collapse, fit, payloads, texts};
use crate::support::{Client, PASSWORD, Page, TestApp, count, encode};
use axum::http::StatusCode;

/// A seeded method page the tests tell stories on.
const AAR: &str = "/methods/after-action-review";
const AAR_TITLE: &str = "After-Action Review";

async fn tell(
    client: &mut Client,
    page: &str,
    title: &str,
    body: &str,
    outcome: &str,
    location: &str,
) -> Page {
    let fields = [
        ("title", title),
        ("body", body),
        ("outcome", outcome),
        ("location", location),
    ];
    client.post(&format!("{page}/stories"), &fields).await
}

/// Tells a story that must be accepted; returns the thread's path.
async fn told(client: &mut Client, page: &str, title: &str, body: &str, outcome: &str) -> String {
    let response = tell(client, page, title, body, outcome, "").await;
    response.assert_status(StatusCode::SEE_OTHER);
    let thread = response
        .location()
        .expect("a redirect to the thread")
        .to_owned();
    assert!(
        thread.starts_with(&format!("{page}/stories/")),
        "redirected to {thread}"
    );
    thread
}

async fn reply(client: &mut Client, thread: &str, body: &str) -> Page {
    client
        .post(&format!("{thread}/replies"), &[("body", body)])
        .await
}

/// (actor, summary) of every admin event, oldest first.
async fn admin_events(app: &TestApp) -> Vec<(String, String)> {
    cafe::on_db!(&app.state.pool, |pool| {
        sqlx::query_as::<_, (String, String)>(
            "SELECT u.username, e.summary FROM events e JOIN users u ON u.id = e.actor_id
         WHERE e.kind = 'admin' ORDER BY e.id",
        )
        .fetch_all(pool)
        .await
    })
    .expect("admin events")
}

/// Titles of the stories listed on a method page, in order.
fn story_titles(html: &str) -> Vec<String> {
    texts(html, "ul.story-list li.story > a:first-child")
}

fn tally(html: &str) -> String {
    texts(html, "p.tally").concat()
}

/// Follows redirects (at most five) and returns the last response.
async fn follow(client: &mut Client, mut page: Page) -> Page {
    for _ in 0..5 {
        if page.status != StatusCode::SEE_OTHER {
            break;
        }
        let next = page.location().expect("a Location").to_owned();
        page = client.get(&next).await;
    }
    page
}

// ---------------------------------------------------------------- stories

#[tokio::test]
async fn telling_a_story_leads_to_its_thread_and_lists_it_on_the_page_with_a_tally() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let before = alice.get(AAR).await;
    assert_eq!(tally(&before.body), "0 stories");

    let response = tell(
        &mut alice,
        AAR,
        "The review nobody came to",
        "We booked a room *too far* away.",
        "failure",
        "Nairobi office",
    )
    .await;
    response.assert_status(StatusCode::SEE_OTHER);
    let thread_path = response.location().expect("a Location").to_owned();
    let id: i64 = thread_path
        .strip_prefix(&format!("{AAR}/stories/"))
        .and_then(|id| id.parse().ok())
        .expect("a story id");

    let thread = alice.get(&thread_path).await;
    thread.assert_status(StatusCode::OK);
    assert_eq!(
        texts(&thread.body, "main h1"),
        ["The review nobody came to"]
    );
    assert_eq!(
        texts(&thread.body, "article .prose em"),
        ["too far"],
        "the body is rendered as Markdown"
    );
    let meta = texts(&thread.body, "article p.meta").concat();
    assert!(
        meta.contains("Failure")
            && meta.contains("told by alice")
            && meta.contains("Nairobi office"),
        "{meta}"
    );

    let page = app.client().get(AAR).await;
    assert_eq!(tally(&page.body), "1 story: 1 failure");
    assert_eq!(story_titles(&page.body), ["The review nobody came to"]);
    assert_eq!(
        attr(&page.body, "ul.story-list li.story > a:first-child", "href"),
        [format!("{AAR}/stories/{id}")]
    );
    let stored = count(
        &app.state.pool,
        &format!("SELECT count(*) FROM stories WHERE id = {id} AND outcome = 'failure'"),
    )
    .await;
    assert_eq!(stored, 1);
}

/// A question is a thread but not a story: the tally line counts it apart,
/// as the line under the title does.
#[tokio::test]
async fn the_tally_counts_questions_apart_from_the_stories_told() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice
        .post(
            &format!("{AAR}/questions"),
            &[
                ("title", "Who should run it?"),
                ("body", "We are new to this."),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(tally(&app.client().get(AAR).await.body), "1 question");
    tell(
        &mut alice,
        AAR,
        "It worked",
        "We met the same day.",
        "success",
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        tally(&app.client().get(AAR).await.body),
        "1 story: 1 success · 1 question"
    );
}

#[tokio::test]
async fn the_tally_counts_each_outcome_and_the_filter_shows_only_the_chosen_one() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    told(&mut alice, AAR, "It worked in Lima", "Good.", "success").await;
    told(&mut alice, AAR, "Nobody spoke up", "Silence.", "failure").await;
    told(&mut alice, AAR, "Blame game", "It went wrong.", "failure").await;
    told(
        &mut alice,
        AAR,
        "Just started",
        "Ask me later.",
        "too-early",
    )
    .await;

    let all = alice.get(AAR).await;
    assert_eq!(
        tally(&all.body),
        "4 stories: 1 success · 2 failure · 1 too early to tell"
    );
    assert_eq!(story_titles(&all.body).len(), 4);

    let failures = alice.get(&format!("{AAR}?outcome=failure")).await;
    failures.assert_status(StatusCode::OK);
    assert_eq!(
        story_titles(&failures.body),
        ["Blame game", "Nobody spoke up"],
        "only failures, newest first"
    );
    assert_eq!(
        texts(&failures.body, "nav.outcome-filter [aria-current=page]"),
        ["Failure (2)"]
    );
    assert_eq!(
        tally(&failures.body),
        "4 stories: 1 success · 2 failure · 1 too early to tell",
        "the tally still counts all"
    );

    let early = alice.get(&format!("{AAR}?outcome=too-early")).await;
    assert_eq!(story_titles(&early.body), ["Just started"]);
    assert_eq!(
        texts(&early.body, "ul.story-list .story-outcome"),
        ["Too early to tell"]
    );

    let mixed = alice.get(&format!("{AAR}?outcome=mixed")).await;
    mixed
        .assert_status(StatusCode::OK)
        .assert_contains("No story with this outcome yet.");
    assert!(story_titles(&mixed.body).is_empty());

    let links = attr(&all.body, "nav.outcome-filter a", "href");
    assert!(
        links.contains(&format!("{AAR}?outcome=failure#stories")),
        "{links:?}"
    );
}

#[tokio::test]
async fn replies_are_shown_oldest_first() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut carol = app.member("carol").await;
    let thread = told(
        &mut alice,
        AAR,
        "Our first review",
        "It was short.",
        "mixed",
    )
    .await;

    for (client, text) in [
        (&mut bob, "First: who facilitated?"),
        (&mut carol, "Second: try a timer."),
        (&mut alice, "Third: thanks both."),
    ] {
        let response = reply(client, &thread, text).await;
        response.assert_status(StatusCode::SEE_OTHER);
        let location = response.location().expect("a Location");
        assert!(
            location.starts_with(&format!("{thread}#reply-")),
            "{location}"
        );
    }

    let page = app.client().get(&thread).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(
        texts(&page.body, "ol.reply-list li.reply .prose"),
        [
            "First: who facilitated?",
            "Second: try a timer.",
            "Third: thanks both."
        ]
    );
    assert_eq!(
        texts(&page.body, "ol.reply-list li.reply p.meta a"),
        ["bob", "carol", "alice"]
    );
    assert_eq!(texts(&page.body, "#replies-heading"), ["Replies (3)"]);
    let method = app.client().get(AAR).await;
    assert!(
        texts(&method.body, "li.story .meta")
            .concat()
            .contains("3 replies"),
        "{}",
        method.body
    );
}

#[tokio::test]
async fn an_empty_reply_is_refused_and_nothing_is_saved() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let thread = told(&mut alice, AAR, "A story", "Text.", "success").await;
    let response = reply(&mut alice, &thread, "  \n ").await;
    response
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("The reply is empty.");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM replies").await,
        0
    );
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_to_sign_in_and_nothing_is_saved() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let thread = told(&mut alice, AAR, "A story", "Text.", "success").await;
    let mut visitor = app.client();

    let attempts = [
        (
            format!("{AAR}/stories"),
            encode(&[
                ("title", "Drive-by"),
                ("body", "text"),
                ("outcome", "success"),
                ("location", ""),
            ]),
        ),
        (
            format!("{thread}/replies"),
            encode(&[("body", "drive-by reply")]),
        ),
        (
            format!("{thread}/edit"),
            encode(&[
                ("title", "Defaced"),
                ("body", "x"),
                ("outcome", "failure"),
                ("location", ""),
                ("summary", ""),
            ]),
        ),
        (
            format!("{AAR}/roster"),
            encode(&[("tip", "drive-by"), ("location", "")]),
        ),
        (format!("{AAR}/roster/remove"), String::new()),
    ];
    for (path, body) in attempts {
        let response = visitor.post_raw(&path, body).await;
        response.assert_status(StatusCode::SEE_OTHER);
        let location = response.location().expect("a Location");
        let expected = format!(
            "/signin?next={}",
            form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
        );
        assert_eq!(location, expected, "POST {path}");
    }
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM stories").await,
        1
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM replies").await,
        0
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        0
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM story_revisions").await,
        1
    );
    let page = visitor.get(AAR).await;
    page.assert_contains("to tell your story of this method");
    assert!(
        attr(&page.body, "form", "action")
            .iter()
            .all(|a| !a.contains("/stories")),
        "no story form for visitors"
    );
}

#[tokio::test]
async fn after_signing_in_from_a_refused_post_the_visitor_lands_on_a_page_not_an_error() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let thread = told(&mut alice, AAR, "A story", "Text.", "success").await;

    for path in [
        format!("{AAR}/stories"),
        format!("{thread}/replies"),
        format!("{AAR}/roster"),
        format!("{AAR}/roster/remove"),
    ] {
        let mut visitor = app.client();
        let refused = visitor.post_raw(&path, encode(&[("body", "x")])).await;
        let location = refused.location().expect("a Location").to_owned();
        let next = form_urlencoded::parse(location.split_once('?').expect("a query").1.as_bytes())
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
            .expect("a next parameter");
        let signed_in = visitor
            .post(
                "/signin",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", &next),
                ],
            )
            .await;
        signed_in.assert_status(StatusCode::SEE_OTHER);
        let landed = follow(&mut visitor, signed_in).await;
        assert_eq!(
            landed.status,
            StatusCode::OK,
            "after signing in from POST {path} (next={next}): {}",
            landed.body
        );
        let heading = texts(&landed.body, "main h1");
        assert!(
            heading == [AAR_TITLE] || heading == ["A story"],
            "landed on {heading:?} after POST {path}"
        );
    }
}

#[tokio::test]
async fn an_empty_story_is_refused_and_the_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let response = tell(
        &mut alice,
        AAR,
        "Half a story",
        "   \n  ",
        "success",
        "Lima office",
    )
    .await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        texts(&response.body, ".story-form .form-errors li")
            .concat()
            .contains("the text is empty"),
        "{}",
        response.body
    );
    assert_eq!(
        attr(&response.body, ".story-form input[name=title]", "value"),
        ["Half a story"]
    );
    assert_eq!(
        attr(&response.body, ".story-form input[name=location]", "value"),
        ["Lima office"]
    );
    assert_eq!(
        attr(
            &response.body,
            ".story-form input[name=outcome][checked]",
            "value"
        ),
        ["success"]
    );
    assert_eq!(
        attr(&response.body, "details.story-form", "open").len(),
        1,
        "the form is open"
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM stories").await,
        0
    );
}

#[tokio::test]
async fn an_unknown_outcome_is_refused_and_the_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let response = tell(
        &mut alice,
        AAR,
        "It was great",
        "Everyone loved it.",
        "great",
        "",
    )
    .await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        texts(&response.body, ".form-errors")
            .concat()
            .contains("Please choose how it went"),
        "{}",
        response.body
    );
    assert_eq!(
        attr(&response.body, ".story-form input[name=title]", "value"),
        ["It was great"]
    );
    assert_eq!(
        texts(&response.body, ".story-form textarea[name=body]"),
        ["Everyone loved it."]
    );
    assert!(
        attr(
            &response.body,
            ".story-form input[name=outcome][checked]",
            "value"
        )
        .is_empty()
    );

    let untitled = tell(&mut alice, AAR, "  ", "Text.", "success", "").await;
    untitled
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("Please give your story a title.");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM stories").await,
        0
    );
}

#[tokio::test]
async fn a_story_is_found_only_under_its_own_page() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let thread = told(&mut alice, AAR, "A story", "Text.", "success").await;
    let id = thread.rsplit('/').next().expect("an id");
    alice
        .get(&format!("/methods/peer-assist/stories/{id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    alice
        .get(&format!("{AAR}/stories/999999"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    alice
        .get(&format!("{AAR}/stories/not-a-number"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let nowhere = tell(
        &mut alice,
        "/methods/no-such-method",
        "A story",
        "Text.",
        "success",
        "",
    )
    .await;
    nowhere.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn editing_someone_elses_story_is_forbidden() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let thread = told(
        &mut alice,
        AAR,
        "Alice's story",
        "Alice's words.",
        "success",
    )
    .await;

    let as_bob = bob.get(&thread).await;
    assert!(
        !attr(&as_bob.body, "main a", "href").contains(&format!("{thread}/edit")),
        "no Edit link for bob"
    );
    bob.get(&format!("{thread}/edit"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let fields = [
        ("title", "Bob was here"),
        ("body", "Bob's words."),
        ("outcome", "failure"),
        ("location", ""),
        ("summary", ""),
    ];
    let refused = bob.post(&format!("{thread}/edit"), &fields).await;
    refused.assert_status(StatusCode::FORBIDDEN);
    assert!(
        texts(&refused.body, "main")
            .concat()
            .contains("Only the story's author"),
        "{}",
        refused.body
    );

    let page = app.client().get(&thread).await;
    assert_eq!(texts(&page.body, "main h1"), ["Alice's story"]);
    assert_eq!(texts(&page.body, "article .prose"), ["Alice's words."]);
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM story_revisions").await,
        1
    );
}

#[tokio::test]
async fn an_admin_may_edit_someone_elses_story() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut root = app.admin("root").await;
    let thread = told(
        &mut alice,
        AAR,
        "Alice's story",
        "Contact me at my phone 555.",
        "success",
    )
    .await;
    let fields = [
        ("title", "Alice's story"),
        ("body", "Contact details removed."),
        ("outcome", "success"),
        ("location", ""),
        ("summary", "removed a phone number"),
    ];
    root.post(&format!("{thread}/edit"), &fields)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let page = app.client().get(&thread).await;
    page.assert_contains("Contact details removed.");
    assert!(!page.body.contains("555"));
    let history = app.client().get(&format!("{thread}/history")).await;
    assert_eq!(
        texts(&history.body, "table.history tbody tr td:nth-child(3)"),
        ["root", "alice"]
    );
}

#[tokio::test]
async fn a_story_edit_keeps_the_previous_text_viewable_and_in_the_history() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let thread = told(
        &mut alice,
        AAR,
        "First try",
        "We ran it in a rush.",
        "too-early",
    )
    .await;

    let form = alice.get(&format!("{thread}/edit")).await;
    form.assert_status(StatusCode::OK);
    assert_eq!(
        attr(&form.body, "input[name=title]", "value"),
        ["First try"]
    );
    assert_eq!(
        texts(&form.body, "textarea[name=body]"),
        ["We ran it in a rush."]
    );
    assert_eq!(
        attr(&form.body, "input[name=outcome][checked]", "value"),
        ["too-early"]
    );

    let fields = [
        ("title", "First try, six months on"),
        ("body", "The actions were followed up."),
        ("outcome", "success"),
        ("location", "Dhaka"),
        ("summary", "added the follow-up"),
    ];
    let saved = alice.post(&format!("{thread}/edit"), &fields).await;
    saved.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), Some(thread.as_str()));

    let reader = &mut app.client();
    let now = reader.get(&thread).await;
    now.assert_contains("The actions were followed up.");
    assert!(!now.body.contains("We ran it in a rush."));
    assert_eq!(texts(&now.body, "main h1"), ["First try, six months on"]);
    assert!(attr(&now.body, "article p.meta a", "href").contains(&format!("{thread}/history")));

    let old = reader.get(&format!("{thread}/revisions/1")).await;
    old.assert_status(StatusCode::OK)
        .assert_contains("We ran it in a rush.");
    assert_eq!(texts(&old.body, "article h1"), ["First try"]);
    assert!(
        texts(&old.body, "article p.meta")
            .concat()
            .contains("Too early to tell")
    );
    let new = reader.get(&format!("{thread}/revisions/2")).await;
    new.assert_status(StatusCode::OK)
        .assert_contains("The actions were followed up.");
    reader
        .get(&format!("{thread}/revisions/3"))
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let history = reader.get(&format!("{thread}/history")).await;
    history.assert_status(StatusCode::OK);
    assert_eq!(
        texts(
            &history.body,
            "table.history tbody tr td:first-child a:first-child"
        ),
        ["2", "1"]
    );
    assert!(
        texts(&history.body, "table.history tbody tr:first-child")
            .concat()
            .contains("added the follow-up")
    );
    let page = reader.get(AAR).await;
    assert_eq!(
        tally(&page.body),
        "1 story: 1 success",
        "the tally follows the edited outcome"
    );
}

#[tokio::test]
async fn an_invalid_story_edit_is_refused_and_the_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let thread = told(&mut alice, AAR, "Kept", "Original.", "mixed").await;
    let fields = [
        ("title", "Changed title"),
        ("body", ""),
        ("outcome", "mixed"),
        ("location", "Quito"),
        ("summary", "oops"),
    ];
    let refused = alice.post(&format!("{thread}/edit"), &fields).await;
    refused
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("the text is empty");
    assert_eq!(
        attr(&refused.body, "input[name=title]", "value"),
        ["Changed title"]
    );
    assert_eq!(
        attr(&refused.body, "input[name=location]", "value"),
        ["Quito"]
    );
    assert_eq!(
        attr(&refused.body, "input[name=summary]", "value"),
        ["oops"]
    );
    app.client().get(&thread).await.assert_contains("Original.");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM story_revisions").await,
        1
    );
}

// ------------------------------------------------------------- hiding

#[tokio::test]
async fn an_admin_hides_a_story_which_readers_no_longer_see_but_the_database_keeps() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut root = app.admin("root").await;
    let thread = told(
        &mut alice,
        AAR,
        "Off-topic rant",
        "Unrelated text.",
        "failure",
    )
    .await;
    told(&mut alice, AAR, "A useful story", "Useful text.", "success").await;
    let id: i64 = thread
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("an id");

    let hidden = root
        .post(&format!("{thread}/hide"), &[("hidden", "1")])
        .await;
    hidden.assert_status(StatusCode::SEE_OTHER);

    let mut visitor = app.client();
    for reader in [&mut visitor, &mut bob, &mut alice] {
        reader
            .get(&thread)
            .await
            .assert_status(StatusCode::NOT_FOUND);
        reader
            .get(&format!("{thread}/revisions/1"))
            .await
            .assert_status(StatusCode::NOT_FOUND);
        reader
            .get(&format!("{thread}/history"))
            .await
            .assert_status(StatusCode::NOT_FOUND);
        let page = reader.get(AAR).await;
        assert_eq!(story_titles(&page.body), ["A useful story"]);
        assert_eq!(tally(&page.body), "1 story: 1 success");
        assert!(!page.body.contains("Off-topic rant"));
    }
    reply(&mut bob, &thread, "Can I still reply?")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let profile = visitor.get("/users/alice").await;
    assert!(
        !profile.body.contains("Off-topic rant"),
        "hidden from the author's profile too"
    );

    let row = cafe::on_db!(&app.state.pool, |pool| sqlx::query_as::<_, (String, bool)>(
        "SELECT title, hidden FROM stories WHERE id = $1"
    )
    .bind(id)
    .fetch_one(pool)
    .await)
    .expect("the story is still in the database");
    assert_eq!(row, ("Off-topic rant".to_owned(), true));

    let as_admin = root.get(&thread).await;
    as_admin
        .assert_status(StatusCode::OK)
        .assert_contains("This story is hidden");
    let page = root.get(AAR).await;
    assert_eq!(
        story_titles(&page.body),
        ["A useful story", "Off-topic rant"],
        "admins still see it"
    );
    let hidden_id: i64 = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(
        "SELECT id FROM stories WHERE title = 'Off-topic rant'"
    )
    .fetch_one(pool)
    .await)
    .expect("the hidden story is still in the database");
    assert!(
        admin_events(&app)
            .await
            .contains(&("root".to_owned(), format!("Hid story #{hidden_id}")))
    );

    root.post(&format!("{thread}/hide"), &[("hidden", "0")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    visitor.get(&thread).await.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn an_admin_hides_a_reply_which_readers_no_longer_see_but_the_database_keeps() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut root = app.admin("root").await;
    let thread = told(&mut alice, AAR, "A story", "Text.", "success").await;
    reply(&mut bob, &thread, "A kind reply.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let spam = reply(&mut bob, &thread, "Buy cheap watches.").await;
    let reply_id: i64 = spam
        .location()
        .and_then(|l| l.rsplit("#reply-").next())
        .and_then(|id| id.parse().ok())
        .expect("a reply id");

    root.post(
        &format!("{thread}/replies/{reply_id}/hide"),
        &[("hidden", "1")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);

    for reader in [&mut app.client(), &mut bob] {
        let page = reader.get(&thread).await;
        page.assert_status(StatusCode::OK);
        assert_eq!(texts(&page.body, "li.reply .prose"), ["A kind reply."]);
        assert_eq!(texts(&page.body, "#replies-heading"), ["Replies (1)"]);
        let method = reader.get(AAR).await;
        assert!(
            texts(&method.body, "li.story .meta")
                .concat()
                .contains("1 reply")
        );
    }
    let kept = count(&app.state.pool, &format!("SELECT count(*) FROM replies WHERE id = {reply_id} AND hidden = TRUE AND body LIKE 'Buy cheap%'")).await;
    assert_eq!(kept, 1, "the reply is kept in the database");
    let as_admin = root.get(&thread).await;
    assert_eq!(
        texts(&as_admin.body, "li.reply .prose"),
        ["A kind reply.", "Buy cheap watches."]
    );
    assert_eq!(
        texts(&as_admin.body, "li.reply.hidden-item .prose"),
        ["Buy cheap watches."]
    );
    assert!(
        admin_events(&app)
            .await
            .contains(&("root".to_owned(), "Hid a reply to “A story”".to_owned()))
    );

    let other = told(&mut alice, AAR, "Another story", "Text.", "mixed").await;
    let wrong_thread = root
        .post(
            &format!("{other}/replies/{reply_id}/hide"),
            &[("hidden", "0")],
        )
        .await;
    wrong_thread.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn members_cannot_hide_stories_or_replies() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let thread = told(&mut alice, AAR, "A story", "Text.", "success").await;
    let answer = reply(&mut alice, &thread, "My own reply.").await;
    let reply_id = answer
        .location()
        .and_then(|l| l.rsplit("#reply-").next())
        .expect("a reply id")
        .to_owned();

    bob.post(&format!("{thread}/hide"), &[("hidden", "1")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    alice
        .post(&format!("{thread}/hide"), &[("hidden", "1")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    bob.post(
        &format!("{thread}/replies/{reply_id}/hide"),
        &[("hidden", "1")],
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    assert!(
        attr(&alice.get(&thread).await.body, "form", "action")
            .iter()
            .all(|a| !a.ends_with("/hide"))
    );

    let page = app.client().get(&thread).await;
    page.assert_status(StatusCode::OK)
        .assert_contains("My own reply.");
    assert_eq!(
        count(
            &app.state.pool,
            "SELECT count(*) FROM stories WHERE hidden = TRUE"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app.state.pool,
            "SELECT count(*) FROM replies WHERE hidden = TRUE"
        )
        .await,
        0
    );
    assert!(admin_events(&app).await.is_empty());
}

// ------------------------------------------------------------- roster

fn roster_entries(html: &str) -> Vec<String> {
    texts(html, "ul.roster-list li.roster-entry")
}

#[tokio::test]
async fn a_member_adds_their_name_and_is_shown_on_the_page_and_their_profile() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let added = alice
        .post(
            &format!("{AAR}/roster"),
            &[
                ("tip", "Keep it to 20 minutes."),
                ("location", "Dhaka office"),
            ],
        )
        .await;
    added.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(added.location(), Some(format!("{AAR}#roster").as_str()));

    let page = app.client().get(AAR).await;
    let entries = roster_entries(&page.body);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].starts_with("alice (Dhaka office): Keep it to 20 minutes. since "),
        "{entries:?}"
    );
    assert_eq!(
        attr(&page.body, "li.roster-entry > a", "href"),
        ["/users/alice"]
    );
    assert_eq!(
        texts(&alice.get(AAR).await.body, ".roster-form button"),
        ["Update my entry"]
    );

    let profile = app.client().get("/users/alice").await;
    profile.assert_status(StatusCode::OK);
    let methods = texts(&profile.body, "section[aria-labelledby=profile-methods] li");
    assert_eq!(
        methods,
        ["After-Action Review (Dhaka office): Keep it to 20 minutes."]
    );
    assert_eq!(
        attr(
            &profile.body,
            "section[aria-labelledby=profile-methods] li a",
            "href"
        ),
        [AAR]
    );
}

#[tokio::test]
async fn posting_to_the_roster_twice_updates_the_one_entry() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "First tip"), ("location", "Lima")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Better tip"), ("location", "Quito")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let page = app.client().get(AAR).await;
    let entries = roster_entries(&page.body);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].starts_with("alice (Quito): Better tip since "),
        "{entries:?}"
    );
    assert!(!page.body.contains("First tip"));
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        1
    );
    let form = alice.get(AAR).await;
    assert_eq!(
        attr(&form.body, ".roster-form input[name=tip]", "value"),
        ["Better tip"],
        "the form shows my entry"
    );
}

#[tokio::test]
async fn a_member_removes_only_their_own_roster_entry() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Alice's tip"), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    bob.post(
        &format!("{AAR}/roster"),
        &[("tip", "Bob's tip"), ("location", "")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);

    // A crafted form naming someone else still only removes the sender's entry.
    let removed = bob
        .post(
            &format!("{AAR}/roster/remove"),
            &[("username", "alice"), ("user_id", "1")],
        )
        .await;
    removed.assert_status(StatusCode::SEE_OTHER);
    let entries = roster_entries(&app.client().get(AAR).await.body);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].starts_with("alice: Alice's tip since "),
        "{entries:?}"
    );

    // Removing again (bob has no entry now) leaves alice alone.
    bob.post(&format!("{AAR}/roster/remove"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(roster_entries(&app.client().get(AAR).await.body).len(), 1);
    let bob_profile = app.client().get("/users/bob").await;
    assert_eq!(
        texts(
            &bob_profile.body,
            "section[aria-labelledby=profile-methods] p"
        ),
        ["Not on any method's roster yet."]
    );
    assert!(
        texts(
            &app.client().get("/users/alice").await.body,
            "section[aria-labelledby=profile-methods]"
        )
        .concat()
        .contains(AAR_TITLE)
    );

    alice
        .post(&format!("{AAR}/roster/remove"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    app.client()
        .get(AAR)
        .await
        .assert_contains("No one has added their name yet.");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        0
    );
}

#[tokio::test]
async fn a_roster_entry_that_is_too_long_is_refused_and_the_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let tip = "t".repeat(281);
    let refused = alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", &tip), ("location", "Accra")],
        )
        .await;
    refused
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("The tip can be at most 280 characters.");
    assert_eq!(
        attr(&refused.body, ".roster-form input[name=tip]", "value"),
        [tip]
    );
    assert_eq!(
        attr(&refused.body, ".roster-form input[name=location]", "value"),
        ["Accra"]
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        0
    );
}

#[tokio::test]
async fn a_profile_shows_the_methods_used_the_stories_told_and_the_edits_made() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice
        .post(
            "/methods/peer-assist/roster",
            &[("tip", ""), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    told(
        &mut alice,
        AAR,
        "Reviewing a flood response",
        "Text.",
        "mixed",
    )
    .await;
    let base = alice.base_revision("/methods/peer-assist").await;
    let body = "## Brief Description\n\nAsk a team that has done it before.\n";
    alice
        .edit_page(
            "/methods/peer-assist",
            &base,
            body,
            "facilitation",
            "shorter intro",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let profile = app.client().get("/users/alice").await;
    profile.assert_status(StatusCode::OK);
    assert_eq!(
        texts(
            &profile.body,
            "section[aria-labelledby=profile-methods] li a"
        ),
        ["Peer Assist"]
    );
    let stories = texts(&profile.body, "section[aria-labelledby=profile-stories] li");
    assert_eq!(stories.len(), 1);
    assert!(
        stories[0].starts_with("Reviewing a flood response Mixed on After-Action Review"),
        "{stories:?}"
    );
    let edits = texts(&profile.body, "section[aria-labelledby=profile-edits] li");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert!(
        edits[0].contains("Peer Assist") && edits[0].contains("shorter intro"),
        "{edits:?}"
    );
    app.client()
        .get("/users/nobody-here")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------- admin

#[tokio::test]
async fn an_admin_protects_a_page_and_members_can_no_longer_edit_it() {
    let app = TestApp::new().await;
    let mut bob = app.member("bob").await;
    let mut root = app.admin("root").await;
    let path = "/methods/peer-assist";

    bob.post(&format!("{path}/protect"), &[("protected", "1")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    root.post(&format!("{path}/protect"), &[("protected", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let page = bob.get(path).await;
    page.assert_contains("This page is protected: only administrators can edit it.");
    assert!(
        !attr(&page.body, "main a", "href").contains(&format!("{path}/edit")),
        "no Edit link for members"
    );
    bob.get(&format!("{path}/edit"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let base = root.base_revision(path).await;
    let refused = bob.edit_page(path, &base, "Vandalised.", "", "").await;
    refused.assert_status(StatusCode::FORBIDDEN);
    bob.post(&format!("{path}/revisions/1/restore"), &[])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert!(
        !app.client()
            .get(&format!("{path}/source"))
            .await
            .body
            .contains("Vandalised.")
    );

    let by_admin = root
        .edit_page(
            path,
            &base,
            "## Brief Description\n\nChecked by an admin.\n",
            "facilitation",
            "review",
        )
        .await;
    by_admin.assert_status(StatusCode::SEE_OTHER);
    app.client()
        .get(path)
        .await
        .assert_contains("Checked by an admin.");
    assert_eq!(
        admin_events(&app).await,
        [("root".to_owned(), "Protected the page".to_owned())]
    );

    root.post(&format!("{path}/protect"), &[("protected", "0")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    bob.get(&format!("{path}/edit"))
        .await
        .assert_status(StatusCode::OK);
    assert!(!bob.get(path).await.body.contains("This page is protected"));
}

#[tokio::test]
async fn an_admin_blocks_a_user_whose_session_ends_who_cannot_sign_in_and_whose_story_stays() {
    let app = TestApp::new().await;
    let mut bob = app.member("bob").await;
    let mut carol = app.member("carol").await;
    let mut root = app.admin("root").await;
    let thread = told(&mut bob, AAR, "Bob's story", "Bob's experience.", "mixed").await;

    carol
        .post("/users/bob/block", &[("blocked", "1")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let blocked = root.post("/users/bob/block", &[("blocked", "1")]).await;
    blocked.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(blocked.location(), Some("/users/bob"));

    let home = bob.get("/").await;
    home.assert_status(StatusCode::OK);
    assert!(
        texts(&home.body, ".account a").contains(&"Sign in".to_owned()),
        "bob's session has ended"
    );
    let refused = tell(&mut bob, AAR, "Another", "Text.", "success", "").await;
    refused.assert_status(StatusCode::SEE_OTHER);
    assert!(
        refused
            .location()
            .is_some_and(|l| l.starts_with("/signin?next="))
    );

    let mut again = app.client();
    let signin = again.signin("bob", PASSWORD).await;
    signin
        .assert_status(StatusCode::UNAUTHORIZED)
        .assert_contains("That username and password do not match an account.");
    assert!(
        again.get("/methods/new").await.status == StatusCode::SEE_OTHER,
        "not signed in"
    );

    let story = app.client().get(&thread).await;
    story.assert_status(StatusCode::OK);
    assert_eq!(texts(&story.body, "article .prose"), ["Bob's experience."]);
    assert_eq!(
        story_titles(&app.client().get(AAR).await.body),
        ["Bob's story"]
    );
    assert!(
        texts(&app.client().get("/users/bob").await.body, "main p.meta")
            .concat()
            .contains("blocked")
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM stories").await,
        1
    );
    assert_eq!(
        admin_events(&app).await,
        [("root".to_owned(), "Blocked the user bob".to_owned())]
    );

    root.post("/users/bob/block", &[("blocked", "0")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    again
        .signin("bob", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_admin_action_is_recorded_with_who_did_it() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut root = app.admin("root").await;
    let thread = told(&mut alice, AAR, "A story", "Text.", "success").await;
    let answer = reply(&mut alice, &thread, "A reply.").await;
    let reply_id = answer
        .location()
        .and_then(|l| l.rsplit("#reply-").next())
        .expect("a reply id")
        .to_owned();

    root.post(&format!("{AAR}/protect"), &[("protected", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    root.post(&format!("{thread}/hide"), &[("hidden", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    root.post(
        &format!("{thread}/replies/{reply_id}/hide"),
        &[("hidden", "1")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let indicator = [
        ("code", "PC-3"),
        ("name", "Partnerships reviewed yearly"),
        ("description", ""),
        ("group", "Partnership & Collaboration"),
        ("sort", "30"),
    ];
    root.post("/indicators/PC-3/edit", &indicator)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let new = [
        ("code", "KM-9"),
        ("name", "A new indicator"),
        ("description", ""),
        ("group", "Knowledge"),
        ("sort", "1"),
    ];
    root.post("/indicators", &new)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    root.post("/users/alice/block", &[("blocked", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let events = admin_events(&app).await;
    let summaries: Vec<&str> = events.iter().map(|(_, s)| s.as_str()).collect();
    let story_id: i64 = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(
        "SELECT id FROM stories WHERE title = 'A story'"
    )
    .fetch_one(pool)
    .await)
    .expect("the story");
    let hid_story = format!("Hid story #{story_id}");
    assert_eq!(
        summaries,
        [
            "Protected the page",
            hid_story.as_str(),
            "Hid a reply to “A story”",
            "Edited indicator PC-3 (Partnerships reviewed yearly)",
            "Added indicator KM-9 (A new indicator)",
            "Blocked the user alice",
        ]
    );
    assert!(events.iter().all(|(who, _)| who == "root"), "{events:?}");
    let on_page = count(&app.state.pool, "SELECT count(*) FROM events e JOIN pages p ON p.id = e.page_id WHERE e.kind = 'admin' AND p.slug = 'after-action-review'").await;
    assert_eq!(on_page, 3, "the page's admin events point at the page");
}

// ------------------------------------------------------------- hostile input

#[tokio::test]
async fn hostile_stories_and_replies_are_shown_inert() {
    let payloads = payloads();
    assert!(
        payloads.len() >= 20,
        "the core's XSS list has {} payloads",
        payloads.len()
    );
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut root = app.admin("root").await;
    let mut first = None;
    for &payload in &payloads {
        let body =
            format!("{payload}\n\nAnd in a paragraph: {payload}\n\n- {payload}\n\n> {payload}\n");
        let location = fit(payload, 120);
        let response = tell(&mut alice, AAR, payload, &body, "mixed", &location).await;
        response.assert_status(StatusCode::SEE_OTHER);
        let thread = response.location().expect("a thread").to_owned();
        let page = alice.get(&thread).await;
        page.assert_status(StatusCode::OK);
        assert_inert(&page.body, &format!("the thread of {payload:?}"));
        assert_eq!(
            texts(&page.body, "main h1"),
            [collapse(payload)],
            "the title is shown as text"
        );
        assert!(
            texts(&page.body, "article p.meta")
                .concat()
                .contains(&collapse(&location)),
            "the location is shown as text"
        );
        reply(&mut alice, first.get_or_insert(thread.clone()), payload)
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    let first = first.expect("a first story");
    for client in [&mut app.client(), &mut alice, &mut root] {
        let page = client.get(AAR).await;
        assert_inert(&page.body, "the method page listing hostile stories");
        assert_eq!(story_titles(&page.body).len(), payloads.len());
        let thread = client.get(&first).await;
        assert_inert(&thread.body, "a thread with hostile replies");
        assert_eq!(texts(&thread.body, "li.reply").len(), payloads.len());
        for path in [
            format!("{first}/history"),
            format!("{first}/revisions/1"),
            "/users/alice".to_owned(),
        ] {
            let other = client.get(&path).await;
            other.assert_status(StatusCode::OK);
            assert_inert(&other.body, &path);
        }
    }
    let edit_form = alice.get(&format!("{first}/edit")).await;
    assert_inert(&edit_form.body, "the story edit form");

    for &payload in &payloads {
        let location = fit(payload, 120);
        let refused = tell(
            &mut alice,
            AAR,
            payload,
            payload,
            "not-an-outcome",
            &location,
        )
        .await;
        refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_inert(
            &refused.body,
            &format!("the re-shown story form with {payload:?}"),
        );
        assert_eq!(
            attr(&refused.body, ".story-form input[name=title]", "value"),
            [payload],
            "kept as typed"
        );
        let edit = [
            ("title", payload),
            ("body", ""),
            ("outcome", "mixed"),
            ("location", &location),
            ("summary", payload),
        ];
        let refused_edit = alice.post(&format!("{first}/edit"), &edit).await;
        refused_edit.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_inert(
            &refused_edit.body,
            &format!("the re-shown story edit form with {payload:?}"),
        );
    }
    let long_reply = format!("{}\n", payloads.join("\n").repeat(40));
    let refused = reply(&mut alice, &first, &long_reply).await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_inert(&refused.body, "the re-shown reply form");
}

#[tokio::test]
async fn hostile_roster_tips_and_locations_are_shown_inert() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    for payload in payloads() {
        let location = fit(payload, 120);
        alice
            .post(
                &format!("{AAR}/roster"),
                &[("tip", payload), ("location", &location)],
            )
            .await
            .assert_status(StatusCode::SEE_OTHER);
        let page = app.client().get(AAR).await;
        assert_inert(&page.body, &format!("the roster with {payload:?}"));
        let entries = roster_entries(&page.body);
        assert_eq!(entries.len(), 1);
        assert!(
            entries[0].contains(&collapse(payload)),
            "the tip is shown as text: {entries:?}"
        );
        let own = alice.get(AAR).await;
        assert_inert(&own.body, "the roster form filled with the entry");
        let profile = app.client().get("/users/alice").await;
        assert_inert(&profile.body, &format!("the profile with {payload:?}"));

        let too_long = format!("{payload}{}", "x".repeat(281));
        let refused = alice
            .post(
                &format!("{AAR}/roster"),
                &[("tip", &too_long), ("location", &location)],
            )
            .await;
        refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert_inert(
            &refused.body,
            &format!("the re-shown roster form with {payload:?}"),
        );
    }
}

#[test]
fn the_inertness_check_catches_each_kind_of_active_content() {
    let page = |content: &str| {
        format!(
            "<!doctype html><html><head><script src=\"/static/app.js\" defer></script></head><body><main>{content}</main></body></html>"
        )
    };
    assert!(
        support::inert::active_content(&page("<p>Hello <a href=\"/methods\">methods</a></p>"))
            .is_empty()
    );
    for bad in [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=\" JavaScript:alert(1)\">x</a>",
        "<a href=\"data:text/html,x\">x</a>",
        "<iframe src=\"/x\"></iframe>",
        "<form action=\"javascript:alert(1)\"></form>",
        "<p style=\"color:red\">x</p>",
    ] {
        assert!(
            !support::inert::active_content(&page(bad)).is_empty(),
            "{bad} was not caught"
        );
    }
}
