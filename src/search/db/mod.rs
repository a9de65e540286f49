//! All SQL about search on SQLite. The index (`search_index`, FTS5) is
//! written by triggers; this module only reads it. PostgreSQL's is in
//! [`postgres`], behind the same functions.
//!
//! A row of the index is a page when its rowid is positive (the page's id)
//! and a story when negative (minus the story's id): see
//! `migrations/sqlite/0002_search.sql`.

use sqlx::FromRow;

use crate::db::Db;

use crate::tags::Tag;

mod postgres;

pub use postgres::scan_pays;

/// One result, as the index and the tables give it. `title` and `snippet`
/// carry \u{2}/\u{3} around matched words: see [`super::marked_html`].
/// `total` is how many rows match in all (the same on every row).
#[derive(Debug, FromRow)]
pub struct HitRow {
    pub title: String,
    pub snippet: String,
    pub slug: String,
    pub page_title: String,
    pub tags: String,
    pub story_id: Option<i64>,
    pub outcome: Option<String>,
    pub location: Option<String>,
    pub total: i64,
}

/// What to look for: the safe FTS5 expressions (or PostgreSQL `tsquery`s)
/// built by [`super::Query`] and the filters. Never user text as typed.
pub struct Search<'a> {
    /// Rows must match this (words, phrases, prefixes, `NOT`s).
    pub matching: Option<&'a str>,
    /// Rows must not match this (used when there is no `matching`).
    pub excluding: Option<&'a str>,
    pub tags: &'a [Tag],
    pub outcomes: &'a [&'static str],
    /// PostgreSQL only: pairs of words every match has side by side
    /// ([`super::Query::ts_pairs`]), to find a phrase's rows by.
    pub pairs: Option<&'a str>,
    /// PostgreSQL only: the words to mark in results
    /// ([`super::marks::Marker`]).
    pub terms: &'a [super::Term],
}

impl Search<'_> {
    /// The filters in use, as `AND …` clauses on the index's rowid.
    ///
    /// With words to match, the rowid is written `+search_index.rowid` so
    /// that the test is made on each match: FTS5 given a set of rowids
    /// together with `MATCH` restarts the whole match (a prefix merge, a
    /// phrase check) once per rowid of the set, which took 15–40 s for a
    /// prefix and a common tag at 10,000 pages. Without words, the set is
    /// what to look up, so FTS5 is given it.
    fn filters(&self) -> String {
        let rowid = if self.matching.is_some() {
            "+search_index.rowid"
        } else {
            "search_index.rowid"
        };
        let mut filters = String::new();
        if !self.tags.is_empty() {
            filters.push_str(&format!("\n        AND {rowid} IN ({TAGGED_ROWIDS})"));
        }
        if !self.outcomes.is_empty() {
            filters.push_str(&format!("\n        AND {rowid} IN ({OUTCOME_ROWIDS})"));
        }
        filters
    }

    /// The `WHERE` clause's first part, and the expression bound to `?1`.
    fn condition(&self) -> (&'static str, Option<&str>) {
        match (self.matching, self.excluding) {
            (Some(matching), _) => (MATCHING, Some(matching)),
            (None, Some(excluding)) => (EXCLUDING, Some(excluding)),
            (None, None) => (EVERYTHING, None),
        }
    }
}

/// The filters' sets: pages carrying every tag of `?2`, and the outcomes
/// of `?3`.
const FILTER_SETS: &str = "WITH tagged(page_id) AS (
        SELECT page_id FROM page_tags WHERE tag IN (SELECT value FROM json_each($2))
        GROUP BY page_id HAVING count(*) = json_array_length($2)),
    outcomes(outcome) AS (SELECT value FROM json_each($3))";
const MATCHING: &str = "search_index MATCH $1";
const EXCLUDING: &str =
    "search_index.rowid NOT IN (SELECT rowid FROM search_index WHERE search_index MATCH $1)";
const EVERYTHING: &str = "$1 IS NULL";
/// `tag:` keeps the tagged pages and the stories told on them. Written
/// as a set of rowids, so a query that only filters looks its rows up
/// instead of reading the whole index.
const TAGGED_ROWIDS: &str = "SELECT page_id FROM tagged
            UNION ALL SELECT -id FROM stories WHERE page_id IN (SELECT page_id FROM tagged)";
/// `outcome:` keeps the stories with one of the outcomes.
const OUTCOME_ROWIDS: &str =
    "SELECT -id FROM stories WHERE outcome IN (SELECT outcome FROM outcomes)";
/// The rows of the page, chosen from the index alone: rowids and scores,
/// no text. `rank` is bm25 with the weights set in
/// `migrations/sqlite/0005_search_rank.sql` (a title word counts ten times a body
/// word). Ties go to the newest row (highest rowid), so pages of results
/// never overlap. Materialized, so it is ranked once however often it is
/// read below.
const RANKED_PICK: &str = ",
    picked AS MATERIALIZED (
        SELECT search_index.rowid AS rowid, search_index.rank AS score
        FROM search_index WHERE ";
const RANKED_PICK_END: &str = "
        ORDER BY search_index.rank, search_index.rowid DESC LIMIT $4 OFFSET $5),";
/// Highlights and snippets for the picked rows only. The `+` keeps the
/// rowid test out of FTS5's hands: FTS5 would otherwise restart the whole
/// `MATCH` (a prefix merge, a phrase check) once per picked row, where one
/// pass over the matches is cheaper.
const MARKED: &str = "
    marked AS MATERIALIZED (
        SELECT search_index.rowid AS rowid,
               highlight(search_index, 0, char(2), char(3)) AS title,
               snippet(search_index, 1, char(2), char(3), '…', 30) AS snippet
        FROM search_index
        WHERE search_index MATCH $1 AND +search_index.rowid IN (SELECT rowid FROM picked))
    SELECT marked.title, marked.snippet, p.slug AS slug, p.title AS page_title, p.tags AS tags,
           st.id AS story_id, st.outcome AS outcome, st.location AS location, ";
const RANKED_FROM: &str = " AS total
    FROM picked
    JOIN marked ON marked.rowid = picked.rowid
    LEFT JOIN stories st ON st.id = -picked.rowid
    JOIN pages p ON p.id = coalesce(st.page_id, picked.rowid)
    ORDER BY picked.score, picked.rowid DESC";
/// Without words to rank by, the newest first: the rows of the page are
/// chosen by date, then only their text is read.
const UNRANKED_PICK: &str = ",
    picked AS MATERIALIZED (
        SELECT search_index.rowid AS rowid,
               coalesce(st.updated_at, p.updated_at) AS updated_at
        FROM search_index
        LEFT JOIN stories st ON st.id = -search_index.rowid
        JOIN pages p ON p.id = coalesce(st.page_id, search_index.rowid)
        WHERE ";
const UNRANKED_PICK_END: &str = "
        ORDER BY updated_at DESC, search_index.rowid DESC LIMIT $4 OFFSET $5)
    SELECT coalesce(st.title, p.title) AS title,
           substr(coalesce(st.body, p.body), 1, 300) AS snippet,
           p.slug AS slug, p.title AS page_title, p.tags AS tags,
           st.id AS story_id, st.outcome AS outcome, st.location AS location, ";
const UNRANKED_FROM: &str = " AS total
    FROM picked
    LEFT JOIN stories st ON st.id = -picked.rowid
    JOIN pages p ON p.id = coalesce(st.page_id, picked.rowid)
    ORDER BY picked.updated_at DESC, picked.rowid DESC";
/// The count of every matching row, for "N results" and the pager: an
/// uncorrelated subquery, run once per statement, over the index alone
/// (every row of it has its page).
const COUNT: &str = "(SELECT count(*) FROM search_index WHERE ";

/// One page of results, each row carrying the total, in one statement:
/// best first when there are words to rank by, newest first when the query
/// only filters. A page past the last one is empty and so carries no total:
/// [`count`] gives it then.
pub async fn search(
    pool: &Db,
    search: &Search<'_>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<HitRow>> {
    if let Db::Postgres(pool) = pool {
        return postgres::search(pool, search, limit, offset).await;
    }
    let (condition, expression) = search.condition();
    let filters = search.filters();
    let count = [COUNT, condition, &filters, ")"].concat();
    let sql = if search.matching.is_some() {
        [
            FILTER_SETS,
            RANKED_PICK,
            condition,
            &filters,
            RANKED_PICK_END,
            MARKED,
            &count,
            RANKED_FROM,
        ]
        .concat()
    } else {
        [
            FILTER_SETS,
            UNRANKED_PICK,
            condition,
            &filters,
            UNRANKED_PICK_END,
            &count,
            UNRANKED_FROM,
        ]
        .concat()
    };
    crate::on_db!(pool, |pool| sqlx::query_as::<_, HitRow>(&sql)
        .bind(expression)
        .bind(crate::db::json_list(search.tags.iter().map(Tag::as_str)))
        .bind(crate::db::json_list(search.outcomes.iter().copied()))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)
}

/// How many rows match in all, for "N results" and the pager: counted in
/// the index alone (every row of it has its page).
pub async fn count(pool: &Db, search: &Search<'_>) -> sqlx::Result<i64> {
    if let Db::Postgres(pool) = pool {
        return postgres::count(pool, search).await;
    }
    let (condition, expression) = search.condition();
    let filters = search.filters();
    let sql = [
        FILTER_SETS,
        " SELECT count(*) FROM search_index WHERE ",
        condition,
        &filters,
    ]
    .concat();
    crate::on_db!(pool, |pool| sqlx::query_scalar::<_, i64>(&sql)
        .bind(expression)
        .bind(crate::db::json_list(search.tags.iter().map(Tag::as_str)))
        .bind(crate::db::json_list(search.outcomes.iter().copied()))
        .fetch_one(pool)
        .await)
}

/// PostgreSQL: merges the search index's GIN pending lists into the
/// indexes ([`super::upkeep`]); how many pending pages it emptied.
pub async fn merge_pending_lists(pool: &sqlx::PgPool) -> sqlx::Result<i64> {
    postgres::merge_pending_lists(pool).await
}

/// The content clock's tick, moved by every content write
/// ([`crate::cache::freshness`]), for [`super::Cache`].
pub async fn generation(pool: &Db) -> sqlx::Result<i64> {
    crate::on_db!(pool, |pool| sqlx::query_scalar(
        "SELECT tick FROM content_clock WHERE id = 1"
    )
    .fetch_one(pool)
    .await)
}
