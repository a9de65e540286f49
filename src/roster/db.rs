//! All SQL about roster entries, except the method page's roster, which
//! the page view reads in its one statement ([`crate::pages::db::view`]).

use sqlx::FromRow;

use crate::db::Db;

use super::EntryText;
use crate::db::begin_write;
use crate::recent::Kind;
use crate::recent::db::{NewEvent, record};

/// A method someone uses (for their profile).
#[derive(Debug, FromRow)]
pub struct MethodUsed {
    pub slug: String,
    pub title: String,
    pub tip: String,
    pub location: String,
    pub created_at: String,
}

pub async fn for_user(pool: &Db, user_id: i64) -> sqlx::Result<Vec<MethodUsed>> {
    let sql = pool.text(
        "SELECT p.slug, p.title, r.tip, r.location, r.created_at
         FROM roster r JOIN pages p ON p.id = r.page_id
         WHERE r.user_id = $1 AND p.deleted_at IS NULL ORDER BY p.title COLLATE NOCASE",
    );
    crate::on_db!(pool, |pool| sqlx::query_as::<_, MethodUsed>(&sql)
        .bind(user_id)
        .fetch_all(pool)
        .await)
}

/// Someone on a page's roster, by username: their id and display name.
pub async fn member_on_roster(
    pool: &Db,
    page_id: i64,
    username: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, (i64, String)>(
        "SELECT u.id, u.display_name FROM roster r JOIN users u ON u.id = r.user_id
         WHERE r.page_id = $1 AND u.username = $2"
    )
    .bind(page_id)
    .bind(username)
    .fetch_optional(pool)
    .await)
}

/// Adds the user to the page's roster, or updates their entry: posting
/// twice never makes two entries. Joining is recorded in recent changes.
/// `true` when the member was already on the roster (an update).
pub async fn upsert(
    pool: &Db,
    page_id: i64,
    user_id: i64,
    entry: &EntryText,
) -> sqlx::Result<bool> {
    let mut tx = begin_write(pool).await?;
    let now = crate::clock::now();
    let existed = crate::on_tx!(&mut tx, |tx| sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM roster WHERE page_id = $1 AND user_id = $2",
    )
    .bind(page_id)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await)?
        > 0;
    crate::on_tx!(&mut tx, |tx| {
        sqlx::query(
        "INSERT INTO roster (page_id, user_id, tip, location, created_at, updated_at, confirmed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (page_id, user_id) DO UPDATE SET tip = excluded.tip, location = excluded.location,
             updated_at = excluded.updated_at, confirmed_at = excluded.confirmed_at",
    )
    .bind(page_id)
    .bind(user_id)
    .bind(&entry.tip)
    .bind(&entry.location)
    .bind(&now)
    .bind(&now)
    .execute(&mut *tx)
    .await.map(|done| done.rows_affected())
    })?;
    let summary = if existed {
        "Updated their roster entry"
    } else {
        "Joined the roster"
    };
    record(
        &mut tx,
        NewEvent::new(Kind::Roster, Some(user_id), summary).on_page(page_id),
    )
    .await?;
    tx.commit().await?;
    Ok(existed)
}

/// Removes the user's own entry (if any); `true` when there was one.
pub async fn remove(pool: &Db, page_id: i64, user_id: i64) -> sqlx::Result<bool> {
    let mut tx = begin_write(pool).await?;
    let removed = crate::on_tx!(&mut tx, |tx| sqlx::query(
        "DELETE FROM roster WHERE page_id = $1 AND user_id = $2"
    )
    .bind(page_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await
    .map(|done| done.rows_affected()))?;
    if removed > 0 {
        record(
            &mut tx,
            NewEvent::new(Kind::Roster, Some(user_id), "Left the roster").on_page(page_id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(removed > 0)
}

/// The member says they still use the method: their entry is current
/// again. `false` when they are not on the roster. Not a recent change.
pub async fn confirm(pool: &Db, page_id: i64, user_id: i64) -> sqlx::Result<bool> {
    crate::on_db!(pool, |pool| sqlx::query(
        "UPDATE roster SET confirmed_at = $3 WHERE page_id = $1 AND user_id = $2"
    )
    .bind(page_id)
    .bind(user_id)
    .bind(crate::clock::now())
    .execute(pool)
    .await
    .map(|done| done.rows_affected() > 0))
}

/// A member's roster entry they have not confirmed since `cutoff`.
#[derive(Debug, FromRow)]
pub struct Unconfirmed {
    pub slug: String,
    pub title: String,
    pub confirmed_at: String,
}

pub async fn unconfirmed_of(
    pool: &Db,
    user_id: i64,
    cutoff: &str,
) -> sqlx::Result<Vec<Unconfirmed>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Unconfirmed>(
        "SELECT p.slug, p.title, r.confirmed_at FROM roster r JOIN pages p ON p.id = r.page_id
         WHERE r.user_id = $1 AND r.confirmed_at < $2 AND p.deleted_at IS NULL
         ORDER BY r.confirmed_at"
    )
    .bind(user_id)
    .bind(cutoff)
    .fetch_all(pool)
    .await)
}
