//! Issue 13, item 1: the one freshness rule of the visitors' cache
//! (`cafe::cache::freshness`), seen from outside. The real binary on a free
//! port; a visitor without cookies reads pages over HTTP, and
//! `GET /healthz/cache` says whether each view was answered from the cache
//! (a hit) or made again (a miss). What a visitor must see: a kept answer
//! while nothing it shows was written, whatever else happens (time passing,
//! sessions, the search index's upkeep, a full file tier, another Host), and
//! the new text at once after a write that it shows, by this process or
//! another (`cafe import`).

use crate::support;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{HOST, SET_COOKIE};

use crate::support::PASSWORD;
use crate::support::server::{Member, Server, cafe_command, csrf};

/// Whether a view came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    Hit,
    Miss,
}

/// A server over a fresh seeded database, and a visitor who keeps no
/// cookies (so never a session: the visitors' cache answers them).
struct Site {
    server: Server,
    dir: tempfile::TempDir,
    /// What `--db` names: the SQLite file, or a PostgreSQL URL.
    db: String,
    visitor: reqwest::Client,
}

/// One view: status, body and whether the cache answered it.
struct View {
    status: StatusCode,
    body: String,
    served: Served,
}

impl Site {
    /// On a SQLite file, whichever backend the suite runs on: these tests
    /// look at the file tier and the WAL file.
    async fn start(flags: &[&str]) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("cafe.db").to_string_lossy().into_owned();
        Self::on(db, dir, flags).await
    }

    /// On the suite's backend (a PostgreSQL database of its own there).
    async fn on_backend() -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = support::backend::fresh(dir.path()).await;
        Self::on(db, dir, &[]).await
    }

    async fn on(db: String, dir: tempfile::TempDir, flags: &[&str]) -> Site {
        let server = Server::start_with(&db, flags).await;
        let visitor = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Site {
            server,
            dir,
            db,
            visitor,
        }
    }

    fn db(&self) -> PathBuf {
        PathBuf::from(&self.db)
    }

    /// `cafe import FOLDER` on the site's database, from another process.
    fn import(&self, folder: &Path) {
        let output = cafe_command()
            .arg("--db")
            .arg(&self.db)
            .arg("import")
            .arg(folder)
            .output()
            .expect("cafe import runs");
        assert!(
            output.status.success(),
            "cafe import: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    async fn member(&self, username: &str) -> Member {
        Member::join(&self.server.base, username).await
    }

    /// A visitor's view of `path`, asked for with `host` as its Host header
    /// (the server's own address when `None`).
    async fn look_as(&self, path: &str, host: Option<&str>) -> View {
        // A look at the counters counts neither: its answer is never kept.
        let (hits, misses) = self.server.cache_stats().await;
        let mut request = self.visitor.get(format!("{}{path}", self.server.base));
        if let Some(host) = host {
            request = request.header(HOST, host);
        }
        let response = request.send().await.expect("GET");
        let status = response.status();
        let body = response.text().await.expect("text");
        let (hits_after, misses_after) = self.server.cache_stats().await;
        let served = match (hits_after - hits, misses_after - misses) {
            (1, 0) => Served::Hit,
            (0, 1) => Served::Miss,
            counted => panic!("GET {path}: {counted:?} (hits, misses) for one view"),
        };
        View {
            status,
            body,
            served,
        }
    }

    async fn look(&self, path: &str) -> View {
        self.look_as(path, None).await
    }

    /// Views `path` until the cache answers it (a kept answer is written to
    /// the file tier in the background, so the view after a miss may miss
    /// too); its body.
    async fn warm(&self, path: &str) -> String {
        let started = Instant::now();
        loop {
            let view = self.look(path).await;
            assert_eq!(view.status, StatusCode::OK, "GET {path}: {}", view.body);
            if view.served == Served::Hit {
                return view.body;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "GET {path} was never answered from the cache"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A view that must come from the cache.
    async fn assert_hit(&self, path: &str, why: &str) -> String {
        let view = self.look(path).await;
        assert_eq!(view.status, StatusCode::OK, "GET {path}: {}", view.body);
        assert_eq!(view.served, Served::Hit, "GET {path} {why}");
        view.body
    }

    /// A view that must be made again (what it showed was written).
    async fn assert_fresh(&self, path: &str, shows: &str) -> String {
        let view = self.look(path).await;
        assert_eq!(view.status, StatusCode::OK, "GET {path}: {}", view.body);
        assert!(
            view.body.contains(shows),
            "GET {path} right after the write should show {shows:?} ({:?}):\n{}",
            view.served,
            view.body
        );
        view.body
    }

    /// Bytes in the file tier's files: the server's open files that are
    /// unnamed (`O_TMPFILE` or unlinked) in the database's folder.
    fn file_tier_bytes(&self) -> u64 {
        let fds = PathBuf::from(format!("/proc/{}/fd", self.server.child.id()));
        let dir = self.dir.path().canonicalize().expect("the folder");
        let mut bytes = 0;
        for fd in std::fs::read_dir(&fds).expect("/proc/PID/fd").flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if target.starts_with(&*dir.to_string_lossy()) && target.ends_with("(deleted)") {
                bytes += std::fs::metadata(fd.path()).map_or(0, |m| m.len());
            }
        }
        bytes
    }
}

/// A member's fresh browser signing in (a session row written, the session
/// id cycled) and signing out again.
async fn sign_in_and_out(base: &str, username: &str) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http
        .get(format!("{base}/signin"))
        .send()
        .await
        .expect("GET /signin")
        .text()
        .await
        .expect("text");
    let signin = |password: &'static str, token: String| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/signin"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(support::encode(&[
                    ("csrf_token", token.as_str()),
                    ("username", username),
                    ("password", password),
                ]))
                .send()
                .await
                .expect("POST /signin")
        }
    };
    let wrong = signin("not the password at all", csrf(&form)).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "a wrong password");
    let form = http
        .get(format!("{base}/signin"))
        .send()
        .await
        .expect("GET /signin")
        .text()
        .await
        .expect("text");
    let right = signin(PASSWORD, csrf(&form)).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER, "signing in");
    assert!(
        right
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .any(|c| c.to_str().is_ok_and(|c| c.starts_with("cafe_session="))),
        "a session cookie"
    );
    let page = http
        .get(format!("{base}/methods/new"))
        .send()
        .await
        .expect("GET /methods/new")
        .text()
        .await
        .expect("text");
    let out = http
        .post(format!("{base}/signout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(support::encode(&[("csrf_token", csrf(&page).as_str())]))
        .send()
        .await
        .expect("POST /signout");
    assert_eq!(out.status(), StatusCode::SEE_OTHER, "signing out");
}

// ------------------------------------------------------------------ Host

/// The cache keys an answer by its path and query alone, so no answer may
/// depend on the request's Host: absolute links come from `--public-url`.
/// A page first asked for under one Host and then under another is the
/// same kept answer, and neither shows either Host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_kept_for_one_host_shows_another_host_nothing_of_the_first() {
    let public = "https://wiki.example.org";
    let site = Site::start(&["--public-url", public]).await;
    for path in [
        "/recent.atom",
        "/methods.atom",
        "/methods/peer-assist/history.atom",
        "/methods/peer-assist",
        "/methods",
        "/recent",
        "/",
    ] {
        let first = site.look_as(path, Some("first-host.example")).await;
        assert_eq!(first.status, StatusCode::OK, "{path}");
        assert_eq!(first.served, Served::Miss, "{path}: nothing kept yet");
        // Kept in memory at once; another Host is given the same answer.
        let second = site.look_as(path, Some("second-host.example:8080")).await;
        assert_eq!(second.status, StatusCode::OK, "{path}");
        assert_eq!(
            second.served,
            Served::Hit,
            "{path}: the cache's key is the path"
        );
        for (host, view) in [("first", &first), ("second", &second)] {
            assert!(
                !view.body.contains("host.example"),
                "{path} asked for under the {host} Host shows a Host:\n{}",
                view.body
            );
        }
        assert_eq!(first.body, second.body, "{path}: one answer for both");
        if path.ends_with(".atom") {
            assert!(
                second.body.contains(&format!("href=\"{public}/")),
                "{path}: links to the public URL:\n{}",
                second.body
            );
        }
    }
}

// ------------------------------------------------------------ a quiet site

/// The old rule dropped kept answers after 60 seconds.
const OLD_MAX_AGE: Duration = Duration::from_secs(60);

/// On a site where nobody writes, time passing makes nothing stale: past
/// the old 60-second age every view is still answered from the file tier
/// (the memory tier is off), no view is made again, and nothing more is
/// appended to the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_site_keeps_serving_from_the_file_tier_past_the_old_max_age() {
    let site = Site::start(&["--page-cache-mib", "0"]).await;
    let pages = [
        "/",
        "/methods",
        "/methods/peer-assist",
        "/tags",
        "/recent",
        "/recent.atom",
        "/search?q=peer",
    ];
    for path in pages {
        site.warm(path).await;
    }
    let file = site.file_tier_bytes();
    assert!(
        file > 0,
        "with the memory tier off, the answers are kept in a file"
    );
    let (_, misses) = site.server.cache_stats().await;
    let started = Instant::now();
    while started.elapsed() <= OLD_MAX_AGE + Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        for path in pages {
            site.assert_hit(
                path,
                &format!("{:?} after warming, on a quiet site", started.elapsed()),
            )
            .await;
        }
    }
    let (_, misses_after) = site.server.cache_stats().await;
    // A miss is an answer made again and kept; looks at the counters are not.
    assert_eq!(misses_after - misses, 0, "no view was made again");
    assert_eq!(
        site.file_tier_bytes(),
        file,
        "nothing was appended to the file tier in {:?}",
        started.elapsed()
    );
}

// ------------------------------------------------------- a full file tier

/// With a file tier of 1 MiB and pages of 150 KB, the file fills after a
/// few pages: it starts again empty instead of refusing answers, so every
/// page is kept right after it is viewed, the file stays within its limit,
/// and every page answers with its own text throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_file_tier_starts_a_new_file_and_every_page_is_still_kept() {
    let site = Site::start(&["--page-cache-mib", "0", "--page-cache-disk-mib", "1"]).await;
    let alice = site.member("alice").await;
    let filler = "A long paragraph of a bulky method page, there to take room. ".repeat(2400);
    let mut pages = Vec::new();
    for n in 0..10 {
        let body = format!("Bulky marker {n}.\n\n{filler}\n");
        pages.push(alice.create_page(&format!("Bulky page {n}"), &body).await);
    }
    let limit = 1024 * 1024;
    for (n, page) in pages.iter().enumerate() {
        let body = site.warm(page).await;
        assert!(
            body.contains(&format!("Bulky marker {n}.")) && body.len() > 140_000,
            "{page} shows its own text"
        );
        let file = site.file_tier_bytes();
        assert!(
            file > 0 && file <= limit,
            "after page {n}: {file} bytes of file for a limit of {limit}"
        );
    }
    // The first pages went with the first file: made again, and kept again.
    for (n, page) in pages.iter().enumerate() {
        let view = site.look(page).await;
        assert_eq!(view.status, StatusCode::OK, "{page}");
        assert!(
            view.body.contains(&format!("Bulky marker {n}.")),
            "{page} shows its own text ({:?})",
            view.served
        );
    }
    let last = pages.last().expect("pages");
    site.warm(last).await;
    site.assert_hit(last, "was kept after the file started again")
        .await;
}

// ------------------------------------------------------------ sessions

/// Visitors opening the sign-in and join forms, a wrong password, a
/// sign-in and a sign-out write sessions and throttles, never content: every
/// kept page stays a hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_forms_sign_ins_and_sign_outs_make_no_kept_page_stale() {
    let site = Site::start(&[]).await;
    site.member("carol").await;
    let pages = [
        "/",
        "/methods",
        "/methods/peer-assist",
        "/tags",
        "/recent",
        "/recent.atom",
        "/search?q=peer",
    ];
    for path in pages {
        site.warm(path).await;
    }
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    for form in ["/signin", "/join", "/signin"] {
        let response = browser
            .get(format!("{}{form}", site.server.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{form}");
    }
    sign_in_and_out(&site.server.base, "carol").await;
    // Past the cache's one-second look at the clock, too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for path in pages {
        site.assert_hit(path, "after sign-ins and sign-outs").await;
    }
}

// ------------------------------------------------------------ index upkeep

/// Segments of the search index (FTS5's `%_idx` table).
async fn segments(db: &Path) -> i64 {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true);
    let pool = cafe::db::Db::Sqlite(
        sqlx::SqlitePool::connect_with(options)
            .await
            .expect("open the database"),
    );
    let count = cafe::on_db!(&pool, |pool| sqlx::query_scalar(
        "SELECT count(DISTINCT segid) FROM search_index_idx"
    )
    .fetch_one(pool)
    .await)
    .expect("segments");
    pool.close().await;
    count
}

/// Saves leave the search index in many small segments, which the server
/// merges once it is quiet (`search::upkeep`). That merge writes, but no
/// content: a page of another method, the lists and the tags stay hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_index_upkeep_merge_makes_no_kept_page_stale() {
    let site = Site::start(&[]).await;
    let alice = site.member("alice").await;
    let page = alice
        .create_page("Upkeep page", "Saved many times.\n")
        .await;
    for revision in 1..=12 {
        let (status, text) = alice
            .edit(&page, revision, &format!("Save {revision} of many.\n"))
            .await
            .expect("an answer");
        assert_eq!(status, StatusCode::SEE_OTHER, "save {revision}: {text}");
    }
    let before = segments(&site.db()).await;
    let pages = [
        "/methods/peer-assist",
        "/methods",
        "/tags",
        "/",
        page.as_str(),
    ];
    for path in pages {
        site.warm(path).await;
    }
    let started = Instant::now();
    let merged = loop {
        let now = segments(&site.db()).await;
        if now < before {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the upkeep did not merge the {before} segments within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("upkeep merged {before} segments to {merged}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for path in pages {
        site.assert_hit(path, "after the index upkeep merged").await;
    }
    let found = site.look("/search?q=many").await;
    assert!(found.body.contains("Upkeep page"), "{}", found.body);
}

// ----------------------------------------------------------------- a save

/// A save to one method page makes stale only what shows it: that page,
/// the method lists (its tags changed), Cafe Tags, search, recent changes
/// and the feeds show the change at once; another method's page stays a
/// hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_shows_at_once_where_the_page_shows_and_other_pages_stay_kept() {
    let site = Site::start(&[]).await;
    let alice = site.member("alice").await;
    let page = alice
        .create_page_tagged("Lantern Circle", "People sit in a circle.\n", "lanterns")
        .await;
    let other = "/methods/peer-assist";
    let shows: [(&str, &str, &str); 8] = [
        (&page, "People sit in a circle.", "the zephyrine lantern"),
        ("/methods", "lanterns", "moonlit"),
        ("/methods?tag=lanterns", "Lantern Circle", "moonlit"),
        ("/tags", "lanterns", "moonlit"),
        ("/search?q=zephyrine", "zephyrine", "Lantern Circle"),
        ("/recent", "Lantern Circle", "Lit the zephyrine lantern"),
        (
            "/recent.atom",
            "Lantern Circle",
            "Lit the zephyrine lantern",
        ),
        ("/methods.atom", "Lantern Circle", "zephyrine"),
    ];
    let kept_other = site.warm(other).await;
    for (path, before, after) in shows {
        let body = site.warm(path).await;
        assert!(body.contains(before), "{path} before the save: {body}");
        assert!(!body.contains(after), "{path} before the save: {body}");
    }
    let (status, text) = alice
        .post(
            &format!("{page}/edit"),
            &[
                ("base_revision", "1"),
                (
                    "body",
                    "People sit in a circle round the zephyrine lantern.\n",
                ),
                ("tags", "lanterns, moonlit"),
                ("summary", "Lit the zephyrine lantern"),
            ],
        )
        .await
        .map(|(status, _, body)| (status, body))
        .expect("an answer");
    assert_eq!(status, StatusCode::SEE_OTHER, "the save: {text}");
    for (path, _, after) in shows {
        site.assert_fresh(path, after).await;
    }
    let body = site
        .assert_hit(other, "is another method: the save does not show on it")
        .await;
    assert_eq!(body, kept_other);
}

/// A page's "What links here" list shows the pages linking to it: a save
/// that adds a link to another page shows on that page at once, to visitors
/// and members alike (`migrations/sqlite/0011_link_clock.sql` moves the linked
/// page's tick; before it, the kept page went on without the backlink).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_adding_a_link_shows_on_the_linked_pages_backlinks_at_once() {
    let site = Site::start(&[]).await;
    let alice = site.member("alice").await;
    let page = alice.create_page("Heron Walk", "No links yet.\n").await;
    let target = "/methods/peer-assist";
    let before = site.warm(target).await;
    assert!(!before.contains("Heron Walk"), "{before}");
    let (status, text) = alice
        .edit(&page, 1, "Start with a [[Peer Assist]].\n")
        .await
        .expect("an answer");
    assert_eq!(status, StatusCode::SEE_OTHER, "the save: {text}");
    let linked = site
        .assert_fresh(&page, "href=\"/methods/peer-assist\"")
        .await;
    assert!(linked.contains("Peer Assist"));
    let (status, member_view) = alice.get(target).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        member_view.contains("Heron Walk"),
        "the backlink is in the database: a member sees it"
    );
    site.assert_fresh(target, "Heron Walk").await;

    // A save that adds another link but keeps this one leaves the linked
    // page kept: only the links that come and go are written.
    let kept = site.warm(target).await;
    let (status, text) = alice
        .edit(
            &page,
            2,
            "Start with a [[Peer Assist]], then an [[After-Action Review]].\n",
        )
        .await
        .expect("an answer");
    assert_eq!(status, StatusCode::SEE_OTHER, "the second save: {text}");
    site.assert_fresh("/methods/after-action-review", "Heron Walk")
        .await;
    let body = site
        .assert_hit(target, "keeps the link it had: nothing it shows changed")
        .await;
    assert_eq!(body, kept);
}

// ------------------------------------------------------- another process

/// `cafe import` run against the database while the server serves it: its
/// commit moves the content clock like the server's own, so the imported
/// page and the change to an existing one show at once, on the method list
/// kept before, in search and in recent changes; a method the import did
/// not touch stays kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_by_another_process_shows_to_visitors_at_once() {
    let site = Site::start(&[]).await;
    // Not one Peer Assist links to: the import drops its links, which shows
    // on their targets' "linked from" lists.
    let untouched = "/methods/most-significant-change";
    let shows: [(&str, &str, &str); 6] = [
        ("/methods", "Peer Assist", "Harbour Walk"),
        ("/methods/peer-assist", "Peer Assist", "lighthouse keepers"),
        ("/search?q=harbourlight", "harbourlight", "Harbour Walk"),
        ("/recent", "Peer Assist", "Imported from harbour-walk.md"),
        ("/recent.atom", "Peer Assist", "Harbour Walk"),
        ("/tags", "lkm-1", "harbours"),
    ];
    let kept = site.warm(untouched).await;
    for (path, before, after) in shows {
        let body = site.warm(path).await;
        assert!(body.contains(before), "{path} before the import: {body}");
        assert!(!body.contains(after), "{path} before the import: {body}");
    }
    let folder = site.dir.path().join("import");
    std::fs::create_dir(&folder).expect("folder");
    std::fs::write(
        folder.join("harbour-walk.md"),
        "---\ntitle: Harbour Walk\ntags: [harbours]\n---\nA walk past the harbourlight.\n",
    )
    .expect("write");
    std::fs::write(
        folder.join("peer-assist.md"),
        "---\ntitle: Peer Assist\ntags: [lkm-2]\n---\nAsk the lighthouse keepers first.\n",
    )
    .expect("write");
    site.import(&folder);
    for (path, _, after) in shows {
        site.assert_fresh(path, after).await;
    }
    let view = site.look("/methods/harbour-walk").await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.body.contains("A walk past the harbourlight."));
    let body = site
        .assert_hit(untouched, "was not touched by the import")
        .await;
    assert_eq!(body, kept);
}

/// Two imports by another process, one right after the other, the first
/// writing more methods than the server reads with the content clock in
/// one go (a thousand, on PostgreSQL): the server's next look at the clock
/// must still learn of every method written since its last, the one the
/// second import changed, last of them all, among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_written_after_a_thousand_others_shows_at_once() {
    let site = Site::on_backend().await;
    let kept = site.warm("/methods/peer-assist").await;
    assert!(!kept.contains("lighthouse keepers"), "{kept}");
    let many = site.dir.path().join("many");
    std::fs::create_dir(&many).expect("folder");
    for n in 0..1100 {
        std::fs::write(
            many.join(format!("imported-method-{n}.md")),
            format!("---\ntitle: Imported Method {n}\n---\nMethod number {n}.\n"),
        )
        .expect("write");
    }
    let last = site.dir.path().join("last");
    std::fs::create_dir(&last).expect("folder");
    std::fs::write(
        last.join("peer-assist.md"),
        "---\ntitle: Peer Assist\ntags: [lkm-2]\n---\nAsk the lighthouse keepers first.\n",
    )
    .expect("write");
    site.import(&many);
    site.import(&last);
    site.assert_fresh("/methods/peer-assist", "lighthouse keepers")
        .await;
}
