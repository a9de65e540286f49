//! The page view: a method page with its stories, roster, files and links,
//! read in one statement. That statement reaches into the stories', the
//! roster's and the files' tables, and it owns what it reads there: the
//! JSON each sub-select builds and the type each JSON fills stand side by
//! side here, so a column added to the method page is added in this one
//! file. Those domains' `db.rs` keep the rest of their SQL; stories, roster
//! and files read nothing of this module, so no domain reaches into
//! another's constants to make the hot path.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use sqlx::FromRow;

use crate::db::Db;

use super::*;
use crate::pages::Slug;

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
    pub roster: Vec<RosterEntry>,
    /// The page's own visible files.
    #[sqlx(json)]
    pub files: Vec<PageFile>,
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
        stories = PAGE_STORIES_JSON,
        tally = PAGE_TALLY_JSON,
        roster = PAGE_ROSTER_JSON,
        files = PAGE_FILES_JSON,
        deleted = super::DELETED_COLUMNS,
    )
});

/// A story as a line in the method page's list (no body: the list links to it).
#[derive(Debug, Deserialize)]
pub struct StoryLine {
    pub id: i64,
    pub title: String,
    pub outcome: String,
    pub location: String,
    pub hidden: bool,
    pub created_at: String,
    pub author_username: String,
    pub author_name: String,
    pub reply_count: i64,
}

impl StoryLine {
    pub fn outcome_label(&self) -> &'static str {
        crate::stories::outcome_label(&self.outcome)
    }
}

/// The JSON array of [`StoryLine`]s of page `p`, newest first; hidden ones
/// only when `?2` is true, one outcome only when `?3` is not NULL.
const PAGE_STORIES_JSON: &str = "(SELECT json_group_array(json_object(
        'id', s.id, 'title', s.title, 'outcome', s.outcome, 'location', s.location,
        'hidden', json(CASE WHEN s.hidden THEN 'true' ELSE 'false' END),
        'created_at', s.created_at, 'author_username', u.username, 'author_name', u.display_name,
        'reply_count', (SELECT count(*) FROM replies r WHERE r.story_id = s.id AND r.hidden = FALSE)
      ) ORDER BY s.id DESC)
    FROM stories s JOIN users u ON u.id = s.author_id
    WHERE s.page_id = p.id AND (s.hidden = FALSE OR $2) AND ($3 IS NULL OR s.outcome = $3))";

/// Page `p`'s visible stories counted per outcome, as a JSON object
/// (outcomes without stories are absent).
const PAGE_TALLY_JSON: &str = "(SELECT json_group_object(outcome, n)
    FROM (SELECT outcome, count(*) AS n FROM stories
          WHERE page_id = p.id AND hidden = FALSE GROUP BY outcome) tally)";

/// Someone on a page's roster.
#[derive(Debug, Deserialize)]
pub struct RosterEntry {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub tip: String,
    pub location: String,
    pub created_at: String,
    /// When its owner last said they use the method (issue 18).
    #[serde(default)]
    pub confirmed_at: String,
}

impl RosterEntry {
    /// Confirmed at or after `cutoff` (`None`: every entry is current).
    pub fn is_current(&self, cutoff: Option<&str>) -> bool {
        cutoff.is_none_or(|cutoff| self.confirmed_at.as_str() >= cutoff)
    }
}

/// The JSON array of page `p`'s [`RosterEntry`]s, earliest first.
const PAGE_ROSTER_JSON: &str = "(SELECT json_group_array(json_object(
        'user_id', r.user_id, 'username', u.username, 'display_name', u.display_name,
        'tip', r.tip, 'location', r.location, 'created_at', r.created_at,
        'confirmed_at', r.confirmed_at
      ) ORDER BY r.created_at, u.username)
    FROM roster r JOIN users u ON u.id = r.user_id WHERE r.page_id = p.id)";

/// A page's own visible file as the method page lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct PageFile {
    pub name: String,
    pub version: i64,
    pub size: i64,
    pub media_type: String,
    /// 1 when it has a thumbnail (JSON has no booleans on SQLite).
    pub thumb: i64,
}

/// The JSON array of page `p`'s own visible [`PageFile`]s, by name.
const PAGE_FILES_JSON: &str = "(SELECT json_group_array(json_object(
        'name', f.name, 'version', f.version, 'size', v.size, 'media_type', v.media_type,
        'thumb', CASE WHEN v.thumb_hash IS NULL THEN 0 ELSE 1 END
      ) ORDER BY f.name)
    FROM files f JOIN file_versions v ON v.file_id = f.id AND v.number = f.version
    WHERE f.page_id = p.id AND f.story_id IS NULL AND f.hidden = FALSE)";
