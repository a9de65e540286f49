//! The method lists: all pages or those with every given tag, one page
//! of rows at a time with their counts, and the recently updated.

use std::collections::HashMap;

use serde::Deserialize;
use sqlx::FromRow;

use crate::db::{Backend, Db};

use crate::tags::{Tag, TagList};

/// A line in a list of pages.
#[derive(Debug, FromRow)]
pub struct PageSummary {
    pub slug: String,
    pub title: String,
    pub tags: String,
    pub updated_at: String,
}

impl PageSummary {
    pub fn tag_list(&self) -> TagList {
        TagList::from_stored(&self.tags)
    }
}

/// Pages carrying every one of `tags` (all pages when `tags` is empty), by title.
pub async fn list(pool: &Db, tags: &[Tag]) -> sqlx::Result<Vec<PageSummary>> {
    if tags.is_empty() {
        let sql = pool
            .text("SELECT slug, title, tags, updated_at FROM pages WHERE deleted_at IS NULL ORDER BY title COLLATE NOCASE");
        return crate::on_db!(pool, |pool| sqlx::query_as::<_, PageSummary>(&sql)
            .fetch_all(pool)
            .await);
    }
    let sql = pool.text(
        "SELECT slug, title, tags, updated_at FROM pages
         WHERE id IN (SELECT page_id FROM page_tags
                      WHERE tag IN (SELECT value FROM json_each($1))
                      GROUP BY page_id HAVING count(*) = json_array_length($1))
         ORDER BY title COLLATE NOCASE",
    );
    crate::on_db!(pool, |pool| sqlx::query_as::<_, PageSummary>(&sql)
        .bind(crate::db::json_list(tags.iter().map(Tag::as_str)))
        .fetch_all(pool)
        .await)
}

/// A method as a line of the filtered list: what the list shows of it.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedPage {
    pub slug: String,
    pub title: String,
    pub tags: String,
}

impl ListedPage {
    pub fn tag_list(&self) -> TagList {
        TagList::from_stored(&self.tags)
    }
}

/// Methods per page of the list.
pub const LIST_PAGE: i64 = 100;

/// How many methods carry every chosen tag, and how many of those carry
/// each tag: the counts of a filtered list, over all its pages.
#[derive(Debug, Clone, Deserialize)]
pub struct ListCounts {
    /// The content clock's `lists` these counts were made at
    /// (migrations/sqlite/0009_content_clock.sql, [`crate::cache::freshness`]):
    /// while it stays the same, so do the counts and the rows.
    pub generation: i64,
    pub total: i64,
    /// (tag, methods) for every tag the matching methods carry, the chosen
    /// ones included, in no particular order.
    pub facets: Vec<(String, i64)>,
}

/// Indicator names by tag.
pub type Labels = HashMap<String, String>;

/// What every request for the method list reads: whether what is kept of
/// lists is still good, and the indicator names.
#[derive(Debug, FromRow)]
pub struct ListHead {
    /// See [`ListCounts::generation`].
    pub generation: i64,
    /// Indicator names by tag, to show indicator tags with their names.
    #[sqlx(json)]
    pub labels: Labels,
}

/// The content clock's current `lists` and the indicator names.
pub async fn list_head(pool: &Db) -> sqlx::Result<ListHead> {
    let sql = format!("SELECT g.lists AS generation, {LABELS_JSON} AS labels FROM content_clock g");
    let sql = pool.text(&sql);
    crate::on_db!(pool, |pool| sqlx::query_as::<_, ListHead>(&sql)
        .fetch_one(pool)
        .await)
}

/// One page of the method list, read by [`list_page`] or [`list_rows`].
#[derive(Debug, FromRow)]
pub struct ListView {
    /// See [`ListCounts::generation`].
    pub generation: i64,
    /// The counts, when the statement made them ([`list_page`]).
    #[sqlx(json(nullable))]
    pub counts: Option<ListCounts>,
    /// The methods shown, by title.
    #[sqlx(json)]
    pub pages: Vec<ListedPage>,
}

/// SQL true when page id `alias` carries each tag bound at `?k`, `k` in
/// `tags`: one primary key look-up per tag.
fn carries(alias: &str, tags: std::ops::RangeInclusive<usize>) -> String {
    tags.map(|k| {
        format!(
            "EXISTS (SELECT 1 FROM page_tags c{k} WHERE c{k}.page_id = {alias} AND c{k}.tag = ${k})"
        )
    })
    .collect::<Vec<_>>()
    .join(" AND ")
}

/// `m(id)`: the ids of the methods carrying the `n` (at least one) tags
/// bound at `?1`..`?n`. The first tag's index entries drive; the others
/// are looked up by primary key.
fn matching_cte(n: usize) -> String {
    let rest = if n == 1 {
        String::new()
    } else {
        format!("AND {}", carries("d.page_id", 2..=n))
    };
    format!("m(id) AS MATERIALIZED (SELECT d.page_id FROM page_tags d WHERE d.tag = $1 {rest})")
}

/// The JSON array of [`ListedPage`]s of one page of the list, by title,
/// from row `offset`: all methods, or (`filtered`) those in `m`. The ids
/// come from walking the title index, which holds the title and id, so
/// skipped rows are never read; only the rows shown are, up to their tags
/// (past the long body and HTML). Walking the index is forced: reading the
/// title from the row of every match (13,000 for two common tags of
/// 100,000) and sorting took twice as long for the first page.
///
/// PostgreSQL's title index holds the title alone: walking it reads each
/// row it passes, which pays only while the matches are common enough to
/// fill the page soon ([`WALKED_ROWS`]); otherwise every match is read and
/// sorted ([`filtered_ids_postgres`]).
fn rows_json(backend: Backend, filtered: bool, offset: &str) -> String {
    // A deleted page has no tags (housekeeping), so is never in `m`.
    let ids = if filtered && backend == Backend::Postgres {
        filtered_ids_postgres(offset)
    } else {
        let filter = if filtered {
            "q.id IN (SELECT id FROM m)"
        } else {
            "q.deleted_at IS NULL"
        };
        format!(
            "SELECT q.id FROM pages q INDEXED BY pages_title WHERE {filter}
                ORDER BY q.title COLLATE NOCASE, q.id LIMIT {LIST_PAGE} OFFSET {offset}"
        )
    };
    format!(
        "(SELECT json_group_array(json_object('slug', p.slug, 'title', p.title, 'tags', p.tags)
                                  ORDER BY p.title COLLATE NOCASE, p.id)
          FROM ({ids}) k
          JOIN pages p ON p.id = k.id)"
    )
}

/// PostgreSQL walks the title index for a filtered list while
/// `2 × (offset + page) × rows ≤ matches²`: the walk reads about
/// `(offset + page) × rows / matches` rows at some 4 µs each, against
/// every match at some 2 µs when they are all read and sorted (EXPLAIN
/// ANALYZE at 100,000 pages: two tags on 12,819 methods, first page 31 ms
/// sorted, 5.6 ms walked; a tag on 2 methods took 347 ms walked). `rows`
/// is PostgreSQL's count as of its last ANALYZE; before any (-1), no walk.
const WALKED_ROWS: u32 = 2;

/// The ids of one page of a filtered list on PostgreSQL (see
/// [`rows_json`]): two branches behind one-time filters, of which the
/// executor runs one. The walk tests membership against `m` hashed, so
/// the planner keeps to the title index.
fn filtered_ids_postgres(offset: &str) -> String {
    let walk = format!(
        "(SELECT c.reltuples >= 0
                 AND {WALKED_ROWS} * ({offset} + {LIST_PAGE}) * c.reltuples <= (SELECT count(*) FROM m) ^ 2
          FROM pg_class c WHERE c.oid = 'pages'::regclass)"
    );
    format!(
        "(SELECT q.id FROM pages q WHERE {walk} AND (q.id IN (SELECT id FROM m)) IS TRUE
          ORDER BY q.title COLLATE NOCASE, q.id LIMIT {LIST_PAGE} OFFSET {offset})
         UNION ALL
         (SELECT q.id FROM pages q WHERE NOT {walk} AND q.id IN (SELECT id FROM m)
          ORDER BY q.title COLLATE NOCASE, q.id LIMIT {LIST_PAGE} OFFSET {offset})"
    )
}

const LABELS_JSON: &str = "(SELECT json_group_object(tag, name) FROM indicators)";

/// The statement of [`list_page`] for `n` tags.
fn list_page_sql(backend: Backend, n: usize) -> String {
    let (matching, total, facets) = if n == 0 {
        (
            String::new(),
            "SELECT count(*) FROM pages WHERE deleted_at IS NULL".to_owned(),
            "SELECT tag, pages AS n FROM tag_counts WHERE pages > 0".to_owned(),
        )
    } else {
        (
            format!("{},", matching_cte(n)),
            "SELECT count(*) FROM m".to_owned(),
            "SELECT t.tag, count(*) AS n FROM m CROSS JOIN page_tags t WHERE t.page_id = m.id GROUP BY t.tag"
                .to_owned(),
        )
    };
    let page = n + 1;
    // The page asked for, kept between 1 and the last page (itself at
    // least 1), written with CASE as both backends read it alike.
    let offset = format!(
        "(SELECT (CASE WHEN ${page} < 1 THEN 1 WHEN ${page} > t.pages THEN t.pages ELSE ${page} END - 1) * {LIST_PAGE}
          FROM (SELECT CASE WHEN total.n < 1 THEN 1 ELSE (total.n + {LIST_PAGE} - 1) / {LIST_PAGE} END AS pages
                FROM total) t)"
    );
    format!(
        "WITH {matching} total(n) AS MATERIALIZED ({total})
         SELECT g.lists AS generation,
                json_object('generation', g.lists, 'total', (SELECT n FROM total),
                            'facets', json((SELECT json_group_array(json_array(f.tag, f.n)) FROM ({facets}) f)))
                    AS counts,
                {rows} AS pages
         FROM content_clock g",
        rows = rows_json(backend, n > 0, &offset),
    )
}

/// Page `page` (from 1; past the end gives the last) of the methods
/// carrying every one of `tags` (all methods when `tags` is empty), with
/// the counts over all pages, in one statement. The counts take time in
/// proportion to the number of matching methods (about 40 ms for 13,000
/// of 100,000); [`list_rows`] reads a page without them.
pub async fn list_page(pool: &Db, tags: &[Tag], page: i64) -> sqlx::Result<ListView> {
    let sql = list_page_sql(pool.backend(), tags.len());
    let sql = pool.text(&sql);
    crate::on_db!(pool, |pool| {
        let mut query = sqlx::query_as::<_, ListView>(&sql);
        for tag in tags {
            query = query.bind(tag.as_str());
        }
        query.bind(page).fetch_one(pool).await
    })
}

/// The methods from row `offset` of the list filtered by `tags`, with the
/// generation to check counts kept from [`list_page`] against, without
/// counting (`counts` is `None`).
pub async fn list_rows(pool: &Db, tags: &[Tag], offset: i64) -> sqlx::Result<ListView> {
    let n = tags.len();
    let matching = if n == 0 {
        String::new()
    } else {
        format!("WITH {}", matching_cte(n))
    };
    let sql = format!(
        "{matching} SELECT g.lists AS generation, NULL AS counts, {rows} AS pages
         FROM content_clock g",
        rows = rows_json(pool.backend(), n > 0, &format!("${}", n + 1)),
    );
    let sql = pool.text(&sql);
    crate::on_db!(pool, |pool| {
        let mut query = sqlx::query_as::<_, ListView>(&sql);
        for tag in tags {
            query = query.bind(tag.as_str());
        }
        query.bind(offset).fetch_one(pool).await
    })
}

/// The most recently changed pages.
pub async fn recently_updated(pool: &Db, limit: i64) -> sqlx::Result<Vec<PageSummary>> {
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, PageSummary>(
            "SELECT slug, title, tags, updated_at FROM pages WHERE deleted_at IS NULL
         ORDER BY updated_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await
    })
}
