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
//! the two rankings differ is in `docs/finding.md`.

use sqlx::PgPool;

use super::{HitRow, Search};
use crate::tags::Tag;

/// How `ts_headline` marks matches: the \u{2}/\u{3} markers that
/// [`crate::search::marked_html`] turns into `<mark>` after escaping.
const TITLE_MARKS: &str = "StartSel=\u{2}, StopSel=\u{3}, HighlightAll=true";
/// A passage of at most thirty words from the first match of the body on.
const SNIPPET_MARKS: &str = "StartSel=\u{2}, StopSel=\u{3}, MaxWords=30, MinWords=12";

/// The snippet of the body `s.body` for the query `q.q`, as SQLite's
/// `snippet()` gives it: `…` where the passage does not reach the start or
/// the end of the text. `ts_headline`'s parser reads `<…>` as an HTML tag
/// and drops it, so `<`, `>` and `&` are hidden from it as private-use
/// characters and put back after (the text is escaped when shown:
/// [`crate::search::marked_html`]).
const SNIPPET: &str = "(SELECT CASE WHEN left(b.t, length(h.plain)) = h.plain THEN '' ELSE '…' END
                || translate(h.marked, '\u{e000}\u{e001}\u{e002}', '<>&')
                || CASE WHEN right(b.t, length(h.plain)) = h.plain THEN '' ELSE '…' END
        FROM (SELECT btrim(translate(s.body, '<>&', '\u{e000}\u{e001}\u{e002}'), E' \t\r\n') AS t) b
        CROSS JOIN LATERAL (SELECT m.marked, translate(m.marked, '\u{2}\u{3}', '') AS plain
              FROM (SELECT ts_headline('simple', b.t, q.q, $7) AS marked) m) h)";

/// The query and the filters' sets: pages carrying every tag of `$2`, and
/// the outcomes of `$3`.
const FILTER_SETS: &str = "WITH q AS MATERIALIZED (SELECT cafe_tsquery($1) AS q),
    tagged(page_id) AS (
        SELECT page_id FROM page_tags WHERE tag IN (SELECT value FROM json_each($2))
        GROUP BY page_id HAVING count(*) = json_array_length($2)),
    outcomes(outcome) AS (SELECT value FROM json_each($3))";

/// The rows a search keeps, as a `WHERE` clause over `search_index s` and `q`.
fn condition(search: &Search<'_>) -> String {
    let mut sql = String::from(match (search.matching, search.excluding) {
        (Some(_), _) => "s.document @@ q.q",
        (None, Some(_)) => "NOT (s.document @@ q.q)",
        (None, None) => "$1 IS NULL",
    });
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

/// One page of results with the total on each row, best first when there
/// are words, newest first when the query only filters.
pub async fn search(
    pool: &PgPool,
    search: &Search<'_>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<HitRow>> {
    let condition = condition(search);
    let total = format!("(SELECT count(*) FROM search_index s CROSS JOIN q WHERE {condition})");
    let sql = if search.matching.is_some() {
        format!(
            "{FILTER_SETS},
    picked AS MATERIALIZED (
        SELECT s.key, ts_rank(s.document, q.q) AS score
        FROM search_index s CROSS JOIN q WHERE {condition}
        ORDER BY score DESC, s.key DESC LIMIT $4 OFFSET $5)
    SELECT ts_headline('simple', s.title, q.q, $6) AS title,
           {SNIPPET} AS snippet,
           p.slug, p.title AS page_title, p.tags,
           st.id AS story_id, st.outcome, st.location, {total} AS total
    FROM picked
    JOIN search_index s ON s.key = picked.key
    CROSS JOIN q
    LEFT JOIN stories st ON st.id = -picked.key
    JOIN pages p ON p.id = coalesce(st.page_id, picked.key)
    ORDER BY picked.score DESC, picked.key DESC"
        )
    } else {
        format!(
            "{FILTER_SETS},
    picked AS MATERIALIZED (
        SELECT s.key, coalesce(st.updated_at, p.updated_at) AS updated_at
        FROM search_index s CROSS JOIN q
        LEFT JOIN stories st ON st.id = -s.key
        JOIN pages p ON p.id = coalesce(st.page_id, s.key)
        WHERE {condition}
        ORDER BY updated_at DESC, s.key DESC LIMIT $4 OFFSET $5)
    SELECT coalesce(st.title, p.title) AS title,
           substr(coalesce(st.body, p.body), 1, 300) AS snippet,
           p.slug, p.title AS page_title, p.tags,
           st.id AS story_id, st.outcome, st.location, {total} AS total
    FROM picked
    LEFT JOIN stories st ON st.id = -picked.key
    JOIN pages p ON p.id = coalesce(st.page_id, picked.key)
    WHERE $6::text IS NOT NULL AND $7::text IS NOT NULL
    ORDER BY picked.updated_at DESC, picked.key DESC"
        )
    };
    sqlx::query_as::<_, HitRow>(&sql)
        .bind(search.matching.or(search.excluding))
        .bind(crate::db::json_list(search.tags.iter().map(Tag::as_str)))
        .bind(crate::db::json_list(search.outcomes.iter().copied()))
        .bind(limit)
        .bind(offset)
        .bind(TITLE_MARKS)
        .bind(SNIPPET_MARKS)
        .fetch_all(pool)
        .await
}

/// How many rows match in all.
pub async fn count(pool: &PgPool, search: &Search<'_>) -> sqlx::Result<i64> {
    let sql = format!(
        "{FILTER_SETS} SELECT count(*) FROM search_index s CROSS JOIN q WHERE {}",
        condition(search)
    );
    sqlx::query_scalar::<_, i64>(&sql)
        .bind(search.matching.or(search.excluding))
        .bind(crate::db::json_list(search.tags.iter().map(Tag::as_str)))
        .bind(crate::db::json_list(search.outcomes.iter().copied()))
        .fetch_one(pool)
        .await
}
