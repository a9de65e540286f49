//! The page-view fast path: a method page view parses no Markdown and runs a
//! small, fixed number of SQL queries, whatever the page holds; visitors'
//! repeat views and feeds run none; a filtered method list runs at most four,
//! three once it is kept. It runs alone in a process of its own, because it
//! counts queries with a process-wide tracing subscriber.

use crate::support;
use crate::support::{alone, queries};

use axum::http::StatusCode;
use cafe::config::ServeArgs;

/// Most queries a page view may run: one statement reads the page with its
/// stories, tally, roster, tag names, backlinks and related pages; a member
/// adds the session row and the session's user, and, when content changed
/// since their last page, one statement for their watches and unseen count
/// (issue 18).
const VISITOR_QUERIES: usize = 1;
const MEMBER_QUERIES: usize = 4;

#[tokio::test]
async fn a_page_view_parses_no_markdown_and_runs_a_bounded_number_of_queries() {
    let name = alone::test_name(
        module_path!(),
        "a_page_view_parses_no_markdown_and_runs_a_bounded_number_of_queries",
    );
    if !alone::is_alone(&name) {
        alone::run_alone(&name, []);
        return;
    }
    queries::install();

    let app = support::TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = "/methods/communities-of-practice";
    for n in 0..5 {
        let title = format!("Story {n}");
        alice
            .post(
                &format!("{path}/stories"),
                &[
                    ("title", &title),
                    ("body", "It **went** well. See [[Peer Assist]]."),
                    ("outcome", "success"),
                ],
            )
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    alice
        .post(
            &format!("{path}/roster"),
            &[("tip", "Start small"), ("location", "Lima")],
        )
        .await;

    for (who, client, max) in [
        ("a visitor", &mut app.client(), VISITOR_QUERIES),
        ("a member", &mut alice, MEMBER_QUERIES),
    ] {
        let parses_before = cafe::markdown::parses_on_this_thread();
        queries::reset();
        let page = client.get(path).await;
        let ran = queries::page_statements();
        page.assert_status(StatusCode::OK)
            .assert_contains("Story 4")
            .assert_contains("Start small");
        assert_eq!(
            cafe::markdown::parses_on_this_thread(),
            parses_before,
            "a page view by {who} parsed Markdown"
        );
        assert!(
            ran > 0,
            "the query counter saw nothing: is sqlx still logging statements?"
        );
        assert!(
            ran <= max,
            "a page view by {who} ran {ran} queries (at most {max})"
        );
    }

    // A visitor's second view of the page comes from the page cache: no
    // statement at all, the same HTML.
    let mut visitor = app.client();
    let first = visitor.get(path).await;
    first.assert_status(StatusCode::OK);
    queries::reset();
    let again = visitor.get(path).await;
    assert_eq!(queries::page_statements(), 0, "a cached view ran queries");
    again.assert_status(StatusCode::OK);
    assert_eq!(again.body, first.body);

    // The cache keeps what it serves as it was sent: a feed stays a feed.
    let feed = visitor.get("/recent.atom").await;
    feed.assert_status(StatusCode::OK);
    queries::reset();
    let cached_feed = visitor.get("/recent.atom").await;
    assert_eq!(queries::page_statements(), 0, "a cached feed ran queries");
    assert_eq!(
        cached_feed.header("content-type"),
        feed.header("content-type")
    );
    assert!(
        cached_feed
            .header("content-type")
            .is_some_and(|t| t.contains("atom")),
        "{:?}",
        cached_feed.headers
    );
    assert_eq!(cached_feed.body, feed.body);

    // A visitor who has seen the sign-in form holds its CSRF cookie, not a
    // session (issue 12, item 7): their page views still come from the cache.
    let mut after_form = app.client();
    after_form
        .get("/signin")
        .await
        .assert_status(StatusCode::OK);
    queries::reset();
    after_form.get(path).await.assert_status(StatusCode::OK);
    assert_eq!(
        queries::page_statements(),
        0,
        "not served from the visitors' cache after the sign-in form"
    );

    // The filtered method list: a member (never served from the visitors'
    // cache) runs the session's two statements, the list's head (generation
    // and tag names), and on a miss one statement for counts and rows; once
    // the list is kept, only the head.
    let list = "/methods?tag=lkm-1&tag=lkm-2";
    queries::reset();
    alice.get(list).await.assert_status(StatusCode::OK);
    let first = queries::page_statements();
    queries::reset();
    alice.get(list).await.assert_status(StatusCode::OK);
    let kept = queries::page_statements();
    assert!(
        first <= 4,
        "a filtered list ran {first} statements (at most 4)"
    );
    assert!(
        kept <= 3,
        "a kept filtered list ran {kept} statements (at most 3)"
    );

    // A save does parse: proof that the counter would see a parse on this path.
    let parses_before = cafe::markdown::parses_on_this_thread();
    let base = alice.base_revision(path).await;
    alice
        .edit_page(
            path,
            &base,
            "## Brief Description\n\nChanged.\n",
            "learning",
            "test",
        )
        .await;
    assert!(
        cafe::markdown::parses_on_this_thread() > parses_before,
        "saving should render Markdown on this thread"
    );

    // The save made the cached copy stale: the visitor sees the new text at once.
    visitor
        .get(path)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Changed.");

    files_serve_visitors_when_memory_holds_none().await;
}

/// With no memory for the visitors' cache, pages come back from its file:
/// no statement, the same HTML and the same security headers; a save still
/// shows at once.
async fn files_serve_visitors_when_memory_holds_none() {
    let mut config = ServeArgs::defaults();
    config.page_cache_mib = 0;
    let app = support::TestApp::with_config(config).await;
    let path = "/methods/peer-assist";
    let mut visitor = app.client();
    let first = visitor.get(path).await;
    first.assert_status(StatusCode::OK);
    // The file is written in the background: look until it is there.
    let mut from_file = None;
    for _ in 0..200 {
        queries::reset();
        let again = visitor.get(path).await;
        if queries::page_statements() == 0 {
            from_file = Some(again);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let again = from_file.expect("every view ran statements: the file tier served none");
    again.assert_status(StatusCode::OK);
    assert_eq!(again.body, first.body);
    for name in [
        "content-type",
        "content-security-policy",
        "x-frame-options",
        "cache-control",
    ] {
        assert!(again.header(name).is_some(), "no {name} on a kept page");
        assert_eq!(again.header(name), first.header(name), "{name}");
    }

    let mut alice = app.member("alice").await;
    let base = alice.base_revision(path).await;
    alice
        .edit_page(
            path,
            &base,
            "Written after the file was kept.\n",
            "learning",
            "test",
        )
        .await;
    visitor
        .get(path)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Written after the file was kept.");
}
