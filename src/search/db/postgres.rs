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

use sqlx::{FromRow, PgPool, Row};

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
              FROM (SELECT ts_headline('simple', b.t, q.q, $8) AS marked) m) h)";

/// The filters' sets: pages carrying every tag of `$2`, and the outcomes
/// of `$3`.
const FILTER_SETS: &str = "WITH tagged(page_id) AS (
        SELECT page_id FROM page_tags WHERE tag IN (SELECT value FROM json_each($2))
        GROUP BY page_id HAVING count(*) = json_array_length($2)),
    outcomes(outcome) AS (SELECT value FROM json_each($3))";

/// Matches looked at in all: the count stops here ("more than 1,000
/// results", as many as the pager offers: [`crate::search::MAX_PAGES`]).
pub const FOUND: i64 = crate::search::PER_PAGE * crate::search::MAX_PAGES + 1;
/// Matches ranked: the first this many found with the words in their title
/// or tags, and the first this many found at all. Ranking reads a row's
/// whole document; ranking every match of a common word at 100,000 pages
/// took a second. Past these, matches follow in the order found.
const RANKED: i64 = 200;

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
            "s.pairs @@ $4::text::tsquery AND ts_match_vq(s.document, cafe_tsquery($1))"
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
/// Ranked: `found` holds the first [`FOUND`] matches in the order the scan
/// met them (kept the same from one request to the next: the connection
/// turns synchronised and parallel scans off, `db::postgres`); `ranked` the
/// first [`RANKED`] of them and the first [`RANKED`] with the words in
/// their title or tags, by `ts_rank`; the rest of `found` follows them.
pub async fn search(
    pool: &PgPool,
    search: &Search<'_>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<HitRow>> {
    let condition = condition(search);
    let filters = filters(search);
    let sql = if search.matching.is_some() {
        format!(
            "{FILTER_SETS},
    found AS MATERIALIZED (
        SELECT key, row_number() OVER () AS n
        FROM (SELECT s.key FROM search_index s WHERE {condition} LIMIT {FOUND}) f),
    titled AS (
        SELECT s.key FROM search_index s
        WHERE s.heading @@ cafe_tsquery($1) AND ts_match_vq(s.document, cafe_tsquery($1)){filters}
        LIMIT {RANKED}),
    ranked AS MATERIALIZED (
        SELECT s.key, ts_rank(s.document, cafe_tsquery($1)) AS score
        FROM search_index s
        WHERE s.key IN (SELECT key FROM titled UNION SELECT key FROM found WHERE n <= {RANKED})),
    picked AS MATERIALIZED (
        SELECT key, 0 AS tier, score, 0 AS n FROM ranked
        UNION ALL
        SELECT key, 1, 0, n FROM found WHERE key NOT IN (SELECT key FROM ranked)
        ORDER BY tier, score DESC, n, key DESC LIMIT $5 OFFSET $6)
    SELECT ts_headline('simple', s.title, cafe_tsquery($1), $7) AS title,
           {SNIPPET} AS snippet,
           p.slug, p.title AS page_title, p.tags,
           st.id AS story_id, st.outcome, st.location,
           (SELECT count(*) FROM found) AS total
    FROM picked
    JOIN search_index s ON s.key = picked.key
    CROSS JOIN (SELECT cafe_tsquery($1) AS q) q
    LEFT JOIN stories st ON st.id = -picked.key
    JOIN pages p ON p.id = coalesce(st.page_id, picked.key)
    ORDER BY picked.tier, picked.score DESC, picked.n, picked.key DESC"
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
    WHERE $7::text IS NOT NULL AND $8::text IS NOT NULL
    ORDER BY picked.updated_at DESC, picked.key DESC"
        )
    };
    let rows = statement(&sql, search)
        .bind(limit)
        .bind(offset)
        .bind(TITLE_MARKS)
        .bind(SNIPPET_MARKS)
        .fetch_all(pool)
        .await?;
    rows.iter().map(HitRow::from_row).collect()
}

/// How many rows match, up to [`FOUND`].
pub async fn count(pool: &PgPool, search: &Search<'_>) -> sqlx::Result<i64> {
    let sql = format!(
        "{FILTER_SETS} SELECT count(*) FROM (SELECT FROM search_index s WHERE {} LIMIT {FOUND}) f",
        condition(search)
    );
    statement(&sql, search).fetch_one(pool).await?.try_get(0)
}
