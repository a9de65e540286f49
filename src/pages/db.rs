//! All SQL about method pages, their revisions, tags and links.
//!
//! A save writes, in one `BEGIN IMMEDIATE` transaction: the new revision
//! (append-only), the page's current row with its HTML rendered once here,
//! its tags, its outgoing wiki links, and the recent-changes event.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;
use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::{PageText, Slug};
use crate::db::begin_write;
use crate::group_commit::GroupCommit;
use crate::markup::markdown;
use crate::recent::Kind;
use crate::recent::db::{NewEvent, record};
use crate::roster::db::Entry;
use crate::stories::db::StoryLine;
use crate::tags::{Tag, TagList};

/// A page as shown and edited.
#[derive(Debug, FromRow)]
pub struct Page {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub revision: i64,
    pub body: String,
    pub html: String,
    pub tags: String,
    pub protected: bool,
    pub created_at: String,
    pub updated_at: String,
    pub editor_username: Option<String>,
    pub editor_name: Option<String>,
}

impl Page {
    pub fn tag_list(&self) -> TagList {
        TagList::from_stored(&self.tags)
    }
}

pub async fn find(pool: &SqlitePool, slug: &Slug) -> sqlx::Result<Option<Page>> {
    sqlx::query_as::<_, Page>(
        "SELECT p.id, p.slug, p.title, p.revision, p.body, p.html, p.tags, p.protected,
                p.created_at, p.updated_at, u.username AS editor_username, u.display_name AS editor_name
         FROM pages p LEFT JOIN users u ON u.id = p.updated_by
         WHERE p.slug = ?",
    )
    .bind(slug.as_str())
    .fetch_optional(pool)
    .await
}

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
pub async fn list(pool: &SqlitePool, tags: &[Tag]) -> sqlx::Result<Vec<PageSummary>> {
    if tags.is_empty() {
        return sqlx::query_as::<_, PageSummary>(
            "SELECT slug, title, tags, updated_at FROM pages ORDER BY title COLLATE NOCASE",
        )
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as::<_, PageSummary>(
        "SELECT slug, title, tags, updated_at FROM pages
         WHERE id IN (SELECT page_id FROM page_tags
                      WHERE tag IN (SELECT value FROM json_each(?1))
                      GROUP BY page_id HAVING count(*) = json_array_length(?1))
         ORDER BY title COLLATE NOCASE",
    )
    .bind(crate::db::json_list(tags.iter().map(Tag::as_str)))
    .fetch_all(pool)
    .await
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
    /// (migrations/0009_content_clock.sql, [`crate::cache::freshness`]):
    /// while it stays the same, so do the counts and the rows.
    pub generation: i64,
    pub total: i64,
    /// (tag, methods) for every tag the matching methods carry, the chosen
    /// ones included, in no particular order.
    pub facets: Vec<(String, i64)>,
}

/// What every request for the method list reads: whether what is kept of
/// lists is still good, and the indicator names.
#[derive(Debug, FromRow)]
pub struct ListHead {
    /// See [`ListCounts::generation`].
    pub generation: i64,
    /// Indicator names by tag, to show indicator tags with their names.
    #[sqlx(json)]
    pub labels: HashMap<String, String>,
}

/// The content clock's current `lists` and the indicator names.
pub async fn list_head(pool: &SqlitePool) -> sqlx::Result<ListHead> {
    sqlx::query_as::<_, ListHead>(&format!(
        "SELECT g.lists AS generation, {LABELS_JSON} AS labels FROM content_clock g"
    ))
    .fetch_one(pool)
    .await
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
            "EXISTS (SELECT 1 FROM page_tags c{k} WHERE c{k}.page_id = {alias} AND c{k}.tag = ?{k})"
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
    format!("m(id) AS MATERIALIZED (SELECT d.page_id FROM page_tags d WHERE d.tag = ?1 {rest})")
}

/// The JSON array of [`ListedPage`]s of one page of the list, by title,
/// from row `offset`: all methods, or (`filtered`) those in `m`. The ids
/// come from walking the title index, which holds the title and id, so
/// skipped rows are never read; only the rows shown are, up to their tags
/// (past the long body and HTML). Walking the index is forced: reading the
/// title from the row of every match (13,000 for two common tags of
/// 100,000) and sorting took twice as long for the first page.
fn rows_json(filtered: bool, offset: &str) -> String {
    let filter = if filtered { "WHERE q.id IN m" } else { "" };
    format!(
        "(SELECT json_group_array(json_object('slug', p.slug, 'title', p.title, 'tags', p.tags)
                                  ORDER BY p.title COLLATE NOCASE, p.id)
          FROM (SELECT q.id FROM pages q INDEXED BY pages_title {filter}
                ORDER BY q.title COLLATE NOCASE, q.id LIMIT {LIST_PAGE} OFFSET {offset}) k
          JOIN pages p ON p.id = k.id)"
    )
}

const LABELS_JSON: &str = "(SELECT json_group_object(tag, name) FROM indicators)";

/// The statement of [`list_page`] for `n` tags.
fn list_page_sql(n: usize) -> String {
    let (matching, total, facets) = if n == 0 {
        (
            String::new(),
            "SELECT count(*) FROM pages".to_owned(),
            "SELECT tag, pages AS n FROM tag_counts WHERE pages > 0".to_owned(),
        )
    } else {
        (
            format!("{},", matching_cte(n)),
            "SELECT count(*) FROM m".to_owned(),
            "SELECT t.tag, count(*) AS n FROM m CROSS JOIN page_tags t ON t.page_id = m.id GROUP BY t.tag"
                .to_owned(),
        )
    };
    let page = n + 1;
    let offset = format!(
        "(SELECT (min(max(?{page}, 1), max((total.n + {LIST_PAGE} - 1) / {LIST_PAGE}, 1)) - 1) * {LIST_PAGE} FROM total)"
    );
    format!(
        "WITH {matching} total(n) AS MATERIALIZED ({total})
         SELECT g.lists AS generation,
                json_object('generation', g.lists, 'total', (SELECT n FROM total),
                            'facets', json((SELECT json_group_array(json_array(f.tag, f.n)) FROM ({facets}) f)))
                    AS counts,
                {rows} AS pages
         FROM content_clock g",
        rows = rows_json(n > 0, &offset),
    )
}

/// Page `page` (from 1; past the end gives the last) of the methods
/// carrying every one of `tags` (all methods when `tags` is empty), with
/// the counts over all pages, in one statement. The counts take time in
/// proportion to the number of matching methods (about 40 ms for 13,000
/// of 100,000); [`list_rows`] reads a page without them.
pub async fn list_page(pool: &SqlitePool, tags: &[Tag], page: i64) -> sqlx::Result<ListView> {
    let sql = list_page_sql(tags.len());
    let mut query = sqlx::query_as::<_, ListView>(&sql);
    for tag in tags {
        query = query.bind(tag.as_str());
    }
    query.bind(page).fetch_one(pool).await
}

/// The methods from row `offset` of the list filtered by `tags`, with the
/// generation to check counts kept from [`list_page`] against, without
/// counting (`counts` is `None`).
pub async fn list_rows(pool: &SqlitePool, tags: &[Tag], offset: i64) -> sqlx::Result<ListView> {
    let n = tags.len();
    let matching = if n == 0 {
        String::new()
    } else {
        format!("WITH {}", matching_cte(n))
    };
    let sql = format!(
        "{matching} SELECT g.lists AS generation, NULL AS counts, {rows} AS pages
         FROM content_clock g",
        rows = rows_json(n > 0, &format!("?{}", n + 1)),
    );
    let mut query = sqlx::query_as::<_, ListView>(&sql);
    for tag in tags {
        query = query.bind(tag.as_str());
    }
    query.bind(offset).fetch_one(pool).await
}

/// The most recently changed pages.
pub async fn recently_updated(pool: &SqlitePool, limit: i64) -> sqlx::Result<Vec<PageSummary>> {
    sqlx::query_as::<_, PageSummary>(
        "SELECT slug, title, tags, updated_at FROM pages ORDER BY updated_at DESC, id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A link to another page, as the page view lists them.
#[derive(Debug, Deserialize)]
pub struct PageLink {
    pub slug: String,
    pub title: String,
}

/// Everything a method page shows, read by [`view`].
#[derive(Debug, FromRow)]
pub struct PageView {
    #[sqlx(flatten)]
    pub page: Page,
    /// Pages whose current revision links here ("What links here").
    #[sqlx(json)]
    pub backlinks: Vec<PageLink>,
    /// Existing pages among this page's wiki links.
    #[sqlx(json)]
    pub related: Vec<PageLink>,
    #[sqlx(json)]
    pub stories: Vec<StoryLine>,
    /// Visible stories per outcome (absent outcomes have none).
    #[sqlx(json)]
    pub tally: HashMap<String, i64>,
    #[sqlx(json)]
    pub roster: Vec<Entry>,
    /// Indicator names of the page's tags that are indicators.
    #[sqlx(json)]
    pub tag_names: HashMap<String, String>,
}

/// A JSON array of [`PageLink`] objects from `FROM_WHERE`, by title. Only
/// the slug and title, which come before the long body and HTML in a row:
/// reading a linked page's later columns walked its overflow pages.
macro_rules! links_json {
    ($from_where:literal) => {
        concat!(
            "(SELECT json_group_array(json_object('slug', q.slug, 'title', q.title) \
             ORDER BY q.title COLLATE NOCASE) ",
            $from_where,
            ")"
        )
    };
}

/// The method page, its stories (`show_hidden` for admins, one `outcome` or
/// all), tally, roster, backlinks, related pages and tag names, in one SQL
/// statement. A page view is the hot path: every statement is a round trip
/// to the connection's worker thread, and seven of them made a view cost
/// about ten times a static file (bench/RESULTS.md); one costs one.
pub async fn view(
    pool: &SqlitePool,
    slug: &Slug,
    show_hidden: bool,
    outcome: Option<&str>,
) -> sqlx::Result<Option<PageView>> {
    sqlx::query_as::<_, PageView>(&VIEW_SQL)
        .bind(slug.as_str())
        .bind(show_hidden)
        .bind(outcome)
        .fetch_optional(pool)
        .await
}

/// The statement of [`view`], put together once (prepared statements are
/// cached by their text).
static VIEW_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT p.id, p.slug, p.title, p.revision, p.body, p.html, p.tags, p.protected,
                p.created_at, p.updated_at, u.username AS editor_username,
                u.display_name AS editor_name,
                {backlinks} AS backlinks, {related} AS related,
                {stories} AS stories, {tally} AS tally, {roster} AS roster,
                (SELECT json_group_object(i.tag, i.name) FROM page_tags t
                 JOIN indicators i ON i.tag = t.tag WHERE t.page_id = p.id) AS tag_names
         FROM pages p LEFT JOIN users u ON u.id = p.updated_by
         WHERE p.slug = ?1",
        backlinks = links_json!(
            "FROM page_links l JOIN pages q ON q.id = l.from_page_id WHERE l.to_slug = p.slug"
        ),
        related = links_json!(
            "FROM page_links l JOIN pages q ON q.slug = l.to_slug WHERE l.from_page_id = p.id"
        ),
        stories = crate::stories::db::PAGE_STORIES_JSON,
        tally = crate::stories::db::PAGE_TALLY_JSON,
        roster = crate::roster::db::PAGE_ROSTER_JSON,
    )
});

/// Which of `targets` are existing pages.
async fn existing(conn: &mut SqliteConnection, targets: &[Slug]) -> sqlx::Result<HashSet<String>> {
    if targets.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT slug FROM pages WHERE slug IN (SELECT value FROM json_each(?))",
    )
    .bind(crate::db::json_list(targets.iter().map(Slug::as_str)))
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect())
}

/// A page body rendered before its write transaction, with what the HTML
/// depends on besides the text: which link targets existed. Rendering is
/// the costliest part of a save; done ahead, the transaction (which other
/// saves wait for) only checks that the targets are still the same.
pub struct Prerendered {
    slug: String,
    body: String,
    targets: Vec<Slug>,
    existing: HashSet<String>,
    html: String,
}

/// Renders `body` for the page `slug` outside any transaction.
pub async fn prerender(pool: &SqlitePool, slug: &str, body: &str) -> sqlx::Result<Prerendered> {
    let mut conn = pool.acquire().await?;
    let targets = markdown::link_targets(body);
    let existing = existing(&mut conn, &targets).await?;
    let html = markdown::render(body, &|target| {
        target.as_str() == slug || existing.contains(target.as_str())
    });
    Ok(Prerendered {
        slug: slug.to_owned(),
        body: body.to_owned(),
        targets,
        existing,
        html,
    })
}

/// Renders a body to HTML, marking wiki links to pages that do not exist
/// (other than `own_slug`) as missing. Returns the HTML and the link targets.
/// `ahead` is used instead when it rendered this same body for this page
/// and the same targets exist now.
async fn render(
    conn: &mut SqliteConnection,
    body: &str,
    own_slug: &str,
    ahead: Option<&Prerendered>,
) -> sqlx::Result<(String, Vec<Slug>)> {
    if let Some(ahead) = ahead.filter(|a| a.body == body && a.slug == own_slug)
        && existing(conn, &ahead.targets).await? == ahead.existing
    {
        return Ok((ahead.html.clone(), ahead.targets.clone()));
    }
    let targets = markdown::link_targets(body);
    let existing = existing(conn, &targets).await?;
    let html = markdown::render(body, &|slug| {
        slug.as_str() == own_slug || existing.contains(slug.as_str())
    });
    Ok((html, targets))
}

/// Renders Markdown written anywhere on the site (stories, replies) with
/// its wiki links checked against the pages that exist now.
pub async fn render_markdown(conn: &mut SqliteConnection, body: &str) -> sqlx::Result<String> {
    Ok(render(conn, body, "", None).await?.0)
}

/// The text a page had before a save, to skip rewriting what did not change.
struct Before<'a> {
    body: &'a str,
    tags: &'a TagList,
}

/// Writes a page's derived rows for its new current text: HTML, tags, links.
/// Tags and links equal to those `before` are left as they are: inside a
/// write transaction every statement is a round trip that others wait for.
async fn write_current(
    conn: &mut SqliteConnection,
    page_id: i64,
    slug: &str,
    body: &str,
    tags: &TagList,
    before: Option<Before<'_>>,
    ahead: Option<&Prerendered>,
) -> sqlx::Result<String> {
    let (html, targets) = render(conn, body, slug, ahead).await?;
    if before.as_ref().is_none_or(|b| b.tags != tags) {
        sqlx::query("DELETE FROM page_tags WHERE page_id = ?")
            .bind(page_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("INSERT INTO page_tags (page_id, tag) SELECT ?, value FROM json_each(?)")
            .bind(page_id)
            .bind(crate::db::json_list(tags.iter().map(Tag::as_str)))
            .execute(&mut *conn)
            .await?;
    }
    if before.is_none_or(|b| markdown::link_targets(b.body) != targets) {
        // Only the links that come and go are touched: each one moves its
        // target's page tick (migrations/0011_link_clock.sql), and a link
        // kept as it was must leave its target's kept pages fresh.
        let targets = crate::db::json_list(targets.iter().map(Slug::as_str));
        sqlx::query(
            "DELETE FROM page_links WHERE from_page_id = ? \
             AND to_slug NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(page_id)
        .bind(&targets)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO page_links (from_page_id, to_slug) SELECT ?1, value FROM json_each(?2) \
             WHERE value NOT IN (SELECT to_slug FROM page_links WHERE from_page_id = ?1)",
        )
        .bind(page_id)
        .bind(&targets)
        .execute(&mut *conn)
        .await?;
    }
    Ok(html)
}

/// Creates a page with its first revision; returns its slug (the title's,
/// with `-2`, `-3`… when taken). Pages that already linked to the new slug
/// have their HTML re-rendered, so their missing link becomes a real one.
pub async fn create(
    pool: &SqlitePool,
    title: &str,
    text: &PageText,
    author: Option<i64>,
) -> sqlx::Result<Slug> {
    let mut tx = begin_write(pool).await?;
    let slug = create_in(&mut tx, title, text, author).await?;
    tx.commit().await?;
    Ok(slug)
}

/// [`create`] inside a caller's transaction (import loads many pages at once).
pub async fn create_in(
    conn: &mut SqliteConnection,
    title: &str,
    text: &PageText,
    author: Option<i64>,
) -> sqlx::Result<Slug> {
    let base = Slug::from_title(title)
        .ok_or_else(|| sqlx::Error::Protocol("title without a slug".into()))?;
    let mut slug = base.clone();
    let mut n = 1;
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pages WHERE slug = ?")
        .bind(slug.as_str())
        .fetch_one(&mut *conn)
        .await?
        > 0
    {
        n += 1;
        slug = base.with_suffix(n);
    }
    let now = crate::clock::now();
    let page_id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO pages (slug, title, revision, body, html, tags, created_at, updated_at, updated_by)
         VALUES (?, ?, 1, ?, '', ?, ?, ?, ?) RETURNING id",
    )
    .bind(slug.as_str())
    .bind(title)
    .bind(&text.body)
    .bind(text.tags.to_stored())
    .bind(&now)
    .bind(&now)
    .bind(author)
    .fetch_one(&mut *conn)
    .await?;
    insert_revision(conn, page_id, 1, title, text, author, &now).await?;
    let html = write_current(
        conn,
        page_id,
        slug.as_str(),
        &text.body,
        &text.tags,
        None,
        None,
    )
    .await?;
    sqlx::query("UPDATE pages SET html = ? WHERE id = ?")
        .bind(html)
        .bind(page_id)
        .execute(&mut *conn)
        .await?;
    relink(conn, slug.as_str(), page_id).await?;
    let summary = if text.summary.is_empty() {
        "Created the page"
    } else {
        &text.summary
    };
    record(
        conn,
        NewEvent::new(Kind::Page, author, summary)
            .on_page(page_id)
            .at_revision(1),
    )
    .await?;
    Ok(slug)
}

/// Re-renders the pages whose links point at `slug`, which now exists.
async fn relink(conn: &mut SqliteConnection, slug: &str, page_id: i64) -> sqlx::Result<()> {
    #[derive(FromRow)]
    struct Linker {
        id: i64,
        slug: String,
        body: String,
    }
    let linkers = sqlx::query_as::<_, Linker>(
        "SELECT p.id, p.slug, p.body FROM page_links l JOIN pages p ON p.id = l.from_page_id
         WHERE l.to_slug = ? AND p.id <> ?",
    )
    .bind(slug)
    .bind(page_id)
    .fetch_all(&mut *conn)
    .await?;
    for linker in linkers {
        let (html, _) = render(conn, &linker.body, &linker.slug, None).await?;
        sqlx::query("UPDATE pages SET html = ? WHERE id = ?")
            .bind(html)
            .bind(linker.id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn insert_revision(
    conn: &mut SqliteConnection,
    page_id: i64,
    number: i64,
    title: &str,
    text: &PageText,
    author: Option<i64>,
    now: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO revisions (page_id, number, title, body, tags, summary, author_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(page_id)
    .bind(number)
    .bind(title)
    .bind(&text.body)
    .bind(text.tags.to_stored())
    .bind(&text.summary)
    .bind(author)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// What became of a save.
#[derive(Debug)]
pub enum SaveOutcome {
    /// A new revision; `merged` when it was made from a stale base by a
    /// three-way merge with the changes saved meanwhile.
    Saved { number: i64, merged: bool },
    /// The text and tags are what the page already has: no revision made.
    Unchanged,
    /// Someone saved meanwhile and the changes overlap: nothing was saved.
    Conflict {
        current_revision: i64,
        current_body: String,
        current_tags: String,
    },
    /// [`save_in`] only: the page is no longer at the revision the text was
    /// made (or merged) from. Nothing was written; merge again.
    Moved,
}

#[derive(FromRow)]
struct Current {
    slug: String,
    title: String,
    revision: i64,
    body: String,
    tags: String,
}

/// An edit ready to be written over `expected`, the revision it was made or
/// merged from.
struct Ready {
    expected: i64,
    text: PageText,
    merged: bool,
}

/// Saves that find the page moved on again after their merge merge again
/// this many times, then are a conflict.
const MERGE_TRIES: usize = 3;

/// Brings an edit made from revision `base` up to the current revision,
/// outside any transaction: a three-way merge with what was saved since
/// (bounded, on the blocking pool: [`crate::merge`]), or the conflict.
async fn bring_up_to_date(
    pool: &SqlitePool,
    page_id: i64,
    base: i64,
    text: &PageText,
) -> sqlx::Result<Result<Ready, SaveOutcome>> {
    let (revision, current_body, current_tags) = current_text(pool, page_id).await?;
    if base == revision {
        let text = text.clone();
        return Ok(Ok(Ready {
            expected: revision,
            text,
            merged: false,
        }));
    }
    let base_rev = sqlx::query_as::<_, (String, String)>(
        "SELECT body, tags FROM revisions WHERE page_id = ? AND number = ?",
    )
    .bind(page_id)
    .bind(base)
    .fetch_optional(pool)
    .await?;
    let merged = match base_rev {
        Some((base_body, base_tags)) => {
            let (theirs, ours) = (current_body.clone(), text.body.clone());
            let body = crate::markup::diff::off_thread(move || {
                crate::merge::three_way(&base_body, &ours, &theirs)
            })
            .await
            .and_then(Result::ok);
            body.map(|body| (body, base_tags))
        }
        None => None,
    };
    let Some((body, base_tags)) = merged else {
        return Ok(Err(SaveOutcome::Conflict {
            current_revision: revision,
            current_body,
            current_tags,
        }));
    };
    let tags = TagList::merge(
        &TagList::from_stored(&base_tags),
        &text.tags,
        &TagList::from_stored(&current_tags),
    );
    Ok(Ok(Ready {
        expected: revision,
        text: PageText {
            body,
            tags,
            summary: text.summary.clone(),
        },
        merged: true,
    }))
}

/// The page's revision, body and stored tags.
async fn current_text(pool: &SqlitePool, page_id: i64) -> sqlx::Result<(i64, String, String)> {
    sqlx::query_as::<_, (i64, String, String)>(
        "SELECT revision, body, tags FROM pages WHERE id = ?",
    )
    .bind(page_id)
    .fetch_one(pool)
    .await
}

/// Saves an edit made from revision `base`. If the page moved on since, the
/// edit is merged three-way with what was saved meanwhile; overlapping
/// changes are a conflict and nothing is written.
pub async fn save(
    pool: &SqlitePool,
    page_id: i64,
    base: i64,
    text: &PageText,
    author: Option<i64>,
) -> sqlx::Result<SaveOutcome> {
    for _ in 0..MERGE_TRIES {
        let ready = match bring_up_to_date(pool, page_id, base, text).await? {
            Ok(ready) => ready,
            Err(conflict) => return Ok(conflict),
        };
        let mut tx = begin_write(pool).await?;
        let outcome = save_in(&mut tx, page_id, ready.expected, &ready.text, author, None).await?;
        tx.commit().await?;
        if let Some(outcome) = settled(outcome, ready.merged) {
            return Ok(outcome);
        }
    }
    still_moving(pool, page_id).await
}

/// [`save`] in a transaction shared with the saves that arrive beside it
/// ([`GroupCommit`]), merged and rendered before it queues: what the edit
/// and restore forms use. Nothing slow runs while the write lock is held.
pub async fn save_grouped(
    pool: &SqlitePool,
    saves: &GroupCommit,
    slug: &str,
    page_id: i64,
    base: i64,
    text: PageText,
    author: Option<i64>,
) -> sqlx::Result<SaveOutcome> {
    let _turn = saves.page_turn(page_id).await;
    for _ in 0..MERGE_TRIES {
        let ready = match bring_up_to_date(pool, page_id, base, &text).await? {
            Ok(ready) => ready,
            Err(conflict) => return Ok(conflict),
        };
        let ahead = std::sync::Arc::new(prerender(pool, slug, &ready.text.body).await?);
        let (expected, merged) = (ready.expected, ready.merged);
        let text = std::sync::Arc::new(ready.text);
        let outcome = saves
            .run(move |conn| {
                let (text, ahead) = (text.clone(), ahead.clone());
                Box::pin(async move {
                    save_in(conn, page_id, expected, &text, author, Some(&ahead)).await
                })
            })
            .await?;
        if let Some(outcome) = settled(outcome, merged) {
            return Ok(outcome);
        }
    }
    still_moving(pool, page_id).await
}

/// A written outcome, marked merged when its text was; `None` when the page
/// moved on again and the merge must be redone.
fn settled(outcome: SaveOutcome, merged: bool) -> Option<SaveOutcome> {
    match outcome {
        SaveOutcome::Moved => None,
        SaveOutcome::Saved { number, .. } => Some(SaveOutcome::Saved { number, merged }),
        other => Some(other),
    }
}

/// The page kept moving under every merge: the edit is a conflict against
/// what it holds now.
async fn still_moving(pool: &SqlitePool, page_id: i64) -> sqlx::Result<SaveOutcome> {
    let (current_revision, current_body, current_tags) = current_text(pool, page_id).await?;
    Ok(SaveOutcome::Conflict {
        current_revision,
        current_body,
        current_tags,
    })
}

/// Writes `text` as the page's next revision inside a caller's transaction,
/// if the page is still at revision `expected` ([`SaveOutcome::Moved`]
/// otherwise: merging happens before, never under the write lock).
pub async fn save_in(
    conn: &mut SqliteConnection,
    page_id: i64,
    expected: i64,
    text: &PageText,
    author: Option<i64>,
    ahead: Option<&Prerendered>,
) -> sqlx::Result<SaveOutcome> {
    let current = sqlx::query_as::<_, Current>(
        "SELECT slug, title, revision, body, tags FROM pages WHERE id = ?",
    )
    .bind(page_id)
    .fetch_one(&mut *conn)
    .await?;
    if expected != current.revision {
        return Ok(SaveOutcome::Moved);
    }
    let current_tags = TagList::from_stored(&current.tags);
    if text.body == current.body && text.tags == current_tags {
        return Ok(SaveOutcome::Unchanged);
    }
    let number = current.revision + 1;
    let now = crate::clock::now();
    insert_revision(conn, page_id, number, &current.title, text, author, &now).await?;
    let html = write_current(
        conn,
        page_id,
        &current.slug,
        &text.body,
        &text.tags,
        Some(Before {
            body: &current.body,
            tags: &current_tags,
        }),
        ahead,
    )
    .await?;
    sqlx::query("UPDATE pages SET revision = ?, body = ?, html = ?, tags = ?, updated_at = ?, updated_by = ? WHERE id = ?")
        .bind(number)
        .bind(&text.body)
        .bind(html)
        .bind(text.tags.to_stored())
        .bind(&now)
        .bind(author)
        .bind(page_id)
        .execute(&mut *conn)
        .await?;
    record(
        conn,
        NewEvent::new(Kind::Edit, author, &text.summary)
            .on_page(page_id)
            .at_revision(number),
    )
    .await?;
    Ok(SaveOutcome::Saved {
        number,
        merged: false,
    })
}

/// A revision in a history list.
#[derive(Debug, FromRow)]
pub struct RevisionMeta {
    pub number: i64,
    pub summary: String,
    pub tags: String,
    pub created_at: String,
    pub author_username: Option<String>,
    pub author_name: Option<String>,
    pub size: i64,
}

pub async fn history(
    pool: &SqlitePool,
    page_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<RevisionMeta>> {
    sqlx::query_as::<_, RevisionMeta>(
        "SELECT r.number, r.summary, r.tags, r.created_at, u.username AS author_username,
                u.display_name AS author_name, length(CAST(r.body AS BLOB)) AS size
         FROM revisions r LEFT JOIN users u ON u.id = r.author_id
         WHERE r.page_id = ? ORDER BY r.number DESC LIMIT ? OFFSET ?",
    )
    .bind(page_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// One whole revision.
#[derive(Debug, FromRow)]
pub struct Revision {
    pub number: i64,
    pub title: String,
    pub body: String,
    pub tags: String,
    pub summary: String,
    pub created_at: String,
    pub author_username: Option<String>,
    pub author_name: Option<String>,
}

impl Revision {
    pub fn tag_list(&self) -> TagList {
        TagList::from_stored(&self.tags)
    }
}

pub async fn revision(
    pool: &SqlitePool,
    page_id: i64,
    number: i64,
) -> sqlx::Result<Option<Revision>> {
    sqlx::query_as::<_, Revision>(
        "SELECT r.number, r.title, r.body, r.tags, r.summary, r.created_at,
                u.username AS author_username, u.display_name AS author_name
         FROM revisions r LEFT JOIN users u ON u.id = r.author_id
         WHERE r.page_id = ? AND r.number = ?",
    )
    .bind(page_id)
    .bind(number)
    .fetch_optional(pool)
    .await
}

/// An edit in a user's profile.
#[derive(Debug, FromRow)]
pub struct UserEdit {
    pub slug: String,
    pub title: String,
    pub number: i64,
    pub summary: String,
    pub created_at: String,
}

pub async fn edits_by_user(
    pool: &SqlitePool,
    user_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<UserEdit>> {
    sqlx::query_as::<_, UserEdit>(
        "SELECT p.slug, p.title, r.number, r.summary, r.created_at
         FROM revisions r JOIN pages p ON p.id = r.page_id
         WHERE r.author_id = ? ORDER BY r.id DESC LIMIT ?",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Only admins may edit a protected page.
pub async fn set_protected(
    pool: &SqlitePool,
    page_id: i64,
    protected: bool,
    admin_id: i64,
) -> sqlx::Result<()> {
    let mut tx = begin_write(pool).await?;
    sqlx::query("UPDATE pages SET protected = ? WHERE id = ?")
        .bind(protected)
        .bind(page_id)
        .execute(&mut *tx)
        .await?;
    let summary = if protected {
        "Protected the page"
    } else {
        "Unprotected the page"
    };
    record(
        &mut tx,
        NewEvent::new(Kind::Admin, Some(admin_id), summary).on_page(page_id),
    )
    .await?;
    tx.commit().await
}

/// How many pages exist.
pub async fn count(pool: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pages")
        .fetch_one(pool)
        .await
}

/// A page as exported: current text and who last changed it.
#[derive(Debug, FromRow)]
pub struct ExportPage {
    pub slug: String,
    pub title: String,
    pub body: String,
    pub tags: String,
    pub revision: i64,
    pub updated_at: String,
    pub editor_username: Option<String>,
}

pub async fn all_for_export(pool: &SqlitePool) -> sqlx::Result<Vec<ExportPage>> {
    sqlx::query_as::<_, ExportPage>(
        "SELECT p.slug, p.title, p.body, p.tags, p.revision, p.updated_at, u.username AS editor_username
         FROM pages p LEFT JOIN users u ON u.id = p.updated_by ORDER BY p.slug",
    )
    .fetch_all(pool)
    .await
}

/// The id and current revision of the page with this slug, inside a transaction.
pub async fn current_revision_in(
    conn: &mut SqliteConnection,
    slug: &Slug,
) -> sqlx::Result<Option<(i64, i64)>> {
    sqlx::query_as::<_, (i64, i64)>("SELECT id, revision FROM pages WHERE slug = ?")
        .bind(slug.as_str())
        .fetch_optional(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A save rendered ahead uses that rendering only while the link
    /// targets it saw still exist as they did: a page created in between
    /// turns the missing link into a real one.
    #[tokio::test]
    async fn a_rendering_made_ahead_is_not_used_once_a_link_target_appears() {
        let (_dir, pool) = crate::db::seeded_for_test().await;
        let saves = GroupCommit::start(pool.clone());
        let text = PageText::parse("First.\n", "", "").expect("text");
        let slug = create(&pool, "Linker", &text, None).await.expect("create");
        let page = find(&pool, &slug).await.expect("find").expect("page");
        let body = "See [[Brand New Method]].\n";

        let ahead = prerender(&pool, slug.as_str(), body)
            .await
            .expect("prerender");
        assert!(ahead.html.contains("missing"), "{}", ahead.html);
        create(&pool, "Brand New Method", &text, None)
            .await
            .expect("create target");
        let edit = PageText::parse(body, "", "").expect("text");
        let mut tx = begin_write(&pool).await.expect("begin");
        save_in(&mut tx, page.id, 1, &edit, None, Some(&ahead))
            .await
            .expect("save");
        tx.commit().await.expect("commit");
        let html = find(&pool, &slug).await.expect("find").expect("page").html;
        assert!(!html.contains("missing"), "{html}");
        assert!(
            html.contains(r#"href="/methods/brand-new-method""#),
            "{html}"
        );

        // Unchanged targets: the grouped save stores the HTML made ahead.
        let edit = PageText::parse("See [[Brand New Method]] again.\n", "", "").expect("text");
        let outcome = save_grouped(&pool, &saves, slug.as_str(), page.id, 2, edit, None)
            .await
            .expect("grouped save");
        assert!(
            matches!(outcome, SaveOutcome::Saved { number: 3, .. }),
            "{outcome:?}"
        );
        let html = find(&pool, &slug).await.expect("find").expect("page").html;
        assert!(
            html.contains("again") && !html.contains("missing"),
            "{html}"
        );
    }
}
