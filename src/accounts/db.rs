//! All SQL about users.

use sqlx::FromRow;

use crate::db::Db;

use super::{SessionUser, Username};

/// What sign-in checks. No `Debug`: it holds a password hash.
#[derive(FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub auth_epoch: i64,
    pub blocked: bool,
    pub is_admin: bool,
}

/// Creating an account can fail because the name (or a look-alike) is taken.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("username taken")]
    Taken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn create(
    pool: &Db,
    username: &Username,
    display_name: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<i64, CreateUserError> {
    let result = crate::on_db!(pool, |pool| {
        sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, skeleton, display_name, password_hash, is_admin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(username.as_str())
    .bind(username.skeleton())
    .bind(display_name)
    .bind(password_hash)
    .bind(is_admin)
    .bind(crate::clock::now())
    .fetch_one(pool)
    .await
    });
    match result {
        Ok(id) => Ok(id),
        Err(err)
            if err
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation()) =>
        {
            Err(CreateUserError::Taken)
        }
        Err(err) => Err(err.into()),
    }
}

/// True when the name or a look-alike of it is taken.
pub async fn is_taken(pool: &Db, username: &Username) -> sqlx::Result<bool> {
    crate::on_db!(pool, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM users WHERE username = $1 OR skeleton = $2"
    )
    .bind(username.as_str())
    .bind(username.skeleton())
    .fetch_one(pool)
    .await)
    .map(|n| n > 0)
}

/// Whether any administrator who is not blocked exists (at first start none
/// does, and the server says how to make one).
pub async fn has_admin(pool: &Db) -> sqlx::Result<bool> {
    crate::on_db!(pool, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM users WHERE is_admin = TRUE AND blocked = FALSE"
    )
    .fetch_one(pool)
    .await)
    .map(|n| n > 0)
}

pub async fn credentials(pool: &Db, username: &Username) -> sqlx::Result<Option<Credentials>> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Credentials>(
        "SELECT id, password_hash, auth_epoch, blocked, is_admin FROM users WHERE username = $1",
    )
    .bind(username.as_str())
    .fetch_optional(pool)
    .await)
}

/// The user behind a session, with their current `auth_epoch`; `None` when
/// the user is gone or blocked.
pub async fn session_user(pool: &Db, id: i64) -> sqlx::Result<Option<(SessionUser, i64)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: SessionUser,
        auth_epoch: i64,
    }
    let row = crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, Row>(
        "SELECT id, username, display_name, is_admin, auth_epoch FROM users WHERE id = $1 AND blocked = FALSE",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    })?;
    Ok(row.map(|r| (r.user, r.auth_epoch)))
}

/// A public profile.
#[derive(Debug, FromRow)]
pub struct Profile {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    pub blocked: bool,
    pub created_at: String,
    pub role: String,
    pub office: String,
    pub helps_with: String,
    /// How to reach them: shown to signed-in members only.
    pub contact: String,
}

pub async fn profile(pool: &Db, username: &str) -> sqlx::Result<Option<Profile>> {
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, Profile>(
            "SELECT id, username, display_name, is_admin, blocked, created_at,
                role, office, helps_with, contact
         FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(pool)
        .await
    })
}

/// Saves what a member says about themselves (the same statement on both
/// backends). A new display name shows on every page that names them.
pub async fn set_profile(pool: &Db, id: i64, about: &super::ProfileText) -> sqlx::Result<()> {
    crate::on_db!(pool, |pool| sqlx::query(
        "UPDATE users SET display_name = $1, role = $2, office = $3, helps_with = $4, contact = $5
         WHERE id = $6",
    )
    .bind(&about.display_name)
    .bind(&about.role)
    .bind(&about.office)
    .bind(&about.helps_with)
    .bind(&about.contact)
    .bind(id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

/// Changes a password and bumps the epoch, which ends every session of the user.
pub async fn set_password(pool: &Db, id: i64, password_hash: &str) -> sqlx::Result<i64> {
    crate::on_db!(pool, |pool| {
        sqlx::query_scalar::<_, i64>(
        "UPDATE users SET password_hash = $1, auth_epoch = auth_epoch + 1 WHERE id = $2 RETURNING auth_epoch",
    )
    .bind(password_hash)
    .bind(id)
    .fetch_one(pool)
    .await
    })
}

/// Blocks or unblocks a user; blocking also ends their sessions (the epoch
/// bump). Recorded in recent changes with the admin who did it.
pub async fn set_blocked(
    pool: &Db,
    id: i64,
    blocked: bool,
    admin_id: i64,
    username: &str,
) -> sqlx::Result<()> {
    let mut tx = crate::db::begin_write(pool).await?;
    crate::on_tx!(&mut tx, |tx| sqlx::query(
        "UPDATE users SET blocked = $1, auth_epoch = auth_epoch + 1 WHERE id = $2"
    )
    .bind(blocked)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map(|done| done.rows_affected()))?;
    let summary = format!(
        "{} the user {username}",
        if blocked { "Blocked" } else { "Unblocked" }
    );
    let event =
        crate::recent::db::NewEvent::new(crate::recent::Kind::Admin, Some(admin_id), &summary);
    crate::recent::db::record(&mut tx, event).await?;
    tx.commit().await
}

/// The site's secret `name`, made from `fresh` the first time it is asked
/// for. `INSERT OR IGNORE` then a read again: two processes starting at once
/// agree on whichever was written first. A database opened read-only reads
/// the secret an earlier start wrote.
pub async fn site_secret(pool: &Db, name: &str, fresh: &[u8]) -> sqlx::Result<Vec<u8>> {
    let select = "SELECT value FROM site_secrets WHERE name = $1";
    if let Some(value) = crate::on_db!(pool, |pool| sqlx::query_scalar(select)
        .bind(name)
        .fetch_optional(pool)
        .await)?
    {
        return Ok(value);
    }
    crate::on_db!(pool, |pool| sqlx::query(
        "INSERT INTO site_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    )
    .bind(name)
    .bind(fresh)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    crate::on_db!(pool, |pool| sqlx::query_scalar(select)
        .bind(name)
        .fetch_one(pool)
        .await)
}
