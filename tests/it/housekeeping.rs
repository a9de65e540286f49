//! Page housekeeping (issue 15): the duplicate-title offer, rename with
//! its permanent redirects, delete and undelete, merging a duplicate.

use axum::http::StatusCode;

use crate::support::{Client, TestApp, count, encode};

/// Posts the create form, optionally confirming a duplicate title.
async fn create(
    client: &mut Client,
    title: &str,
    body: &str,
    anyway: bool,
) -> crate::support::Page {
    let mut fields = vec![
        ("title", title),
        ("body", body),
        ("tags", "circle"),
        ("summary", ""),
    ];
    if anyway {
        fields.push(("create_anyway", "1"));
    }
    client.post("/methods", &fields).await
}

async fn rename(
    client: &mut Client,
    path: &str,
    title: &str,
    summary: &str,
) -> crate::support::Page {
    client
        .post(
            &format!("{path}/rename"),
            &[("title", title), ("summary", summary)],
        )
        .await
}

fn location(page: &crate::support::Page) -> &str {
    page.location().expect("a Location header")
}

#[tokio::test]
async fn creating_a_page_whose_title_exists_offers_the_existing_page() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    // "Peer Assist" is seeded; case, accents and punctuation do not matter.
    for title in ["Peer Assist", "peer-assist!", "Peér ASSIST"] {
        let offer = create(&mut alice, title, "Mine.\n", false).await;
        offer
            .assert_status(StatusCode::CONFLICT)
            .assert_contains("A method page with this title already exists")
            .assert_contains(r#"href="/methods/peer-assist""#)
            .assert_contains(r#"href="/methods/peer-assist/edit""#)
            .assert_contains(r#"name="create_anyway""#)
            .assert_contains("Mine.");
    }
    alice
        .get("/methods/peer-assist-2")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let made = create(&mut alice, "Peer Assist", "Mine.\n", true).await;
    made.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&made), "/methods/peer-assist-2");
    // A title of its own is created at once.
    let fresh = create(&mut alice, "Peer Assists for Fishers", "x\n", false).await;
    fresh.assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_renamed_page_answers_at_its_new_address_and_its_old_one_redirects() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Fishbowl", "Chairs in a circle.\n", "circle")
        .await;
    let renamed = rename(&mut alice, &path, "Fishbowl Conversation", "clearer name").await;
    renamed.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&renamed), "/methods/fishbowl-conversation");
    alice
        .get("/methods/fishbowl-conversation")
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("<h1 id=\"page-title\">Fishbowl Conversation</h1>")
        .assert_contains("Chairs in a circle.");

    let mut visitor = app.client();
    let old = visitor.get("/methods/fishbowl").await;
    old.assert_status(StatusCode::MOVED_PERMANENTLY);
    assert_eq!(location(&old), "/methods/fishbowl-conversation");
    let sub = visitor.get("/methods/fishbowl/history?page=1").await;
    sub.assert_status(StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        location(&sub),
        "/methods/fishbowl-conversation/history?page=1"
    );
    let source = visitor.get("/methods/fishbowl/revisions/1/source").await;
    assert_eq!(
        location(&source),
        "/methods/fishbowl-conversation/revisions/1/source"
    );
    // A form sent to the old address is sent again to the new one.
    let post = alice
        .post(
            "/methods/fishbowl/edit",
            &[("body", "x"), ("base_revision", "2")],
        )
        .await;
    post.assert_status(StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&post), "/methods/fishbowl-conversation/edit");

    // The rename is a revision with its summary, and a recent change.
    visitor
        .get("/methods/fishbowl-conversation/history")
        .await
        .assert_contains("Renamed “Fishbowl” to “Fishbowl Conversation”: clearer name");
    visitor
        .get("/recent")
        .await
        .assert_contains("Renamed “Fishbowl” to “Fishbowl Conversation”");
    visitor
        .get("/recent.atom")
        .await
        .assert_contains("Renamed “Fishbowl” to “Fishbowl Conversation”");
    let list = visitor.get("/methods").await;
    list.assert_contains("Fishbowl Conversation");
    assert!(
        !list.body.contains(r#"href="/methods/fishbowl""#),
        "{}",
        list.body
    );
}

#[tokio::test]
async fn a_chain_of_renames_redirects_straight_to_the_last_and_a_page_can_take_its_old_name_back() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let a = alice.create_page("Alpha Method", "Text.\n", "").await;
    let b = location(&rename(&mut alice, &a, "Beta Method", "").await).to_owned();
    let c = location(&rename(&mut alice, &b, "Gamma Method", "").await).to_owned();
    assert_eq!(c, "/methods/gamma-method");
    let mut visitor = app.client();
    for old in ["/methods/alpha-method", "/methods/beta-method"] {
        let page = visitor.get(old).await;
        page.assert_status(StatusCode::MOVED_PERMANENTLY);
        assert_eq!(location(&page), "/methods/gamma-method", "{old}");
    }
    // Back to the first name: the page is there again, the others lead to it.
    let back = rename(&mut alice, &c, "Alpha Method", "").await;
    assert_eq!(location(&back), "/methods/alpha-method");
    visitor
        .get("/methods/alpha-method")
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("<h1 id=\"page-title\">Alpha Method</h1>");
    for old in ["/methods/beta-method", "/methods/gamma-method"] {
        let page = visitor.get(old).await;
        page.assert_status(StatusCode::MOVED_PERMANENTLY);
        assert_eq!(location(&page), "/methods/alpha-method", "{old}");
    }
    // A new page with an old title is offered the renamed page first, and
    // never takes the old slug: it gets a number.
    create(&mut alice, "Beta Method", "Another.\n", false)
        .await
        .assert_status(StatusCode::CONFLICT)
        .assert_contains(r#"href="/methods/alpha-method""#);
    let other = create(&mut alice, "Beta Method", "Another.\n", true).await;
    assert_eq!(location(&other), "/methods/beta-method-2");
}

#[tokio::test]
async fn wiki_links_written_with_the_old_title_still_lead_to_the_page() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let target = alice.create_page("Fishbowl", "Chairs.\n", "").await;
    let before = alice
        .create_page("Linker One", "See [[Fishbowl]].\n", "")
        .await;
    rename(&mut alice, &target, "Fishbowl Conversation", "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let after = alice
        .create_page("Linker Two", "Also [[Fishbowl]].\n", "")
        .await;
    for linker in [before, after] {
        let page = alice.get(&linker).await;
        page.assert_status(StatusCode::OK)
            .assert_contains(r#"href="/methods/fishbowl""#);
        assert!(!page.body.contains("missing"), "{linker}: {}", page.body);
    }
    let followed = alice.get("/methods/fishbowl").await;
    assert_eq!(location(&followed), "/methods/fishbowl-conversation");
}

#[tokio::test]
async fn renaming_is_for_members_and_a_protected_page_only_for_admins() {
    let app = TestApp::new().await;
    let mut admin = app.admin("root").await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Fishbowl", "Chairs.\n", "").await;
    alice
        .get(&path)
        .await
        .assert_contains(r#"href="/methods/fishbowl/rename""#);
    alice
        .get(&format!("{path}/rename"))
        .await
        .assert_status(StatusCode::OK)
        .assert_contains(r#"name="title""#)
        .assert_contains(r#"name="summary""#);
    let mut visitor = app.client();
    let signin = visitor.get(&format!("{path}/rename")).await;
    signin.assert_status(StatusCode::SEE_OTHER);
    admin
        .post(&format!("{path}/protect"), &[("protected", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice
        .get(&format!("{path}/rename"))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    rename(&mut alice, &path, "Mine Now", "")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let done = rename(&mut admin, &path, "Fishbowl Circle", "").await;
    assert_eq!(location(&done), "/methods/fishbowl-circle");
}

#[tokio::test]
async fn a_bad_new_title_reshows_the_rename_form() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Fishbowl", "Chairs.\n", "").await;
    rename(&mut alice, &path, "???", "")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("at least one letter or digit")
        .assert_contains(r#"value="???""#);
    rename(&mut alice, &path, "Fishbowl", "")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("the same as the current one");
    alice.get(&path).await.assert_status(StatusCode::OK);
}

/// A page with a tag, a story and a roster entry, and its path.
async fn page_with_everything(alice: &mut Client) -> String {
    let path = alice
        .create_page(
            "Fishbowl",
            "Chairs in a zanzibarian circle.\n",
            "circle, lkm-2",
        )
        .await;
    alice
        .post(
            &format!("{path}/stories"),
            &[
                ("title", "Our fishbowl in Dakar"),
                ("body", "It went well."),
                ("outcome", "success"),
                ("location", "Dakar"),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice
        .post(
            &format!("{path}/roster"),
            &[("tip", "Ask me about chairs"), ("location", "Dakar")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    path
}

#[tokio::test]
async fn a_deleted_page_answers_410_leaves_every_list_and_undelete_brings_it_all_back() {
    let app = TestApp::new().await;
    let mut admin = app.admin("root").await;
    let mut alice = app.member("alice").await;
    let path = page_with_everything(&mut alice).await;
    let mut visitor = app.client();
    // Seen (and kept by the caches) before the delete.
    for look in [
        path.as_str(),
        "/methods",
        "/tags/circle",
        "/search?q=zanzibarian",
        "/methods.atom",
        "/",
    ] {
        visitor
            .get(look)
            .await
            .assert_status(StatusCode::OK)
            .assert_contains("Fishbowl");
    }
    alice.get(&path).await.assert_status(StatusCode::OK);
    let revisions = count(&app.state.pool, "SELECT count(*) FROM revisions").await;

    let deleted = admin.post(&format!("{path}/delete"), &[]).await;
    deleted.assert_status(StatusCode::SEE_OTHER);
    let gone = visitor.get(&path).await;
    gone.assert_status(StatusCode::GONE)
        .assert_contains("was deleted by root")
        .assert_contains("<time");
    assert!(
        !gone.body.contains("/undelete"),
        "visitors get no restore button"
    );
    // A member's kept page is not served either.
    alice.get(&path).await.assert_status(StatusCode::GONE);
    alice
        .get(&format!("{path}/history"))
        .await
        .assert_status(StatusCode::GONE);
    admin
        .get(&path)
        .await
        .assert_status(StatusCode::GONE)
        .assert_contains(r#"action="/methods/fishbowl/undelete""#);
    for look in [
        "/methods",
        "/tags/circle",
        "/search?q=zanzibarian",
        "/search?q=dakar",
        "/methods.atom",
        "/recent",
        "/",
        "/tags",
        "/users/alice",
    ] {
        let page = visitor.get(look).await;
        assert!(
            !page.body.contains("/methods/fishbowl"),
            "{look} still shows the deleted page: {}",
            page.body
        );
    }
    // The export (`cafe export`) leaves a deleted page out.
    let exported = cafe::pages::db::all_for_export(&app.state.pool)
        .await
        .expect("export");
    assert!(exported.iter().all(|p| p.slug != "fishbowl"));
    assert!(exported.iter().any(|p| p.slug == "peer-assist"));
    // Nothing was erased.
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM revisions").await,
        revisions
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM stories").await,
        1
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM roster").await,
        1
    );

    let restored = admin.post(&format!("{path}/undelete"), &[]).await;
    restored.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&restored), path);
    visitor
        .get(&path)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Our fishbowl in Dakar")
        .assert_contains("Ask me about chairs");
    for look in [
        "/methods",
        "/tags/circle",
        "/search?q=zanzibarian",
        "/search?q=dakar",
        "/methods.atom",
        "/users/alice",
    ] {
        visitor
            .get(look)
            .await
            .assert_status(StatusCode::OK)
            .assert_contains("/methods/fishbowl");
    }
}

#[tokio::test]
async fn members_may_not_delete_undelete_or_merge() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Fishbowl", "Chairs.\n", "").await;
    for action in ["delete", "undelete"] {
        alice
            .post(&format!("{path}/{action}"), &[])
            .await
            .assert_status(StatusCode::FORBIDDEN);
    }
    alice
        .post(&format!("{path}/merge-into"), &[("target", "Peer Assist")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let page = alice.get(&path).await;
    page.assert_status(StatusCode::OK);
    assert!(
        !page.body.contains("/delete"),
        "members see no delete button"
    );
}

#[tokio::test]
async fn housekeeping_forms_without_the_csrf_token_are_refused() {
    let app = TestApp::new().await;
    let mut admin = app.admin("root").await;
    let path = admin.create_page("Fishbowl", "Chairs.\n", "").await;
    for (action, fields) in [
        ("rename", encode(&[("title", "Other")])),
        ("delete", String::new()),
        ("undelete", String::new()),
        ("merge-into", encode(&[("target", "peer-assist")])),
    ] {
        admin
            .post_raw(&format!("{path}/{action}"), fields)
            .await
            .assert_status(StatusCode::FORBIDDEN);
    }
    admin
        .get(&path)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("<h1 id=\"page-title\">Fishbowl</h1>");
}

#[tokio::test]
async fn merging_a_duplicate_moves_its_stories_and_roster_and_redirects_it() {
    let app = TestApp::new().await;
    let mut admin = app.admin("root").await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let target = alice.create_page("Fishbowl", "The original.\n", "").await;
    let dup = create(&mut alice, "Fish bowl!", "A copy.\n", true).await;
    let dup = location(&dup).to_owned();
    assert_eq!(dup, "/methods/fish-bowl");
    alice
        .post(
            &format!("{target}/roster"),
            &[("tip", "Original tip"), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice
        .post(
            &format!("{dup}/roster"),
            &[("tip", "Duplicate tip"), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    bob.post(
        &format!("{dup}/roster"),
        &[("tip", "Bobs tip"), ("location", "")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    bob.post(
        &format!("{dup}/stories"),
        &[
            ("title", "Bobs fishbowl story"),
            ("body", "It went."),
            ("outcome", "mixed"),
            ("location", "Lima"),
        ],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);

    let unknown = admin
        .post(
            &format!("{dup}/merge-into"),
            &[("target", "No Such Method")],
        )
        .await;
    unknown
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("There is no method page called “No Such Method”");
    admin
        .post(&format!("{dup}/merge-into"), &[("target", "fish-bowl")])
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("cannot be merged into itself");

    let merged = admin
        .post(&format!("{dup}/merge-into"), &[("target", "fishbowl")])
        .await;
    merged.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&merged), target);
    let old = bob.get(&dup).await;
    old.assert_status(StatusCode::MOVED_PERMANENTLY);
    assert_eq!(location(&old), target);
    let page = bob.get(&target).await;
    page.assert_status(StatusCode::OK)
        .assert_contains("Bobs fishbowl story")
        .assert_contains("Bobs tip")
        .assert_contains("Original tip");
    assert!(
        !page.body.contains("Duplicate tip"),
        "alice keeps one entry"
    );
    assert_eq!(
        count(
            &app.state.pool,
            "SELECT count(*) FROM roster r JOIN pages p ON p.id = r.page_id WHERE p.slug = 'fishbowl'"
        )
        .await,
        2
    );
    let list = bob.get("/methods").await;
    assert!(!list.body.contains("Fish bowl!"), "{}", list.body);
}
