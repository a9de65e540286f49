//! All SQL about events (recent changes).

use sqlx::SqliteConnection;

use super::Kind;

/// One thing that happened, as recorded inside the transaction that did it.
pub struct NewEvent<'a> {
    pub kind: Kind,
    pub page_id: Option<i64>,
    pub story_id: Option<i64>,
    pub revision: Option<i64>,
    pub actor_id: Option<i64>,
    pub summary: &'a str,
}

/// Records an event; called inside the transaction of the change itself, so
/// recent changes never disagree with the data.
pub async fn record(conn: &mut SqliteConnection, event: NewEvent<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO events (kind, page_id, story_id, revision, actor_id, summary, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(event.kind.as_str())
    .bind(event.page_id)
    .bind(event.story_id)
    .bind(event.revision)
    .bind(event.actor_id)
    .bind(event.summary)
    .bind(crate::clock::now())
    .execute(conn)
    .await?;
    Ok(())
}
