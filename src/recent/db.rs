//! All SQL about events (recent changes) and what the feeds list.

use sqlx::FromRow;

use crate::db::{Db, Tx};

use super::Kind;
use crate::tags::Tag;

/// One thing that happened, as recorded inside the transaction that did it.
pub struct NewEvent<'a> {
    pub kind: Kind,
    pub page_id: Option<i64>,
    pub story_id: Option<i64>,
    pub revision: Option<i64>,
    pub actor_id: Option<i64>,
    pub summary: &'a str,
}

impl<'a> NewEvent<'a> {
    /// An event about nothing in particular (an indicator edit, a block);
    /// `on_page`, `on_story` and `at_revision` say what it concerns.
    pub fn new(kind: Kind, actor_id: Option<i64>, summary: &'a str) -> Self {
        NewEvent {
            kind,
            page_id: None,
            story_id: None,
            revision: None,
            actor_id,
            summary,
        }
    }

    pub fn on_page(self, page_id: i64) -> Self {
        NewEvent {
            page_id: Some(page_id),
            ..self
        }
    }

    pub fn on_story(self, story_id: i64) -> Self {
        NewEvent {
            story_id: Some(story_id),
            ..self
        }
    }

    pub fn at_revision(self, revision: i64) -> Self {
        NewEvent {
            revision: Some(revision),
            ..self
        }
    }
}

/// Records an event; called inside the transaction of the change itself, so
/// recent changes never disagree with the data.
pub async fn record(conn: &mut Tx, event: NewEvent<'_>) -> sqlx::Result<()> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "INSERT INTO events (kind, page_id, story_id, revision, actor_id, summary, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.kind.as_str())
    .bind(event.page_id)
    .bind(event.story_id)
    .bind(event.revision)
    .bind(event.actor_id)
    .bind(event.summary)
    .bind(crate::clock::now())
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    // Whoever works on a page watches it from now on (if they want that).
    crate::follow::db::auto_watch(conn, event.kind, event.actor_id, event.page_id).await
}

/// An event with the names needed to show it.
#[derive(Debug, FromRow)]
pub struct Entry {
    pub id: i64,
    pub kind: String,
    pub page_id: Option<i64>,
    pub revision: Option<i64>,
    pub summary: String,
    pub created_at: String,
    pub slug: Option<String>,
    pub page_title: Option<String>,
    pub story_id: Option<i64>,
    pub story_title: Option<String>,
    /// The story's outcome (`question` for a question asked in public).
    pub story_outcome: Option<String>,
    pub actor_username: Option<String>,
    pub actor_name: Option<String>,
}

pub(crate) const ENTRY_COLUMNS: &str =
    "SELECT e.id, e.kind, e.page_id, e.revision, e.summary, e.created_at,
        p.slug, p.title AS page_title, e.story_id, st.title AS story_title,
        st.outcome AS story_outcome,
        u.username AS actor_username, u.display_name AS actor_name
    FROM events e
    LEFT JOIN pages p ON p.id = e.page_id
    LEFT JOIN stories st ON st.id = e.story_id
    LEFT JOIN users u ON u.id = e.actor_id
    WHERE (st.id IS NULL OR st.hidden = FALSE) AND p.deleted_at IS NULL";

/// Events newest first, all kinds or one; what is about a hidden story is
/// left out, as the story itself is.
pub async fn latest(
    pool: &Db,
    kind: Option<Kind>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Entry>> {
    let sql = match kind {
        Some(_) => format!("{ENTRY_COLUMNS} AND e.kind = $3 ORDER BY e.id DESC LIMIT $1 OFFSET $2"),
        None => format!("{ENTRY_COLUMNS} ORDER BY e.id DESC LIMIT $1 OFFSET $2"),
    };
    crate::on_db!(pool, |pool| {
        let mut query = sqlx::query_as::<_, Entry>(&sql).bind(limit).bind(offset);
        if let Some(kind) = kind {
            query = query.bind(kind.as_str());
        }
        query.fetch_all(pool).await
    })
}

/// A page's current state, for the feed of pages with some tags.
#[derive(Debug, FromRow)]
pub struct PageChange {
    pub page_id: i64,
    pub slug: String,
    pub title: String,
    pub revision: i64,
    pub summary: String,
    pub updated_at: String,
    pub editor_name: Option<String>,
}

/// Pages carrying every one of `tags` (all pages when empty), most
/// recently changed first, with the summary of their last revision.
pub async fn changed_pages(pool: &Db, tags: &[Tag], limit: i64) -> sqlx::Result<Vec<PageChange>> {
    let tags = serde_json::to_string(&tags.iter().map(Tag::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_owned());
    crate::on_db!(pool, |pool| sqlx::query_as::<_, PageChange>(
        "SELECT p.id AS page_id, p.slug, p.title, p.revision, r.summary, p.updated_at,
                u.display_name AS editor_name
         FROM pages p
         JOIN revisions r ON r.page_id = p.id AND r.number = p.revision
         LEFT JOIN users u ON u.id = p.updated_by
         WHERE p.deleted_at IS NULL AND (json_array_length($1) = 0 OR p.id IN (
             SELECT page_id FROM page_tags WHERE tag IN (SELECT value FROM json_each($1))
             GROUP BY page_id HAVING count(*) = json_array_length($1)))
         ORDER BY p.updated_at DESC, p.id DESC LIMIT $2",
    )
    .bind(tags)
    .bind(limit)
    .fetch_all(pool)
    .await)
}
