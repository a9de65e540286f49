//! Page housekeeping: the duplicate-title check, renaming (with the old
//! slugs kept as redirects), deleting and undeleting, and merging a
//! duplicate into another page. See `migrations/sqlite/0012_housekeeping.sql`
//! for what the flag and the redirects move in the derived tables.

use sqlx::FromRow;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::db::{Db, Tx, begin_write};
use crate::pages::{PageText, Slug};
use crate::recent::Kind;
use crate::recent::db::{NewEvent, record};
use crate::tags::{Tag, TagList};

use super::writes::{insert_revision, relink};

/// What two titles must share to be the same page's: the slug of the
/// title with its accents off, so `Peer Assist`, `peer-assist!` and
/// `Peér Assist` are one.
pub fn title_key(title: &str) -> String {
    let plain: String = title.nfd().filter(|&c| !is_combining_mark(c)).collect();
    crate::markup::text::slugify(&plain, usize::MAX)
}

/// A live page whose title is the same as another's (see [`title_key`]).
#[derive(Debug, Clone, FromRow)]
pub struct Duplicate {
    pub slug: String,
    pub title: String,
}

/// The live pages a new page called `title` would duplicate: those whose
/// title has the same [`title_key`], and the page a renamed one's old slug
/// leads to. Reads the titles of every live page (two short columns): a
/// page is created rarely, and no index folds accents on both backends.
pub async fn duplicates(pool: &Db, title: &str) -> sqlx::Result<Vec<Duplicate>> {
    let key = title_key(title);
    let rows = crate::on_db!(pool, |pool| sqlx::query_as::<_, Duplicate>(
        "SELECT slug, title FROM pages WHERE deleted_at IS NULL ORDER BY id"
    )
    .fetch_all(pool)
    .await)?;
    let mut found: Vec<Duplicate> = rows
        .into_iter()
        .filter(|row| title_key(&row.title) == key)
        .collect();
    if let Some(slug) = Slug::from_title(title) {
        let moved = crate::on_db!(pool, |pool| sqlx::query_as::<_, Duplicate>(
            "SELECT p.slug, p.title FROM page_redirects r JOIN pages p ON p.id = r.page_id
             WHERE r.old_slug = $1 AND p.deleted_at IS NULL",
        )
        .bind(slug.as_str())
        .fetch_optional(pool)
        .await)?;
        if let Some(moved) = moved
            && !found.iter().any(|d| d.slug == moved.slug)
        {
            found.push(moved);
        }
    }
    Ok(found)
}

/// The current slug of the page that once had `old_slug` (renamed, or
/// merged into another).
pub async fn redirect_target(pool: &Db, old_slug: &str) -> sqlx::Result<Option<String>> {
    crate::on_db!(pool, |pool| sqlx::query_scalar::<_, String>(
        "SELECT p.slug FROM page_redirects r JOIN pages p ON p.id = r.page_id
         WHERE r.old_slug = $1",
    )
    .bind(old_slug)
    .fetch_optional(pool)
    .await)
}

/// The page a rename or merge works on, as its transaction reads it.
#[derive(FromRow)]
struct Current {
    slug: String,
    title: String,
    revision: i64,
    body: String,
    tags: String,
}

async fn current_in(conn: &mut Tx, page_id: i64) -> sqlx::Result<Current> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query_as::<_, Current>(
        "SELECT slug, title, revision, body, tags FROM pages WHERE id = $1"
    )
    .bind(page_id)
    .fetch_one(&mut *conn)
    .await)
}

/// Who holds `slug`: a page (its id) or a redirect (the page it leads to).
async fn holder_in(conn: &mut Tx, slug: &str) -> sqlx::Result<(Option<i64>, Option<i64>)> {
    let page = crate::on_tx!(&mut *conn, |conn| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM pages WHERE slug = $1"
    )
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await)?;
    let redirect = crate::on_tx!(&mut *conn, |conn| sqlx::query_scalar::<_, i64>(
        "SELECT page_id FROM page_redirects WHERE old_slug = $1"
    )
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await)?;
    Ok((page, redirect))
}

async fn execute(conn: &mut Tx, sql: &'static str, a: &str, b: i64) -> sqlx::Result<u64> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query(sql)
        .bind(a)
        .bind(b)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))
}

/// Gives the page `page_id` the title `title` (and the slug it makes, with
/// `-2`, `-3`… when another page or another page's old slug holds it) as
/// a new revision with `summary`. The old slug is kept as a redirect, and
/// an old slug of this same page is taken back. Returns the new slug.
pub async fn rename(
    pool: &Db,
    page_id: i64,
    title: &str,
    summary: &str,
    author: i64,
) -> sqlx::Result<Slug> {
    let base = Slug::from_title(title)
        .ok_or_else(|| sqlx::Error::Protocol("title without a slug".into()))?;
    let mut tx = begin_write(pool).await?;
    let current = current_in(&mut tx, page_id).await?;
    let mut slug = base.clone();
    let mut n = 1;
    loop {
        if slug.as_str() == current.slug {
            break;
        }
        match holder_in(&mut tx, slug.as_str()).await? {
            (None, None) => break,
            (None, Some(owner)) if owner == page_id => {
                execute(
                    &mut tx,
                    "DELETE FROM page_redirects WHERE old_slug = $1 AND page_id = $2",
                    slug.as_str(),
                    page_id,
                )
                .await?;
                break;
            }
            _ => {
                n += 1;
                slug = base.with_suffix(n);
            }
        }
    }
    let now = crate::clock::now();
    let number = current.revision + 1;
    crate::on_tx!(&mut tx, |conn| sqlx::query(
        "UPDATE pages SET slug = $1, title = $2, revision = $3, updated_at = $4, updated_by = $5
         WHERE id = $6",
    )
    .bind(slug.as_str())
    .bind(title)
    .bind(number)
    .bind(&now)
    .bind(author)
    .bind(page_id)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    let said = if summary.is_empty() {
        format!("Renamed “{}” to “{title}”", current.title)
    } else {
        format!("Renamed “{}” to “{title}”: {summary}", current.title)
    };
    let text = PageText {
        body: current.body,
        tags: TagList::from_stored(&current.tags),
        summary: said.clone(),
    };
    insert_revision(&mut tx, page_id, number, title, &text, Some(author), &now).await?;
    if slug.as_str() != current.slug {
        add_redirect(&mut tx, &current.slug, page_id, &now).await?;
        relink(&mut tx, slug.as_str(), page_id).await?;
    }
    record(
        &mut tx,
        NewEvent::new(Kind::Edit, Some(author), &said)
            .on_page(page_id)
            .at_revision(number),
    )
    .await?;
    tx.commit().await?;
    Ok(slug)
}

async fn add_redirect(conn: &mut Tx, old_slug: &str, page_id: i64, now: &str) -> sqlx::Result<()> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "INSERT INTO page_redirects (old_slug, page_id, created_at) VALUES ($1, $2, $3)"
    )
    .bind(old_slug)
    .bind(page_id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

/// Marks the page deleted by `admin` and takes its tags away (they stay in
/// `pages.tags` and its revisions). Nothing else is touched.
pub async fn delete(pool: &Db, page_id: i64, admin: i64) -> sqlx::Result<()> {
    let mut tx = begin_write(pool).await?;
    mark_deleted(&mut tx, page_id, None, admin).await?;
    record(
        &mut tx,
        NewEvent::new(Kind::Admin, Some(admin), "Deleted the page").on_page(page_id),
    )
    .await?;
    tx.commit().await
}

/// Sets the deleted flag (and, for a merged page, its new slug) and takes
/// the page's tags out of `page_tags`.
async fn mark_deleted(
    conn: &mut Tx,
    page_id: i64,
    new_slug: Option<&str>,
    admin: i64,
) -> sqlx::Result<()> {
    let now = crate::clock::now();
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "UPDATE pages SET deleted_at = $1, deleted_by = $2, slug = coalesce($3, slug)
         WHERE id = $4 AND deleted_at IS NULL",
    )
    .bind(&now)
    .bind(admin)
    .bind(new_slug)
    .bind(page_id)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    super::writes::clear_tags(conn, page_id).await?;
    Ok(())
}

/// Brings a deleted page back as it was: the flag off, its tags again.
pub async fn undelete(pool: &Db, page_id: i64, admin: i64) -> sqlx::Result<()> {
    let mut tx = begin_write(pool).await?;
    let current = current_in(&mut tx, page_id).await?;
    let restored = crate::on_tx!(&mut tx, |conn| sqlx::query(
        "UPDATE pages SET deleted_at = NULL, deleted_by = NULL
         WHERE id = $1 AND deleted_at IS NOT NULL",
    )
    .bind(page_id)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    if restored > 0 {
        let tags = TagList::from_stored(&current.tags);
        crate::on_tx!(&mut tx, |conn| sqlx::query(
            "INSERT INTO page_tags (page_id, tag) SELECT $1, value FROM json_each($2)"
        )
        .bind(page_id)
        .bind(crate::db::json_list(tags.iter().map(Tag::as_str)))
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))?;
        record(
            &mut tx,
            NewEvent::new(Kind::Admin, Some(admin), "Restored the deleted page").on_page(page_id),
        )
        .await?;
    }
    tx.commit().await
}

/// The slug a page merged into another is moved to, out of every URL's
/// way (`~` is never in a slug), so its old slug can redirect.
fn merged_slug(slug: &str, page_id: i64) -> String {
    format!("{slug}~merged-{page_id}")
}

/// Merges the page `page_id` into `target_id`: its stories and roster
/// entries move to the target (a person on both rosters keeps the
/// target's entry), its slugs (current and old) redirect to the target, and
/// it leaves the lists as a deleted page would, its revisions kept.
pub async fn merge_into(pool: &Db, page_id: i64, target_id: i64, admin: i64) -> sqlx::Result<()> {
    let mut tx = begin_write(pool).await?;
    let current = current_in(&mut tx, page_id).await?;
    let target = current_in(&mut tx, target_id).await?;
    for sql in [
        "DELETE FROM roster WHERE page_id = $1
         AND user_id IN (SELECT user_id FROM roster WHERE page_id = $2)",
        "UPDATE roster SET page_id = $2 WHERE page_id = $1",
        "UPDATE stories SET page_id = $2 WHERE page_id = $1",
        "UPDATE page_redirects SET page_id = $2 WHERE page_id = $1",
    ] {
        crate::on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(page_id)
            .bind(target_id)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected()))?;
    }
    let hidden = merged_slug(&current.slug, page_id);
    mark_deleted(&mut tx, page_id, Some(&hidden), admin).await?;
    let now = crate::clock::now();
    add_redirect(&mut tx, &current.slug, target_id, &now).await?;
    let said = format!("Merged “{}” into “{}”", current.title, target.title);
    record(
        &mut tx,
        NewEvent::new(Kind::Admin, Some(admin), &said).on_page(target_id),
    )
    .await?;
    tx.commit().await
}

/// The live page an admin names as a merge target: by slug, else by
/// title (see [`title_key`]).
pub async fn find_target(pool: &Db, raw: &str) -> sqlx::Result<Option<(i64, String)>> {
    let raw = raw.trim();
    if let Some(slug) = Slug::parse(raw) {
        let found = crate::on_db!(pool, |pool| sqlx::query_as::<_, (i64, String)>(
            "SELECT id, slug FROM pages WHERE slug = $1 AND deleted_at IS NULL"
        )
        .bind(slug.as_str())
        .fetch_optional(pool)
        .await)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let Some(first) = duplicates(pool, raw).await?.into_iter().next() else {
        return Ok(None);
    };
    crate::on_db!(pool, |pool| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, slug FROM pages WHERE slug = $1"
    )
    .bind(&first.slug)
    .fetch_optional(pool)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_keys_ignore_case_accents_and_punctuation() {
        assert_eq!(title_key("Peer Assist"), title_key("peer-assist!"));
        assert_eq!(title_key("Peer Assist"), title_key("Peér  ASSIST"));
        assert_ne!(title_key("Peer Assist"), title_key("Peer Assists"));
    }
}
