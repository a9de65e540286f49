//! Opening a PostgreSQL database: the pool, the statement timeout every
//! connection sets, and Cafe's own migrations (`migrations/postgres`).
//!
//! The database must exist; Cafe creates its tables on first start as it
//! does for SQLite. Several Cafe processes may share it: what they must
//! agree on (sessions, throttles, the content clock) lives in it too.

use anyhow::Context as _;
use sqlx::ConnectOptions as _;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr as _;

use super::DbOptions;

/// How long a request waits for a pooled connection before it is answered
/// "busy" (503) rather than queued for ever: as long as SQLite's busy wait.
const ACQUIRE_TIMEOUT: std::time::Duration = super::BUSY_TIMEOUT;

/// A pooled connection idle at least this long is checked (one round trip)
/// before a request gets it; one busier than that is not. sqlx's own check
/// (`test_before_acquire`) asks on every acquire: under load that was seven
/// extra round trips per save cycle (edit form and save), each a wake-up of
/// a PostgreSQL process. The check is a statement, `SELECT 1`: the ping
/// answers without the server when nothing is outstanding
/// (vendor/README.md). A connection that broke while in use fails its
/// request (503) and is dropped by sqlx's ping on release: its failed
/// statement is still outstanding, so that ping goes to the server.
const CHECK_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Connects with `options` and runs the migrations.
pub async fn connect(url: &str, options: DbOptions) -> anyhow::Result<PgPool> {
    let timeout_ms = options.statement_timeout.as_millis().max(1).to_string();
    let connect = PgConnectOptions::from_str(url)
        .with_context(|| "bad PostgreSQL URL (postgres://USER[:PASS]@HOST:PORT/DB)")?
        // Scans in a repeatable order: a search's results past the ranked
        // ones follow the order its scan met them (search/db/postgres.rs),
        // which a scan joining another's midway (synchronised) or split
        // among workers (parallel) would change from one request to the
        // next. Cafe's statements are small and many: parallel workers
        // would only take cores from other requests.
        .options([
            ("statement_timeout", timeout_ms.as_str()),
            ("synchronize_seqscans", "off"),
            ("max_parallel_workers_per_gather", "0"),
        ])
        .log_statements(tracing::log::LevelFilter::Trace);
    let pool = PgPoolOptions::new()
        .max_connections(options.pool_size.max(1))
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_AFTER {
                    sqlx::query("SELECT 1").execute(&mut *conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(connect)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", redacted(url)))?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Runs Cafe's migrations on a connection of its own, without the
/// statement timeout: one that rebuilds an index of a large site takes
/// minutes (0101 took two at 100,000 pages), and cut short it would leave
/// the site unable to start. The connection then leaves the pool.
///
/// A database that a newer release has already migrated is accepted, with
/// a warning naming what this release does not know: instances are
/// restarted one at a time (docs/deploy.md, "Upgrades"), and an instance of
/// the old release that restarts meanwhile (a crash, a machine rebooted)
/// must come back beside the new ones, as it was running beside them a
/// moment before. sqlx would refuse it ("previously applied but is
/// missing").
async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    tracing::info!("applying any new migrations to the PostgreSQL database");
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.set_ignore_missing(true);
    migrator
        .run(&mut *conn)
        .await
        .context("cannot migrate the PostgreSQL database")?;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let newer: Vec<String> = sqlx::query_scalar(
        "SELECT version || ' ' || description FROM _sqlx_migrations
         WHERE version > $1 ORDER BY version",
    )
    .bind(known)
    .fetch_all(&mut *conn)
    .await?;
    if !newer.is_empty() {
        tracing::warn!(
            migrations = newer.join(", "),
            "the database was migrated by a newer release of Cafe; this one runs beside it \
             until it is upgraded too"
        );
    }
    sqlx::Connection::close(conn.detach()).await?;
    Ok(())
}

/// The password a URL holds, if any (`postgres://USER:PASS@…`).
pub fn password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let userinfo = &rest[..rest.rfind('@')?];
    let pass = userinfo.split_once(':')?.1;
    let decoded: String = form_urlencoded::parse(format!("p={pass}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    Some(decoded)
}

/// The URL with its password left out, for messages and logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_never_shows_in_messages() {
        assert_eq!(
            super::redacted("postgres://cafe:s3cret@db.example.org:5432/wiki"),
            "postgres://cafe@db.example.org:5432/wiki"
        );
        assert_eq!(super::redacted("postgres://db/wiki"), "postgres://db/wiki");
        assert_eq!(
            super::password("postgres://cafe:s3cret@db:5432/wiki").as_deref(),
            Some("s3cret")
        );
        assert_eq!(super::password("postgres://cafe@db/wiki"), None);
    }
}
