//! All SQL about stories, their revisions and replies, except the method
//! page's list of them and its tally, which the page view reads in its one
//! statement ([`crate::pages::db::view`]).

use sqlx::FromRow;

use crate::db::{Db, Tx};

use super::{Outcome, StoryText};
use crate::db::begin_write;
use crate::pages::db::render_markdown;
use crate::recent::Kind;
use crate::recent::db::{NewEvent, record};

/// A story as listed and shown.
#[derive(Debug, FromRow)]
pub struct Story {
    pub id: i64,
    pub page_id: i64,
    pub author_id: i64,
    pub title: String,
    pub body: String,
    pub html: String,
    pub outcome: String,
    pub location: String,
    pub revision: i64,
    pub hidden: bool,
    pub created_at: String,
    pub updated_at: String,
    pub author_username: String,
    pub author_name: String,
    pub reply_count: i64,
}

impl Story {
    pub fn outcome_label(&self) -> &'static str {
        super::outcome_label(&self.outcome)
    }
}

const STORY_COLUMNS: &str =
    "s.id, s.page_id, s.author_id, s.title, s.body, s.html, s.outcome, s.location,
    s.revision, s.hidden, s.created_at, s.updated_at, u.username AS author_username,
    u.display_name AS author_name,
    (SELECT count(*) FROM replies r WHERE r.story_id = s.id AND r.hidden = FALSE) AS reply_count";

/// Counts per outcome in [`Outcome::ALL`] order, zeros included.
pub fn tally(counts: &std::collections::HashMap<String, i64>) -> Vec<(Outcome, i64)> {
    Outcome::ALL
        .into_iter()
        .map(|o| (o, counts.get(o.as_str()).copied().unwrap_or(0)))
        .collect()
}

pub async fn find(pool: &Db, page_id: i64, id: i64) -> sqlx::Result<Option<Story>> {
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, Story>(&format!(
        "SELECT {STORY_COLUMNS} FROM stories s JOIN users u ON u.id = s.author_id WHERE s.page_id = $1 AND s.id = $2"
    ))
    .bind(page_id)
    .bind(id)
    .fetch_optional(pool)
    .await
    })
}

/// A user's visible stories, newest first, with their page.
#[derive(Debug, FromRow)]
pub struct UserStory {
    pub id: i64,
    pub title: String,
    pub outcome: String,
    pub created_at: String,
    pub slug: String,
    pub page_title: String,
}

impl UserStory {
    pub fn outcome_label(&self) -> &'static str {
        super::outcome_label(&self.outcome)
    }
}

pub async fn by_user(pool: &Db, user_id: i64) -> sqlx::Result<Vec<UserStory>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, UserStory>(
        "SELECT s.id, s.title, s.outcome, s.created_at, p.slug, p.title AS page_title
         FROM stories s JOIN pages p ON p.id = s.page_id
         WHERE s.author_id = $1 AND s.hidden = FALSE AND p.deleted_at IS NULL
         ORDER BY s.id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// Tells a new story (revision 1) and records it in recent changes.
pub async fn create(
    pool: &Db,
    page_id: i64,
    author_id: i64,
    text: &StoryText,
) -> sqlx::Result<i64> {
    let mut tx = begin_write(pool).await?;
    let html = render_markdown(&mut tx, &text.body, page_id, None).await?;
    let now = crate::clock::now();
    let id = crate::on_tx!(&mut tx, |tx| {
        sqlx::query_scalar::<_, i64>(
        "INSERT INTO stories (page_id, author_id, title, body, html, outcome, location, revision, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9) RETURNING id",
    )
    .bind(page_id)
    .bind(author_id)
    .bind(&text.title)
    .bind(&text.body)
    .bind(&html)
    .bind(text.outcome.as_str())
    .bind(&text.location)
    .bind(&now)
    .bind(&now)
    .fetch_one(&mut *tx)
    .await
    })?;
    // Its `file:` links can only point at its own upload form once it has
    // an id: rendered again with it.
    if crate::markup::markdown::may_link_files(&text.body) {
        let html = render_markdown(&mut tx, &text.body, page_id, Some(id)).await?;
        crate::on_tx!(&mut tx, |tx| sqlx::query(
            "UPDATE stories SET html = $1 WHERE id = $2"
        )
        .bind(&html)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map(|done| done.rows_affected()))?;
    }
    insert_revision(&mut tx, id, 1, text, "", author_id, &now).await?;
    if text.outcome == Outcome::Question {
        crate::follow::db::watch_for_question(&mut tx, page_id, author_id).await?;
    }
    record(
        &mut tx,
        NewEvent::new(Kind::Story, Some(author_id), &text.title)
            .on_page(page_id)
            .on_story(id)
            .at_revision(1),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_revision(
    conn: &mut Tx,
    story_id: i64,
    number: i64,
    text: &StoryText,
    summary: &str,
    author_id: i64,
    now: &str,
) -> sqlx::Result<()> {
    crate::on_tx!(&mut *conn, |conn| {
        sqlx::query(
        "INSERT INTO story_revisions (story_id, number, title, body, outcome, location, summary, author_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(story_id)
    .bind(number)
    .bind(&text.title)
    .bind(&text.body)
    .bind(text.outcome.as_str())
    .bind(&text.location)
    .bind(summary)
    .bind(author_id)
    .bind(now)
    .execute(&mut *conn)
    .await.map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// Saves an edit as a new story revision; the old text stays viewable.
pub async fn update(
    pool: &Db,
    story: &Story,
    editor_id: i64,
    text: &StoryText,
    summary: &str,
) -> sqlx::Result<i64> {
    let mut tx = begin_write(pool).await?;
    let html = render_markdown(&mut tx, &text.body, story.page_id, Some(story.id)).await?;
    let now = crate::clock::now();
    let number = crate::on_tx!(&mut tx, |tx| {
        sqlx::query_scalar::<_, i64>(
        "UPDATE stories SET title = $1, body = $2, html = $3, outcome = $4, location = $5, revision = revision + 1, updated_at = $6
         WHERE id = $7 RETURNING revision",
    )
    .bind(&text.title)
    .bind(&text.body)
    .bind(&html)
    .bind(text.outcome.as_str())
    .bind(&text.location)
    .bind(&now)
    .bind(story.id)
    .fetch_one(&mut *tx)
    .await
    })?;
    insert_revision(&mut tx, story.id, number, text, summary, editor_id, &now).await?;
    let line = format!(
        "Edited the story “{}”{}",
        text.title,
        if summary.is_empty() {
            String::new()
        } else {
            format!(": {summary}")
        }
    );
    record(
        &mut tx,
        NewEvent::new(Kind::Story, Some(editor_id), &line)
            .on_page(story.page_id)
            .on_story(story.id)
            .at_revision(number),
    )
    .await?;
    tx.commit().await?;
    Ok(number)
}

/// A story revision.
#[derive(Debug, FromRow)]
pub struct StoryRevision {
    pub number: i64,
    pub title: String,
    pub body: String,
    pub outcome: String,
    pub location: String,
    pub summary: String,
    pub created_at: String,
    pub author_username: String,
    pub author_name: String,
}

impl StoryRevision {
    pub fn outcome_label(&self) -> &'static str {
        super::outcome_label(&self.outcome)
    }
}

const REVISION_COLUMNS: &str =
    "r.number, r.title, r.body, r.outcome, r.location, r.summary, r.created_at,
    u.username AS author_username, u.display_name AS author_name";

pub async fn revisions(pool: &Db, story_id: i64) -> sqlx::Result<Vec<StoryRevision>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, StoryRevision>(&format!(
        "SELECT {REVISION_COLUMNS} FROM story_revisions r JOIN users u ON u.id = r.author_id
         WHERE r.story_id = $1 ORDER BY r.number DESC"
    ))
    .bind(story_id)
    .fetch_all(pool)
    .await)
}

pub async fn revision(
    pool: &Db,
    story_id: i64,
    number: i64,
) -> sqlx::Result<Option<StoryRevision>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, StoryRevision>(&format!(
        "SELECT {REVISION_COLUMNS} FROM story_revisions r JOIN users u ON u.id = r.author_id
         WHERE r.story_id = $1 AND r.number = $2"
    ))
    .bind(story_id)
    .bind(number)
    .fetch_optional(pool)
    .await)
}

/// A reply in a thread.
#[derive(Debug, FromRow)]
pub struct Reply {
    pub id: i64,
    pub html: String,
    pub hidden: bool,
    pub created_at: String,
    pub author_username: String,
    pub author_name: String,
}

/// A story's replies, oldest first; hidden ones only for admins.
pub async fn replies(pool: &Db, story_id: i64, show_hidden: bool) -> sqlx::Result<Vec<Reply>> {
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, Reply>(
        "SELECT r.id, r.html, r.hidden, r.created_at, u.username AS author_username, u.display_name AS author_name
         FROM replies r JOIN users u ON u.id = r.author_id
         WHERE r.story_id = $1 AND (r.hidden = FALSE OR $2) ORDER BY r.id",
    )
    .bind(story_id)
    .bind(show_hidden)
    .fetch_all(pool)
    .await
    })
}

pub async fn add_reply(pool: &Db, story: &Story, author_id: i64, body: &str) -> sqlx::Result<i64> {
    let mut tx = begin_write(pool).await?;
    let html = render_markdown(&mut tx, body, story.page_id, Some(story.id)).await?;
    let id = crate::on_tx!(&mut tx, |tx| {
        sqlx::query_scalar::<_, i64>(
        "INSERT INTO replies (story_id, author_id, body, html, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(story.id)
    .bind(author_id)
    .bind(body)
    .bind(&html)
    .bind(crate::clock::now())
    .fetch_one(&mut *tx)
    .await
    })?;
    let summary = format!("Replied to “{}”", story.title);
    record(
        &mut tx,
        NewEvent::new(Kind::Reply, Some(author_id), &summary)
            .on_page(story.page_id)
            .on_story(story.id),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Hides or shows a story (admins). The story stays in the database.
pub async fn set_story_hidden(
    pool: &Db,
    story: &Story,
    hidden: bool,
    admin_id: i64,
) -> sqlx::Result<()> {
    let mut tx = begin_write(pool).await?;
    crate::on_tx!(&mut tx, |tx| sqlx::query(
        "UPDATE stories SET hidden = $1 WHERE id = $2"
    )
    .bind(hidden)
    .bind(story.id)
    .execute(&mut *tx)
    .await
    .map(|done| done.rows_affected()))?;
    // The title is left out: a hidden story's title should not stay on /recent.
    let summary = format!(
        "{} story #{}",
        if hidden { "Hid" } else { "Unhid" },
        story.id
    );
    record(
        &mut tx,
        NewEvent::new(Kind::Admin, Some(admin_id), &summary)
            .on_page(story.page_id)
            .on_story(story.id),
    )
    .await?;
    tx.commit().await
}

/// Hides or shows a reply (admins). Returns false when the reply is not in this story.
pub async fn set_reply_hidden(
    pool: &Db,
    story: &Story,
    reply_id: i64,
    hidden: bool,
    admin_id: i64,
) -> sqlx::Result<bool> {
    let mut tx = begin_write(pool).await?;
    let changed = crate::on_tx!(&mut tx, |tx| sqlx::query(
        "UPDATE replies SET hidden = $1 WHERE id = $2 AND story_id = $3"
    )
    .bind(hidden)
    .bind(reply_id)
    .bind(story.id)
    .execute(&mut *tx)
    .await
    .map(|done| done.rows_affected()))?;
    if changed == 0 {
        return Ok(false);
    }
    let summary = format!(
        "{} a reply to “{}”",
        if hidden { "Hid" } else { "Unhid" },
        story.title
    );
    record(
        &mut tx,
        NewEvent::new(Kind::Admin, Some(admin_id), &summary)
            .on_page(story.page_id)
            .on_story(story.id),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Visible stories told on pages carrying each tag, counted afresh: what
/// the kept `tag_story_counts` must always equal (its tests check that).
pub async fn count_by_page_tag(pool: &Db) -> sqlx::Result<Vec<(String, i64)>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, (String, i64)>(
        // Stories drive the join (there are far fewer stories than tag rows):
        // 204 ms -> 30 ms with 100,000 pages in the benchmark.
        "SELECT t.tag, count(*) FROM stories s CROSS JOIN page_tags t
         WHERE t.page_id = s.page_id AND s.hidden = FALSE GROUP BY t.tag",
    )
    .fetch_all(pool)
    .await)
}

/// Renders again the stories and replies of page `page_id` that link a
/// file, after the page's or a story's files changed
/// (`pages::db::rerender_for_files`).
pub async fn rerender_for_files(conn: &mut crate::db::Tx, page_id: i64) -> sqlx::Result<()> {
    let texts = crate::on_tx!(&mut *conn, |conn| sqlx::query_as::<
        _,
        (bool, i64, i64, String, String),
    >(
        "SELECT TRUE, s.id, s.id, s.body, s.html FROM stories s WHERE s.page_id = $1
         UNION ALL
         SELECT FALSE, r.id, r.story_id, r.body, r.html FROM replies r
           JOIN stories s ON s.id = r.story_id WHERE s.page_id = $1"
    )
    .bind(page_id)
    .fetch_all(&mut *conn)
    .await)?;
    for (is_story, id, story_id, body, html) in texts {
        if !crate::markup::markdown::may_link_files(&body) {
            continue;
        }
        let new = render_markdown(conn, &body, page_id, Some(story_id)).await?;
        if new == html {
            continue;
        }
        let sql = if is_story {
            "UPDATE stories SET html = $1 WHERE id = $2"
        } else {
            "UPDATE replies SET html = $1 WHERE id = $2"
        };
        crate::on_tx!(&mut *conn, |conn| sqlx::query(sql)
            .bind(new)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected()))?;
    }
    Ok(())
}
