//! All SQL about search on PostgreSQL: the same questions as the SQLite
//! module's, asked of `search_index.document`, a `tsvector` that triggers
//! keep (`migrations/postgres`), with the title weighted `A`, tags `B`, a
//! story's outcome and place `C` and the body `D`.
//!
//! The query text is a `tsquery` built by [`crate::search::Query`] from
//! words of letters and digits only, folded by the database exactly as the
//! indexed text is (`cafe_fold`: lower case, accents removed), so `évaluation`
//! finds `Evaluation`. Ranking is `ts_rank` with its default weights (a title
//! word counts ten times a body word, as bm25's weights do on SQLite); how
//! the two rankings differ is in `docs/finding.md`. Matched words are
//! marked, and the passage chosen, in Rust ([`crate::search::marks`]).

use sqlx::{FromRow, PgPool, Row};

use super::{HitRow, Search};
use crate::tags::Tag;

/// The filters' sets: pages carrying every tag of `$2`, and the outcomes
/// of `$3`.
const FILTER_SETS: &str = "WITH tagged(page_id) AS (
        SELECT page_id FROM page_tags WHERE tag IN (SELECT value FROM json_each($2))
        GROUP BY page_id HAVING count(*) = json_array_length($2)),
    outcomes(outcome) AS (SELECT value FROM json_each($3))";

/// Matches looked at in all: as many as the pager offers
/// ([`crate::search::MAX_PAGES`]) and one more, to tell "more than".
pub const FOUND: i64 = crate::search::PER_PAGE * crate::search::MAX_PAGES + 1;
/// Matches ranked with the words in their title or tags: the first this
/// many found, besides the first [`FOUND`] found at all. Ranking reads a
/// row's whole document; ranking every match of a common word at 100,000
/// pages took a second.
const TITLED: i64 = crate::search::PER_PAGE * crate::search::MAX_PAGES;

/// The filters of `search`, as `AND …` clauses on `s.key`.
fn filters(search: &Search<'_>) -> String {
    let mut sql = String::new();
    if !search.tags.is_empty() {
        sql.push_str(
            " AND s.key IN (SELECT page_id FROM tagged
                  UNION ALL SELECT -id FROM stories WHERE page_id IN (SELECT page_id FROM tagged))",
        );
    }
    if !search.outcomes.is_empty() {
        sql.push_str(
            " AND s.key IN (SELECT -id FROM stories WHERE outcome IN (SELECT outcome FROM outcomes))",
        );
    }
    sql
}

/// The rows a search keeps, as a `WHERE` clause over `search_index s`.
///
/// The query is written `cafe_tsquery($1)` in place (not read from a CTE)
/// and the statement is sent unprepared ([`statement`]), so the planner
/// sees the words and how common they are: a scan that stops at the first
/// [`FOUND`] matches for a common word, the index for a rare one. With a
/// phrase, the pairs index finds the rows and each is checked with
/// `ts_match_vq`, the operator's function, which the planner cannot turn
/// into a second (and costly) index scan of every row with the words.
fn condition(search: &Search<'_>) -> String {
    let matching = match (search.matching, search.excluding, search.pairs) {
        (Some(_), _, Some(_)) => {
            "s.pairs @> cafe_query_pair_hashes($4::text) AND ts_match_vq(s.document, cafe_tsquery($1))"
        }
        (Some(_), _, None) => "s.document @@ cafe_tsquery($1) AND $4::text IS NULL",
        (None, Some(_), _) => "NOT (s.document @@ cafe_tsquery($1)) AND $4::text IS NULL",
        (None, None, _) => "$1 IS NULL AND $4::text IS NULL",
    };
    [matching, &filters(search)].concat()
}

/// `sql` with the search's parameters bound, sent unprepared (a statement
/// prepared once would be planned for any words, blind to how common
/// these are).
fn statement<'q>(
    sql: &'q str,
    search: &Search<'q>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .persistent(false)
        .bind(search.matching.or(search.excluding))
        .bind(crate::db::json_list(search.tags.iter().map(Tag::as_str)))
        .bind(crate::db::json_list(search.outcomes.iter().copied()))
        .bind(search.pairs)
}

/// One page of results with the total (up to [`FOUND`]) on each row, best
/// first when there are words, newest first when the query only filters.
///
/// Ranked: `found` holds the first [`FOUND`] matches the scan met (the
/// same ones from one request to the next: the connection turns
/// synchronised and parallel scans off, `db::postgres`), `titled` the first
/// [`TITLED`] with the words in their title or tags; both are ranked by
/// `ts_rank`. Every match when there are no more than [`FOUND`].
pub async fn search(
    pool: &PgPool,
    search: &Search<'_>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<HitRow>> {
    let mut tx = pool.begin().await?;
    let scan = through_the_index(&mut tx, search).await?;
    let condition = condition(search);
    let filters = filters(search);
    // A title or tag match is a match of the whole document (which holds
    // them at the same positions), unless the query excludes words, which
    // the rest of the document may hold.
    let in_heading = if search.excluding.is_some() {
        "s.heading @@ cafe_tsquery($1) AND ts_match_vq(s.document, cafe_tsquery($1))"
    } else {
        "s.heading @@ cafe_tsquery($1)"
    };
    // A row with a phrase in its heading holds the phrase's pairs too (the
    // document holds the heading at the same positions), so the pairs
    // index narrows the rows first. The heading index alone cannot check
    // positions: it gave every row with one of the phrase's words in its
    // title or tags, each then read and checked (5,172 rows, 16 ms, for
    // "learning learning" at 100,000 pages; 2.3 ms with the pairs).
    let pairs = if search.pairs.is_some() {
        "s.pairs @> cafe_query_pair_hashes($4::text) AND "
    } else {
        ""
    };
    let titled = if scan {
        format!("SELECT key FROM cafe_titled(cafe_tsquery($1), {TITLED}) AS t(key)")
    } else {
        format!(
            "SELECT s.key FROM search_index s WHERE {pairs}{in_heading}{filters} LIMIT {TITLED}"
        )
    };
    let sql = if search.matching.is_some() {
        format!(
            "{FILTER_SETS},
    found AS MATERIALIZED (SELECT s.key FROM search_index s WHERE {condition} LIMIT {FOUND}),
    titled AS ({titled}),
    picked AS MATERIALIZED (
        SELECT s.key, ts_rank(s.document, cafe_tsquery($1)) AS score
        FROM search_index s
        WHERE s.key IN (SELECT key FROM found UNION SELECT key FROM titled)
        ORDER BY score DESC, s.key DESC LIMIT $5 OFFSET $6)
    SELECT s.title, s.body AS snippet,
           p.slug, p.title AS page_title, p.tags,
           st.id AS story_id, st.outcome, st.location,
           (SELECT count(*) FROM found) AS total
    FROM picked
    JOIN search_index s ON s.key = picked.key
    LEFT JOIN stories st ON st.id = -picked.key
    JOIN pages p ON p.id = coalesce(st.page_id, picked.key)
    ORDER BY picked.score DESC, picked.key DESC"
        )
    } else {
        format!(
            "{FILTER_SETS},
    picked AS MATERIALIZED (
        SELECT s.key, coalesce(st.updated_at, p.updated_at) AS updated_at
        FROM search_index s
        LEFT JOIN stories st ON st.id = -s.key
        JOIN pages p ON p.id = coalesce(st.page_id, s.key)
        WHERE {condition}
        ORDER BY updated_at DESC, s.key DESC LIMIT $5 OFFSET $6)
    SELECT coalesce(st.title, p.title) AS title,
           substr(coalesce(st.body, p.body), 1, 300) AS snippet,
           p.slug, p.title AS page_title, p.tags,
           st.id AS story_id, st.outcome, st.location,
           (SELECT count(*) FROM (SELECT FROM search_index s WHERE {condition} LIMIT {FOUND}) f)
             AS total
    FROM picked
    LEFT JOIN stories st ON st.id = -picked.key
    JOIN pages p ON p.id = coalesce(st.page_id, picked.key)
    ORDER BY picked.updated_at DESC, picked.key DESC"
        )
    };
    let rows = statement(&sql, search)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let ranked = search.matching.is_some();
    let marker = crate::search::marks::Marker::new(search.terms);
    rows.iter()
        .map(|row| {
            let mut hit = HitRow::from_row(row)?;
            if ranked {
                hit.title = marker.title(&hit.title);
                hit.snippet = marker.passage(&hit.snippet);
            }
            Ok(hit)
        })
        .collect()
}

/// How many rows match, up to [`FOUND`].
pub async fn count(pool: &PgPool, search: &Search<'_>) -> sqlx::Result<i64> {
    let sql = format!(
        "{FILTER_SETS} SELECT count(*) FROM (SELECT FROM search_index s WHERE {} LIMIT {FOUND}) f",
        condition(search)
    );
    let mut tx = pool.begin().await?;
    through_the_index(&mut tx, search).await?;
    let total = statement(&sql, search)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    tx.commit().await?;
    Ok(total)
}

/// Tells the planner, for this transaction only, whether to find a
/// query's words through the GIN indexes or by reading the table until
/// [`FOUND`] rows match. It prices `@@` on a row as cheap, but each row's
/// `document` is stored out of line (TOAST, about 2 KB), so that scan reads
/// and decompresses thousands of documents for a word in 2 % of the rows:
/// 60-120 ms against about 10 ms through the index at 100,000 pages
/// (EXPLAIN ANALYZE, bench corpus). So the index is the rule, and the scan
/// is let in only when [`scan_pays`] for the words as the planner's
/// statistics count them (`cafe_matches_estimated`, one round trip). A
/// phrase is found through the pairs index, and a search with filters or
/// excluded words through its sets: those keep to the indexes. A query
/// with no words (tags, outcomes, exclusions only) is left alone: there is
/// no index to go through. Whether the scan was let in: the rows with the
/// words in their title are then found by `cafe_titled`, which keeps to
/// the heading index.
async fn through_the_index(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    search: &Search<'_>,
) -> sqlx::Result<bool> {
    let Some(matching) = search.matching else {
        return Ok(false);
    };
    let plain = search.pairs.is_none()
        && search.excluding.is_none()
        && search.tags.is_empty()
        && search.outcomes.is_empty();
    let scan = if plain {
        let (matches, total): (f64, f64) =
            sqlx::query_as("SELECT matches, total FROM cafe_matches_estimated(cafe_tsquery($1))")
                .bind(matching)
                .fetch_one(&mut **tx)
                .await?;
        scan_pays(matches, total)
    } else {
        false
    };
    sqlx::query("SELECT set_config('enable_seqscan', $1, true)")
        .bind(if scan { "on" } else { "off" })
        .execute(&mut **tx)
        .await?;
    Ok(scan)
}

/// Whether reading the table until [`FOUND`] rows match is cheaper than
/// the index for words the planner expects in `matches` of `total` rows.
/// The index lists every match before the first is read, about 0.11 µs a
/// match; the scan reads about `FOUND / share` rows at 6 µs each (a
/// document fetched and decompressed). The scan wins when `share ×
/// matches` passes [`SCAN_PAYS_FROM`]: at 100,000 rows for words in 30 %
/// of them or more, at 10,000 only for words in nearly all, and never on a
/// site of fewer rows than that.
pub fn scan_pays(matches: f64, total: f64) -> bool {
    total > 0.0 && matches * (matches / total) >= SCAN_PAYS_FROM
}

/// Measured at 100,000 pages (EXPLAIN ANALYZE of the ranked statement,
/// bench corpus): words in 13 % of the rows took 7.9 ms through the index
/// and 11.9 ms by the scan, 18 % 6.5 and 7.5 ms, 41 % 8.5 and 4.3 ms,
/// 89 % 10.9 and 2.7 ms.
const SCAN_PAYS_FROM: f64 = 9_000.0;

/// Merges the pending list of every GIN index on `search_index` into the
/// index proper (`gin_clean_pending_list`, which only the indexes' owner,
/// the role that ran Cafe's migrations, may call); the pages emptied.
pub async fn merge_pending_lists(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(gin_clean_pending_list(i.indexrelid)), 0)::bigint
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_am am ON am.oid = c.relam
         WHERE i.indrelid = 'search_index'::regclass AND am.amname = 'gin'",
    )
    .fetch_one(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::scan_pays;

    #[test]
    fn the_scan_pays_only_for_words_common_on_a_large_site() {
        assert!(scan_pays(88_000.0, 100_000.0));
        assert!(scan_pays(41_000.0, 100_000.0));
        assert!(!scan_pays(18_000.0, 100_000.0));
        assert!(!scan_pays(2_000.0, 100_000.0));
        assert!(scan_pays(9_600.0, 10_000.0));
        assert!(!scan_pays(8_000.0, 10_000.0));
        assert!(!scan_pays(8_900.0, 8_900.0));
        assert!(!scan_pays(1_000.0, 1_000.0));
        // No statistics yet (PostgreSQL counts -1 rows): the index.
        assert!(!scan_pays(500.0, -1.0));
    }
}
