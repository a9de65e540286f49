//! All SQL about method pages, their revisions, tags and links.
//!
//! A save writes, in one `BEGIN IMMEDIATE` transaction: the new revision
//! (append-only), the page's current row with its HTML rendered once here,
//! its tags, its outgoing wiki links, and the recent-changes event.

use sqlx::FromRow;

use crate::db::{Db, Tx};

use super::Slug;
use crate::tags::TagList;

mod history;
mod housekeeping;
mod list;
mod view;
mod writes;

pub use history::*;
pub use housekeeping::*;
pub use list::*;
pub use view::*;
pub use writes::*;

/// A page as shown and edited.
#[derive(Debug, FromRow)]
pub struct Page {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub revision: i64,
    pub body: String,
    pub html: String,
    pub tags: String,
    pub protected: bool,
    pub created_at: String,
    pub updated_at: String,
    pub editor_username: Option<String>,
    pub editor_name: Option<String>,
    /// When an admin deleted the page (`None`: it is live).
    pub deleted_at: Option<String>,
    pub deleted_by_name: Option<String>,
}

/// The columns of [`Page`] after the editor's, for every query reading one.
pub const DELETED_COLUMNS: &str = "p.deleted_at, \
     (SELECT d.display_name FROM users d WHERE d.id = p.deleted_by) AS deleted_by_name";

impl Page {
    pub fn tag_list(&self) -> TagList {
        TagList::from_stored(&self.tags)
    }
}

pub async fn find(pool: &Db, slug: &Slug) -> sqlx::Result<Option<Page>> {
    let sql = format!(
        "SELECT p.id, p.slug, p.title, p.revision, p.body, p.html, p.tags, p.protected,
                p.created_at, p.updated_at, u.username AS editor_username, u.display_name AS editor_name,
                {DELETED_COLUMNS}
         FROM pages p LEFT JOIN users u ON u.id = p.updated_by
         WHERE p.slug = $1"
    );
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, Page>(&sql)
            .bind(slug.as_str())
            .fetch_optional(pool)
            .await
    })
}

/// How many pages exist.
pub async fn count(pool: &Db) -> sqlx::Result<i64> {
    crate::on_db!(pool, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM pages WHERE deleted_at IS NULL"
    )
    .fetch_one(pool)
    .await)
}

/// A page as exported: current text and who last changed it.
#[derive(Debug, FromRow)]
pub struct ExportPage {
    pub slug: String,
    pub title: String,
    pub body: String,
    pub tags: String,
    pub revision: i64,
    pub updated_at: String,
    pub editor_username: Option<String>,
}

pub async fn all_for_export(pool: &Db) -> sqlx::Result<Vec<ExportPage>> {
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, ExportPage>(
        "SELECT p.slug, p.title, p.body, p.tags, p.revision, p.updated_at, u.username AS editor_username
         FROM pages p LEFT JOIN users u ON u.id = p.updated_by
         WHERE p.deleted_at IS NULL ORDER BY p.slug",
    )
    .fetch_all(pool)
    .await
    })
}

/// The id and current revision of the page with this slug, inside a transaction.
pub async fn current_revision_in(conn: &mut Tx, slug: &Slug) -> sqlx::Result<Option<(i64, i64)>> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, revision FROM pages WHERE slug = $1"
    )
    .bind(slug.as_str())
    .fetch_optional(&mut *conn)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::begin_write;
    use crate::group_commit::GroupCommit;
    use crate::pages::PageText;

    /// A save rendered ahead uses that rendering only while the link
    /// targets it saw still exist as they did: a page created in between
    /// turns the missing link into a real one.
    #[tokio::test]
    async fn a_rendering_made_ahead_is_not_used_once_a_link_target_appears() {
        let (_dir, pool) = crate::seed::seeded_for_test().await;
        let saves = GroupCommit::start(pool.clone());
        let text = PageText::parse("First.\n", "", "").expect("text");
        let slug = create(&pool, "Linker", &text, None).await.expect("create");
        let page = find(&pool, &slug).await.expect("find").expect("page");
        let body = "See [[Brand New Method]].\n";

        let ahead = prerender(&pool, slug.as_str(), body)
            .await
            .expect("prerender");
        assert!(ahead.html.contains("missing"), "{}", ahead.html);
        create(&pool, "Brand New Method", &text, None)
            .await
            .expect("create target");
        let edit = PageText::parse(body, "", "").expect("text");
        let mut tx = begin_write(&pool).await.expect("begin");
        save_in(&mut tx, page.id, 1, &edit, None, Some(&ahead))
            .await
            .expect("save");
        tx.commit().await.expect("commit");
        let html = find(&pool, &slug).await.expect("find").expect("page").html;
        assert!(!html.contains("missing"), "{html}");
        assert!(
            html.contains(r#"href="/methods/brand-new-method""#),
            "{html}"
        );

        // Unchanged targets: the grouped save stores the HTML made ahead.
        let edit = PageText::parse("See [[Brand New Method]] again.\n", "", "").expect("text");
        let outcome = save_grouped(&pool, &saves, slug.as_str(), page.id, 2, edit, None)
            .await
            .expect("grouped save");
        assert!(
            matches!(outcome, SaveOutcome::Saved { number: 3, .. }),
            "{outcome:?}"
        );
        let html = find(&pool, &slug).await.expect("find").expect("page").html;
        assert!(
            html.contains("again") && !html.contains("missing"),
            "{html}"
        );
    }
}
