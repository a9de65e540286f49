//! Creating and saving pages: the render, the revision, the current row,
//! tags, links and the recent-changes event in one write transaction, and
//! merging a save made on an older revision.

use std::collections::HashSet;

use sqlx::FromRow;

use crate::db::{Backend, Db, Sql, Tx};

use crate::db::begin_write;
use crate::group_commit::GroupCommit;
use crate::markup::markdown;
use crate::pages::{PageText, Slug};
use crate::recent::Kind;
use crate::recent::db::{NewEvent, record};
use crate::tags::{Tag, TagList};

/// Which of a JSON array of slugs are existing pages. On PostgreSQL as an
/// array, so that each slug is looked up in `pages`' slug index: with
/// `IN (SELECT … json_each …)` the planner, expecting a thousand slugs,
/// read the whole table (0.4 ms at 1,000 pages, twice per save; it grows
/// with the site).
/// The old slugs of renamed pages count as existing: a link written
/// with an old title still leads to the page (through its redirect).
const EXISTING: Sql = Sql {
    sqlite: "SELECT slug FROM pages WHERE slug IN (SELECT value FROM json_each($1)) \
             UNION SELECT old_slug FROM page_redirects \
             WHERE old_slug IN (SELECT value FROM json_each($1))",
    postgres: "SELECT slug FROM pages \
               WHERE slug = ANY (ARRAY(SELECT json_array_elements_text($1::json))) \
               UNION SELECT old_slug FROM page_redirects \
               WHERE old_slug = ANY (ARRAY(SELECT json_array_elements_text($1::json)))",
};

/// Which of `targets` are existing pages, as the transaction sees them.
async fn existing(conn: &mut Tx, targets: &[Slug]) -> sqlx::Result<HashSet<String>> {
    if targets.is_empty() {
        return Ok(HashSet::new());
    }
    let targets = crate::db::json_list(targets.iter().map(Slug::as_str));
    let sql = conn.pick(&EXISTING);
    let found = crate::on_tx!(&mut *conn, |conn| sqlx::query_scalar::<_, String>(sql)
        .bind(&targets)
        .fetch_all(&mut *conn)
        .await)?;
    Ok(found.into_iter().collect())
}

/// Which of `targets` are existing pages now, outside any transaction.
async fn existing_now(pool: &Db, targets: &[Slug]) -> sqlx::Result<HashSet<String>> {
    if targets.is_empty() {
        return Ok(HashSet::new());
    }
    let targets = crate::db::json_list(targets.iter().map(Slug::as_str));
    let sql = pool.pick(&EXISTING);
    let found = crate::on_db!(pool, |pool| sqlx::query_scalar::<_, String>(sql)
        .bind(&targets)
        .fetch_all(pool)
        .await)?;
    Ok(found.into_iter().collect())
}

/// A page body rendered before its write transaction, with what the HTML
/// depends on besides the text: which link targets existed. Rendering is
/// the costliest part of a save; done ahead, the transaction (which other
/// saves wait for) only checks that the targets are still the same.
pub struct Prerendered {
    slug: String,
    body: String,
    targets: Vec<Slug>,
    existing: HashSet<String>,
    pub(super) html: String,
    /// Whether `existing` was read inside the save's own transaction,
    /// under its content turn (`save_in` on PostgreSQL): then it is still
    /// true, as no page can be made or removed before the save commits.
    checked: bool,
}

/// Renders `body` for the page `slug` outside any transaction.
pub async fn prerender(pool: &Db, slug: &str, body: &str) -> sqlx::Result<Prerendered> {
    let targets = markdown::link_targets(body);
    let existing = existing_now(pool, &targets).await?;
    let html = markdown::render(body, &|target| {
        target.as_str() == slug || existing.contains(target.as_str())
    });
    Ok(Prerendered {
        slug: slug.to_owned(),
        body: body.to_owned(),
        targets,
        existing,
        html,
        checked: false,
    })
}

/// Renders a body to HTML, marking wiki links to pages that do not exist
/// (other than `own_slug`) as missing. Returns the HTML and the link targets.
/// `ahead` is used instead when it rendered this same body for this page
/// and the same targets exist now (and the body links no file: the
/// page's files are only read inside the transaction).
async fn render(
    conn: &mut Tx,
    body: &str,
    own_slug: &str,
    ahead: Option<&Prerendered>,
) -> sqlx::Result<(String, Vec<Slug>)> {
    if let Some(ahead) =
        ahead.filter(|a| a.body == body && a.slug == own_slug && !markdown::may_link_files(body))
        && (ahead.checked || existing(conn, &ahead.targets).await? == ahead.existing)
    {
        return Ok((ahead.html.clone(), ahead.targets.clone()));
    }
    let targets = markdown::link_targets(body);
    let existing = existing(conn, &targets).await?;
    let html = render_with(conn, body, own_slug, None, &|slug| {
        slug.as_str() == own_slug || existing.contains(slug.as_str())
    })
    .await?;
    Ok((html, targets))
}

/// Renders `body`, written on the page `slug` (or its story `story_id`),
/// with its `file:` links resolved against the files attached there.
async fn render_with(
    conn: &mut Tx,
    body: &str,
    slug: &str,
    story_id: Option<i64>,
    exists: &(dyn Fn(&Slug) -> bool + Sync),
) -> sqlx::Result<String> {
    let links = file_links(conn, slug, story_id, body).await?;
    let files: &dyn markdown::FileLinks = match &links {
        Some(links) => links,
        None => &markdown::NoFiles,
    };
    Ok(markdown::render_with_files(body, exists, files))
}

/// The files `body` may link to, read only when it has a `file:` link.
async fn file_links(
    conn: &mut Tx,
    slug: &str,
    story_id: Option<i64>,
    body: &str,
) -> sqlx::Result<Option<crate::files::Links>> {
    if slug.is_empty() || !markdown::may_link_files(body) {
        return Ok(None);
    }
    let page_id = crate::on_tx!(&mut *conn, |conn| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM pages WHERE slug = $1"
    )
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await)?;
    let rows = match page_id {
        Some(id) => crate::files::db::visible_in(conn, id, story_id).await?,
        None => Vec::new(),
    };
    Ok(Some(crate::files::Links::new(
        slug,
        story_id,
        crate::files::db::by_name(rows),
    )))
}

/// Renders Markdown written on page `page_id`'s stories and replies
/// (`story_id`: the story it belongs to, once it exists) with its wiki
/// links checked against the pages that exist now and its `file:` links
/// against the story's and the page's files.
pub async fn render_markdown(
    conn: &mut Tx,
    body: &str,
    page_id: i64,
    story_id: Option<i64>,
) -> sqlx::Result<String> {
    let slug = if markdown::may_link_files(body) {
        crate::on_tx!(&mut *conn, |conn| sqlx::query_scalar::<_, String>(
            "SELECT slug FROM pages WHERE id = $1"
        )
        .bind(page_id)
        .fetch_optional(&mut *conn)
        .await)?
        .unwrap_or_default()
    } else {
        String::new()
    };
    let targets = markdown::link_targets(body);
    let existing = existing(conn, &targets).await?;
    render_with(conn, body, &slug, story_id, &|target| {
        existing.contains(target.as_str())
    })
    .await
}

/// Renders page `page_id` again after its files changed, if its text
/// links a file: a missing link becomes real, an image shows its new
/// version, a hidden file goes missing.
pub async fn rerender_for_files(conn: &mut Tx, page_id: i64) -> sqlx::Result<()> {
    let found = crate::on_tx!(&mut *conn, |conn| sqlx::query_as::<
        _,
        (String, String, String),
    >(
        "SELECT slug, body, html FROM pages WHERE id = $1"
    )
    .bind(page_id)
    .fetch_optional(&mut *conn)
    .await)?;
    if let Some((slug, body, html)) = found
        && markdown::may_link_files(&body)
    {
        let (new, _) = render(conn, &body, &slug, None).await?;
        if new != html {
            crate::on_tx!(&mut *conn, |conn| sqlx::query(
                "UPDATE pages SET html = $1 WHERE id = $2"
            )
            .bind(new)
            .bind(page_id)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected()))?;
        }
    }
    crate::stories::db::rerender_for_files(conn, page_id).await
}

/// Takes every tag off a page (before its new tags, or when it is deleted).
pub(super) async fn clear_tags(conn: &mut Tx, page_id: i64) -> sqlx::Result<()> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "DELETE FROM page_tags WHERE page_id = $1"
    )
    .bind(page_id)
    .execute(&mut *conn)
    .await
    .map(|_| ()))
}

/// The text a page had before a save, to skip rewriting what did not change.
struct Before<'a> {
    body: &'a str,
    tags: &'a TagList,
}

/// Writes a page's derived rows for its new current text: HTML, tags, links.
/// Tags and links equal to those `before` are left as they are: inside a
/// write transaction every statement is a round trip that others wait for.
async fn write_current(
    conn: &mut Tx,
    page_id: i64,
    slug: &str,
    body: &str,
    tags: &TagList,
    before: Option<Before<'_>>,
    ahead: Option<&Prerendered>,
) -> sqlx::Result<String> {
    let (html, targets) = render(conn, body, slug, ahead).await?;
    if before.as_ref().is_none_or(|b| b.tags != tags) {
        clear_tags(conn, page_id).await?;
        crate::on_tx!(&mut *conn, |conn| sqlx::query(
            "INSERT INTO page_tags (page_id, tag) SELECT $1, value FROM json_each($2)"
        )
        .bind(page_id)
        .bind(crate::db::json_list(tags.iter().map(Tag::as_str)))
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))?;
    }
    if before.is_none_or(|b| markdown::link_targets(b.body) != targets) {
        // Only the links that come and go are touched: each one moves its
        // target's page tick (migrations/sqlite/0011_link_clock.sql), and a link
        // kept as it was must leave its target's kept pages fresh.
        let targets = crate::db::json_list(targets.iter().map(Slug::as_str));
        crate::on_tx!(&mut *conn, |conn| sqlx::query(
            "DELETE FROM page_links WHERE from_page_id = $1 \
             AND to_slug NOT IN (SELECT value FROM json_each($2))",
        )
        .bind(page_id)
        .bind(&targets)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))?;
        crate::on_tx!(&mut *conn, |conn| sqlx::query(
            "INSERT INTO page_links (from_page_id, to_slug) SELECT $1, value FROM json_each($2) \
             WHERE value NOT IN (SELECT to_slug FROM page_links WHERE from_page_id = $1)",
        )
        .bind(page_id)
        .bind(&targets)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))?;
    }
    Ok(html)
}

/// Creates a page with its first revision; returns its slug (the title's,
/// with `-2`, `-3`… when taken). Pages that already linked to the new slug
/// have their HTML re-rendered, so their missing link becomes a real one.
pub async fn create(
    pool: &Db,
    title: &str,
    text: &PageText,
    author: Option<i64>,
) -> sqlx::Result<Slug> {
    let mut tx = begin_write(pool).await?;
    let slug = create_in(&mut tx, title, text, author).await?;
    tx.commit().await?;
    Ok(slug)
}

/// [`create`] inside a caller's transaction (import loads many pages at once).
pub async fn create_in(
    conn: &mut Tx,
    title: &str,
    text: &PageText,
    author: Option<i64>,
) -> sqlx::Result<Slug> {
    let base = Slug::from_title(title)
        .ok_or_else(|| sqlx::Error::Protocol("title without a slug".into()))?;
    // The first free slug stays free until this commits: on PostgreSQL the
    // transaction holds the whole content turn (`db::begin_write`), which
    // every writer that makes pages takes (saves never change a slug).
    let mut slug = base.clone();
    let mut n = 1;
    // A renamed page's old slug stays its own (a redirect), so it is taken.
    while crate::on_tx!(&mut *conn, |conn| sqlx::query_scalar::<_, i64>(
        "SELECT (SELECT count(*) FROM pages WHERE slug = $1)
              + (SELECT count(*) FROM page_redirects WHERE old_slug = $1)"
    )
    .bind(slug.as_str())
    .fetch_one(&mut *conn)
    .await)?
        > 0
    {
        n += 1;
        slug = base.with_suffix(n);
    }
    let now = crate::clock::now();
    let page_id = crate::on_tx!(&mut *conn, |conn| {
        sqlx::query_scalar::<_, i64>(
        "INSERT INTO pages (slug, title, revision, body, html, tags, created_at, updated_at, updated_by)
         VALUES ($1, $2, 1, $3, '', $4, $5, $6, $7) RETURNING id",
    )
    .bind(slug.as_str())
    .bind(title)
    .bind(&text.body)
    .bind(text.tags.to_stored())
    .bind(&now)
    .bind(&now)
    .bind(author)
    .fetch_one(&mut *conn)
    .await
    })?;
    insert_revision(conn, page_id, 1, title, text, author, &now).await?;
    let html = write_current(
        conn,
        page_id,
        slug.as_str(),
        &text.body,
        &text.tags,
        None,
        None,
    )
    .await?;
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "UPDATE pages SET html = $1 WHERE id = $2"
    )
    .bind(html)
    .bind(page_id)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    relink(conn, slug.as_str(), page_id).await?;
    let summary = if text.summary.is_empty() {
        "Created the page"
    } else {
        &text.summary
    };
    record(
        conn,
        NewEvent::new(Kind::Page, author, summary)
            .on_page(page_id)
            .at_revision(1),
    )
    .await?;
    Ok(slug)
}

/// Re-renders the pages whose links point at `slug`, which now exists.
pub(super) async fn relink(conn: &mut Tx, slug: &str, page_id: i64) -> sqlx::Result<()> {
    #[derive(FromRow)]
    struct Linker {
        id: i64,
        slug: String,
        body: String,
    }
    let linkers = crate::on_tx!(&mut *conn, |conn| sqlx::query_as::<_, Linker>(
        "SELECT p.id, p.slug, p.body FROM page_links l JOIN pages p ON p.id = l.from_page_id
         WHERE l.to_slug = $1 AND p.id <> $2",
    )
    .bind(slug)
    .bind(page_id)
    .fetch_all(&mut *conn)
    .await)?;
    for linker in linkers {
        let (html, _) = render(conn, &linker.body, &linker.slug, None).await?;
        crate::on_tx!(&mut *conn, |conn| sqlx::query(
            "UPDATE pages SET html = $1 WHERE id = $2"
        )
        .bind(html)
        .bind(linker.id)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))?;
    }
    Ok(())
}

pub(super) async fn insert_revision(
    conn: &mut Tx,
    page_id: i64,
    number: i64,
    title: &str,
    text: &PageText,
    author: Option<i64>,
    now: &str,
) -> sqlx::Result<()> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "INSERT INTO revisions (page_id, number, title, body, tags, summary, author_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(page_id)
    .bind(number)
    .bind(title)
    .bind(&text.body)
    .bind(text.tags.to_stored())
    .bind(&text.summary)
    .bind(author)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

/// What became of a save.
#[derive(Debug)]
pub enum SaveOutcome {
    /// A new revision; `merged` when it was made from a stale base by a
    /// three-way merge with the changes saved meanwhile.
    Saved { number: i64, merged: bool },
    /// The text and tags are what the page already has: no revision made.
    Unchanged,
    /// Someone saved meanwhile and the changes overlap: nothing was saved.
    Conflict {
        current_revision: i64,
        current_body: String,
        current_tags: String,
    },
    /// [`save_in`] only: the page is no longer at the revision the text was
    /// made (or merged) from. Nothing was written; merge again.
    Moved,
}

/// The page as a save finds it on PostgreSQL, its row locked (see
/// [`save_in`]), with which of the link targets `$2` (a JSON array) exist:
/// one round trip for what the save reads. The turn the transaction took
/// first (`db::begin_save`) keeps every page where it is until the commit,
/// so what was read of the others stays true, even if this waited for the
/// row. SQLite's write lock covers the whole database: it reads the row
/// alone (`CURRENT`), and the targets as it renders.
const CURRENT_ON_POSTGRES: &str = "SELECT slug, title, revision, body, tags,
            ARRAY(SELECT p.slug FROM pages p
                  WHERE p.slug = ANY (ARRAY(SELECT json_array_elements_text($2::json)))
                  UNION SELECT r.old_slug FROM page_redirects r
                  WHERE r.old_slug = ANY (ARRAY(SELECT json_array_elements_text($2::json))))
     FROM pages WHERE id = $1 FOR UPDATE";

/// The page as a save finds it on SQLite.
const CURRENT: &str = "SELECT slug, title, revision, body, tags FROM pages WHERE id = $1";

/// The end of a save on PostgreSQL in one statement: the revision
/// ([`insert_revision`]), the page's current row, the recent-changes
/// event ([`record`]) and the editor's default watch of the page
/// ([`crate::follow::db::auto_watch`], the same rule and target key), one
/// round trip instead of four. Saves there run side by side and each
/// statement is a round trip on the network, which is most of what a save
/// costs; SQLite runs them apart.
const SAVE_ON_POSTGRES: &str = "WITH revision AS (
        INSERT INTO revisions (page_id, number, title, body, tags, summary, author_id, created_at)
        VALUES ($7, $1, $8, $2, $4, $9, $6, $5)
    ), event AS (
        INSERT INTO events (kind, page_id, revision, actor_id, summary, created_at)
        VALUES ($10, $7, $1, $6, $9, $5)
    ), watch AS (
        INSERT INTO watches (user_id, target, page_id, level, since_event, created_at)
        SELECT $6, 'page:' || $7::text, $7, 'watching', COALESCE((SELECT MAX(id) FROM events), 0), $5
        WHERE $6 IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM follow_state f WHERE f.user_id = $6 AND f.auto_edited = FALSE)
        ON CONFLICT (user_id, target) DO NOTHING
    )
    UPDATE pages SET revision = $1, body = $2, html = $3, tags = $4, updated_at = $5, updated_by = $6
    WHERE id = $7";

#[derive(FromRow)]
struct Current {
    slug: String,
    title: String,
    revision: i64,
    body: String,
    tags: String,
}

/// An edit ready to be written over `expected`, the revision it was made or
/// merged from.
struct Ready {
    expected: i64,
    text: PageText,
    merged: bool,
}

/// Saves that find the page moved on again after their merge merge again
/// this many times, then are a conflict.
const MERGE_TRIES: usize = 3;

/// Brings an edit made from revision `base` up to the current revision,
/// outside any transaction: a three-way merge with what was saved since
/// (bounded, on the blocking pool: [`crate::merge`]), or the conflict.
async fn bring_up_to_date(
    pool: &Db,
    page_id: i64,
    base: i64,
    text: &PageText,
) -> sqlx::Result<Result<Ready, SaveOutcome>> {
    let (revision, current_body, current_tags) = current_text(pool, page_id).await?;
    if base == revision {
        let text = text.clone();
        return Ok(Ok(Ready {
            expected: revision,
            text,
            merged: false,
        }));
    }
    let base_rev = crate::on_db!(pool, |pool| sqlx::query_as::<_, (String, String)>(
        "SELECT body, tags FROM revisions WHERE page_id = $1 AND number = $2",
    )
    .bind(page_id)
    .bind(base)
    .fetch_optional(pool)
    .await)?;
    let merged = match base_rev {
        Some((base_body, base_tags)) => {
            let (theirs, ours) = (current_body.clone(), text.body.clone());
            let body = crate::markup::diff::off_thread(move || {
                crate::merge::three_way(&base_body, &ours, &theirs)
            })
            .await
            .and_then(Result::ok);
            body.map(|body| (body, base_tags))
        }
        None => None,
    };
    let Some((body, base_tags)) = merged else {
        return Ok(Err(SaveOutcome::Conflict {
            current_revision: revision,
            current_body,
            current_tags,
        }));
    };
    let tags = TagList::merge(
        &TagList::from_stored(&base_tags),
        &text.tags,
        &TagList::from_stored(&current_tags),
    );
    Ok(Ok(Ready {
        expected: revision,
        text: PageText {
            body,
            tags,
            summary: text.summary.clone(),
        },
        merged: true,
    }))
}

/// The page's revision, body and stored tags.
async fn current_text(pool: &Db, page_id: i64) -> sqlx::Result<(i64, String, String)> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, (i64, String, String)>(
        "SELECT revision, body, tags FROM pages WHERE id = $1",
    )
    .bind(page_id)
    .fetch_one(pool)
    .await)
}

/// Saves an edit made from revision `base`. If the page moved on since, the
/// edit is merged three-way with what was saved meanwhile; overlapping
/// changes are a conflict and nothing is written.
pub async fn save(
    pool: &Db,
    page_id: i64,
    base: i64,
    text: &PageText,
    author: Option<i64>,
) -> sqlx::Result<SaveOutcome> {
    for _ in 0..MERGE_TRIES {
        let ready = match bring_up_to_date(pool, page_id, base, text).await? {
            Ok(ready) => ready,
            Err(conflict) => return Ok(conflict),
        };
        let (expected, merged) = (ready.expected, ready.merged);
        let text = std::sync::Arc::new(ready.text);
        // Its own transaction on either backend, run again after a deadlock
        // (see `group_commit::alone`).
        let outcome = crate::group_commit::alone(pool, move |conn| {
            let text = text.clone();
            Box::pin(async move { save_in(conn, page_id, expected, &text, author, None).await })
        })
        .await?;
        if let Some(outcome) = settled(outcome, merged) {
            return Ok(outcome);
        }
    }
    still_moving(pool, page_id).await
}

/// [`save`] in a transaction shared with the saves that arrive beside it
/// ([`GroupCommit`]), merged and rendered before it queues: what the edit
/// and restore forms use. Nothing slow runs while the write lock is held.
///
/// On PostgreSQL each save has a transaction of its own, and saves of
/// different pages run side by side (`db::begin_save`), so a save's
/// transaction may take a little longer without making others wait:
/// there the save is first tried at once over `base`, merging only if the
/// page turns out to have moved on, and the body is rendered inside the
/// transaction. Two round trips fewer for the usual save (the revision read
/// before, the rendering's own look at which link targets exist), which is
/// what a save costs most of on PostgreSQL.
pub async fn save_grouped(
    pool: &Db,
    saves: &GroupCommit,
    slug: &str,
    page_id: i64,
    base: i64,
    text: PageText,
    author: Option<i64>,
) -> sqlx::Result<SaveOutcome> {
    let _turn = saves.page_turn(page_id).await;
    let postgres = pool.backend() == Backend::Postgres;
    let mut at_once = postgres.then(|| Ready {
        expected: base,
        text: text.clone(),
        merged: false,
    });
    for _ in 0..MERGE_TRIES {
        let ready = match at_once.take() {
            Some(ready) => ready,
            None => match bring_up_to_date(pool, page_id, base, &text).await? {
                Ok(ready) => ready,
                Err(conflict) => return Ok(conflict),
            },
        };
        let ahead = if postgres {
            None
        } else {
            Some(std::sync::Arc::new(
                prerender(pool, slug, &ready.text.body).await?,
            ))
        };
        let (expected, merged) = (ready.expected, ready.merged);
        let text = std::sync::Arc::new(ready.text);
        let outcome = saves
            .run(move |conn| {
                let (text, ahead) = (text.clone(), ahead.clone());
                Box::pin(async move {
                    save_in(conn, page_id, expected, &text, author, ahead.as_deref()).await
                })
            })
            .await?;
        if let Some(outcome) = settled(outcome, merged) {
            return Ok(outcome);
        }
    }
    still_moving(pool, page_id).await
}

/// A written outcome, marked merged when its text was; `None` when the page
/// moved on again and the merge must be redone.
fn settled(outcome: SaveOutcome, merged: bool) -> Option<SaveOutcome> {
    match outcome {
        SaveOutcome::Moved => None,
        SaveOutcome::Saved { number, .. } => Some(SaveOutcome::Saved { number, merged }),
        other => Some(other),
    }
}

/// The page kept moving under every merge: the edit is a conflict against
/// what it holds now.
async fn still_moving(pool: &Db, page_id: i64) -> sqlx::Result<SaveOutcome> {
    let (current_revision, current_body, current_tags) = current_text(pool, page_id).await?;
    Ok(SaveOutcome::Conflict {
        current_revision,
        current_body,
        current_tags,
    })
}

/// Writes `text` as the page's next revision inside a caller's transaction,
/// if the page is still at revision `expected` ([`SaveOutcome::Moved`]
/// otherwise: merging happens before, never under the write lock).
pub async fn save_in(
    conn: &mut Tx,
    page_id: i64,
    expected: i64,
    text: &PageText,
    author: Option<i64>,
    ahead: Option<&Prerendered>,
) -> sqlx::Result<SaveOutcome> {
    // On PostgreSQL saves go on side by side (`db::begin_save`): the page's
    // row is locked before its revision is read, so the revision read stays
    // the page's until this commits, whichever instance saves beside it. A
    // save waiting here reads the revision the other one committed.
    let (current, checked) = match conn {
        Tx::Postgres(pg) => {
            let targets = markdown::link_targets(&text.body);
            let (slug, title, revision, body, tags, existing) = sqlx::query_as::<
                _,
                (String, String, i64, String, String, Vec<String>),
            >(CURRENT_ON_POSTGRES)
            .bind(page_id)
            .bind(crate::db::json_list(targets.iter().map(Slug::as_str)))
            .fetch_one(&mut **pg)
            .await?;
            let current = Current {
                slug,
                title,
                revision,
                body,
                tags,
            };
            let existing: HashSet<String> = existing.into_iter().collect();
            (current, Some((targets, existing)))
        }
        Tx::Sqlite(lite) => {
            let current = sqlx::query_as::<_, Current>(CURRENT)
                .bind(page_id)
                .fetch_one(&mut **lite)
                .await?;
            (current, None)
        }
    };
    if expected != current.revision {
        return Ok(SaveOutcome::Moved);
    }
    let current_tags = TagList::from_stored(&current.tags);
    if text.body == current.body && text.tags == current_tags {
        return Ok(SaveOutcome::Unchanged);
    }
    let number = current.revision + 1;
    let now = crate::clock::now();
    let before = Before {
        body: &current.body,
        tags: &current_tags,
    };
    if let Some((targets, existing)) = checked {
        let html = render_with(conn, &text.body, &current.slug, None, &|target| {
            target.as_str() == current.slug || existing.contains(target.as_str())
        })
        .await?;
        let rendered = Prerendered {
            slug: current.slug.clone(),
            body: text.body.clone(),
            targets,
            existing,
            html,
            checked: true,
        };
        let html = write_current(
            conn,
            page_id,
            &current.slug,
            &text.body,
            &text.tags,
            Some(before),
            Some(&rendered),
        )
        .await?;
        crate::on_tx!(&mut *conn, |conn| sqlx::query(SAVE_ON_POSTGRES)
            .bind(number)
            .bind(&text.body)
            .bind(html)
            .bind(text.tags.to_stored())
            .bind(&now)
            .bind(author)
            .bind(page_id)
            .bind(&current.title)
            .bind(&text.summary)
            .bind(Kind::Edit.as_str())
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected()))?;
        return Ok(SaveOutcome::Saved {
            number,
            merged: false,
        });
    }
    insert_revision(conn, page_id, number, &current.title, text, author, &now).await?;
    let html = write_current(
        conn,
        page_id,
        &current.slug,
        &text.body,
        &text.tags,
        Some(before),
        ahead,
    )
    .await?;
    crate::on_tx!(&mut *conn, |conn| {
        sqlx::query("UPDATE pages SET revision = $1, body = $2, html = $3, tags = $4, updated_at = $5, updated_by = $6 WHERE id = $7")
        .bind(number)
        .bind(&text.body)
        .bind(html)
        .bind(text.tags.to_stored())
        .bind(&now)
        .bind(author)
        .bind(page_id)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected())
    })?;
    record(
        conn,
        NewEvent::new(Kind::Edit, author, &text.summary)
            .on_page(page_id)
            .at_revision(number),
    )
    .await?;
    Ok(SaveOutcome::Saved {
        number,
        merged: false,
    })
}

/// Only admins may edit a protected page.
pub async fn set_protected(
    pool: &Db,
    page_id: i64,
    protected: bool,
    admin_id: i64,
) -> sqlx::Result<()> {
    let mut tx = begin_write(pool).await?;
    crate::on_tx!(&mut tx, |tx| sqlx::query(
        "UPDATE pages SET protected = $1 WHERE id = $2"
    )
    .bind(protected)
    .bind(page_id)
    .execute(&mut *tx)
    .await
    .map(|done| done.rows_affected()))?;
    let summary = if protected {
        "Protected the page"
    } else {
        "Unprotected the page"
    };
    record(
        &mut tx,
        NewEvent::new(Kind::Admin, Some(admin_id), summary).on_page(page_id),
    )
    .await?;
    tx.commit().await
}
