//! Issue 12, items 1, 2 and 12 (merge): diffs and merges of huge pages are
//! bounded and run outside the write lock; a write that cannot get the lock
//! in time is a 503, never a 500; a merge keeps the text's last line as it was.

use crate::support;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::{Client, TestApp};
use axum::http::StatusCode;

use cafe::pages::db as pages_db;
use cafe::pages::{PageText, Slug};
use cafe::tags::TagList;

/// A page body of `lines` lines, each different from any other text's.
fn big_body(word: &str, lines: usize) -> String {
    (0..lines).map(|i| format!("{word}{i}\n")).collect()
}

/// A page made by `alice` and saved twice with unrelated 40,000-line texts.
async fn huge_page(app: &TestApp, alice: &mut Client) -> String {
    let path = alice
        .create_page("Huge Page", &big_body("a", 40_000), "")
        .await;
    alice
        .edit_page(&path, "1", &big_body("b", 40_000), "", "all new")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let slug = Slug::parse("huge-page").expect("slug");
    let page = pages_db::find(&app.state.pool, &slug)
        .await
        .expect("query")
        .expect("page");
    assert_eq!(page.revision, 2);
    path
}

/// The app's router served on a random port of 127.0.0.1.
async fn serve(app: &TestApp) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = app.router.clone();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dozen_visitors_diffing_a_huge_page_do_not_stop_the_server_answering() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = huge_page(&app, &mut alice).await;
    let (base, server) = serve(&app).await;
    let http = reqwest::Client::new();

    let mut diffs = tokio::task::JoinSet::new();
    for x in 0..24 {
        let (http, url) = (http.clone(), format!("{base}{path}/diff?from=1&to=2&x={x}"));
        diffs.spawn(async move {
            let response = http.get(url).send().await.expect("diff request");
            let status = response.status();
            (status, response.text().await.expect("diff body"))
        });
    }
    let mut slowest = Duration::ZERO;
    while !diffs.is_empty() && slowest < Duration::from_secs(1) {
        let started = Instant::now();
        let health = tokio::time::timeout(
            Duration::from_secs(1),
            http.get(format!("{base}/healthz")).send(),
        )
        .await;
        slowest = slowest.max(started.elapsed());
        assert!(
            matches!(&health, Ok(Ok(r)) if r.status() == 200),
            "/healthz did not answer within 1 s while diffs ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Some(done) = diffs.try_join_next() {
            let (status, body) = done.expect("diff task");
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("Too large to show"), "{body}");
        }
    }
    assert!(
        slowest < Duration::from_secs(1),
        "slowest /healthz: {slowest:?}"
    );
    for (status, body) in diffs.join_all().await {
        assert_eq!(status, 200);
        assert!(body.contains("Too large to show"), "{body}");
    }
    server.abort();
}

#[tokio::test]
async fn a_diff_too_large_to_show_says_so_and_links_both_sources() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = huge_page(&app, &mut alice).await;
    let mut visitor = app.client();
    let page = visitor.get(&format!("{path}/diff?from=1&to=2")).await;
    page.assert_status(StatusCode::OK)
        .assert_contains("Too large to show")
        .assert_contains("40000 line(s) removed, 40000 added");
    assert!(
        page.body.len() < 64 * 1024,
        "a too-large diff sent {} bytes",
        page.body.len()
    );
    let links = support::attrs(&page.body, "#main a, main a", "href");
    for n in [1, 2] {
        let source = format!("{path}/revisions/{n}/source");
        assert!(links.contains(&source), "no link to {source}: {links:?}");
        let text = visitor.get(&source).await;
        text.assert_status(StatusCode::OK);
        assert_eq!(
            text.header("content-type"),
            Some("text/markdown; charset=utf-8")
        );
        let word = if n == 1 { "a" } else { "b" };
        assert_eq!(text.body, big_body(word, 40_000));
    }
    // A small change is still drawn as before.
    let small = alice
        .edit_page(&path, "2", &big_body("b", 39_999), "", "one less")
        .await;
    small.assert_status(StatusCode::SEE_OTHER);
    let diff = visitor.get(&format!("{path}/diff?from=2&to=3")).await;
    diff.assert_status(StatusCode::OK).assert_contains("b39999");
    assert!(!diff.body.contains("Too large to show"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_huge_save_does_not_make_another_members_story_fail() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut carol = app.member("carol").await;
    let path = huge_page(&app, &mut alice).await;
    let token = bob.csrf().await;
    let story_token = carol.csrf().await;

    let stale = {
        let (mut bob, path) = (bob.clone(), path.clone());
        tokio::spawn(async move {
            let body = big_body("c", 40_000);
            let fields = support::encode(&[
                ("csrf_token", token.as_str()),
                ("base_revision", "1"),
                ("body", body.as_str()),
                ("tags", ""),
                ("summary", "from an old base"),
            ]);
            bob.post_raw(&format!("{path}/edit"), fields).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fields = support::encode(&[
        ("csrf_token", story_token.as_str()),
        ("title", "It worked"),
        ("body", "We tried it with twelve people."),
        ("outcome", "success"),
        ("location", ""),
    ]);
    let story = carol.post_raw(&format!("{path}/stories"), fields).await;
    story.assert_status(StatusCode::SEE_OTHER);

    let stale = stale.await.expect("stale save");
    stale.assert_status(StatusCode::CONFLICT);
    let kept = support::attrs(&stale.body, "textarea[name=body]", "name");
    assert_eq!(kept.len(), 1, "the conflict page keeps the text");
    let page = alice.get(&path).await;
    page.assert_contains("It worked");
}

#[tokio::test]
async fn a_write_that_cannot_get_the_lock_in_time_is_a_503_and_saves_nothing() {
    if support::backend::sqlite_only("SQLite's one write lock") {
        return;
    }
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let path = alice.create_page("Locked Out", "Text.\n", "").await;
    let token = alice.csrf().await;

    // Another process (a backup, an import) holds the write lock.
    let options = cafe::db::options(&app.db_path()).expect("options");
    let mut other = sqlx::ConnectOptions::connect(&options)
        .await
        .expect("second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("lock");

    let fields = support::encode(&[
        ("csrf_token", token.as_str()),
        ("title", "Blocked"),
        ("body", "This story waits for the lock."),
        ("outcome", "mixed"),
        ("location", ""),
    ]);
    let story = alice.post_raw(&format!("{path}/stories"), fields).await;
    story.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    story.assert_contains("Nothing was saved");
    assert!(!story.body.contains("locked"), "{}", story.body);
    assert_eq!(story.header("retry-after"), Some("5"));
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("unlock");

    let page = alice.get(&path).await;
    assert!(!page.body.contains("This story waits"), "{}", page.body);
}

#[tokio::test]
async fn a_merged_edit_keeps_a_body_without_a_final_newline_without_one() {
    let app = TestApp::new().await;
    let pool = &app.state.pool;
    let text = |body: &str| PageText {
        body: body.to_owned(),
        tags: TagList::default(),
        summary: String::new(),
    };
    let base = "alpha\n\nbeta\n\ngamma\n\ndelta\n\nepsilon";
    let slug = pages_db::create(pool, "No Newline", &text(base), None)
        .await
        .expect("create");
    let page = pages_db::find(pool, &slug)
        .await
        .expect("query")
        .expect("page");
    let first = pages_db::save(
        pool,
        page.id,
        1,
        &text(&base.replace("alpha", "ALPHA")),
        None,
    )
    .await
    .expect("first save");
    assert!(matches!(
        first,
        pages_db::SaveOutcome::Saved {
            number: 2,
            merged: false
        }
    ));
    let second = pages_db::save(
        pool,
        page.id,
        1,
        &text(&base.replace("epsilon", "EPSILON")),
        None,
    )
    .await
    .expect("second save");
    assert!(
        matches!(
            second,
            pages_db::SaveOutcome::Saved {
                number: 3,
                merged: true
            }
        ),
        "{second:?}"
    );
    let page = pages_db::find(pool, &slug)
        .await
        .expect("query")
        .expect("page");
    assert_eq!(page.body, "ALPHA\n\nbeta\n\ngamma\n\ndelta\n\nEPSILON");
}
