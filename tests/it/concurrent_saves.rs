//! Page saves on PostgreSQL go on side by side
//! (`migrations/postgres/0102_clock_at_commit.sql`, `cafe::db::begin_save`):
//! a save of one page never waits for a save of another until their
//! commits, and the content clock moves at each commit, in commit order.
//! What one writer at a time used to give must still hold: two saves from
//! one revision cannot both write the next, and a page created while a
//! save links to it is linked.
//!
//! Each test holds one transaction open while another runs, which on
//! SQLite (one writer at a time, `BEGIN IMMEDIATE`) would wait for ever:
//! they need PostgreSQL (`CAFE_TEST_POSTGRES`) and say they were skipped
//! without it.

use std::time::Duration;

use cafe::db::{Db, Tx};
use cafe::pages::db::{self as pages_db, SaveOutcome};
use cafe::pages::{PageText, Slug};

use crate::support::backend;

/// True (and a note) when the suite runs without PostgreSQL.
fn skipped(test: &str) -> bool {
    backend::skipped_without_postgres(&format!("concurrent_saves::{test}"))
}

/// Long enough for a save that is not blocked to finish on a loaded CI
/// machine; a blocked one never finishes within it.
const UNBLOCKED: Duration = Duration::from_secs(20);

/// How long a waiting save is watched to be sure it waits.
const STILL_WAITING: Duration = Duration::from_millis(500);

async fn database() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = backend::fresh(dir.path()).await;
    let pool = cafe::db::connect(&url).await.expect("the database");
    (dir, pool)
}

fn text(body: &str) -> PageText {
    PageText::parse(body, "", "").expect("valid text")
}

/// Creates a page titled `title`; its id and slug.
async fn page(pool: &Db, title: &str, body: &str) -> (i64, Slug) {
    let slug = pages_db::create(pool, title, &text(body), None)
        .await
        .expect("create");
    let page = pages_db::find(pool, &slug)
        .await
        .expect("find")
        .expect("the page");
    (page.id, slug)
}

async fn clock_tick(pool: &Db) -> i64 {
    cafe::on_db!(pool, |pool| sqlx::query_scalar(
        "SELECT tick FROM content_clock WHERE id = 1"
    )
    .fetch_one(pool)
    .await)
    .expect("the clock")
}

async fn page_tick(pool: &Db, slug: &Slug) -> i64 {
    cafe::on_db!(pool, |pool| sqlx::query_scalar(
        "SELECT tick FROM page_ticks WHERE slug = $1"
    )
    .bind(slug.as_str())
    .fetch_one(pool)
    .await)
    .expect("the page's tick")
}

async fn revisions(pool: &Db, page_id: i64) -> Vec<(i64, String)> {
    cafe::on_db!(pool, |pool| sqlx::query_as(
        "SELECT number, body FROM revisions WHERE page_id = $1 ORDER BY number"
    )
    .bind(page_id)
    .fetch_all(pool)
    .await)
    .expect("revisions")
}

/// Begins a save's transaction and writes `body` over revision `expected`
/// of the page, without committing.
async fn save_uncommitted(pool: &Db, page_id: i64, expected: i64, body: &str) -> (Tx, SaveOutcome) {
    let mut tx = cafe::db::begin_save(pool).await.expect("begin a save");
    let outcome = pages_db::save_in(&mut tx, page_id, expected, &text(body), None, None)
        .await
        .expect("save_in");
    (tx, outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_of_another_page_commits_while_one_is_in_flight_and_ticks_follow_the_commits() {
    if skipped("a_save_of_another_page_commits_while_one_is_in_flight_and_ticks_follow_the_commits")
    {
        return;
    }
    let (_dir, pool) = database().await;
    let (a, a_slug) = page(&pool, "Alpha Page", "Alpha as first written.\n").await;
    let (b, b_slug) = page(&pool, "Beta Page", "Beta as first written.\n").await;
    let before = clock_tick(&pool).await;

    let (first, outcome) = save_uncommitted(&pool, a, 1, "Alpha saved first.\n").await;
    assert!(
        matches!(outcome, SaveOutcome::Saved { number: 2, .. }),
        "{outcome:?}"
    );
    // Begun later, committed first, while A's save is still open: it used
    // to wait for A's whole transaction at the clock's row.
    let second = tokio::time::timeout(UNBLOCKED, async {
        let (tx, outcome) = save_uncommitted(&pool, b, 1, "Beta saved second.\n").await;
        tx.commit().await.expect("commit B");
        outcome
    })
    .await
    .expect("a save of another page does not wait for the one in flight");
    assert!(
        matches!(second, SaveOutcome::Saved { number: 2, .. }),
        "{second:?}"
    );
    assert_eq!(
        clock_tick(&pool).await,
        before + 1,
        "B's commit moved the clock once; A's uncommitted save not at all"
    );
    assert_eq!(page_tick(&pool, &b_slug).await, before + 1);
    assert!(
        page_tick(&pool, &a_slug).await <= before,
        "A's tick does not move before A commits"
    );
    first.commit().await.expect("commit A");
    assert_eq!(clock_tick(&pool).await, before + 2, "one tick per commit");
    assert_eq!(
        page_tick(&pool, &a_slug).await,
        before + 2,
        "A committed last, so its tick is the later one"
    );
    assert_eq!(revisions(&pool, a).await.len(), 2);
    assert_eq!(revisions(&pool, b).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_saves_from_one_revision_write_the_next_once_and_the_later_finds_the_page_moved() {
    if skipped("two_saves_from_one_revision_write_the_next_once_and_the_later_finds_the_page_moved")
    {
        return;
    }
    let (_dir, pool) = database().await;
    let (id, _) = page(&pool, "Contested Page", "As first written.\n").await;

    let (first, outcome) = save_uncommitted(&pool, id, 1, "The first save.\n").await;
    assert!(
        matches!(outcome, SaveOutcome::Saved { number: 2, .. }),
        "{outcome:?}"
    );
    let second = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let (tx, outcome) = save_uncommitted(&pool, id, 1, "The second save.\n").await;
            tx.commit().await.expect("commit the second");
            outcome
        })
    };
    tokio::time::sleep(STILL_WAITING).await;
    assert!(
        !second.is_finished(),
        "the second save waits at the page's row for the first"
    );
    first.commit().await.expect("commit the first");
    let second = tokio::time::timeout(UNBLOCKED, second)
        .await
        .expect("the second save goes on once the first committed")
        .expect("task");
    assert!(
        matches!(second, SaveOutcome::Moved),
        "the second save read the revision the first wrote: {second:?}"
    );
    assert_eq!(
        revisions(&pool, id).await,
        vec![
            (1, "As first written.\n".to_owned()),
            (2, "The first save.\n".to_owned())
        ]
    );

    // Through `save`, which merges: both from revision 2, at once, on
    // different paragraphs; both land, nothing is lost.
    let base = "One.\n\nTwo.\n";
    let two = pages_db::save(&pool, id, 2, &text(base), None)
        .await
        .expect("save");
    assert!(
        matches!(two, SaveOutcome::Saved { number: 3, .. }),
        "{two:?}"
    );
    let (one, two) = (
        text("One, edited.\n\nTwo.\n"),
        text("One.\n\nTwo, edited.\n"),
    );
    let (left, right) = tokio::join!(
        pages_db::save(&pool, id, 3, &one, None),
        pages_db::save(&pool, id, 3, &two, None),
    );
    let (left, right) = (left.expect("left"), right.expect("right"));
    assert!(
        matches!(left, SaveOutcome::Saved { .. }) && matches!(right, SaveOutcome::Saved { .. }),
        "{left:?} {right:?}"
    );
    let last = revisions(&pool, id).await;
    assert_eq!(last.len(), 5, "{last:?}");
    assert_eq!(last[4].1, "One, edited.\n\nTwo, edited.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_created_while_a_save_links_to_it_waits_for_the_save_and_is_linked() {
    if skipped("a_page_created_while_a_save_links_to_it_waits_for_the_save_and_is_linked") {
        return;
    }
    let (_dir, pool) = database().await;
    let (id, slug) = page(&pool, "Linking Page", "No links yet.\n").await;

    let (save, outcome) = save_uncommitted(&pool, id, 1, "See [[Newcomer Page]] for more.\n").await;
    assert!(matches!(outcome, SaveOutcome::Saved { .. }), "{outcome:?}");
    let create = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pages_db::create(&pool, "Newcomer Page", &text("New.\n"), None)
                .await
                .expect("create")
        })
    };
    tokio::time::sleep(STILL_WAITING).await;
    assert!(
        !create.is_finished(),
        "a creation takes the whole content turn and waits for the save in flight"
    );
    save.commit().await.expect("commit the save");
    tokio::time::timeout(UNBLOCKED, create)
        .await
        .expect("the creation goes on once the save committed")
        .expect("task");
    let linking = pages_db::find(&pool, &slug)
        .await
        .expect("find")
        .expect("the page");
    assert!(
        linking.html.contains("/methods/newcomer-page") && !linking.html.contains("missing"),
        "the save's link to the new page is a real one: {}",
        linking.html
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_of_many_pages_at_once_all_land_each_with_a_tick_of_its_own() {
    if skipped("saves_of_many_pages_at_once_all_land_each_with_a_tick_of_its_own") {
        return;
    }
    const PAGES: usize = 12;
    const SAVES: i64 = 5;
    let (_dir, pool) = database().await;
    let mut made = Vec::new();
    for n in 0..PAGES {
        let title = format!("Busy Page {n}");
        made.push(page(&pool, &title, &format!("Page {n}, revision 1.\n")).await);
    }
    let before = clock_tick(&pool).await;
    let mut tasks = Vec::new();
    for (n, (id, slug)) in made.iter().cloned().enumerate() {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for revision in 1..=SAVES {
                let body = format!("Page {n}, revision {}.\n", revision + 1);
                let outcome = pages_db::save(&pool, id, revision, &text(&body), None)
                    .await
                    .expect("no save fails");
                assert!(
                    matches!(outcome, SaveOutcome::Saved { merged: false, .. }),
                    "page {n}: {outcome:?}"
                );
            }
            (id, slug)
        }));
    }
    let mut ticks = std::collections::BTreeSet::new();
    for task in tasks {
        let (id, slug) = task.await.expect("task");
        assert_eq!(revisions(&pool, id).await.len() as i64, 1 + SAVES);
        ticks.insert(page_tick(&pool, &slug).await);
    }
    let after = clock_tick(&pool).await;
    assert_eq!(
        after - before,
        PAGES as i64 * SAVES,
        "one tick per committed save"
    );
    assert_eq!(ticks.len(), PAGES, "each page's last save has its own tick");
    assert!(ticks.iter().all(|&t| t > before && t <= after), "{ticks:?}");
}
