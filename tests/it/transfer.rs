//! Operators' tools and links between pages: export → import round trip,
//! all-or-nothing import, a backup taken under write load, pages' files
//! through export, import and backup, and backlinks and missing links as
//! pages are created.

use crate::support;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::uploads::{download, pdf, png, upload, version_bytes};
use crate::support::{TestApp, alone, count};
use axum::http::StatusCode;
use cafe::pages::PageText;
use cafe::tags::TagList;
use scraper::{Html, Selector};
use sqlx::SqlitePool;

fn text(body: &str, tags: &str) -> PageText {
    PageText {
        body: cafe::pages::normalise_body(body),
        tags: TagList::parse(tags).expect("tags"),
        summary: String::new(),
    }
}

/// Every page as export sees it: slug, title, body, tags (as a set), and
/// the rendered HTML (which shows whether wiki links resolved).
async fn snapshot(
    pool: &cafe::db::Db,
) -> BTreeSet<(String, String, String, BTreeSet<String>, String)> {
    let html: std::collections::HashMap<String, String> =
        cafe::on_db!(pool, |pool| sqlx::query_as::<_, (String, String)>(
            "SELECT slug, html FROM pages"
        )
        .fetch_all(pool)
        .await)
        .expect("html")
        .into_iter()
        .collect();
    cafe::pages::db::all_for_export(pool)
        .await
        .expect("pages")
        .into_iter()
        .map(|p| {
            let tags = p
                .tags
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            let rendered = html.get(&p.slug).cloned().unwrap_or_default();
            (p.slug, p.title, p.body, tags, rendered)
        })
        .collect()
}

#[tokio::test]
async fn an_export_imported_into_an_empty_database_gives_the_same_pages_and_tags() {
    let app = TestApp::new().await;
    let pool = &app.state.pool;
    // A second "Peer Assist" (the seed has one) gets peer-assist-2, which
    // then makes "Peer Assist 2" take peer-assist-2-2.
    let twin = cafe::pages::db::create(
        pool,
        "Peer Assist",
        &text("A twin of a seeded title.", "learning, twin"),
        None,
    )
    .await
    .expect("twin");
    assert_eq!(twin.as_str(), "peer-assist-2");
    let two = cafe::pages::db::create(
        pool,
        "Peer Assist 2",
        &text("Links to [[Peer Assist]].", ""),
        None,
    )
    .await
    .expect("two");
    assert_eq!(two.as_str(), "peer-assist-2-2");
    cafe::pages::db::create(
        pool,
        r#"Quotes "inside": a \ backslash"#,
        &text(
            "---\ntitle: not front matter\n---\n\nBody after a rule. [[Not Yet Written]]",
            "a b, c\"d, lkm-1",
        ),
        None,
    )
    .await
    .expect("odd title");
    let accented = cafe::pages::db::create(
        pool,
        "Évaluation à 360°",
        &text("Avec des pairs.", "évaluation"),
        None,
    )
    .await
    .expect("accented");
    let page = cafe::pages::db::find(pool, &accented)
        .await
        .expect("find")
        .expect("page");
    for (n, body) in [
        (1, "Avec des pairs, encore."),
        (2, "Avec des pairs, trois fois."),
    ] {
        cafe::pages::db::save(
            pool,
            page.id,
            n,
            &text(body, "évaluation, peer learning"),
            None,
        )
        .await
        .expect("save");
    }

    let export_dir = tempfile::tempdir().expect("dir");
    cafe::cli::export(&app.db_path(), export_dir.path())
        .await
        .expect("export");
    let files = std::fs::read_dir(export_dir.path()).expect("read").count() as i64;
    assert_eq!(
        files,
        count(pool, "SELECT count(*) FROM pages").await,
        "one file per page"
    );
    let exported =
        std::fs::read_to_string(export_dir.path().join(format!("{accented}.md"))).expect("file");
    assert!(exported.contains("revision: \"3\""), "{exported}");
    assert!(exported.contains("last_editor:"), "{exported}");

    let empty_dir = tempfile::tempdir().expect("dir");
    let empty = empty_dir
        .path()
        .join("empty.db")
        .to_string_lossy()
        .into_owned();
    let fresh = cafe::db::connect(&empty).await.expect("empty db");
    assert_eq!(count(&fresh, "SELECT count(*) FROM pages").await, 0);
    cafe::cli::import(&empty, export_dir.path())
        .await
        .expect("import");

    assert_eq!(snapshot(&fresh).await, snapshot(pool).await);
    let tags = cafe::tags::db::tag_counts(&fresh).await.expect("tags");
    assert_eq!(tags, cafe::tags::db::tag_counts(pool).await.expect("tags"));
    assert_eq!(
        count(&fresh, "SELECT count(*) FROM search_index").await,
        count(&fresh, "SELECT count(*) FROM pages").await,
        "imported pages are searchable"
    );
}

#[tokio::test]
async fn importing_an_unchanged_export_again_makes_no_new_revision() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().expect("dir");
    cafe::cli::export(&app.db_path(), dir.path())
        .await
        .expect("export");
    let before = count(&app.state.pool, "SELECT count(*) FROM revisions").await;
    cafe::cli::import(&app.db_path(), dir.path())
        .await
        .expect("import");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM revisions").await,
        before
    );
    let edited = std::fs::read_to_string(dir.path().join("peer-assist.md")).expect("file")
        + "\nOne more line.\n";
    std::fs::write(dir.path().join("peer-assist.md"), edited).expect("write");
    cafe::cli::import(&app.db_path(), dir.path())
        .await
        .expect("import");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM revisions").await,
        before + 1,
        "only the changed file"
    );
    let body: String = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(
        "SELECT body FROM pages WHERE slug = 'peer-assist'"
    )
    .fetch_one(pool)
    .await)
    .expect("body");
    assert!(body.ends_with("One more line.\n"));
}

#[tokio::test]
async fn a_bad_file_is_reported_by_name_and_nothing_is_imported() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("good.md"),
        "---\ntitle: Good Page\ntags: [fine]\n---\nFine.\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("no-front-matter.md"), "Just text.\n").expect("write");
    std::fs::write(
        dir.path().join("too-many-tags.md"),
        format!(
            "---\ntitle: Tagged\ntags: [{}]\n---\nx\n",
            (0..25)
                .map(|i| format!("t{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a page").expect("write");
    let before = count(&app.state.pool, "SELECT count(*) FROM pages").await;
    let err = cafe::cli::import(&app.db_path(), dir.path())
        .await
        .expect_err("import must refuse");
    let message = format!("{err:#}");
    assert!(message.contains("no-front-matter.md"), "{message}");
    assert!(message.contains("too-many-tags.md"), "{message}");
    assert!(!message.contains("good.md"), "{message}");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM pages").await,
        before,
        "nothing half-imported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_a_writer_saves_holds_every_save_acknowledged_before_it() {
    let app = TestApp::new().await;
    let pool = app.state.pool.clone();
    // A few megabytes, so the copy takes long enough for saves to land during it.
    let mut tx = cafe::db::begin_write(&pool).await.expect("tx");
    let filler = "Notes on practice, written at some length. ".repeat(60);
    for i in 0..1500 {
        cafe::pages::db::create_in(
            &mut tx,
            &format!("Filler {i}"),
            &text(&filler, "filler"),
            None,
        )
        .await
        .expect("filler");
    }
    tx.commit().await.expect("commit");

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (pool, acknowledged, stop) = (pool.clone(), acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let slug = cafe::pages::db::create(
                    &pool,
                    &format!("Saved under load {i}"),
                    &text("Saved.", ""),
                    None,
                )
                .await
                .expect("save");
                acknowledged
                    .lock()
                    .expect("lock")
                    .push(slug.as_str().to_owned());
                i += 1;
            }
        })
    };
    while acknowledged.lock().expect("lock").len() < 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before: Vec<String> = acknowledged.lock().expect("lock").clone();
    let file = app.dir.path().join("backup.db");
    let started = Instant::now();
    cafe::cli::backup(&app.db_path(), &file)
        .await
        .expect("backup");
    let took = started.elapsed();
    let during = acknowledged.lock().expect("lock").len() - before.len();
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    println!(
        "backup of {} bytes took {took:?}; {during} saves were acknowledged meanwhile",
        std::fs::metadata(&file).expect("file").len()
    );
    assert!(during > 0, "the writer was not saving during the backup");

    // Restoring: on SQLite the file is put in place and opens as it is; on
    // PostgreSQL `pg_restore` loads it into an empty database.
    let restored_db = restore(&file).await;
    let restored = cafe::db::connect(&restored_db).await.expect("restore");
    let saved: BTreeSet<String> = cafe::on_db!(&restored, |pool| sqlx::query_scalar::<_, String>(
        "SELECT slug FROM pages"
    )
    .fetch_all(pool)
    .await)
    .expect("slugs")
    .into_iter()
    .collect();
    let missing: Vec<&String> = before.iter().filter(|s| !saved.contains(*s)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but not in it: {missing:?}"
    );
    assert!(saved.contains("filler-1499"));
    assert_eq!(
        count(&restored, "SELECT count(*) FROM pages").await as usize,
        saved.len()
    );
    restored.close().await;
    assert!(
        cafe::cli::backup(&app.db_path(), &file).await.is_err(),
        "an existing file is never overwritten"
    );
}

/// The database a backup file restores to: the SQLite file itself, checked
/// with `integrity_check`, or a new PostgreSQL database `pg_restore` loads.
async fn restore(file: &std::path::Path) -> String {
    if let Some(server) = support::backend::postgres() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = support::backend::fresh(dir.path()).await;
        let status = std::process::Command::new("pg_restore")
            .env(
                "PGPASSWORD",
                cafe::db::password(&server).unwrap_or_default(),
            )
            .arg("--no-owner")
            .arg("--exit-on-error")
            .arg("--dbname")
            .arg(cafe::db::redacted(&url))
            .arg(file)
            .status()
            .expect("run pg_restore");
        assert!(status.success(), "pg_restore {status}");
        return url;
    }
    let copy = SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(file)
            .read_only(true),
    )
    .await
    .expect("open copy");
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&copy)
        .await
        .expect("check");
    assert_eq!(check, "ok");
    copy.close().await;
    file.to_str().expect("utf-8").to_owned()
}

#[tokio::test]
async fn the_binary_exports_imports_and_backs_up_the_database_given_by_db() {
    let app = TestApp::new().await;
    let out = app.dir.path().join("out");
    let run = |args: &[&str]| {
        let output = support::server::cafe_command()
            .args(args)
            .output()
            .expect("run cafe");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "cafe {args:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let db = app.db_path();
    let exported = run(&["--db", &db, "export", out.to_str().expect("utf-8")]);
    assert!(exported.contains("exported 6 pages"), "{exported}");
    let copy = app.dir.path().join("copy.db");
    let backed_up = run(&["--db", &db, "backup", copy.to_str().expect("utf-8")]);
    let checked = if support::backend::on_postgres() {
        "written by pg_dump"
    } else {
        "integrity_check: ok"
    };
    assert!(backed_up.contains(checked), "{backed_up}");
    let restored = restore(&copy).await;
    let restored = cafe::db::connect(&restored).await.expect("restored");
    assert_eq!(count(&restored, "SELECT count(*) FROM pages").await, 6);
    let other = app.dir.path().join("other.db");
    let imported = run(&[
        "--db",
        other.to_str().expect("utf-8"),
        "import",
        out.to_str().expect("utf-8"),
    ]);
    assert!(imported.contains("6 new pages"), "{imported}");
}

/// The wiki links of a page's body: text, target, and whether shown as missing.
fn wikilinks(body: &str) -> Vec<(String, String, bool)> {
    let html = Html::parse_document(body);
    let selector = Selector::parse("a.wikilink").expect("selector");
    html.select(&selector)
        .map(|a| {
            let href = a.value().attr("href").unwrap_or_default().to_owned();
            (
                a.text().collect(),
                href,
                a.value().classes().any(|c| c == "missing"),
            )
        })
        .collect()
}

/// Links inside a section of a page, by the section's heading id.
fn section_links(body: &str, heading: &str) -> Vec<String> {
    let html = Html::parse_document(body);
    let selector =
        Selector::parse(&format!(r#"section[aria-labelledby="{heading}"] a"#)).expect("selector");
    html.select(&selector)
        .filter_map(|a| a.value().attr("href").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_missing_link_becomes_real_when_its_page_is_created_and_backlinks_follow() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let osprey = alice
        .create_page(
            "Osprey Guide",
            "See [[Kestrel Method|the kestrel]] first.\n",
            "",
        )
        .await;
    let before = alice.get(&osprey).await;
    assert_eq!(
        wikilinks(&before.body),
        [(
            "the kestrel".to_owned(),
            "/methods/new?title=Kestrel+Method".to_owned(),
            true
        )]
    );
    let absent = alice.get("/methods/kestrel-method").await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);

    let kestrel = alice.create_page("Kestrel Method", "Hovering.\n", "").await;
    let after = alice.get(&osprey).await;
    assert_eq!(
        wikilinks(&after.body),
        [(
            "the kestrel".to_owned(),
            "/methods/kestrel-method".to_owned(),
            false
        )]
    );
    assert_eq!(
        section_links(&after.body, "related-heading"),
        ["/methods/kestrel-method"]
    );
    let target = alice.get(&kestrel).await;
    assert_eq!(
        section_links(&target.body, "backlinks-heading"),
        ["/methods/osprey-guide"]
    );

    let base = alice.base_revision(&osprey).await;
    alice
        .edit_page(&osprey, &base, "No links now.\n", "", "unlink")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let target = alice.get(&kestrel).await;
    assert!(section_links(&target.body, "backlinks-heading").is_empty());
    target.assert_contains("No other page links here yet.");
}

/// Values for the variables the binary reads that would each break a test
/// if they reached the `cafe` it runs: an address that does not parse, a
/// database and a public URL that are not the test's, another site name.
const BOGUS_CAFE_ENV: [(&str, &str); 4] = [
    ("CAFE_ADDR", "not an address"),
    ("CAFE_DB", "/nonexistent/bogus/cafe.db"),
    ("CAFE_PUBLIC_URL", "ftp://bogus.example"),
    ("CAFE_SITE_NAME", "Bogus Site Name"),
];

/// Set (to "1") in the run of this test that has the bogus variables.
const WITH_BOGUS_ENV: &str = "CAFE_TEST_WITH_BOGUS_ENV";

/// A developer's shell or a CI job may export `CAFE_*` variables; the
/// tests' `cafe` processes must not see them. This test runs itself again
/// (the same test binary, only this test) with bogus values in its
/// environment, and there runs the binary through the tests' helpers: an
/// export and a served site, which each fail if any of the values leaks in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cafe_variables_in_the_tests_environment_do_not_reach_the_binary_they_run() {
    if std::env::var_os(WITH_BOGUS_ENV).is_none() {
        // The bogus values do break the binary when it is given them.
        let app = TestApp::new().await;
        let out = app.dir.path().join("out");
        let leaked = std::process::Command::new(env!("CARGO_BIN_EXE_cafe"))
            .args(["--db", &app.db_path(), "export"])
            .arg(&out)
            .envs(BOGUS_CAFE_ENV)
            .output()
            .expect("run cafe");
        assert!(
            !leaked.status.success(),
            "the bogus CAFE_* values should break a cafe that is given them"
        );
        let name = alone::test_name(
            module_path!(),
            "cafe_variables_in_the_tests_environment_do_not_reach_the_binary_they_run",
        );
        alone::run_alone(
            &name,
            BOGUS_CAFE_ENV.into_iter().chain([(WITH_BOGUS_ENV, "1")]),
        );
        return;
    }
    for (key, value) in BOGUS_CAFE_ENV {
        assert_eq!(std::env::var(key).as_deref(), Ok(value), "{key} is set");
    }
    // An app built in code (every `TestApp`) takes the defaults, not the
    // environment's values.
    let defaults = cafe::config::ServeArgs::defaults();
    assert_eq!(defaults.site_name, "Cafe", "not CAFE_SITE_NAME's");
    assert!(defaults.public_url.is_none(), "not CAFE_PUBLIC_URL's");
    assert_eq!(
        defaults.addr.to_string(),
        "127.0.0.1:3000",
        "not CAFE_ADDR's"
    );
    let app = TestApp::new().await;
    let home = app.client().get("/").await;
    assert!(!home.body.contains("Bogus Site Name"), "{}", home.body);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cafe.db");
    let db = db.to_str().expect("utf-8 path");
    cafe::seed::open_and_seed(db)
        .await
        .expect("a seeded database")
        .close()
        .await;
    let out = dir.path().join("out");
    let output = support::server::cafe_command()
        .args(["--db", db, "export"])
        .arg(&out)
        .output()
        .expect("run cafe");
    assert!(
        output.status.success(),
        "export through the tests' helper: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.join("peer-assist.md").exists(), "the pages of --db");

    let server = support::server::Server::start(&dir.path().join("served.db")).await;
    let home = reqwest::get(format!("{}/", server.base))
        .await
        .expect("GET /");
    assert_eq!(home.status(), reqwest::StatusCode::OK);
    let home = home.text().await.expect("text");
    assert!(
        home.contains("<title>") && !home.contains("Bogus Site Name"),
        "the site's name is the default, not CAFE_SITE_NAME's: {home}"
    );
    let feed = reqwest::get(format!("{}/recent.atom", server.base))
        .await
        .expect("GET /recent.atom")
        .text()
        .await
        .expect("text");
    assert!(
        feed.contains(&server.base) && !feed.contains("bogus.example"),
        "feed links use --addr, not CAFE_PUBLIC_URL: {feed}"
    );
}

// Files (issue 16) in an export, an import and a backup.

/// The cells of a file's history, newest version first: version, type and
/// size, when, who, description.
fn history_rows(body: &str) -> Vec<Vec<String>> {
    let html = Html::parse_document(body);
    let rows = Selector::parse("table.history tbody tr").expect("selector");
    let cells = Selector::parse("td").expect("selector");
    html.select(&rows)
        .map(|row| {
            row.select(&cells)
                .map(|cell| cell.text().collect::<String>().trim().to_owned())
                .collect()
        })
        .collect()
}

/// A client of the site on `db` (a migrated database, seeded or not).
async fn client_of(db: &cafe::db::Db) -> support::Client {
    let state = cafe::AppState::new(db.clone(), cafe::config::ServeArgs::defaults())
        .await
        .expect("state");
    support::Client {
        router: cafe::app(state),
        cookie: None,
    }
}

/// Every file and folder under `dir`, as paths relative to it.
fn tree(dir: &std::path::Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(folder) = todo.pop() {
        for entry in std::fs::read_dir(&folder)
            .expect("read")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            let relative = path.strip_prefix(dir).expect("inside");
            out.insert(relative.to_string_lossy().replace('\\', "/"));
            if path.is_dir() {
                todo.push(path);
            }
        }
    }
    out
}

/// A page whose text shows a file, with files of every sort export meets:
/// a file in three versions (the third the first's bytes again) by two
/// members, an image, a file an administrator hid, and a story's file.
/// Returns the page's path.
async fn page_with_files(app: &TestApp) -> String {
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    let page = alice
        .create_page(
            "Flip Chart Walk",
            "See ![the chart](file:chart.png) and [the guide](file:guide.pdf).\n",
            "facilitation",
        )
        .await;
    let files = format!("{page}/files");
    upload(
        &mut alice,
        &files,
        &[("guide.pdf", &pdf("first")), ("chart.png", &png(40, 30, 7))],
        "The facilitation guide",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    upload(
        &mut bob,
        &files,
        &[("guide.pdf", &pdf("second"))],
        "Revised, with timings",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    upload(
        &mut alice,
        &files,
        &[("guide.pdf", &pdf("first"))],
        "Back to the first",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    upload(&mut alice, &files, &[("draft.pdf", &pdf("draft"))], "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let mut root = app.admin("root").await;
    root.post(&format!("{files}/draft.pdf/hide"), &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let told = alice
        .post(
            &format!("{page}/stories"),
            &[
                ("title", "Walking the charts"),
                ("body", "It worked."),
                ("outcome", "success"),
                ("location", ""),
            ],
        )
        .await;
    told.assert_status(StatusCode::SEE_OTHER);
    let thread = told.location().expect("the thread").to_owned();
    upload(
        &mut alice,
        &format!("{thread}/files"),
        &[("story-photo.png", &png(20, 20, 3))],
        "",
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    page
}

/// The page files of [`page_with_files`] a visitor sees, with their versions.
const PAGE_FILES: [(&str, i64); 2] = [("guide.pdf", 3), ("chart.png", 1)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_an_empty_database_keeps_every_version_of_every_page_file() {
    let app = TestApp::new().await;
    let page = page_with_files(&app).await;
    let visitor = app.client();
    let out = tempfile::tempdir().expect("dir");
    cafe::cli::export(&app.db_path(), out.path())
        .await
        .expect("export");

    // The folder beside the page file: a numbered folder per version, each
    // file under its own name, and the list of them.
    let exported = tree(out.path());
    for path in [
        "flip-chart-walk.md",
        "flip-chart-walk.files/versions.csv",
        "flip-chart-walk.files/v1/guide.pdf",
        "flip-chart-walk.files/v2/guide.pdf",
        "flip-chart-walk.files/v3/guide.pdf",
        "flip-chart-walk.files/v1/chart.png",
    ] {
        assert!(exported.contains(path), "{path} in {exported:?}");
    }
    assert!(
        !exported.iter().any(|p| p.contains("draft.pdf")),
        "a hidden file is not exported: {exported:?}"
    );
    assert!(
        !exported.iter().any(|p| p.contains("story-photo")),
        "a story's file is not exported: {exported:?}"
    );
    let folder = out.path().join("flip-chart-walk.files");
    let list = std::fs::read_to_string(folder.join("versions.csv")).expect("list");
    assert!(
        list.starts_with("name,version,description,uploaded_by_username,created_at\n"),
        "{list}"
    );
    assert!(
        list.contains("guide.pdf,2,\"Revised, with timings\",bob,"),
        "{list}"
    );
    let mut original = Vec::new();
    for (name, versions) in PAGE_FILES {
        for n in 1..=versions {
            let bytes = version_bytes(&visitor, &page, name, n).await;
            let written = std::fs::read(folder.join(format!("v{n}")).join(name)).expect("file");
            assert_eq!(
                written, bytes,
                "{name} version {n} is exported byte for byte"
            );
            original.push((name, n, bytes));
        }
    }

    // Into an empty database where alice has an account and bob has none.
    let target_dir = tempfile::tempdir().expect("dir");
    let target = support::backend::fresh(target_dir.path()).await;
    let fresh = cafe::db::connect(&target).await.expect("empty db");
    let alice = cafe::accounts::Username::parse("alice").expect("name");
    cafe::accounts::db::create(&fresh, &alice, "Alice", "no password", false)
        .await
        .expect("alice");
    cafe::cli::import(&target, out.path())
        .await
        .expect("import");
    let there = client_of(&fresh).await;
    for (name, n, bytes) in &original {
        assert_eq!(
            &version_bytes(&there, &page, name, *n).await,
            bytes,
            "{name} version {n} after the import"
        );
    }
    let source_history = visitor
        .clone()
        .get(&format!("{page}/files/guide.pdf/history"))
        .await;
    let history = there
        .clone()
        .get(&format!("{page}/files/guide.pdf/history"))
        .await;
    history.assert_status(StatusCode::OK);
    let (before, after) = (
        history_rows(&source_history.body),
        history_rows(&history.body),
    );
    assert_eq!(after.len(), 3, "{after:?}");
    for (imported, exported) in after.iter().zip(&before) {
        // Version, type and size, when, and description are kept.
        assert_eq!(imported[..3], exported[..3]);
        assert_eq!(imported[4], exported[4]);
    }
    assert_eq!(after[2][4], "The facilitation guide");
    assert_eq!(after[1][4], "Revised, with timings");
    assert_eq!(
        [
            after[0][3].as_str(),
            after[1][3].as_str(),
            after[2][3].as_str()
        ],
        ["Alice", "Cafe", "Alice"],
        "the uploader (by display name) when they have an account here, else Cafe"
    );
    let list = there.clone().get(&format!("{page}/files")).await;
    list.assert_status(StatusCode::OK)
        .assert_contains("guide.pdf")
        .assert_contains("40×30 px")
        .assert_contains("Back to the first");
    assert!(!list.body.contains("draft.pdf"), "{}", list.body);
    let thumbnails = support::attrs(&list.body, "img.thumbnail", "src");
    assert_eq!(
        thumbnails.len(),
        1,
        "the image has its thumbnail: {}",
        list.body
    );
    let (status, _, thumbnail) = download(&there, &thumbnails[0]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!thumbnail.is_empty());
    // The page is rendered again with its files: the image shows.
    let shown = there.clone().get(&page).await;
    let images = support::attrs(&shown.body, "main img", "src");
    assert!(
        images.contains(&format!("{page}/files/chart.png?version=1")),
        "{images:?}"
    );
    there
        .clone()
        .get("/recent")
        .await
        .assert_contains("Imported chart.png, guide.pdf");
    fresh.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_files_twice_adds_no_version_and_changed_bytes_become_the_next_version() {
    let app = TestApp::new().await;
    let page = page_with_files(&app).await;
    let out = tempfile::tempdir().expect("dir");
    cafe::cli::export(&app.db_path(), out.path())
        .await
        .expect("export");
    let history = format!("{page}/files/guide.pdf/history");
    let versions = |client: &support::Client| {
        let mut client = client.clone();
        let history = history.clone();
        async move { history_rows(&client.get(&history).await.body).len() }
    };
    // Back into the site it came from: every version is there already.
    cafe::cli::import(&app.db_path(), out.path())
        .await
        .expect("import");
    assert_eq!(versions(&app.client()).await, 3);

    // Twice into a new database: the second import adds nothing.
    let target_dir = tempfile::tempdir().expect("dir");
    let target = support::backend::fresh(target_dir.path()).await;
    let fresh = cafe::db::connect(&target).await.expect("empty db");
    let there = client_of(&fresh).await;
    for _ in 0..2 {
        cafe::cli::import(&target, out.path())
            .await
            .expect("import");
        assert_eq!(versions(&there).await, 3);
        assert_eq!(
            count(&fresh, "SELECT count(*) FROM file_versions").await,
            4,
            "three versions of guide.pdf and one of chart.png"
        );
    }

    // A version whose bytes changed in the folder is appended, once.
    let changed = pdf("edited in the folder");
    let folder = out.path().join("flip-chart-walk.files");
    std::fs::write(folder.join("v2/guide.pdf"), &changed).expect("write");
    for _ in 0..2 {
        cafe::cli::import(&target, out.path())
            .await
            .expect("import");
        assert_eq!(versions(&there).await, 4);
    }
    assert_eq!(version_bytes(&there, &page, "guide.pdf", 4).await, changed);
    assert_eq!(
        version_bytes(&there, &page, "guide.pdf", 2).await,
        version_bytes(&app.client(), &page, "guide.pdf", 2).await,
        "the version already there is left as it was"
    );
    fresh.close().await;
}

#[tokio::test]
async fn a_file_whose_bytes_are_not_what_its_name_says_stops_the_import_and_is_named() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("good-page.md"),
        "---\ntitle: Good Page\ntags: [fine]\n---\nFine.\n",
    )
    .expect("write");
    let folder = dir.path().join("good-page.files");
    std::fs::create_dir_all(folder.join("v1")).expect("folder");
    std::fs::write(folder.join("v1/guide.pdf"), pdf("a real PDF")).expect("write");
    // A PDF under an image's name.
    std::fs::write(folder.join("v1/photo.png"), pdf("not an image")).expect("write");
    std::fs::write(
        folder.join("versions.csv"),
        "name,version,description,uploaded_by_username,created_at\n\
         guide.pdf,1,A guide,,2026-01-02T03:04:05Z\n\
         photo.png,1,A photo,,\n",
    )
    .expect("write");
    // And files with no page file beside them.
    let orphan = dir.path().join("orphan.files");
    std::fs::create_dir_all(orphan.join("v1")).expect("folder");
    std::fs::write(orphan.join("v1/guide.pdf"), pdf("alone")).expect("write");
    std::fs::write(orphan.join("versions.csv"), "name,version\nguide.pdf,1\n").expect("write");
    let before = count(&app.state.pool, "SELECT count(*) FROM pages").await;

    let err = cafe::cli::import(&app.db_path(), dir.path())
        .await
        .expect_err("import must refuse");
    let message = format!("{err:#}");
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(
        message.contains("good-page.files/v1/photo.png"),
        "{message}"
    );
    assert!(!message.contains("v1/guide.pdf"), "{message}");
    assert!(message.contains("orphan.files"), "{message}");
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM pages").await,
        before,
        "not even the page is written"
    );
    assert_eq!(
        count(&app.state.pool, "SELECT count(*) FROM file_versions").await,
        0
    );
    app.client()
        .get("/methods/good-page")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // Without the bad file and the lonely folder, the rest goes in.
    std::fs::remove_dir_all(&orphan).expect("remove");
    std::fs::write(
        folder.join("versions.csv"),
        "name,version,description,uploaded_by_username,created_at\n\
         guide.pdf,1,A guide,,2026-01-02T03:04:05Z\n",
    )
    .expect("write");
    cafe::cli::import(&app.db_path(), dir.path())
        .await
        .expect("import");
    let visitor = app.client();
    assert_eq!(
        version_bytes(&visitor, "/methods/good-page", "guide.pdf", 1).await,
        pdf("a real PDF")
    );
    let list = visitor.clone().get("/methods/good-page/files").await;
    list.assert_contains("A guide")
        .assert_contains("2026-01-02 03:04 UTC");
    assert!(!list.body.contains("photo.png"), "{}", list.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_holds_every_file_and_the_restored_site_serves_the_same_bytes() {
    let app = TestApp::new().await;
    let page = page_with_files(&app).await;
    let visitor = app.client();
    let file = app.dir.path().join("with-files.backup");
    cafe::cli::backup(&app.db_path(), &file)
        .await
        .expect("backup");
    let restored = restore(&file).await;
    let restored = cafe::db::connect(&restored).await.expect("restored");
    let there = client_of(&restored).await;
    for (name, versions) in PAGE_FILES {
        for n in 1..=versions {
            assert_eq!(
                version_bytes(&there, &page, name, n).await,
                version_bytes(&visitor, &page, name, n).await,
                "{name} version {n} from the backup"
            );
        }
    }
    let list = there.clone().get(&format!("{page}/files")).await;
    list.assert_status(StatusCode::OK)
        .assert_contains("guide.pdf")
        .assert_contains("chart.png");
    restored.close().await;
}
