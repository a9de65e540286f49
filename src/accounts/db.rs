//! All SQL about users.

use sqlx::{FromRow, SqlitePool};

use super::{SessionUser, Username};

/// What sign-in checks. No `Debug`: it holds a password hash.
#[derive(FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub auth_epoch: i64,
    pub blocked: bool,
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
    pool: &SqlitePool,
    username: &Username,
    display_name: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<i64, CreateUserError> {
    let result = sqlx::query(
        "INSERT INTO users (username, skeleton, display_name, password_hash, is_admin, created_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(username.as_str())
    .bind(username.skeleton())
    .bind(display_name)
    .bind(password_hash)
    .bind(is_admin)
    .bind(crate::clock::now())
    .execute(pool)
    .await;
    match result {
        Ok(done) => Ok(done.last_insert_rowid()),
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
pub async fn is_taken(pool: &SqlitePool, username: &Username) -> sqlx::Result<bool> {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users WHERE username = ? OR skeleton = ?")
        .bind(username.as_str())
        .bind(username.skeleton())
        .fetch_one(pool)
        .await
        .map(|n| n > 0)
}

pub async fn credentials(
    pool: &SqlitePool,
    username: &Username,
) -> sqlx::Result<Option<Credentials>> {
    sqlx::query_as::<_, Credentials>(
        "SELECT id, password_hash, auth_epoch, blocked FROM users WHERE username = ?",
    )
    .bind(username.as_str())
    .fetch_optional(pool)
    .await
}

/// The user behind a session, with their current `auth_epoch`; `None` when
/// the user is gone or blocked.
pub async fn session_user(pool: &SqlitePool, id: i64) -> sqlx::Result<Option<(SessionUser, i64)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: SessionUser,
        auth_epoch: i64,
    }
    let row = sqlx::query_as::<_, Row>(
        "SELECT id, username, display_name, is_admin, auth_epoch FROM users WHERE id = ? AND blocked = 0",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
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
}

pub async fn profile(pool: &SqlitePool, username: &str) -> sqlx::Result<Option<Profile>> {
    sqlx::query_as::<_, Profile>(
        "SELECT id, username, display_name, is_admin, blocked, created_at FROM users WHERE username = ?",
    )
    .bind(username)
    .fetch_optional(pool)
    .await
}

/// Changes a password and bumps the epoch, which ends every session of the user.
pub async fn set_password(pool: &SqlitePool, id: i64, password_hash: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar::<_, i64>(
        "UPDATE users SET password_hash = ?, auth_epoch = auth_epoch + 1 WHERE id = ? RETURNING auth_epoch",
    )
    .bind(password_hash)
    .bind(id)
    .fetch_one(pool)
    .await
}

/// Blocks or unblocks a user; blocking also ends their sessions (the epoch
/// bump). Recorded in recent changes with the admin who did it.
pub async fn set_blocked(
    pool: &SqlitePool,
    id: i64,
    blocked: bool,
    admin_id: i64,
    username: &str,
) -> sqlx::Result<()> {
    let mut tx = crate::db::begin_write(pool).await?;
    sqlx::query("UPDATE users SET blocked = ?, auth_epoch = auth_epoch + 1 WHERE id = ?")
        .bind(blocked)
        .bind(id)
        .execute(&mut *tx)
        .await?;
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
pub async fn site_secret(pool: &SqlitePool, name: &str, fresh: &[u8]) -> sqlx::Result<Vec<u8>> {
    let select = "SELECT value FROM site_secrets WHERE name = ?";
    if let Some(value) = sqlx::query_scalar(select)
        .bind(name)
        .fetch_optional(pool)
        .await?
    {
        return Ok(value);
    }
    sqlx::query("INSERT OR IGNORE INTO site_secrets (name, value) VALUES (?, ?)")
        .bind(name)
        .bind(fresh)
        .execute(pool)
        .await?;
    sqlx::query_scalar(select).bind(name).fetch_one(pool).await
}
