//! Which database the suite runs on. Without `CAFE_TEST_POSTGRES` every
//! test runs on SQLite, and the run says that the PostgreSQL suite was
//! skipped; with it (`postgres://USER:PASS@HOST:PORT/DB`, a role allowed to
//! create databases) every test gets a new database of its own on that
//! server. Under `CI=true` a run that is not marked as the SQLite pass
//! (`CAFE_TEST_BACKEND=sqlite`) fails without PostgreSQL, so CI cannot
//! lose the PostgreSQL pass silently.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection as _;

/// The variable naming the PostgreSQL server the suite runs on.
pub const POSTGRES_VAR: &str = "CAFE_TEST_POSTGRES";

/// The server's URL when the suite runs on PostgreSQL.
pub fn postgres() -> Option<String> {
    let url = std::env::var(POSTGRES_VAR)
        .ok()
        .filter(|url| !url.is_empty());
    if url.is_none() {
        static SAID: Once = Once::new();
        SAID.call_once(|| {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            let sqlite_pass = std::env::var("CAFE_TEST_BACKEND").is_ok_and(|v| v == "sqlite");
            assert!(
                !ci || sqlite_pass,
                "CI=true but {POSTGRES_VAR} is not set: the PostgreSQL suite cannot run"
            );
            // Straight to the terminal: the harness captures `eprintln!`.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "note: the PostgreSQL suite was skipped (set {POSTGRES_VAR}=postgres://… \
                     to run these tests on PostgreSQL too); running on SQLite\n"
                )
                .as_bytes(),
            );
        });
    }
    url
}

/// Whether the suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    postgres().is_some()
}

/// A new, empty database for one test: a PostgreSQL database of its own
/// when the suite runs there, else `cafe.db` in `dir`.
pub async fn fresh(dir: &std::path::Path) -> String {
    let Some(server) = postgres() else {
        return dir.join("cafe.db").to_string_lossy().into_owned();
    };
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| sweep_leftovers(server.clone()));
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "cafe_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .expect("drop an old test database");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let _ = admin.close().await;
    with_database(&server, &name)
}

/// Drops, on a thread of its own, the test databases that earlier runs
/// left behind: those whose name carries the id of a process that is no
/// longer running (`/proc/PID`). A test's database lives as long as its
/// process, since the tests that share a process cannot drop theirs
/// reliably on the way out; without this a developer's server gathered
/// about 20 MB per test, 17 GB after some eighty runs. Databases of runs
/// still going (another worktree's) are left alone. Best effort: a
/// failure here never fails a test.
fn sweep_leftovers(server: String) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let mine = std::process::id().to_string();
    let ended = move |name: &str| {
        let rest = name.trim_start_matches("cafe_test_");
        let pid = rest.split('_').next().unwrap_or_default();
        rest.bytes().all(|b| b.is_ascii_digit() || b == b'_')
            && !pid.is_empty()
            && pid != mine
            && !std::path::Path::new("/proc").join(pid).exists()
    };
    let sweep = async move {
        let mut admin = sqlx::PgConnection::connect(&server).await.ok()?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'cafe\\_test\\_%'",
        )
        .fetch_all(&mut admin)
        .await
        .ok()?;
        for name in names.iter().filter(|name| ended(name)) {
            // Names are `cafe_test_` and digits (checked), safe to quote.
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                .execute(&mut admin)
                .await;
        }
        Some(())
    };
    let _ = std::thread::Builder::new()
        .name("test-db-sweep".into())
        .spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(sweep);
            }
        });
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let slash = base.rfind('/').expect("a database in the URL");
    let mut out = format!("{}/{name}", &base[..slash]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The session store's table, which the two backends' stores name apart.
pub fn session_table() -> &'static str {
    if on_postgres() {
        "tower_sessions.session"
    } else {
        "tower_sessions"
    }
}

/// For a test of what only SQLite has (its file, WAL, `VACUUM INTO`, a disk
/// filling up under it): true when the suite runs on PostgreSQL, where the
/// test has nothing to check, and says so.
pub fn sqlite_only(what: &str) -> bool {
    if !on_postgres() {
        return false;
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("note: {what} is SQLite's own; nothing to check on PostgreSQL\n").as_bytes(),
    );
    true
}

/// True, with a note on stderr, when the suite runs without PostgreSQL:
/// for tests of what only several instances on one database can show.
/// `test` is named as `module::test`.
pub fn skipped_without_postgres(test: &str) -> bool {
    if on_postgres() {
        return false;
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("note: {test} needs PostgreSQL ({POSTGRES_VAR}); skipped\n").as_bytes(),
    );
    true
}
