//! All SQL of following (`migrations/*/0016_follow.sql`, `0107_follow.sql`):
//! watches, default watches, what a member has seen, and their list of
//! changes read from `events`. The same statements run on both backends,
//! but for the unseen count ([`mine`]), which PostgreSQL runs as a function
//! whose plan it keeps.

use std::collections::HashMap;

use sqlx::FromRow;

use super::{Level, Mine, Target};
use crate::db::{Db, Tx};
use crate::recent::Kind;
use crate::recent::db::{ENTRY_COLUMNS, Entry};

/// An event `e` that member `$1` watches and did not make themselves: on a
/// page they watch (and have not muted), a story or reply by a member they
/// watch, or on a page carrying every tag of a tag watch; always after the
/// watch began.
///
/// Each kind of watch is its own `EXISTS`, found by the primary key
/// (`user_id`, `target`) or, for tag watches, the partial index of a
/// member's tag watches: one `EXISTS` over all of a member's watches with
/// the kinds `OR`ed inside it read every watch of theirs for every event,
/// which took seconds for a member watching a few hundred pages.
///
/// PostgreSQL's unseen count has this rule written out again, in
/// `cafe_unseen_settling` (migrations/postgres/0118_unseen_recounted.sql):
/// change both.
const WATCHED: &str = "
    AND (e.actor_id IS NULL OR e.actor_id <> $1)
    AND NOT EXISTS (SELECT 1 FROM watches m
                    WHERE m.user_id = $1 AND m.target = 'page:' || e.page_id
                      AND m.level = 'muted')
    AND (EXISTS (SELECT 1 FROM watches w
                 WHERE w.user_id = $1 AND w.target = 'page:' || e.page_id
                   AND w.level = 'watching' AND e.id > w.since_event)
         OR (e.kind IN ('story', 'reply')
             AND EXISTS (SELECT 1 FROM watches w
                         WHERE w.user_id = $1 AND w.target = 'member:' || e.actor_id
                           AND w.level = 'watching' AND e.id > w.since_event))
         OR (e.page_id IS NOT NULL
             AND EXISTS (
                 SELECT 1 FROM watches w
                 WHERE w.user_id = $1 AND w.page_id IS NULL AND w.member_id IS NULL
                   AND w.level = 'watching' AND e.id > w.since_event
                   AND NOT EXISTS (
                       SELECT 1 FROM watch_tags wt
                       WHERE wt.user_id = w.user_id AND wt.target = w.target
                         AND NOT EXISTS (SELECT 1 FROM page_tags pt
                                         WHERE pt.page_id = e.page_id AND pt.tag = wt.tag)))))";

/// How far back a member's list and count look, in events: older changes
/// are never listed, which bounds what a count can cost (it is made again
/// whenever content changed) on a site with a long history.
pub const LOOK_BACK: i64 = 10_000;

/// The `follow_state` column that says whether a member watches by
/// default what an event of `kind` shows they worked on.
fn default_column(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Page => Some("auto_created"),
        Kind::Edit => Some("auto_edited"),
        Kind::Story | Kind::Reply => Some("auto_stories"),
        Kind::Roster => Some("auto_roster"),
        Kind::File | Kind::Admin => None,
    }
}

/// The author of a change watches its page from now on, unless they turned
/// that default off or chose a level for the page already. In the change's
/// own transaction.
pub async fn auto_watch(
    conn: &mut Tx,
    kind: Kind,
    actor_id: Option<i64>,
    page_id: Option<i64>,
) -> sqlx::Result<()> {
    let (Some(column), Some(actor_id), Some(page_id)) = (default_column(kind), actor_id, page_id)
    else {
        return Ok(());
    };
    let sql = format!(
        "INSERT INTO watches (user_id, target, page_id, level, since_event, created_at)
         SELECT $1, $2, $3, 'watching', COALESCE((SELECT MAX(id) FROM events), 0), $4
         WHERE NOT EXISTS (SELECT 1 FROM follow_state f WHERE f.user_id = $1 AND f.{column} = FALSE)
         ON CONFLICT (user_id, target) DO NOTHING"
    );
    crate::on_tx!(&mut *conn, |conn| sqlx::query(&sql)
        .bind(actor_id)
        .bind(Target::Page(page_id).key())
        .bind(page_id)
        .bind(crate::clock::now())
        .execute(&mut *conn)
        .await
        .map(|_| ()))
}

/// Everyone on a page's roster watches it from now on, unless they muted
/// it (or asked the question themselves): a question asked there in
/// public is for them. In the question's own transaction, before its event.
pub async fn watch_for_question(conn: &mut Tx, page_id: i64, asker_id: i64) -> sqlx::Result<()> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "INSERT INTO watches (user_id, target, page_id, level, since_event, created_at)
         SELECT r.user_id, $2, $1, 'watching', COALESCE((SELECT MAX(id) FROM events), 0), $4
         FROM roster r WHERE r.page_id = $1 AND r.user_id <> $3
         ON CONFLICT (user_id, target) DO NOTHING"
    )
    .bind(page_id)
    .bind(Target::Page(page_id).key())
    .bind(asker_id)
    .bind(crate::clock::now())
    .execute(&mut *conn)
    .await
    .map(|_| ()))
}

/// Sets a member's level for a target (a new watch counts events from now).
pub async fn set(db: &Db, user_id: i64, target: &Target, level: Level) -> sqlx::Result<()> {
    let key = target.key();
    if level == Level::Normal {
        return crate::on_db!(db, |pool| sqlx::query(
            "DELETE FROM watches WHERE user_id = $1 AND target = $2"
        )
        .bind(user_id)
        .bind(&key)
        .execute(pool)
        .await
        .map(|_| ()));
    }
    let (page_id, member_id) = match target {
        Target::Page(id) => (Some(*id), None),
        Target::Member(id) => (None, Some(*id)),
        Target::Tags(_) => (None, None),
    };
    let mut tx = crate::db::begin_write(db).await?;
    crate::on_tx!(&mut tx, |conn| sqlx::query(
        "INSERT INTO watches (user_id, target, page_id, member_id, level, since_event, created_at)
         VALUES ($1, $2, $3, $4, $5, COALESCE((SELECT MAX(id) FROM events), 0), $6)
         ON CONFLICT (user_id, target) DO UPDATE SET level = excluded.level,
             since_event = CASE WHEN watches.level = excluded.level
                                THEN watches.since_event ELSE excluded.since_event END"
    )
    .bind(user_id)
    .bind(&key)
    .bind(page_id)
    .bind(member_id)
    .bind(level.as_str())
    .bind(crate::clock::now())
    .execute(&mut *conn)
    .await
    .map(|_| ()))?;
    if let Target::Tags(tags) = target {
        for tag in tags {
            crate::on_tx!(&mut tx, |conn| sqlx::query(
                "INSERT INTO watch_tags (user_id, target, tag) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, target, tag) DO NOTHING"
            )
            .bind(user_id)
            .bind(&key)
            .bind(tag)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        }
    }
    tx.commit().await
}

/// The events after which a member's list starts: what they have seen, and
/// before their oldest watch nothing can be theirs.
async fn lower_bound(db: &Db, user_id: i64) -> sqlx::Result<(i64, i64)> {
    crate::on_db!(db, |pool| sqlx::query_as::<_, (i64, i64)>(
        "SELECT COALESCE((SELECT seen_event FROM follow_state WHERE user_id = $1), 0),
                COALESCE((SELECT MIN(since_event) FROM watches
                          WHERE user_id = $1 AND level = 'watching'), -1)"
    )
    .bind(user_id)
    .fetch_one(pool)
    .await)
}

/// [`mine`] on SQLite: the count is one row of its own (as a column of
/// every watch row it was counted again for each of the member's
/// watches), with the part of it at or below `upto - $5` (see
/// [`RECOUNTED`]) counted from the same events, then the watches begun
/// since `$4`.
static MINE_ON_SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH bound AS (
             SELECT COALESCE((SELECT seen_event FROM follow_state WHERE user_id = $1), 0) AS seen,
                    (SELECT MIN(since_event) FROM watches
                     WHERE user_id = $1 AND level = 'watching') AS oldest,
                    (SELECT COALESCE(MAX(id), 0) FROM events) AS upto),
         counted AS MATERIALIZED (
             SELECT e.id FROM bound, events e
             WHERE bound.oldest IS NOT NULL
               AND e.id > CASE WHEN bound.seen > bound.oldest
                               THEN bound.seen ELSE bound.oldest END
               AND e.id > bound.upto - $3
               AND e.id > $4 AND e.id <= bound.upto
               {WATCHED}
             LIMIT $2)
         SELECT '' AS target, '' AS level,
                (SELECT count(*) FROM counted) AS unseen,
                (SELECT count(*) FROM counted WHERE counted.id <= bound.upto - $5) AS settled,
                bound.upto AS upto
         FROM bound
         UNION ALL
         {BEGUN}"
    )
});

/// [`mine`] on PostgreSQL: the same count by `cafe_unseen_settling`
/// (migrations/postgres/0118_unseen_recounted.sql), whose plan is kept:
/// planning the statement above took longer than running it.
static MINE_ON_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT '' AS target, '' AS level, u.unseen, u.settled, u.upto
         FROM cafe_unseen_settling($1, $2, $3, $4, $5) AS u
         UNION ALL
         {BEGUN}"
    )
});

/// The member's watches begun since `$4`, in [`mine`]'s columns.
const BEGUN: &str = "SELECT w.target, w.level, 0, 0, 0 FROM watches w
         WHERE w.user_id = $1 AND w.since_event >= $4";

/// How many of the latest events a count brought up to date counts again.
///
/// On PostgreSQL an event's id is taken as it is written and its
/// transaction may commit after one with a later id: a count that went on
/// from "after the last event counted" would never see it (until the full
/// count of `super::KEEP_FOR`). So what a count found among the last
/// `RECOUNTED` events is not kept as final ([`Mine`]'s `settled` leaves it
/// out) and the next count looks at those events again: a save that
/// commits within that many events of a later-numbered one is counted.
/// Saves run side by side a handful at a time, so their events commit
/// within a few ids of their order; SQLite, whose writers take turns,
/// never needs it. Each count reads at most this many events more.
pub const RECOUNTED: i64 = 64;

/// What the member's pages need: levels and the unseen count (at most
/// [`super::COUNT_AT_MOST`]), in one statement, as a member's page view
/// runs it whenever content has changed since their last. No watch,
/// nothing unseen. With `before`, an earlier count to bring up to date:
/// only the events after those it settled are counted (the last
/// [`RECOUNTED`] it saw among them), and added to what it settled, and
/// only the watches begun since are read (a member's own changes to their
/// watches drop what was kept, so only others' can be new: a public
/// question makes the roster watch its page).
pub async fn mine(db: &Db, user_id: i64, before: Option<&Mine>) -> sqlx::Result<Mine> {
    let sql = match db {
        Db::Sqlite(_) => MINE_ON_SQLITE.as_str(),
        Db::Postgres(_) => MINE_ON_POSTGRES.as_str(),
    };
    let (settled_before, after) = before.map_or((0, 0), |b| (b.settled, b.recount_from));
    let rows: Vec<(String, String, i64, i64, i64)> = crate::on_db!(db, |pool| sqlx::query_as(sql)
        .bind(user_id)
        .bind(super::COUNT_AT_MOST)
        .bind(LOOK_BACK)
        .bind(after)
        .bind(RECOUNTED)
        .fetch_all(pool)
        .await)?;
    let (unseen, settled, upto) = rows
        .iter()
        .find(|(target, ..)| target.is_empty())
        .map_or((0, 0, after), |(_, _, unseen, settled, upto)| {
            (*unseen, *settled, *upto)
        });
    let begun = rows
        .into_iter()
        .filter(|(target, ..)| !target.is_empty())
        .map(|(target, level, ..)| (target, Level::parse(&level)));
    let levels = match before {
        Some(before) => {
            let mut begun = begun.peekable();
            if begun.peek().is_none() {
                before.levels.clone()
            } else {
                let mut levels = HashMap::clone(&before.levels);
                levels.extend(begun);
                std::sync::Arc::new(levels)
            }
        }
        None => std::sync::Arc::new(begun.collect()),
    };
    Ok(Mine {
        unseen: (settled_before + unseen).min(super::COUNT_AT_MOST),
        levels,
        settled: (settled_before + settled).min(super::COUNT_AT_MOST),
        recount_from: after.max(upto - RECOUNTED),
    })
}

/// The member's list: the latest changes to what they watch, newest
/// first, and the last event they have seen (those after it are new).
pub async fn following(db: &Db, user_id: i64, limit: i64) -> sqlx::Result<(Vec<Entry>, i64)> {
    let (seen, oldest) = lower_bound(db, user_id).await?;
    if oldest < 0 {
        return Ok((Vec::new(), seen));
    }
    let sql = format!(
        "{ENTRY_COLUMNS} AND e.id > $2 AND e.id > (SELECT COALESCE(MAX(id), 0) FROM events) - $4
         {WATCHED} ORDER BY e.id DESC LIMIT $3"
    );
    let entries = crate::on_db!(db, |pool| sqlx::query_as::<_, Entry>(&sql)
        .bind(user_id)
        .bind(oldest)
        .bind(limit)
        .bind(LOOK_BACK)
        .fetch_all(pool)
        .await)?;
    Ok((entries, seen))
}

/// Marks every change up to event `upto` as seen (never moving back).
pub async fn mark_seen(db: &Db, user_id: i64, upto: i64) -> sqlx::Result<()> {
    crate::on_db!(db, |pool| sqlx::query(
        "INSERT INTO follow_state (user_id, seen_event) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET seen_event = $2
         WHERE follow_state.seen_event < $2"
    )
    .bind(user_id)
    .bind(upto)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// What a member watches by default.
#[derive(Debug, Clone, FromRow)]
pub struct Defaults {
    pub auto_created: bool,
    pub auto_edited: bool,
    pub auto_stories: bool,
    pub auto_roster: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            auto_created: true,
            auto_edited: true,
            auto_stories: true,
            auto_roster: true,
        }
    }
}

pub async fn defaults(db: &Db, user_id: i64) -> sqlx::Result<Defaults> {
    let found = crate::on_db!(db, |pool| sqlx::query_as::<_, Defaults>(
        "SELECT auto_created, auto_edited, auto_stories, auto_roster
         FROM follow_state WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await)?;
    Ok(found.unwrap_or_default())
}

pub async fn set_defaults(db: &Db, user_id: i64, d: &Defaults) -> sqlx::Result<()> {
    crate::on_db!(db, |pool| sqlx::query(
        "INSERT INTO follow_state (user_id, auto_created, auto_edited, auto_stories, auto_roster)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET auto_created = $2, auto_edited = $3,
             auto_stories = $4, auto_roster = $5"
    )
    .bind(user_id)
    .bind(d.auto_created)
    .bind(d.auto_edited)
    .bind(d.auto_stories)
    .bind(d.auto_roster)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// One of a member's watches, as the Following page lists it.
#[derive(Debug, FromRow)]
pub struct Watch {
    pub target: String,
    pub level: String,
    pub slug: Option<String>,
    pub title: Option<String>,
    pub member_username: Option<String>,
    pub member_name: Option<String>,
}

impl Watch {
    /// The tags of a tag watch.
    pub fn tags(&self) -> Vec<&str> {
        self.target
            .strip_prefix("tags:")
            .map(|tags| tags.split(',').collect())
            .unwrap_or_default()
    }

    pub fn watching(&self) -> bool {
        self.level == Level::Watching.as_str()
    }
}

pub async fn watches_of(db: &Db, user_id: i64) -> sqlx::Result<Vec<Watch>> {
    crate::on_db!(db, |pool| sqlx::query_as::<_, Watch>(
        "SELECT w.target, w.level, p.slug, p.title, u.username AS member_username,
                u.display_name AS member_name
         FROM watches w
         LEFT JOIN pages p ON p.id = w.page_id
         LEFT JOIN users u ON u.id = w.member_id
         WHERE w.user_id = $1 AND (p.id IS NULL OR p.deleted_at IS NULL)
         ORDER BY w.level DESC, COALESCE(p.title, u.display_name, w.target)"
    )
    .bind(user_id)
    .fetch_all(pool)
    .await)
}

/// [`WATCHED`] with the member taken from `ms.user_id` instead of `$1`:
/// the same rules, asked the other way round ("who watches this event").
static WATCHED_BY_ROW: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| WATCHED.replace("$1", "ms.user_id"));

/// Who gets a mail for event `event_id`: members who watch it (by the rules
/// of [`WATCHED`], so never its author), not blocked, with a verified
/// address and `each` as their delivery. With their address.
pub async fn mail_watchers(tx: &mut Tx, event_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    let sql = format!(
        "SELECT ms.user_id, ms.email FROM events e
         JOIN mail_settings ms ON ms.verified = TRUE AND ms.delivery = 'each' AND ms.email <> ''
         JOIN users u ON u.id = ms.user_id AND u.blocked = FALSE
         WHERE e.id = $1 {}
         ORDER BY ms.user_id",
        *WATCHED_BY_ROW
    );
    crate::on_tx!(&mut *tx, |conn| sqlx::query_as::<_, (i64, String)>(&sql)
        .bind(event_id)
        .fetch_all(&mut *conn)
        .await)
}
