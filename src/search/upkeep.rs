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
//!
//! PostgreSQL's GIN indexes (`migrations/postgres`) have the same habit:
//! a save adds its row's words to each index's pending list, which every
//! search then reads whole, and which the save that finds it past 4 MB
//! (`gin_pending_list_limit`) merges at its own expense. So in quiet
//! moments the server merges them too (`gin_clean_pending_list`), in one
//! statement beside saves and searches, which wait on it for no more than
//! a page's buffer lock. At 100,000 pages, after 10 s of saves by 4
//! editors, first-time searches over 4 connections had a p50 of 17.3 and
//! 18.1 ms left as they were, 15.3 and 15.1 ms merged
//! (`bench/first_time_reads.sh`, bench/RESULTS.md).

use std::time::Duration;

use crate::db::Db;

use crate::db::{begin_write, write_generation};

/// How long without writes before the index is merged.
const QUIET: Duration = Duration::from_secs(2);

/// Leaf pages merged per step: about 2 MB of the index, some tens of
/// milliseconds, so a save arriving meanwhile waits little.
const STEP_PAGES: i64 = 500;

/// Starts the upkeep task for the server's pool (ends with the pool).
/// With several instances on one PostgreSQL database each runs its own:
/// quiet is judged by its own writes, and a merge beside another
/// instance's saves only shares the cores with them.
pub fn spawn(pool: Db) {
    tokio::spawn(run(pool));
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
        // On SQLite our own transaction counted as one write (`begin_write`)
        // and the request-side count does not run for it: any more is
        // another's. On PostgreSQL the merge counts none.
        let own = u64::from(pool.as_sqlite().is_some());
        if write_generation() > before + own {
            return Ok(false);
        }
        tokio::task::yield_now().await;
    }
}

/// One step of merging, in its own write transaction; whether it merged
/// anything. On PostgreSQL one step merges the GIN indexes' pending lists
/// whole, outside the content turn: saves go on beside it.
pub async fn merge_step(pool: &Db) -> sqlx::Result<bool> {
    if let Db::Postgres(pool) = pool {
        return Ok(super::db::merge_pending_lists(pool).await? > 0);
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
