//! The page view: a method page with its stories, roster and links, read
//! in one statement. The one place pages' SQL reaches into the stories'
//! and roster's tables (through their JSON column lists).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use sqlx::FromRow;

use crate::db::Db;

use super::*;
use crate::pages::Slug;
use crate::roster::db::Entry;
use crate::stories::db::StoryLine;

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
    /// The page's own visible files.
    #[sqlx(json)]
    pub files: Vec<crate::files::db::PageFile>,
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
    pool: &Db,
    slug: &Slug,
    show_hidden: bool,
    outcome: Option<&str>,
) -> sqlx::Result<Option<PageView>> {
    let sql = pool.text(&VIEW_SQL);
    crate::on_db!(pool, |pool| sqlx::query_as::<_, PageView>(&sql)
        .bind(slug.as_str())
        .bind(show_hidden)
        .bind(outcome)
        .fetch_optional(pool)
        .await)
}

/// The statement of [`view`], put together once (prepared statements are
/// cached by their text).
static VIEW_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT p.id, p.slug, p.title, p.revision, p.body, p.html, p.tags, p.protected,
                p.created_at, p.updated_at, u.username AS editor_username,
                u.display_name AS editor_name, {deleted},
                {backlinks} AS backlinks, {related} AS related,
                {stories} AS stories, {tally} AS tally, {roster} AS roster,
                {files} AS files,
                (SELECT json_group_object(i.tag, i.name) FROM page_tags t
                 JOIN indicators i ON i.tag = t.tag WHERE t.page_id = p.id) AS tag_names
         FROM pages p LEFT JOIN users u ON u.id = p.updated_by
         WHERE p.slug = $1",
        backlinks = links_json!(
            "FROM page_links l JOIN pages q ON q.id = l.from_page_id WHERE l.to_slug = p.slug"
        ),
        related = links_json!(
            "FROM page_links l JOIN pages q ON q.slug = l.to_slug WHERE l.from_page_id = p.id"
        ),
        stories = crate::stories::db::PAGE_STORIES_JSON,
        tally = crate::stories::db::PAGE_TALLY_JSON,
        roster = crate::roster::db::PAGE_ROSTER_JSON,
        files = crate::files::db::PAGE_FILES_JSON,
        deleted = super::DELETED_COLUMNS,
    )
});
