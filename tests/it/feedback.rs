//! Issue 15, points 3, 4 and 8 over HTTP: one-time confirmations after each
//! action, form errors that land at their form with a summary linking each
//! field, "Remove my name" asking first, the conflict page with a diff and
//! the other editor's name, and member profiles.

use crate::support::inert::texts;
use crate::support::{Client, Page, TestApp, attrs, count, session_rows};
use axum::http::StatusCode;

const AAR: &str = "/methods/after-action-review";

/// The one-time confirmation a page shows, if any.
fn flash(page: &Page) -> String {
    texts(&page.body, "#cafe-flash[role=status]").concat()
}

/// Follows a 303 and returns the page it leads to.
async fn landed(client: &mut Client, page: Page) -> Page {
    page.assert_status(StatusCode::SEE_OTHER);
    let next = page.location().expect("a Location").to_owned();
    let next = next.split('#').next().unwrap_or_default().to_owned();
    let landed = client.get(&next).await;
    landed.assert_status(StatusCode::OK);
    landed
}

async fn source(client: &mut Client, path: &str) -> String {
    client.get(&format!("{path}/source")).await.body
}

async fn tell(client: &mut Client, fields: &[(&str, &str)]) -> Page {
    client.post(&format!("{AAR}/stories"), fields).await
}

// ------------------------------------------------------------ confirmations

#[tokio::test]
async fn a_saved_edit_is_confirmed_once_on_the_page_it_lands_on() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let base = alice.base_revision(AAR).await;
    let body = source(&mut alice, AAR).await + "\nOne more line.\n";
    let saved = alice.edit_page(AAR, &base, &body, "lkm-1", "more").await;
    let page = landed(&mut alice, saved).await;
    let number = base.parse::<i64>().expect("a number") + 1;
    assert_eq!(flash(&page), format!("Saved as revision {number}."));
    assert_eq!(
        page.header("cache-control"),
        Some("no-store"),
        "a member's page is kept by no cache"
    );
    let again = alice.get(AAR).await;
    assert_eq!(flash(&again), "", "a confirmation is shown once only");
    assert_eq!(
        attrs(&again.body, "#cafe-flash", "role"),
        ["status"],
        "the live region is always there"
    );
}

#[tokio::test]
async fn joining_and_signing_in_are_confirmed() {
    let app = TestApp::new().await;
    let mut carol = app.client();
    let joined = carol.join("carol", crate::support::PASSWORD).await;
    let home = landed(&mut carol, joined).await;
    assert!(
        flash(&home).starts_with("Welcome to") && flash(&home).contains("carol"),
        "{}",
        flash(&home)
    );
    let mut again = app.client();
    let signed_in = again.signin("carol", crate::support::PASSWORD).await;
    let home = landed(&mut again, signed_in).await;
    assert_eq!(flash(&home), "You are signed in.");
}

#[tokio::test]
async fn creating_restoring_telling_editing_replying_and_the_roster_are_each_confirmed() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;

    let created = alice
        .post(
            "/methods",
            &[
                ("title", "Peer Coaching"),
                ("body", "# Peer Coaching\n\nFirst text.\n"),
                ("tags", "coaching"),
                ("summary", "first"),
            ],
        )
        .await;
    assert_eq!(
        flash(&landed(&mut alice, created).await),
        "Page created. Thank you!"
    );

    let base = alice.base_revision("/methods/peer-coaching").await;
    alice
        .edit_page(
            "/methods/peer-coaching",
            &base,
            "# Peer Coaching\n\nSecond text.\n",
            "coaching",
            "second",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let restored = alice
        .post("/methods/peer-coaching/revisions/1/restore", &[])
        .await;
    assert_eq!(restored.location(), Some("/methods/peer-coaching/history"));
    let history = landed(&mut alice, restored).await;
    assert_eq!(flash(&history), "Restored revision 1 as revision 3.");

    let told = tell(
        &mut alice,
        &[
            ("title", "It worked"),
            ("body", "We met weekly."),
            ("outcome", "success"),
            ("location", ""),
        ],
    )
    .await;
    let thread_path = told.location().expect("a Location").to_owned();
    let thread = landed(&mut alice, told).await;
    assert_eq!(flash(&thread), "Thank you: your story is told.");

    let edited = alice
        .post(
            &format!("{thread_path}/edit"),
            &[
                ("title", "It worked well"),
                ("body", "We met weekly, for a year."),
                ("outcome", "success"),
                ("location", ""),
                ("summary", "longer"),
            ],
        )
        .await;
    assert_eq!(
        flash(&landed(&mut alice, edited).await),
        "Your changes to the story are saved."
    );

    let replied = alice
        .post(&format!("{thread_path}/replies"), &[("body", "Thanks!")])
        .await;
    assert_eq!(
        flash(&landed(&mut alice, replied).await),
        "Your reply is posted."
    );

    let added = alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Keep it short"), ("location", "")],
        )
        .await;
    assert_eq!(added.location(), Some(format!("{AAR}#roster").as_str()));
    assert_eq!(
        flash(&landed(&mut alice, added).await),
        "Your name is on the roster. Thank you for sharing!"
    );
    let updated = alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Keep it shorter"), ("location", "")],
        )
        .await;
    assert_eq!(
        flash(&landed(&mut alice, updated).await),
        "Your roster entry is updated."
    );
    let removed = alice.post(&format!("{AAR}/roster/remove"), &[]).await;
    assert_eq!(
        flash(&landed(&mut alice, removed).await),
        "Your name is removed from the roster."
    );
}

#[tokio::test]
async fn a_confirmation_is_the_members_alone_and_never_comes_from_or_goes_into_a_cache() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut visitor = app.client();
    // Both members' pending welcomes are shown and gone; the page is kept.
    alice.get(AAR).await;
    bob.get(AAR).await;
    assert_eq!(flash(&bob.get(AAR).await), "");
    visitor.get(AAR).await;

    bob.post(
        &format!("{AAR}/roster"),
        &[("tip", "Ask early"), ("location", "")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    // Alice and the visitor read the page (kept again after bob's write).
    assert_eq!(flash(&alice.get(AAR).await), "");
    assert_eq!(flash(&visitor.get(AAR).await), "");
    let bobs = bob.get(AAR).await;
    assert_eq!(
        flash(&bobs),
        "Your name is on the roster. Thank you for sharing!"
    );
    assert_eq!(bobs.header("cache-control"), Some("no-store"));
    // Nothing of bob's confirmation was kept for others or for bob.
    for client in [&mut alice, &mut visitor, &mut bob] {
        let page = client.get(AAR).await;
        assert_eq!(flash(&page), "");
        assert!(!page.body.contains("Thank you for sharing"));
    }
}

/// Every session row's data, in order of id.
async fn session_data(app: &TestApp) -> Vec<Vec<u8>> {
    let sql = format!(
        "SELECT data FROM {} ORDER BY id",
        crate::support::backend::session_table()
    );
    match &app.state.pool {
        cafe::db::Db::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_all(pool).await,
        cafe::db::Db::Postgres(pool) => sqlx::query_scalar(&sql).fetch_all(pool).await,
    }
    .expect("the session rows")
}

/// The value a response sets for the confirmation's cookie.
fn flash_cookie(page: &Page) -> Option<String> {
    let set = page.set_cookie("cafe_flash")?;
    let value = set.strip_prefix("cafe_flash=")?;
    Some(value.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_confirmation_travels_in_a_sealed_cookie_and_leaves_the_session_row_alone() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    alice.get(AAR).await;
    bob.get(AAR).await;
    let before = session_data(&app).await;

    let joined = bob
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Ask early"), ("location", "")],
        )
        .await;
    let sealed = flash_cookie(&joined).expect("the confirmation's cookie");
    assert!(!sealed.is_empty());
    let page = bob.get(AAR).await;
    assert_eq!(
        flash(&page),
        "Your name is on the roster. Thank you for sharing!"
    );
    assert_eq!(
        flash_cookie(&page).as_deref(),
        Some(""),
        "cleared once shown"
    );
    assert_eq!(flash(&bob.get(AAR).await), "");
    assert_eq!(
        session_data(&app).await,
        before,
        "keeping and showing the confirmation wrote no session"
    );

    // Bob's cookie says nothing to alice, nor does one made up to bob.
    let alices = alice.cookie.clone().expect("alice's session");
    alice.cookie = Some(format!("{alices}; cafe_flash={sealed}"));
    assert_eq!(flash(&alice.get(AAR).await), "");
    let forged = sealed.replacen(
        sealed.split('.').nth(1).expect("the message part"),
        "WW91ciBwYXNzd29yZCBjaGFuZ2Vk",
        1,
    );
    let bobs = bob.cookie.clone().expect("bob's session");
    bob.cookie = Some(format!("{bobs}; cafe_flash={forged}"));
    let page = bob.get(AAR).await;
    assert_eq!(flash(&page), "", "a message changed under its seal");
    assert!(!page.body.contains("Your password changed"));
}

#[tokio::test]
async fn a_visitor_gets_no_session_for_reading_or_for_a_refused_action() {
    let app = TestApp::new().await;
    let before = session_rows(&app).await;
    let mut visitor = app.client();
    visitor.get(AAR).await;
    visitor
        .post_raw(&format!("{AAR}/roster"), "tip=x")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    visitor.get(AAR).await;
    assert!(!visitor.has_session(), "{:?}", visitor.cookie);
    assert_eq!(session_rows(&app).await, before);
}

// ------------------------------------------------------ errors at the form

#[tokio::test]
async fn a_rejected_story_lands_at_the_stories_with_a_summary_linking_each_field() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice.get(AAR).await;
    assert_eq!(
        attrs(&page.body, "#stories .story-form form", "action"),
        [format!("{AAR}/stories#stories")],
        "the form's answer opens at its section"
    );
    let refused = tell(
        &mut alice,
        &[
            ("title", ""),
            ("body", " "),
            ("outcome", "great"),
            ("location", ""),
        ],
    )
    .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let summary = "#stories .error-summary[role=alert][tabindex='-1'][data-error-summary]";
    assert_eq!(texts(&refused.body, summary).len(), 1, "{}", refused.body);
    let links = attrs(&refused.body, &format!("{summary} a"), "href");
    assert_eq!(
        links,
        ["#story-title", "#story-body", "#story-outcome-success"]
    );
    for link in links {
        let id = &link[1..];
        assert_eq!(
            attrs(&refused.body, &format!("[id='{id}']"), "id").len(),
            1,
            "{link} leads to its field"
        );
    }
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM stories").await,
        0
    );
}

#[tokio::test]
async fn a_rejected_roster_entry_lands_at_the_roster_with_a_summary_linking_the_field() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let long = "x".repeat(281);
    let refused = alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", long.as_str()), ("location", "")],
        )
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        attrs(&refused.body, "#roster form", "action"),
        [format!("{AAR}/roster#roster")]
    );
    let summary = "#roster .error-summary[role=alert][tabindex='-1']";
    assert_eq!(
        attrs(&refused.body, &format!("{summary} a"), "href"),
        ["#roster-tip"]
    );
    assert_eq!(
        texts(&refused.body, &format!("{summary} a")),
        ["The tip can be at most 280 characters."]
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        0
    );
}

#[tokio::test]
async fn remove_my_name_asks_first_and_says_the_tip_will_be_lost() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Keep it short"), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let page = alice.get(AAR).await;
    assert_eq!(
        attrs(&page.body, "#roster a[href$='/roster/remove']", "href"),
        [format!("{AAR}/roster/remove")],
        "the page links to the question, not to an immediate removal"
    );
    assert!(
        attrs(&page.body, "#roster form", "action")
            .iter()
            .all(|a| !a.contains("/remove"))
    );
    let ask = alice.get(&format!("{AAR}/roster/remove")).await;
    ask.assert_status(StatusCode::OK);
    assert_eq!(
        texts(&ask.body, "main h1"),
        ["Remove your name from the roster of After-Action Review?"]
    );
    ask.assert_contains("Your tip will be lost");
    ask.assert_contains("Keep it short");
    assert_eq!(
        attrs(&ask.body, "main form", "action"),
        [format!("{AAR}/roster/remove")]
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        1
    );
    alice
        .post(&format!("{AAR}/roster/remove"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        0
    );
    // Asked again with no entry: back to the roster.
    let none = alice.get(&format!("{AAR}/roster/remove")).await;
    assert_eq!(none.location(), Some(format!("{AAR}#roster").as_str()));
}

// ---------------------------------------------------------- the conflict page

/// Alice starts editing, Bob saves a change to the same line meanwhile, and
/// Alice saves: the conflict page.
async fn conflict(app: &TestApp) -> (Client, Client, Page, String) {
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let base = alice.base_revision(AAR).await;
    let text = source(&mut alice, AAR).await;
    let first = text.lines().find(|l| !l.trim().is_empty()).expect("a line");
    let theirs = text.replacen(first, &format!("{first} (bob's words)"), 1);
    // As a browser sends a textarea: lines ended by CR LF.
    let mine = text
        .replacen(first, &format!("{first} (alice's words)"), 1)
        .replace('\n', "\r\n");
    bob.edit_page(AAR, &base, &theirs, "lkm-1", "bob")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let page = alice.edit_page(AAR, &base, &mine, "lkm-1", "alice").await;
    (alice, bob, page, mine)
}

#[tokio::test]
async fn a_conflict_names_the_other_editor_and_shows_their_text_against_mine() {
    let app = TestApp::new().await;
    let (_alice, _bob, page, _mine) = conflict(&app).await;
    page.assert_status(StatusCode::CONFLICT);
    let notice = texts(&page.body, "main [role=alert]").concat();
    assert!(
        notice.starts_with("bob saved this page (revision 2, "),
        "{notice}"
    );
    assert_eq!(
        attrs(&page.body, "main [role=alert] a", "href"),
        ["/users/bob"]
    );
    let removed = texts(&page.body, ".conflict-diff tr.removed td.text").concat();
    let added = texts(&page.body, ".conflict-diff tr.added td.text").concat();
    assert!(removed.contains("(bob's words)"), "{removed}");
    assert!(added.contains("(alice's words)"), "{added}");
    assert_eq!(
        (
            texts(&page.body, ".conflict-diff tr.removed").len(),
            texts(&page.body, ".conflict-diff tr.added").len()
        ),
        (1, 1),
        "only the line both changed differs (line ends aside)"
    );
    assert_eq!(
        texts(&page.body, ".conflict-form button[type=submit]"),
        ["Save my merged text"]
    );
    assert_eq!(
        attrs(&page.body, ".conflict-form a", "href"),
        [AAR],
        "Discard mine goes back to the page"
    );
    assert_eq!(texts(&page.body, ".conflict-form a"), ["Discard mine"]);
    assert!(!page.body.contains("Save my version over"));
    assert_eq!(
        attrs(
            &page.body,
            ".conflict-form input[name=base_revision]",
            "value"
        ),
        ["2"],
        "the merged text is saved on top of the other editor's revision"
    );
    let editor = texts(&page.body, ".conflict-form textarea#conflict-body").concat();
    assert!(
        editor.contains("(alice's words)"),
        "my text is in the editor"
    );
}

#[tokio::test]
async fn the_merged_text_saves_on_top_of_the_other_editors_revision() {
    let app = TestApp::new().await;
    let (mut alice, _bob, page, mine) = conflict(&app).await;
    page.assert_status(StatusCode::CONFLICT);
    let merged = mine.replacen("(alice's words)", "(alice's words, bob's words)", 1);
    let saved = alice.edit_page(AAR, "2", &merged, "lkm-1", "merged").await;
    let shown = landed(&mut alice, saved).await;
    assert_eq!(flash(&shown), "Saved as revision 3.");
    assert_eq!(source(&mut alice, AAR).await, merged.replace("\r\n", "\n"));
}

#[tokio::test]
async fn a_clean_merge_says_whose_edit_it_was_merged_with() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let base = alice.base_revision(AAR).await;
    let text = source(&mut alice, AAR).await;
    let theirs = format!("Bob's first line.\n\n{text}");
    let mine = format!("{text}\nAlice's last line.\n");
    bob.edit_page(AAR, &base, &theirs, "lkm-1", "bob")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let saved = alice.edit_page(AAR, &base, &mine, "lkm-1", "alice").await;
    let page = landed(&mut alice, saved).await;
    let said = flash(&page);
    assert!(
        said.starts_with("Merged with bob's edit from ") && said.ends_with("Saved as revision 3."),
        "{said}"
    );
    assert!(said.contains(" UTC"), "{said}");
    let now = source(&mut alice, AAR).await;
    assert!(now.starts_with("Bob's first line.") && now.contains("Alice's last line."));
}

// ----------------------------------------------------------------- profiles

#[tokio::test]
async fn a_member_fills_in_their_profile_and_how_to_reach_them_is_for_members_only() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut visitor = app.client();
    alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Keep it short"), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    // The method page is kept for visitors with alice's old name.
    assert!(visitor.get(AAR).await.body.contains(">alice</a>"));

    let form = alice.get("/account/profile").await;
    form.assert_status(StatusCode::OK);
    assert_eq!(
        attrs(&form.body, "#profile-display-name", "value"),
        ["alice"]
    );
    assert_eq!(
        attrs(&form.body, "main form", "action"),
        ["/account/profile"]
    );
    assert_eq!(
        attrs(&form.body, "main form input[name=csrf_token]", "value").len(),
        1
    );
    let saved = alice
        .post(
            "/account/profile",
            &[
                ("display_name", "Alice Achieng"),
                ("role", "Knowledge management officer"),
                ("office", "Nairobi, Kenya"),
                ("helps_with", "After-action reviews\nPeer assists"),
                ("contact", "alice@example.org"),
            ],
        )
        .await;
    assert_eq!(saved.location(), Some("/users/alice"));
    let own = landed(&mut alice, saved).await;
    assert_eq!(flash(&own), "Your profile is saved.");
    assert_eq!(texts(&own.body, "main h1"), ["Alice Achieng"]);
    assert_eq!(
        texts(&own.body, ".account a"),
        ["Alice Achieng"],
        "the header has the new name at once"
    );

    let seen_by_bob = bob.get("/users/alice").await;
    assert_eq!(
        texts(&seen_by_bob.body, ".profile-role"),
        ["Knowledge management officer"]
    );
    assert_eq!(
        texts(&seen_by_bob.body, ".profile-office"),
        ["Nairobi, Kenya"]
    );
    assert_eq!(
        texts(&seen_by_bob.body, ".profile-helps-with"),
        ["After-action reviewsPeer assists"]
    );
    assert_eq!(
        texts(&seen_by_bob.body, ".profile-contact"),
        ["alice@example.org"]
    );
    let seen_by_visitor = visitor.get("/users/alice").await;
    assert_eq!(
        texts(&seen_by_visitor.body, ".profile-role"),
        ["Knowledge management officer"]
    );
    assert!(!seen_by_visitor.body.contains("alice@example.org"));
    seen_by_visitor.assert_contains("to see how to reach Alice Achieng");

    // The roster (kept for visitors before) shows the new name, linked to the profile.
    let page = visitor.get(AAR).await;
    assert_eq!(texts(&page.body, ".roster-entry > a"), ["Alice Achieng"]);
    assert_eq!(
        attrs(&page.body, ".roster-entry > a", "href"),
        ["/users/alice"]
    );
}

#[tokio::test]
async fn a_profile_field_too_long_or_an_empty_name_re_shows_the_form_with_its_message() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let long_role = "r".repeat(101);
    let refused = alice
        .post(
            "/account/profile",
            &[
                ("display_name", " "),
                ("role", long_role.as_str()),
                ("office", "Lima"),
                ("helps_with", &"h".repeat(1001)),
                ("contact", "alice@example.org"),
            ],
        )
        .await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let summary = ".error-summary[role=alert][tabindex='-1']";
    assert_eq!(
        attrs(&refused.body, &format!("{summary} a"), "href"),
        [
            "#profile-display-name",
            "#profile-role",
            "#profile-helps-with"
        ]
    );
    assert_eq!(
        texts(&refused.body, &format!("{summary} a")),
        [
            "Please give a display name.",
            "Your role can be at most 100 characters.",
            "What you can help with can be at most 1000 characters."
        ]
    );
    assert_eq!(attrs(&refused.body, "#profile-office", "value"), ["Lima"]);
    assert_eq!(
        attrs(&refused.body, "#profile-role[aria-invalid=true]", "value"),
        [long_role]
    );
    let profile = alice.get("/users/alice").await;
    assert_eq!(texts(&profile.body, "main h1"), ["alice"]);
    assert!(!profile.body.contains("Lima"), "nothing was saved");
}

#[tokio::test]
async fn only_a_signed_in_member_edits_a_profile() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let mut visitor = app.client();
    let form = visitor.get("/account/profile").await;
    assert_eq!(form.location(), Some("/signin?next=%2Faccount%2Fprofile"));
    let post = visitor
        .post_raw("/account/profile", "display_name=Mallory")
        .await;
    post.assert_status(StatusCode::SEE_OTHER);
    let profile = visitor.get("/users/alice").await;
    assert_eq!(texts(&profile.body, "main h1"), ["alice"]);
    assert!(
        attrs(&profile.body, "main a", "href")
            .iter()
            .all(|href| href != "/account/profile"),
        "no edit link on someone else's profile"
    );
}

#[tokio::test]
async fn an_error_page_shows_the_confirmation_and_then_it_is_gone() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice.get("/").await;
    alice
        .post(
            &format!("{AAR}/roster"),
            &[("tip", "Ask early"), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let missing = alice.get("/methods/no-such-method").await;
    missing.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(
        flash(&missing),
        "Your name is on the roster. Thank you for sharing!"
    );
    assert_eq!(flash(&alice.get(AAR).await), "", "shown once only");
}
