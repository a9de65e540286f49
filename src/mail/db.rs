//! All SQL of mail (`migrations/sqlite/0017_mail.sql`,
//! `migrations/postgres/0108_mail.sql`): members' settings, the outbox, the
//! each-change cursor and what each member was mailed about. The same
//! statements run on both backends, except taking an outbox job, which
//! locks on PostgreSQL (`FOR UPDATE SKIP LOCKED`; SQLite has one writer).

use sqlx::FromRow;

use crate::db::{Backend, Db, Tx};

/// A member's mail settings; no row: no address, daily digests.
#[derive(Debug, Clone, FromRow)]
pub struct Settings {
    pub email: String,
    pub verified: bool,
    pub delivery: String,
    /// Whether members may send them questions through Cafe.
    pub questions: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            email: String::new(),
            verified: false,
            delivery: "daily".to_owned(),
            questions: true,
        }
    }
}

pub async fn settings(db: &Db, user_id: i64) -> sqlx::Result<Settings> {
    let row = crate::on_db!(db, |pool| sqlx::query_as::<_, Settings>(
        "SELECT email, verified, delivery, questions FROM mail_settings WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)?;
    Ok(row.unwrap_or_default())
}

/// Saves the address and delivery. A new address is unverified, with the
/// hash of its link's token and when that expires; the same address keeps
/// its state.
pub async fn save_settings(
    tx: &mut Tx,
    user_id: i64,
    email: &str,
    delivery: &str,
    questions: bool,
    verify: Option<(&str, i64)>,
) -> sqlx::Result<()> {
    let (hash, until) = match verify {
        Some((hash, until)) => (Some(hash), Some(until)),
        None => (None, None),
    };
    crate::on_tx!(&mut *tx, |conn| sqlx::query(
        "INSERT INTO mail_settings (user_id, email, verified, delivery, verify_hash, verify_until,
                                    questions)
         VALUES ($1, $2, FALSE, $3, $4, $5, $6)
         ON CONFLICT (user_id) DO UPDATE SET delivery = excluded.delivery,
             questions = excluded.questions,
             email = excluded.email,
             verified = CASE WHEN mail_settings.email = excluded.email
                             THEN mail_settings.verified ELSE FALSE END,
             verify_hash = CASE WHEN mail_settings.email = excluded.email
                                THEN mail_settings.verify_hash ELSE excluded.verify_hash END,
             verify_until = CASE WHEN mail_settings.email = excluded.email
                                 THEN mail_settings.verify_until ELSE excluded.verify_until END"
    )
    .bind(user_id)
    .bind(email)
    .bind(delivery)
    .bind(hash)
    .bind(until)
    .bind(questions)
    .execute(&mut *conn)
    .await
    .map(|_| ()))
}

/// Marks the member's address verified when `hash` is its link's and the
/// link has not expired; whether it did.
pub async fn verify(db: &Db, user_id: i64, hash: &str, now: i64) -> sqlx::Result<bool> {
    let done = crate::on_db!(db, |pool| sqlx::query(
        "UPDATE mail_settings SET verified = TRUE, verify_hash = NULL, verify_until = NULL
         WHERE user_id = $1 AND verify_hash = $2 AND verify_until > $3 AND email <> ''"
    )
    .bind(user_id)
    .bind(hash)
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Turns the member's mail off if it is one of `deliveries`; whether it was.
pub async fn unsubscribe(db: &Db, user_id: i64, deliveries: &[&str]) -> sqlx::Result<bool> {
    let mut changed = 0;
    for delivery in deliveries {
        changed += crate::on_db!(db, |pool| sqlx::query(
            "UPDATE mail_settings SET delivery = 'off' WHERE user_id = $1 AND delivery = $2"
        )
        .bind(user_id)
        .bind(*delivery)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
    }
    Ok(changed > 0)
}

/// Turns off the questions members may send this member; whether they were on.
pub async fn refuse_questions(db: &Db, user_id: i64) -> sqlx::Result<bool> {
    let done = crate::on_db!(db, |pool| sqlx::query(
        "UPDATE mail_settings SET questions = FALSE WHERE user_id = $1 AND questions = TRUE"
    )
    .bind(user_id)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Where a question to this member goes: their confirmed address, if they
/// take questions and are not blocked. Never shown to the asker.
pub async fn question_address(db: &Db, user_id: i64) -> sqlx::Result<Option<String>> {
    crate::on_db!(db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT ms.email FROM mail_settings ms JOIN users u ON u.id = ms.user_id
         WHERE ms.user_id = $1 AND ms.verified = TRUE AND ms.email <> ''
           AND ms.questions = TRUE AND u.blocked = FALSE"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)
}

/// A mail to queue.
pub struct NewMail<'a> {
    pub dedupe_key: &'a str,
    pub kind: &'a str,
    pub user_id: i64,
    pub page_id: Option<i64>,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub headers: &'a str,
    pub items: &'a str,
    /// Not sent before this (unix ms).
    pub not_before: i64,
}

/// Queues a mail in the caller's transaction; a second mail with the same
/// dedupe key is dropped.
pub async fn enqueue(tx: &mut Tx, mail: &NewMail<'_>) -> sqlx::Result<()> {
    let now = crate::clock::now();
    crate::on_tx!(&mut *tx, |conn| sqlx::query(
        "INSERT INTO outbox (dedupe_key, kind, user_id, page_id, to_addr, subject, body_text,
                             body_html, headers, items, next_attempt, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         ON CONFLICT (dedupe_key) DO NOTHING"
    )
    .bind(mail.dedupe_key)
    .bind(mail.kind)
    .bind(mail.user_id)
    .bind(mail.page_id)
    .bind(mail.to)
    .bind(mail.subject)
    .bind(mail.text)
    .bind(mail.html)
    .bind(mail.headers)
    .bind(mail.items)
    .bind(mail.not_before)
    .bind(&now)
    .execute(&mut *conn)
    .await
    .map(|_| ()))
}

/// A mail taken by one sender.
#[derive(FromRow)]
pub struct Job {
    pub id: i64,
    pub to_addr: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub headers: String,
    pub attempts: i64,
}

/// Takes the next mail due by `due_by` (or whose sender's lease ran out
/// by `now`) for `owner` until `lease_until`, counting the attempt.
pub async fn claim(
    db: &Db,
    owner: &str,
    due_by: i64,
    now: i64,
    lease_until: i64,
) -> sqlx::Result<Option<Job>> {
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1,
                lease_owner = $1, lease_until = $2
         WHERE id = (SELECT id FROM outbox
                     WHERE (state = 'pending' AND next_attempt <= $3)
                        OR (state = 'sending' AND lease_until < $4)
                     ORDER BY next_attempt, id LIMIT 1 {lock})
         RETURNING id, to_addr, subject, body_text, body_html, headers, attempts"
    );
    crate::on_db!(db, |pool| sqlx::query_as::<_, Job>(&sql)
        .bind(owner)
        .bind(lease_until)
        .bind(due_by)
        .bind(now)
        .fetch_optional(pool)
        .await)
}

/// Ends a job this owner holds: `sent`, `pending` again at `next_attempt`,
/// or `failed`, with the error if any. Whether the lease was still ours.
pub async fn finish(
    db: &Db,
    id: i64,
    owner: &str,
    state: &str,
    next_attempt: i64,
    error: &str,
) -> sqlx::Result<bool> {
    let done = crate::on_db!(db, |pool| sqlx::query(
        "UPDATE outbox SET state = $3, next_attempt = $4, last_error = $5,
                lease_owner = NULL, lease_until = NULL, updated_at = $6
         WHERE id = $1 AND lease_owner = $2 AND state = 'sending'"
    )
    .bind(id)
    .bind(owner)
    .bind(state)
    .bind(next_attempt)
    .bind(error)
    .bind(crate::clock::now())
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// A mail to a member that could not be delivered.
#[derive(Debug, FromRow)]
pub struct Failed {
    pub subject: String,
    pub to_addr: String,
    pub last_error: String,
    pub updated_at: String,
}

/// The member's mails that failed for good, newest first.
pub async fn failed(db: &Db, user_id: i64) -> sqlx::Result<Vec<Failed>> {
    crate::on_db!(db, |pool| sqlx::query_as::<_, Failed>(
        "SELECT subject, to_addr, last_error, updated_at FROM outbox
         WHERE user_id = $1 AND state = 'failed' ORDER BY id DESC LIMIT 10"
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// Takes the each-change cursor for `owner` until `until` (unless another
/// process holds it); the last event already handled.
pub async fn take_cursor(db: &Db, owner: &str, now: i64, until: i64) -> sqlx::Result<Option<i64>> {
    crate::on_db!(db, |pool| sqlx::query_scalar::<_, i64>(
        "UPDATE mail_cursor SET lease_owner = $1, lease_until = $2
         WHERE name = 'each' AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $3)
         RETURNING last_event"
    )
    .bind(owner)
    .bind(until)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// The last of the next `limit` events after `after`, if any.
pub async fn batch_end(tx: &mut Tx, after: i64, limit: i64) -> sqlx::Result<Option<i64>> {
    crate::on_tx!(&mut *tx, |conn| sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(id) FROM (SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2) AS next"
    )
    .bind(after)
    .bind(limit)
    .fetch_one(&mut *conn)
    .await)
}

/// The events in `(after, upto]` about a page, oldest first, with what
/// showing them needs.
pub async fn events_between(
    tx: &mut Tx,
    after: i64,
    upto: i64,
) -> sqlx::Result<Vec<crate::recent::db::Entry>> {
    let sql = format!(
        "{} AND e.id > $1 AND e.id <= $2 AND e.page_id IS NOT NULL ORDER BY e.id",
        crate::recent::db::ENTRY_COLUMNS
    );
    crate::on_tx!(&mut *tx, |conn| {
        sqlx::query_as::<_, crate::recent::db::Entry>(&sql)
            .bind(after)
            .bind(upto)
            .fetch_all(&mut *conn)
            .await
    })
}

/// Moves the cursor to `upto` and lets go of it, if `owner` still holds it.
pub async fn advance_cursor(tx: &mut Tx, owner: &str, upto: i64) -> sqlx::Result<bool> {
    let done = crate::on_tx!(&mut *tx, |conn| sqlx::query(
        "UPDATE mail_cursor SET last_event = $2, lease_owner = NULL, lease_until = NULL
         WHERE name = 'each' AND lease_owner = $1"
    )
    .bind(owner)
    .bind(upto)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Lets go of the cursor without moving it (nothing to do).
pub async fn release_cursor(db: &Db, owner: &str) -> sqlx::Result<()> {
    crate::on_db!(db, |pool| sqlx::query(
        "UPDATE mail_cursor SET lease_owner = NULL, lease_until = NULL
         WHERE name = 'each' AND lease_owner = $1"
    )
    .bind(owner)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// A mail for each change not yet taken by a sender, to add a change to.
#[derive(FromRow)]
pub struct PendingChange {
    pub id: i64,
    pub items: String,
}

pub async fn pending_change(
    tx: &mut Tx,
    user_id: i64,
    page_id: i64,
) -> sqlx::Result<Option<PendingChange>> {
    crate::on_tx!(&mut *tx, |conn| sqlx::query_as::<_, PendingChange>(
        "SELECT id, items FROM outbox
         WHERE user_id = $1 AND page_id = $2 AND kind = 'each' AND state = 'pending'
           AND attempts = 0
         ORDER BY id DESC LIMIT 1"
    )
    .bind(user_id)
    .bind(page_id)
    .fetch_optional(&mut *conn)
    .await)
}

/// Rewrites a pending mail with one more change.
pub async fn update_pending(
    tx: &mut Tx,
    id: i64,
    subject: &str,
    text: &str,
    html: &str,
    items: &str,
) -> sqlx::Result<()> {
    crate::on_tx!(&mut *tx, |conn| sqlx::query(
        "UPDATE outbox SET subject = $2, body_text = $3, body_html = $4, items = $5,
                updated_at = $6
         WHERE id = $1 AND state = 'pending' AND attempts = 0"
    )
    .bind(id)
    .bind(subject)
    .bind(text)
    .bind(html)
    .bind(items)
    .bind(crate::clock::now())
    .execute(&mut *conn)
    .await
    .map(|_| ()))
}

/// Whether the member was mailed about this page after the last event
/// they have seen (then they get no other mail about it until they look).
pub async fn mailed_unseen(tx: &mut Tx, user_id: i64, page_id: i64) -> sqlx::Result<bool> {
    crate::on_tx!(&mut *tx, |conn| sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM mail_page_state m
                        WHERE m.user_id = $1 AND m.page_id = $2
                          AND m.mailed_event > COALESCE((SELECT seen_event FROM follow_state
                                                         WHERE user_id = $1), 0))"
    )
    .bind(user_id)
    .bind(page_id)
    .fetch_one(&mut *conn)
    .await)
}

pub async fn note_mailed(
    tx: &mut Tx,
    user_id: i64,
    page_id: i64,
    event_id: i64,
) -> sqlx::Result<()> {
    crate::on_tx!(&mut *tx, |conn| sqlx::query(
        "INSERT INTO mail_page_state (user_id, page_id, mailed_event) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, page_id) DO UPDATE SET mailed_event = excluded.mailed_event"
    )
    .bind(user_id)
    .bind(page_id)
    .bind(event_id)
    .execute(&mut *conn)
    .await
    .map(|_| ()))
}

/// The member has looked at the page `slug` again: its next change may be
/// mailed to them.
pub async fn looked_at(db: &Db, user_id: i64, slug: &str) -> sqlx::Result<()> {
    crate::on_db!(db, |pool| sqlx::query(
        "DELETE FROM mail_page_state
         WHERE user_id = $1 AND page_id = (SELECT id FROM pages WHERE slug = $2)"
    )
    .bind(user_id)
    .bind(slug)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// A member a digest may be due for.
#[derive(FromRow)]
pub struct DigestMember {
    pub user_id: i64,
    pub email: String,
    pub delivery: String,
    pub digest_event: i64,
}

/// Members with a confirmed address and a daily (weekly) digest whose last
/// digest was made before `day_before` (`week_before`).
pub async fn digests_due(
    db: &Db,
    day_before: i64,
    week_before: i64,
) -> sqlx::Result<Vec<DigestMember>> {
    crate::on_db!(db, |pool| sqlx::query_as::<_, DigestMember>(
        "SELECT ms.user_id, ms.email, ms.delivery, ms.digest_event FROM mail_settings ms
         JOIN users u ON u.id = ms.user_id AND u.blocked = FALSE
         WHERE ms.verified = TRUE AND ms.email <> ''
           AND ((ms.delivery = 'daily' AND ms.digest_at < $1)
                OR (ms.delivery = 'weekly' AND ms.digest_at < $2))
         ORDER BY ms.user_id"
    )
    .bind(day_before)
    .bind(week_before)
    .fetch_all(pool)
    .await)
}

/// Notes a digest made at `now` listing the events up to `upto`.
pub async fn note_digest(tx: &mut Tx, user_id: i64, upto: i64, now: i64) -> sqlx::Result<()> {
    crate::on_tx!(&mut *tx, |conn| sqlx::query(
        "UPDATE mail_settings SET digest_event = $2, digest_at = $3 WHERE user_id = $1"
    )
    .bind(user_id)
    .bind(upto)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map(|_| ()))
}
