//! Keeps the search index compact in quiet moments.
//!
//! Every save adds a small segment to the FTS5 index, and FTS5 merges
//! segments 16 at a time as saves go on (`migrations/sqlite/0007`). Left at that,
//! an index grows many segments per level, and each save's share of merging
//! gets dearer: at 100,000 pages, 4 editors saved 387-458 pages/s on such
//! an index and 497-536 on one merged down to at most three segments per
//! level. So once no write has come for [`QUIET`] and the index changed
//! since it was last merged, the server merges in small steps (FTS5's
//! `merge` command: levels with four segments or more), one short write
//! transaction each, until a step finds nothing to merge. A write by anyone
//! else stops it until the next quiet moment. Merging changes no search
//! result and moves no generation counter.

use std::time::Duration;

use crate::db::Db;

use crate::db::{begin_write, write_generation};

/// How long without writes before the index is merged.
const QUIET: Duration = Duration::from_secs(2);

/// Leaf pages merged per step: about 2 MB of the index, some tens of
/// milliseconds, so a save arriving meanwhile waits little.
const STEP_PAGES: i64 = 500;

/// Starts the upkeep task for the server's pool (ends with the pool).
/// FTS5's segments need merging; PostgreSQL's GIN index merges its pending
/// list itself (autovacuum), so there is nothing to run there.
pub fn spawn(pool: Db) {
    if let Db::Sqlite(pool) = pool {
        tokio::spawn(run(Db::Sqlite(pool)));
    }
}

async fn run(pool: Db) {
    // The search index's generation when it was last left merged: none yet.
    let mut merged_at = None;
    let mut seen = write_generation();
    while !crate::on_db!(&pool, |pool| pool.is_closed()) {
        tokio::time::sleep(QUIET).await;
        let now = write_generation();
        if now != seen {
            seen = now;
            continue;
        }
        let generation = match super::db::generation(&pool).await {
            Ok(generation) => generation,
            Err(err) => {
                tracing::debug!(%err, "search index upkeep");
                continue;
            }
        };
        if merged_at == Some(generation) {
            continue;
        }
        match merge_while_quiet(&pool).await {
            Ok(true) => merged_at = Some(generation),
            Ok(false) => {}
            Err(err) => tracing::debug!(%err, "search index upkeep"),
        }
        seen = write_generation();
    }
}

/// Merges step by step until nothing is left to merge (true) or someone
/// else writes (false).
async fn merge_while_quiet(pool: &Db) -> sqlx::Result<bool> {
    loop {
        let before = write_generation();
        if !merge_step(pool).await? {
            return Ok(true);
        }
        // Our own transaction counted as one write (`begin_write`) and
        // the request-side count does not run for it: any more is another's.
        if write_generation() > before + 1 {
            return Ok(false);
        }
        tokio::task::yield_now().await;
    }
}

/// One step of merging, in its own write transaction; whether it merged
/// anything. PostgreSQL's GIN index keeps itself (its pending list is
/// merged by autovacuum), so there it has nothing to do.
pub async fn merge_step(pool: &Db) -> sqlx::Result<bool> {
    if pool.as_sqlite().is_none() {
        return Ok(false);
    }
    let mut tx = begin_write(pool).await?;
    let changes = "SELECT total_changes()";
    let before: i64 = crate::on_tx!(&mut tx, |tx| sqlx::query_scalar(changes)
        .fetch_one(&mut *tx)
        .await)?;
    crate::on_tx!(&mut tx, |tx| sqlx::query(
        "INSERT INTO search_index (search_index, rank) VALUES ('merge', $1)"
    )
    .bind(STEP_PAGES)
    .execute(&mut *tx)
    .await
    .map(|done| done.rows_affected()))?;
    let after: i64 = crate::on_tx!(&mut tx, |tx| sqlx::query_scalar(changes)
        .fetch_one(&mut *tx)
        .await)?;
    tx.commit().await?;
    // FTS5 documents a difference under 2 as "nothing left to merge".
    Ok(after - before >= 2)
}

/// Merges until nothing is left to merge, whatever else is writing: for
/// bulk loads, which leave the index as the server's upkeep would.
pub async fn merge_all(pool: &Db) -> sqlx::Result<()> {
    while merge_step(pool).await? {}
    Ok(())
}
