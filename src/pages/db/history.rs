//! A page's revisions and a member's edits.

use sqlx::FromRow;

use crate::db::Db;

use crate::tags::TagList;

/// A revision in a history list.
#[derive(Debug, FromRow)]
pub struct RevisionMeta {
    pub number: i64,
    pub summary: String,
    pub tags: String,
    pub created_at: String,
    pub author_username: Option<String>,
    pub author_name: Option<String>,
    /// The text's length in characters (for the size change in the history).
    pub size: i64,
}

pub async fn history(
    pool: &Db,
    page_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<RevisionMeta>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, RevisionMeta>(
        "SELECT r.number, r.summary, r.tags, r.created_at, u.username AS author_username,
                u.display_name AS author_name, CAST(length(r.body) AS BIGINT) AS size
         FROM revisions r LEFT JOIN users u ON u.id = r.author_id
         WHERE r.page_id = $1 ORDER BY r.number DESC LIMIT $2 OFFSET $3",
    )
    .bind(page_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await)
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

pub async fn revision(pool: &Db, page_id: i64, number: i64) -> sqlx::Result<Option<Revision>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Revision>(
        "SELECT r.number, r.title, r.body, r.tags, r.summary, r.created_at,
                u.username AS author_username, u.display_name AS author_name
         FROM revisions r LEFT JOIN users u ON u.id = r.author_id
         WHERE r.page_id = $1 AND r.number = $2",
    )
    .bind(page_id)
    .bind(number)
    .fetch_optional(pool)
    .await)
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

pub async fn edits_by_user(pool: &Db, user_id: i64, limit: i64) -> sqlx::Result<Vec<UserEdit>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, UserEdit>(
        "SELECT p.slug, p.title, r.number, r.summary, r.created_at
         FROM revisions r JOIN pages p ON p.id = r.page_id
         WHERE r.author_id = $1 AND p.deleted_at IS NULL ORDER BY r.id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await)
}
