//! The throttles' counts when several Cafe processes share a PostgreSQL
//! database: kept in its `throttle_hits` table, so the attempts an attacker
//! spreads over the instances behind a load balancer add up as on one.
//!
//! [`Throttles`] is what handlers hold: the process's own counters
//! ([`super::throttle::Throttle`]) on SQLite, the table on PostgreSQL,
//! behind one API. A reservation is checked and counted in one transaction
//! that holds an advisory lock on its key, so requests arriving together at
//! different instances cannot all pass the check.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::PgPool;

use super::throttle::{Bucket, Reservation, Throttle};

/// What handlers count attempts with (see the module documentation).
pub enum Throttles {
    Memory(Throttle),
    Shared(PgPool),
}

/// A counted attempt, given back when it should not count after all.
#[derive(Debug)]
pub enum Counted {
    Memory(Reservation),
    /// The `throttle_hits` row that counts it.
    Shared(i64),
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::FailuresPerUser => "failures-per-user",
            Bucket::FailuresPerAddr => "failures-per-addr",
            Bucket::JoinsPerAddr => "joins-per-addr",
            Bucket::UploadsPerMember => "uploads-per-member",
            Bucket::QuestionsPerMember => "questions-per-member",
            Bucket::OidcStartsPerAddr => "oidc-starts-per-addr",
        }
    }
}

/// The key as stored: short text as is, longer text as its BLAKE2 digest
/// (the same in every process, unlike the in-memory throttle's random
/// hash), so a row stays small whatever a client sends.
fn stored_key(key: &str) -> String {
    if key.len() <= super::throttle::MAX_KEY_BYTES {
        return key.to_owned();
    }
    use blake2::Digest as _;
    let digest = blake2::Blake2s256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn window_ms(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

impl Throttles {
    /// As [`Throttle::reserve`]: counts one attempt for `key` unless it
    /// already has `limit` within `window`; `Err(seconds)` to wait then.
    /// A database that cannot be reached counts as a refusal of a minute:
    /// sign-in is never left unthrottled.
    pub async fn reserve(
        &self,
        bucket: Bucket,
        key: &str,
        limit: usize,
        window: Duration,
    ) -> Result<Counted, u64> {
        match self {
            Throttles::Memory(throttle) => throttle
                .reserve(bucket, key, limit, window)
                .map(Counted::Memory),
            Throttles::Shared(pool) => {
                match reserve_shared(pool, bucket, key, limit, window).await {
                    Ok(counted) => counted.map(Counted::Shared),
                    Err(err) => {
                        tracing::warn!(%err, "cannot count a throttled attempt");
                        Err(60)
                    }
                }
            }
        }
    }

    /// Uncounts a reserved attempt.
    pub async fn give_back(&self, counted: Counted) {
        match (self, counted) {
            (Throttles::Memory(throttle), Counted::Memory(reservation)) => {
                throttle.give_back(reservation);
            }
            (Throttles::Shared(pool), Counted::Shared(id)) => {
                let done = sqlx::query("DELETE FROM throttle_hits WHERE id = $1")
                    .bind(id)
                    .execute(pool)
                    .await;
                if let Err(err) = done {
                    tracing::warn!(%err, "cannot give a throttled attempt back");
                }
            }
            _ => {}
        }
    }

    /// Forgets the attempts of `key` (a right password clears its failures).
    pub async fn clear(&self, bucket: Bucket, key: &str) {
        match self {
            Throttles::Memory(throttle) => throttle.clear(bucket, key),
            Throttles::Shared(pool) => {
                let done = sqlx::query("DELETE FROM throttle_hits WHERE bucket = $1 AND key = $2")
                    .bind(bucket.name())
                    .bind(stored_key(key))
                    .execute(pool)
                    .await;
                if let Err(err) = done {
                    tracing::warn!(%err, "cannot clear throttled attempts");
                }
            }
        }
    }
}

/// The check and the count in one transaction, under an advisory lock on
/// the key (taken by every instance for the same key, released at commit).
/// Rows past their window are deleted on the way, so the table holds at
/// most `limit` rows per key that is still being tried.
async fn reserve_shared(
    pool: &PgPool,
    bucket: Bucket,
    key: &str,
    limit: usize,
    window: Duration,
) -> sqlx::Result<Result<i64, u64>> {
    let key = stored_key(key);
    let now = now_ms();
    let since = now.saturating_sub(window_ms(window));
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 0))")
        .bind(bucket.name())
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM throttle_hits WHERE bucket = $1 AND key = $2 AND at_ms <= $3")
        .bind(bucket.name())
        .bind(&key)
        .bind(since)
        .execute(&mut *tx)
        .await?;
    let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), min(at_ms) FROM throttle_hits WHERE bucket = $1 AND key = $2",
    )
    .bind(bucket.name())
    .bind(&key)
    .fetch_one(&mut *tx)
    .await?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= limit {
        tx.rollback().await?;
        let waited = now.saturating_sub(oldest.unwrap_or(now));
        let wait_ms = window_ms(window).saturating_sub(waited);
        return Ok(Err(u64::try_from(wait_ms / 1000).unwrap_or(0).max(1)));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO throttle_hits (bucket, key, at_ms) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(bucket.name())
    .bind(&key)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}
