//! Recent changes and the Atom feeds, read back with a real XML parser.

use crate::support::{Client, TestApp};
use axum::http::StatusCode;
use cafe::pages::PageText;
use cafe::tags::TagList;
use scraper::{Html, Selector};

const ATOM: &str = "http://www.w3.org/2005/Atom";

/// What a feed reader would take from a feed.
#[derive(Debug)]
struct Feed {
    id: String,
    title: String,
    self_href: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    id: String,
    title: String,
    href: String,
    author: String,
    summary: Option<String>,
    updated: String,
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children().find(|c| c.has_tag_name((ATOM, name)))
}

fn text(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    child(node, name)
        .and_then(|c| c.text())
        .unwrap_or_default()
        .to_owned()
}

fn link(node: roxmltree::Node<'_, '_>, rel: &str) -> Option<String> {
    node.children()
        .find(|c| c.has_tag_name((ATOM, "link")) && c.attribute("rel") == Some(rel))
        .and_then(|c| c.attribute("href"))
        .map(str::to_owned)
}

fn is_rfc3339(stamp: &str) -> bool {
    time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).is_ok()
}

/// Fetches and parses a feed, checking what RFC 4287 requires of it.
async fn fetch(client: &mut Client, path: &str) -> Feed {
    let page = client.get(path).await;
    page.assert_status(StatusCode::OK);
    assert!(
        page.header("content-type")
            .is_some_and(|v| v.starts_with("application/atom+xml")),
        "{path}: {:?}",
        page.header("content-type")
    );
    let doc = roxmltree::Document::parse(&page.body)
        .unwrap_or_else(|e| panic!("{path} is not XML: {e}\n{}", page.body));
    let feed = doc.root_element();
    assert!(
        feed.has_tag_name((ATOM, "feed")),
        "{path}: root is {:?}",
        feed.tag_name()
    );
    for required in ["id", "title", "updated"] {
        assert!(
            child(feed, required).is_some(),
            "{path}: feed without {required}"
        );
    }
    assert!(
        is_rfc3339(&text(feed, "updated")),
        "{path}: feed updated is not RFC 3339"
    );
    assert!(
        child(feed, "author")
            .and_then(|a| child(a, "name"))
            .is_some(),
        "{path}: feed without author"
    );
    let self_href = link(feed, "self").unwrap_or_else(|| panic!("{path}: no rel=self link"));
    let alternate =
        link(feed, "alternate").unwrap_or_else(|| panic!("{path}: no rel=alternate link"));
    assert!(
        self_href.starts_with("http://") && alternate.starts_with("http://"),
        "{path}: links not absolute"
    );
    let entries: Vec<Entry> = feed
        .children()
        .filter(|c| c.has_tag_name((ATOM, "entry")))
        .map(|e| Entry {
            id: text(e, "id"),
            title: text(e, "title"),
            href: link(e, "alternate").unwrap_or_default(),
            author: child(e, "author")
                .map(|a| text(a, "name"))
                .unwrap_or_default(),
            summary: child(e, "summary").map(|s| s.text().unwrap_or_default().to_owned()),
            updated: text(e, "updated"),
        })
        .collect();
    for entry in &entries {
        assert!(
            entry.id.starts_with("tag:127.0.0.1,2026:"),
            "{path}: entry id {:?}",
            entry.id
        );
        assert!(!entry.title.is_empty(), "{path}: entry without title");
        assert!(
            entry.href.starts_with("http://"),
            "{path}: entry link {:?}",
            entry.href
        );
        assert!(
            is_rfc3339(&entry.updated),
            "{path}: entry updated {:?}",
            entry.updated
        );
        assert!(!entry.author.is_empty(), "{path}: entry without author");
    }
    let mut ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), entries.len(), "{path}: entry ids are not unique");
    Feed {
        id: text(feed, "id"),
        title: text(feed, "title"),
        self_href,
        entries,
    }
}

async fn page(app: &TestApp, title: &str, tags: &str) -> String {
    let text = PageText {
        body: "Some text.\n".to_owned(),
        tags: TagList::parse(tags).expect("tags"),
        summary: String::new(),
    };
    let slug = cafe::pages::db::create(&app.state.pool, title, &text, None)
        .await
        .expect("create");
    slug.as_str().to_owned()
}

#[tokio::test]
async fn the_recent_feed_is_atom_with_the_newest_change_first() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice
        .create_page("Heron Count", "Counting herons.\n", "birds")
        .await;
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(
            &path,
            &base,
            "Counting herons twice.\n",
            "birds",
            "counted again",
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let feed = fetch(&mut alice, "/recent.atom").await;
    assert_eq!(feed.id, "tag:127.0.0.1,2026:recent");
    assert!(
        feed.self_href.ends_with("/recent.atom"),
        "{}",
        feed.self_href
    );
    assert!(feed.title.contains("recent changes"), "{}", feed.title);
    let first = &feed.entries[0];
    assert_eq!(first.title, "Heron Count: revision 2");
    assert!(
        first
            .href
            .ends_with("/methods/heron-count/diff?from=1&to=2"),
        "{}",
        first.href
    );
    assert_eq!(first.summary.as_deref(), Some("counted again"));
    assert_eq!(first.author, "alice");
    assert_eq!(feed.entries[1].title, "New page: Heron Count");
    assert!(
        feed.entries[1].href.ends_with("/methods/heron-count"),
        "{}",
        feed.entries[1].href
    );
}

#[tokio::test]
async fn hostile_titles_are_escaped_in_every_feed() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let hostile = r#"<b>Bold</b> & "quoted" 'it' ]]> &amp; <![CDATA[x]]>"#;
    let path = alice.create_page(hostile, "Body.\n", "odd, birds").await;
    let slug = path.trim_start_matches("/methods/").to_owned();
    for feed_path in [
        "/recent.atom".to_owned(),
        format!("{path}/history.atom"),
        "/methods.atom?tag=odd".to_owned(),
    ] {
        let raw = alice.get(&feed_path).await.body;
        assert!(
            !raw.contains("<b>Bold"),
            "{feed_path} carries raw markup:\n{raw}"
        );
        let feed = fetch(&mut alice, &feed_path).await;
        let entry = feed
            .entries
            .iter()
            .find(|e| e.title.contains("Bold"))
            .unwrap_or_else(|| panic!("{feed_path}: {feed:?}"));
        assert!(
            entry.title.contains(hostile),
            "{feed_path}: {:?}",
            entry.title
        );
        assert!(entry.href.contains(&slug), "{feed_path}: {:?}", entry.href);
    }
    let history = fetch(&mut alice, &format!("{path}/history.atom")).await;
    assert!(history.title.ends_with(hostile), "{:?}", history.title);
}

#[tokio::test]
async fn entry_ids_are_stable_across_fetches_and_shared_between_feeds() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Tern Survey", "Terns.\n", "birds").await;
    let ids = |feed: &Feed| {
        feed.entries
            .iter()
            .map(|e| e.id.clone())
            .collect::<Vec<_>>()
    };
    let first = fetch(&mut alice, "/recent.atom").await;
    let again = fetch(&mut alice, "/recent.atom").await;
    assert_eq!(ids(&first), ids(&again));
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(&path, &base, "More terns.\n", "birds", "more")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let after = fetch(&mut alice, "/recent.atom").await;
    assert_eq!(
        ids(&after)[1..],
        ids(&first)[..],
        "old entries keep their ids"
    );
    let history = fetch(&mut alice, &format!("{path}/history.atom")).await;
    assert_eq!(
        history.entries[0].id, after.entries[0].id,
        "a revision has one id in every feed"
    );
    let tagged = fetch(&mut alice, "/methods.atom?tag=birds").await;
    assert_eq!(tagged.entries[0].id, after.entries[0].id);
}

#[tokio::test]
async fn a_page_history_feed_lists_its_revisions_newest_first() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Plover Watch", "One.\n", "").await;
    for (body, summary) in [("Two.\n", "second"), ("Three.\n", "third")] {
        let base = alice.base_revision(&path).await;
        alice
            .edit_page(&path, &base, body, "", summary)
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    alice.create_page("Unrelated Page", "Other.\n", "").await;
    let feed = fetch(&mut alice, &format!("{path}/history.atom")).await;
    let titles: Vec<&str> = feed.entries.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Plover Watch: revision 3",
            "Plover Watch: revision 2",
            "Plover Watch: revision 1"
        ]
    );
    assert_eq!(feed.entries[0].summary.as_deref(), Some("third"));
    assert!(
        feed.entries[0]
            .href
            .ends_with("/methods/plover-watch/diff?from=2&to=3"),
        "{}",
        feed.entries[0].href
    );
    assert!(
        feed.entries[2]
            .href
            .ends_with("/methods/plover-watch/revisions/1"),
        "{}",
        feed.entries[2].href
    );
    alice
        .get(&format!("{path}/history"))
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("third");
    let missing = alice.get("/methods/no-such-page/history.atom").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_tag_feed_keeps_pages_having_every_tag_newest_first() {
    let app = TestApp::new().await;
    let older = page(&app, "Older Both", "alpha, beta").await;
    page(&app, "Only Alpha", "alpha").await;
    let newer = page(&app, "Newer Both", "beta, alpha, gamma").await;
    // Saves within one second tie; give the pages distinct times.
    for (slug, when) in [
        (&older, "2026-01-01T00:00:00Z"),
        (&newer, "2026-02-01T00:00:00Z"),
    ] {
        cafe::on_db!(&app.state.pool, |pool| sqlx::query(
            "UPDATE pages SET updated_at = $1 WHERE slug = $2"
        )
        .bind(when)
        .bind(slug)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .expect("backdate");
    }
    let mut client = app.client();
    let feed = fetch(&mut client, "/methods.atom?tag=alpha&tag=beta").await;
    let titles: Vec<&str> = feed.entries.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["New: Newer Both", "New: Older Both"]);
    assert_eq!(feed.entries[0].updated, "2026-02-01T00:00:00Z");
    assert_eq!(feed.id, "tag:127.0.0.1,2026:methods?tag=alpha&tag=beta");
    assert!(
        feed.self_href.ends_with("/methods.atom?tag=alpha&tag=beta"),
        "{}",
        feed.self_href
    );
    let none = fetch(&mut client, "/methods.atom?tag=alpha&tag=nothing-has-this").await;
    assert!(none.entries.is_empty());
}

/// The links of the entries on `/recent` (or the home page), in order.
fn activity_links(body: &str) -> Vec<(String, String)> {
    let html = Html::parse_document(body);
    let selector = Selector::parse("ol.activity > li > a.headline").expect("selector");
    html.select(&selector)
        .map(|a| {
            (
                a.text().collect::<String>(),
                a.value().attr("href").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn recent_changes_list_newest_first_and_link_to_the_diff_or_the_story() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Curlew Notes", "Curlews.\n", "").await;
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(&path, &base, "Curlews again.\n", "", "again")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let told = alice
        .post(
            &format!("{path}/stories"),
            &[
                ("title", "Curlews at dawn"),
                ("body", "We saw them."),
                ("outcome", "success"),
                ("location", "Coast"),
            ],
        )
        .await;
    told.assert_status(StatusCode::SEE_OTHER);
    let story_url = told.location().expect("story location").to_owned();
    let recent = alice.get("/recent").await;
    recent.assert_status(StatusCode::OK);
    let links = activity_links(&recent.body);
    assert_eq!(links[0].0, "Story “Curlews at dawn” on Curlew Notes");
    assert!(
        story_url.starts_with(&links[0].1),
        "{story_url} vs {}",
        links[0].1
    );
    assert_eq!(
        links[1],
        (
            "Curlew Notes: revision 2".to_owned(),
            "/methods/curlew-notes/diff?from=1&to=2".to_owned()
        )
    );
    assert_eq!(
        links[2],
        (
            "New page: Curlew Notes".to_owned(),
            "/methods/curlew-notes".to_owned()
        )
    );
    recent
        .assert_contains("again")
        .assert_contains(r#"href="/users/alice""#);
    let edits = alice.get("/recent?kind=edit").await;
    let edit_links = activity_links(&edits.body);
    assert!(
        edit_links
            .iter()
            .all(|(title, _)| title.contains(": revision")),
        "{edit_links:?}"
    );
    assert_eq!(edit_links.len(), 1);
    edits.assert_contains(r#"<link rel="alternate" type="application/atom+xml" title="Recent changes: Edits" href="/recent.atom?kind=edit">"#);
    let stories = fetch(&mut alice, "/recent.atom?kind=story").await;
    assert_eq!(stories.entries.len(), 1);
    alice
        .get("/recent?kind=nonsense&page=abc")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn recent_changes_are_paginated() {
    let app = TestApp::new().await;
    for i in 0..60 {
        page(&app, &format!("Paged Page {i:02}"), "").await;
    }
    let mut client = app.client();
    let first = client.get("/recent?kind=page").await;
    let links = activity_links(&first.body);
    assert_eq!(links.len(), 50);
    assert_eq!(links[0].0, "New page: Paged Page 59");
    first.assert_contains(r#"href="/recent?kind=page&#38;page=2">Older"#);
    let second = client.get("/recent?kind=page&page=2").await;
    let links = activity_links(&second.body);
    assert_eq!(links.len(), 16, "10 more plus the 6 seeded pages");
    assert_eq!(links[0].0, "New page: Paged Page 09");
    assert!(!second.body.contains(">Older<"));
    second.assert_contains(">Newer<");
}

#[tokio::test]
async fn the_home_page_shows_recent_activity() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice.create_page("Godwit Log", "Godwits.\n", "").await;
    let home = alice.get("/").await;
    home.assert_status(StatusCode::OK)
        .assert_contains("Recent activity");
    let links = activity_links(&home.body);
    assert_eq!(
        links[0],
        (
            "New page: Godwit Log".to_owned(),
            "/methods/godwit-log".to_owned()
        )
    );
    assert!(links.len() <= 8);
}

#[tokio::test]
async fn feeds_are_linked_from_the_pages_they_follow() {
    let app = TestApp::new().await;
    page(&app, "Snipe Study", "wader").await;
    let mut client = app.client();
    let alternate = |body: &str| -> Vec<String> {
        let html = Html::parse_document(body);
        let selector = Selector::parse(r#"link[rel="alternate"][type="application/atom+xml"]"#)
            .expect("selector");
        html.select(&selector)
            .filter_map(|l| l.value().attr("href").map(str::to_owned))
            .collect()
    };
    assert!(alternate(&client.get("/recent").await.body).contains(&"/recent.atom".to_owned()));
    for path in ["/methods/snipe-study", "/methods/snipe-study/history"] {
        let links = alternate(&client.get(path).await.body);
        assert!(
            links.contains(&"/methods/snipe-study/history.atom".to_owned()),
            "{path}: {links:?}"
        );
    }
    let links = alternate(&client.get("/methods?tag=wader").await.body);
    assert!(
        links.contains(&"/methods.atom?tag=wader".to_owned()),
        "{links:?}"
    );
}

#[tokio::test]
async fn a_hidden_story_leaves_recent_changes() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Stint Tally", "Stints.\n", "").await;
    let told = alice
        .post(
            &format!("{path}/stories"),
            &[
                ("title", "Secret stint story"),
                ("body", "Text."),
                ("outcome", "mixed"),
                ("location", ""),
            ],
        )
        .await;
    told.assert_status(StatusCode::SEE_OTHER);
    alice
        .get("/recent")
        .await
        .assert_contains("Secret stint story");
    let page_id = cafe::pages::db::find(
        &app.state.pool,
        &cafe::pages::Slug::parse("stint-tally").expect("slug"),
    )
    .await
    .expect("find")
    .expect("page")
    .id;
    let story_id: i64 = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(
        "SELECT id FROM stories WHERE page_id = $1"
    )
    .bind(page_id)
    .fetch_one(pool)
    .await)
    .expect("story id");
    let story = cafe::stories::db::find(&app.state.pool, page_id, story_id)
        .await
        .expect("find")
        .expect("story");
    let admin_id: i64 = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(
        "SELECT id FROM users WHERE username = 'alice'"
    )
    .fetch_one(pool)
    .await)
    .expect("user");
    cafe::stories::db::set_story_hidden(&app.state.pool, &story, true, admin_id)
        .await
        .expect("hide");
    let recent = alice.get("/recent").await;
    assert!(
        !recent.body.contains("Secret stint story"),
        "{}",
        recent.body
    );
    let feed = alice.get("/recent.atom").await;
    assert!(!feed.body.contains("Secret stint story"));
}
