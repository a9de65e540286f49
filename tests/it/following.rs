//! Following what happens (issue 18, the part inside Cafe): watching a
//! method page, a tag (or an AND filter) or a member's stories, default
//! watches, the Following page and its count, seen and unseen, muting; and
//! that no member sees another's buttons or count, nor a visitor any.

use axum::http::StatusCode;

use crate::support::{Client, TestApp};

/// The unseen count in the header, if any.
fn badge(body: &str) -> Option<String> {
    let marker = "<span class=\"badge\">";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('<')? + start;
    Some(body[start..end].to_owned())
}

async fn count(client: &mut Client) -> Option<String> {
    let page = client.get("/recent").await;
    page.assert_status(StatusCode::OK);
    badge(&page.body)
}

#[tokio::test]
async fn an_author_watches_their_page_and_sees_anothers_edit_until_they_mark_it_seen() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice
        .create_page("Knowledge Fair", "Stalls of practice.", "")
        .await;
    assert_eq!(
        count(&mut alice).await,
        None,
        "her own change is not listed"
    );
    alice
        .get(&page)
        .await
        .assert_contains("Stop watching this page");

    bob.edit_body(&page, "Stalls of practice, with posters.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await.as_deref(), Some("1"));
    let list = alice.get("/following").await;
    list.assert_status(StatusCode::OK);
    list.assert_contains("1 new change.");
    list.assert_contains("Knowledge Fair: revision 2");
    list.assert_contains("/methods/knowledge-fair/diff?from=1");
    list.assert_contains(">bob</a>");

    // Bob watches it now too (he edited it), but not his own edit.
    assert_eq!(count(&mut bob).await, None);
    alice
        .edit_body(&page, "Stalls of practice, with posters and tea.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut bob).await.as_deref(), Some("1"));

    let upto = {
        let marker = "name=\"upto\" value=\"";
        let start = list.body.find(marker).expect("the seen form") + marker.len();
        let end = list.body[start..].find('"').expect("end") + start;
        list.body[start..end].to_owned()
    };
    alice
        .post("/following/seen", &[("upto", &upto)])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await, None);
    let list = alice.get("/following").await;
    list.assert_contains("No new changes.");
    list.assert_contains("Knowledge Fair: revision 2");
}

#[tokio::test]
async fn a_muted_page_is_not_listed_and_editing_it_does_not_watch_it_again() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice.create_page("World Cafe", "Tables.", "").await;
    alice
        .post(
            "/methods/world-cafe/unwatch",
            &[("back", "/methods/world-cafe")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice.get(&page).await.assert_contains("Watch this page");
    bob.edit_body(&page, "Tables and hosts.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await, None);
    alice
        .edit_body(&page, "Tables, hosts, a harvest.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    bob.edit_body(&page, "Tables, hosts, a harvest, again.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await, None, "still muted");
    alice.get("/following").await.assert_contains("(muted)");

    alice
        .post("/methods/world-cafe/watch", &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    bob.edit_body(&page, "Tables, hosts, a harvest, a third time.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await.as_deref(), Some("1"));
}

#[tokio::test]
async fn default_watches_can_be_turned_off() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut carol = app.member("carol").await;
    let page = alice
        .create_page("Open Space", "Law of two feet.", "")
        .await;
    carol
        .post(
            "/following/defaults",
            &[
                ("auto_created", "1"),
                ("auto_stories", "1"),
                ("auto_roster", "1"),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    carol
        .edit_body(&page, "Law of two feet; bumblebees.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    carol.get(&page).await.assert_contains("Watch this page");
    alice
        .edit_body(&page, "Law of two feet; bumblebees; butterflies.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut carol).await, None);
    // A roster entry still watches, as she left that on.
    carol
        .post(
            "/methods/open-space/roster",
            &[("tip", ""), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    alice
        .edit_body(&page, "Law of two feet, and more.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut carol).await.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_tag_or_an_and_filter_is_watched_for_the_pages_carrying_it() {
    let app = TestApp::new().await;
    let mut dave = app.member("dave").await;
    let mut erin = app.member("erin").await;
    dave.post("/tags/facilitation/watch", &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    dave.post(
        "/tags/lkm-1/watch",
        &[("and", "peer-review"), ("back", "/tags/lkm-1")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    dave.get("/tags/facilitation")
        .await
        .assert_contains("Stop watching this tag");

    erin.create_page("Fishbowl", "Inner circle.", "facilitation")
        .await;
    erin.create_page("Peer Assist Lite", "Ask peers.", "lkm-1")
        .await;
    assert_eq!(count(&mut dave).await.as_deref(), Some("1"));
    erin.create_page("Peer Review Circle", "Review.", "lkm-1, peer-review")
        .await;
    assert_eq!(count(&mut dave).await.as_deref(), Some("2"));
    let list = dave.get("/following").await;
    list.assert_contains("New page: Fishbowl");
    list.assert_contains("New page: Peer Review Circle");
    assert!(!list.body.contains("Peer Assist Lite"), "{}", list.body);
    list.assert_contains("Methods tagged");

    dave.post("/tags/facilitation/unwatch", &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    erin.create_page("Fishbowl Two", "Again.", "facilitation")
        .await;
    let list = dave.get("/following").await;
    assert!(!list.body.contains("Fishbowl Two"));
}

#[tokio::test]
async fn a_members_stories_are_watched_from_their_profile() {
    let app = TestApp::new().await;
    let mut frank = app.member("frank").await;
    let mut gina = app.member("gina").await;
    frank.create_page("Storytelling", "Tell it.", "").await;
    let profile = gina.get("/users/frank").await;
    profile.assert_contains("Watch their stories");
    gina.post("/users/frank/watch", &[("back", "/users/frank")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    gina.get("/users/frank")
        .await
        .assert_contains("Stop watching their stories");
    frank
        .post(
            "/methods/storytelling/stories",
            &[
                ("title", "The village meeting"),
                ("body", "It went well."),
                ("outcome", "success"),
                ("location", "Kumasi"),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut gina).await.as_deref(), Some("1"));
    gina.get("/following")
        .await
        .assert_contains("Story “The village meeting” on Storytelling");
    // Nobody watches their own stories.
    let own = frank.post("/users/frank/watch", &[]).await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn no_member_sees_anothers_watch_state_or_count_and_a_visitor_sees_none() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let mut carol = app.member("carol").await;
    let page = alice
        .create_page("Retrospective Walk", "Four questions.", "")
        .await;
    bob.edit_body(&page, "Four questions, one hour.")
        .await
        .assert_status(StatusCode::SEE_OTHER);

    // Each member's view of the same page, as kept skeletons serve them.
    for _ in 0..2 {
        let hers = alice.get(&page).await;
        hers.assert_contains("Stop watching this page");
        assert_eq!(badge(&hers.body).as_deref(), Some("1"));
        let his = carol.get(&page).await;
        his.assert_contains("Watch this page");
        assert!(
            !his.body.contains("Stop watching"),
            "carol sees alice's state"
        );
        assert_eq!(badge(&his.body), None, "carol sees alice's count");
        let visitor = app.client().get(&page).await;
        assert!(
            !visitor.body.contains("/watch"),
            "a visitor sees a watch form"
        );
        assert!(
            !visitor.body.contains("/following"),
            "a visitor sees Following"
        );
        assert_eq!(badge(&visitor.body), None);
    }
    // The visitor's page afterwards carries none of it either.
    let visitor = app.client().get(&page).await;
    assert!(!visitor.body.contains("Stop watching"));
    let refused = app.client().get("/following").await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER, "sign in first");
}

/// Makes the member's roster entry on `slug` look confirmed long ago.
pub(crate) async fn age_entry(app: &TestApp, username: &str, slug: &str) {
    confirm_entry_at(app, username, slug, "2020-01-01T00:00:00Z").await;
}

/// Sets when the member's roster entry on `slug` was last confirmed.
async fn confirm_entry_at(app: &TestApp, username: &str, slug: &str, stamp: &str) {
    let sql = "UPDATE roster SET confirmed_at = $3
               WHERE user_id = (SELECT id FROM users WHERE username = $1)
                 AND page_id = (SELECT id FROM pages WHERE slug = $2)";
    let done = match &app.state.pool {
        cafe::db::Db::Sqlite(pool) => sqlx::query(sql)
            .bind(username)
            .bind(slug)
            .bind(stamp)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()),
        cafe::db::Db::Postgres(pool) => sqlx::query(sql)
            .bind(username)
            .bind(slug)
            .bind(stamp)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()),
    };
    assert_eq!(done.expect("confirmed"), 1);
}

/// A kept method page shows an entry as current only until its
/// confirmation runs out, though nothing is written when it does.
#[tokio::test]
async fn a_kept_page_stops_showing_an_entry_current_when_its_confirmation_runs_out() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let page = alice.create_page("Quick Method", "It helps.", "").await;
    alice
        .post(
            "/methods/quick-method/roster",
            &[("tip", ""), ("location", "")],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    // Confirmed so long ago that it runs out three seconds from now.
    let days = app.state.config.roster_confirm_days().expect("a limit");
    let runs_out =
        time::OffsetDateTime::now_utc() - time::Duration::days(days) + time::Duration::seconds(3);
    let stamp = runs_out
        .replace_nanosecond(0)
        .expect("whole seconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a stamp");
    confirm_entry_at(&app, "alice", "quick-method", &stamp).await;

    let mut visitor = app.client();
    let first = visitor.get(&page).await;
    assert!(
        !first.body.contains("not confirmed since"),
        "current for now"
    );
    let (hits, _) = app.state.page_cache.stats();
    let again = visitor.get(&page).await;
    assert_eq!(app.state.page_cache.stats().0, hits + 1, "served as kept");
    assert!(!again.body.contains("not confirmed since"));

    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let later = visitor.get(&page).await;
    later.assert_contains("not confirmed since");
}

#[tokio::test]
async fn an_old_roster_entry_is_shown_unconfirmed_after_current_ones_and_its_owner_is_asked() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice
        .create_page("Most Useful Method", "It helps.", "")
        .await;
    for client in [&mut alice, &mut bob] {
        client
            .post(
                "/methods/most-useful-method/roster",
                &[("tip", ""), ("location", "")],
            )
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    age_entry(&app, "alice", "most-useful-method").await;
    // Any change makes the kept page stale; the entry aged in the database.
    bob.post(
        "/methods/most-useful-method/roster",
        &[("tip", "Start small"), ("location", "")],
    )
    .await;

    let seen = app.client().get(&page).await;
    seen.assert_contains("not confirmed since 2020-01-01");
    let roster = &seen.body[seen.body.find("id=\"roster\"").expect("the roster")..];
    let bob_at = roster.find("/users/bob\"").expect("bob listed");
    let alice_at = roster.find("/users/alice\"").expect("alice listed");
    assert!(bob_at < alice_at, "current entries come first");

    // Alice is asked, on the page and on her Following page; Bob is not.
    for _ in 0..2 {
        alice
            .get(&page)
            .await
            .assert_contains("Still using Most Useful Method?");
        let his = bob.get(&page).await;
        assert!(
            !his.body.contains("Still using"),
            "bob is asked about alice's entry"
        );
    }
    alice
        .get("/following")
        .await
        .assert_contains("Still using these methods?");

    alice
        .post("/methods/most-useful-method/roster/confirm", &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let after = app.client().get(&page).await;
    assert!(!after.body.contains("not confirmed since"));
    assert!(
        !alice.get(&page).await.body.contains("Still using"),
        "confirmed: not asked again"
    );
    assert!(
        !alice
            .get("/following")
            .await
            .body
            .contains("Still using these methods?")
    );
}

#[tokio::test]
async fn indicator_coverage_counts_people_and_can_count_only_current_ones() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice
        .create_page("Coverage Method", "Covers.", "lkm-1")
        .await;
    let slug = page.trim_start_matches("/methods/").to_owned();
    for client in [&mut alice, &mut bob] {
        client
            .post(&format!("{page}/roster"), &[("tip", ""), ("location", "")])
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    age_entry(&app, "alice", &slug).await;
    bob.post(&format!("{page}/roster"), &[("tip", "x"), ("location", "")])
        .await;
    let row = |body: &str| -> String {
        let at = body.find("/tags/lkm-1\"").expect("the lkm-1 row");
        let end = body[at..].find("</tr>").expect("row end") + at;
        crate::support::inert::collapse(&body[at..end])
    };
    let all = app.client().get("/indicators").await;
    all.assert_status(StatusCode::OK);
    assert!(row(&all.body).contains("<td>2</td>"), "{}", row(&all.body));
    let current = app.client().get("/indicators?current=1").await;
    current.assert_contains("Counting current practitioners only");
    assert!(
        row(&current.body).contains("<td>1</td>"),
        "{}",
        row(&current.body)
    );
}

/// Runs one statement on either backend.
async fn execute(pool: &cafe::db::Db, sql: &str) {
    match pool {
        cafe::db::Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        cafe::db::Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// One number read on either backend.
async fn scalar(pool: &cafe::db::Db, sql: &str) -> i64 {
    cafe::on_db!(pool, |pool| sqlx::query_scalar(sql).fetch_one(pool).await)
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

#[tokio::test]
async fn the_migration_watches_what_members_worked_on_before_watching_existed() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice.create_page("Old Method", "From before.", "").await;
    bob.post(
        "/methods/old-method/roster",
        &[("tip", ""), ("location", "")],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    // The database as it was before the follow migration ran.
    let version = if crate::support::backend::on_postgres() {
        107
    } else {
        16
    };
    for sql in [
        "DROP TABLE watch_tags".to_owned(),
        "DROP TABLE watches".to_owned(),
        "DROP TABLE follow_state".to_owned(),
        format!("DELETE FROM _sqlx_migrations WHERE version = {version}"),
    ] {
        execute(&app.state.pool, &sql).await;
    }
    let reopened = cafe::db::connect(&app.db).await.expect("migrated again");
    let state = cafe::AppState::new(reopened, cafe::config::ServeArgs::defaults())
        .await
        .expect("state");
    let router = cafe::app(state);
    for (mut client, name) in [(alice, "alice"), (bob, "bob")] {
        client.router = router.clone();
        client
            .get(&page)
            .await
            .assert_contains("Stop watching this page");
        assert_eq!(count(&mut client).await, None, "{name}: nothing new yet");
    }
}

#[tokio::test]
async fn the_count_follows_each_change_while_others_keep_saving() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice.create_page("Fishbowl", "Chairs.", "").await;
    let other = bob.create_page("Open Space", "Two feet.", "").await;
    assert_eq!(count(&mut alice).await, None);
    for n in 1..=3 {
        bob.edit_body(&page, &format!("Chairs, round {n}."))
            .await
            .assert_status(StatusCode::SEE_OTHER);
        // A change she does not watch moves the clock too.
        bob.edit_body(&other, &format!("Two feet, round {n}."))
            .await
            .assert_status(StatusCode::SEE_OTHER);
        assert_eq!(
            count(&mut alice).await,
            Some(n.to_string()),
            "after round {n}"
        );
    }
    let list = alice.get("/following").await;
    list.assert_contains("3 new changes.");
    let marker = "name=\"upto\" value=\"";
    let start = list.body.find(marker).expect("the seen form") + marker.len();
    let end = list.body[start..].find('"').expect("end") + start;
    alice
        .post("/following/seen", &[("upto", &list.body[start..end])])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await, None);
    bob.edit_body(&page, "Chairs, round 4.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await.as_deref(), Some("1"));
}

#[tokio::test]
async fn an_edit_form_shows_the_count_of_the_members_last_page_view() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice.create_page("World Cafe", "Tables.", "").await;
    let edit = format!("{page}/edit");
    // Never counted yet: the form counts.
    assert_eq!(badge(&alice.get(&edit).await.body), None);
    bob.edit_body(&page, "Tables and hosts.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    // The form does not count again: it shows her last page view's count.
    let form = alice.get(&edit).await;
    form.assert_status(StatusCode::OK);
    form.assert_contains("Tables and hosts.");
    assert_eq!(badge(&form.body), None, "the edit form counted again");
    // A page view counts, and the next form shows that count.
    assert_eq!(count(&mut alice).await.as_deref(), Some("1"));
    assert_eq!(badge(&alice.get(&edit).await.body).as_deref(), Some("1"));
}

/// On PostgreSQL an event's id is taken as it is written, so a save can
/// commit after one with a later id; the count brought up to date must still
/// find it. The test writes the two events in that order itself (copies of
/// Bob's edit, the later id first), each followed by Bob's edit of a page
/// she does not watch, which moves the content clock as any save does.
#[tokio::test]
async fn a_change_committed_after_a_later_numbered_one_is_counted() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice.create_page("Knowledge Jam", "Ask first.", "").await;
    let other = bob.create_page("Fishbowl", "Chairs.", "").await;
    bob.edit_body(&page, "Ask first, then listen.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await.as_deref(), Some("1"));

    let pool = &app.state.pool;
    let edit = scalar(pool, "SELECT MAX(id) FROM events WHERE kind = 'edit'").await;
    let last = scalar(pool, "SELECT MAX(id) FROM events").await;
    if crate::support::backend::on_postgres() {
        // The ids the test writes itself are not handed out again.
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('events', 'id'), {})",
            last + 2
        );
        execute(pool, &sql).await;
    }
    let copy = |id: i64| {
        format!(
            "INSERT INTO events (id, kind, page_id, revision, actor_id, summary, created_at)
             SELECT {id}, kind, page_id, revision, actor_id, summary, created_at
             FROM events WHERE id = {edit}"
        )
    };
    // The later-numbered change commits first and is counted…
    execute(pool, &copy(last + 2)).await;
    bob.edit_body(&other, "Chairs, round 1.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(count(&mut alice).await.as_deref(), Some("2"));
    // …then the earlier-numbered one commits.
    execute(pool, &copy(last + 1)).await;
    bob.edit_body(&other, "Chairs, round 2.")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        count(&mut alice).await.as_deref(),
        Some("3"),
        "the change committed late was not counted"
    );
    if crate::support::backend::on_postgres() {
        // What an instance of the release before asks during a rolling
        // upgrade: the same count, from the new function.
        let sql = "SELECT unseen FROM cafe_unseen(
                       (SELECT id FROM users WHERE username = 'alice'), 100, 10000, 0)";
        assert_eq!(scalar(pool, sql).await, 3);
    }
}
