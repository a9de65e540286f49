//! All SQL of OpenID Connect sign-in: sign-ins in progress and the
//! provider identities linked to members (`migrations/*/0015_oidc.sql`,
//! `0106_oidc.sql`). The same statements run on both backends.

use sqlx::FromRow;

use crate::db::Db;

/// How long a started sign-in may take at the provider, in seconds.
pub const PENDING_SECS: i64 = 600;

/// A sign-in on its way through the provider. No `Debug`: it holds the
/// PKCE verifier.
#[derive(FromRow)]
pub struct Pending {
    pub browser_hash: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub next: String,
    /// The member linking their account, for a link rather than a sign-in.
    pub link_user_id: Option<i64>,
    pub created_at: i64,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Keeps a started sign-in, and drops those too old to finish (so the
/// table holds at most ten minutes' worth, which the per-address
/// throttle bounds).
pub async fn start(db: &Db, state_hash: &str, pending: &Pending) -> sqlx::Result<()> {
    let now = now();
    crate::on_db!(db, |pool| {
        sqlx::query("DELETE FROM oidc_logins WHERE created_at < $1")
            .bind(now - PENDING_SECS)
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_logins
                 (state_hash, browser_hash, pkce_verifier, nonce, next, link_user_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(state_hash)
        .bind(&pending.browser_hash)
        .bind(&pending.pkce_verifier)
        .bind(&pending.nonce)
        .bind(&pending.next)
        .bind(pending.link_user_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Takes the sign-in a `state` belongs to: it is gone afterwards, so a
/// second callback with the same `state` finds nothing.
pub async fn take(db: &Db, state_hash: &str) -> sqlx::Result<Option<Pending>> {
    crate::on_db!(db, |pool| sqlx::query_as::<_, Pending>(
        "DELETE FROM oidc_logins WHERE state_hash = $1
         RETURNING browser_hash, pkce_verifier, nonce, next, link_user_id, created_at"
    )
    .bind(state_hash)
    .fetch_optional(pool)
    .await)
}

/// Whether a pending sign-in is still young enough to finish.
pub fn is_fresh(pending: &Pending) -> bool {
    now() - pending.created_at <= PENDING_SECS
}

/// The member an identity is linked to, with what signing in needs.
#[derive(Debug, FromRow)]
pub struct Linked {
    pub id: i64,
    pub auth_epoch: i64,
    pub blocked: bool,
}

pub async fn member_of(db: &Db, issuer: &str, subject: &str) -> sqlx::Result<Option<Linked>> {
    crate::on_db!(db, |pool| sqlx::query_as::<_, Linked>(
        "SELECT u.id, u.auth_epoch, u.blocked FROM oidc_identities i
         JOIN users u ON u.id = i.user_id
         WHERE i.issuer = $1 AND i.subject = $2"
    )
    .bind(issuer)
    .bind(subject)
    .fetch_optional(pool)
    .await)
}

/// Linking fails when the identity is already another member's.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("identity linked to another member")]
    Taken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn taken_or(err: sqlx::Error) -> LinkError {
    if err
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
    {
        LinkError::Taken
    } else {
        LinkError::Db(err)
    }
}

/// Links an identity to a member. Linking it again to the same member is
/// no change; to another, [`LinkError::Taken`].
pub async fn link(db: &Db, issuer: &str, subject: &str, user_id: i64) -> Result<(), LinkError> {
    if let Some(linked) = member_of(db, issuer, subject).await? {
        return if linked.id == user_id {
            Ok(())
        } else {
            Err(LinkError::Taken)
        };
    }
    crate::on_db!(db, |pool| sqlx::query(
        "INSERT INTO oidc_identities (issuer, subject, user_id, linked_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(issuer)
    .bind(subject)
    .bind(user_id)
    .bind(crate::clock::now())
    .execute(pool)
    .await
    .map(|_| ()))
    .map_err(taken_or)
}

/// Makes a member for an identity seen for the first time, in one
/// transaction: two first sign-ins of one person at once make one member
/// (the second finds the identity taken and signs in as the first).
/// `Ok(None)` when the username (or a look-alike) is taken.
pub async fn create_member(
    db: &Db,
    issuer: &str,
    subject: &str,
    username: &crate::accounts::Username,
    display_name: &str,
) -> Result<Option<i64>, LinkError> {
    let mut tx = crate::db::begin_write(db).await?;
    let created = crate::on_tx!(&mut tx, |conn| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, skeleton, display_name, password_hash, is_admin, created_at)
             VALUES ($1, $2, $3, $4, FALSE, $5) RETURNING id",
        )
        .bind(username.as_str())
        .bind(username.skeleton())
        .bind(display_name)
        // No password: argon2 cannot parse this, so no password matches it.
        .bind(crate::auth::NO_PASSWORD)
        .bind(crate::clock::now())
        .fetch_one(conn)
        .await
    });
    let id = match created {
        Ok(id) => id,
        Err(err)
            if err
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation()) =>
        {
            tx.rollback().await?;
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    crate::on_tx!(&mut tx, |conn| sqlx::query(
        "INSERT INTO oidc_identities (issuer, subject, user_id, linked_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(issuer)
    .bind(subject)
    .bind(id)
    .bind(crate::clock::now())
    .execute(conn)
    .await
    .map(|_| ()))
    .map_err(taken_or)?;
    tx.commit().await?;
    Ok(Some(id))
}

/// A member's linked identity, as their profile shows it.
#[derive(Debug, Clone, FromRow)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub linked_at: String,
}

pub async fn identities_of(db: &Db, user_id: i64) -> sqlx::Result<Vec<Identity>> {
    crate::on_db!(db, |pool| sqlx::query_as::<_, Identity>(
        "SELECT issuer, subject, linked_at FROM oidc_identities
         WHERE user_id = $1 ORDER BY issuer, subject"
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// Unlinks a member's identities at one issuer; how many went.
pub async fn unlink(db: &Db, issuer: &str, user_id: i64) -> sqlx::Result<u64> {
    crate::on_db!(db, |pool| sqlx::query(
        "DELETE FROM oidc_identities WHERE issuer = $1 AND user_id = $2"
    )
    .bind(issuer)
    .bind(user_id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}
