//! All SQL about tags and the CCASS indicator table.

use serde::Deserialize;
use sqlx::FromRow;

use crate::db::{Db, Tx};

use super::indicators::IndicatorRow;

/// An indicator as listed and edited.
#[derive(Debug, Clone, FromRow, Deserialize)]
pub struct Indicator {
    pub code: String,
    pub tag: String,
    pub name: String,
    pub description: String,
    pub grp: String,
    pub sort: i64,
    pub retired: bool,
}

/// Every indicator, by group then sort order.
pub async fn indicators(pool: &Db) -> sqlx::Result<Vec<Indicator>> {
    let sql = pool.text(
        "SELECT code, tag, name, description, grp, sort, retired FROM indicators
         ORDER BY grp COLLATE NOCASE, sort, code",
    );
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Indicator>(&sql)
        .fetch_all(pool)
        .await)
}

pub async fn indicator(pool: &Db, code: &str) -> sqlx::Result<Option<Indicator>> {
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, Indicator>(
        "SELECT code, tag, name, description, grp, sort, retired FROM indicators WHERE lower(code) = lower($1)",
    )
    .bind(code)
    .fetch_optional(pool)
    .await
    })
}

/// Inserts an indicator or updates the one with the same code, whatever its
/// case (`lkm-1` updates `LKM-1`, which keeps its spelling). The tag is the
/// lower-cased code, so pages tagged with it keep pointing at it whatever
/// the name becomes.
pub async fn upsert_indicator(conn: &mut Tx, row: &IndicatorRow) -> sqlx::Result<()> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "INSERT INTO indicators (code, tag, name, description, grp, sort, retired)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tag) DO UPDATE SET name = excluded.name, description = excluded.description,
             grp = excluded.grp, sort = excluded.sort, retired = excluded.retired",
    )
    .bind(&row.code)
    .bind(row.code.to_lowercase())
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.group)
    .bind(row.sort)
    .bind(row.retired)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

/// Pages per tag, over the current revisions.
pub async fn tag_counts(pool: &Db) -> sqlx::Result<Vec<(String, i64)>> {
    // Kept by triggers on page_tags (migrations/sqlite/0003_tag_counts.sql).
    crate::on_db!(pool, |pool| sqlx::query_as::<_, (String, i64)>(
        "SELECT tag, pages FROM tag_counts WHERE pages > 0 ORDER BY tag",
    )
    .fetch_all(pool)
    .await)
}

/// An indicator with how many methods carry it and how many visible
/// stories are told on those methods.
#[derive(Debug, Deserialize)]
pub struct Covered {
    #[serde(flatten)]
    pub indicator: Indicator,
    pub pages: i64,
    pub stories: i64,
    /// Members on the roster of a method carrying it (issue 18: only those
    /// confirmed since the cutoff [`coverage`] was given).
    #[serde(default)]
    pub people: i64,
}

/// What Cafe Tags and the indicator table show, read by [`coverage`].
#[derive(Debug, FromRow)]
pub struct Coverage {
    /// Every indicator, by group then sort order.
    #[sqlx(json)]
    pub indicators: Vec<Covered>,
    /// Tags in use that are not indicators, with their pages, by tag.
    #[sqlx(json)]
    pub free: Vec<(String, i64)>,
}

/// Indicator coverage and the free tags, in one statement over the counts
/// kept by triggers (tag_counts in migrations/sqlite/0003_tag_counts.sql,
/// tag_story_counts in migrations/sqlite/0004_tag_story_counts.sql).
///
/// `since`: count only roster entries confirmed at or after it ("" counts
/// them all).
pub async fn coverage(pool: &Db, since: &str) -> sqlx::Result<Coverage> {
    let sql = pool.text(
        "SELECT
           (SELECT json_group_array(json_object(
                'code', i.code, 'tag', i.tag, 'name', i.name, 'description', i.description,
                'grp', i.grp, 'sort', i.sort,
                'retired', json(CASE WHEN i.retired THEN 'true' ELSE 'false' END),
                'pages', coalesce(c.pages, 0), 'stories', coalesce(s.stories, 0),
                'people', (SELECT count(DISTINCT r.user_id) FROM roster r
                           JOIN page_tags pt ON pt.page_id = r.page_id
                           JOIN pages rp ON rp.id = r.page_id
                           WHERE pt.tag = i.tag AND rp.deleted_at IS NULL
                             AND r.confirmed_at >= $1))
              ORDER BY i.grp COLLATE NOCASE, i.sort, i.code)
            FROM indicators i LEFT JOIN tag_counts c ON c.tag = i.tag AND c.pages > 0
                 LEFT JOIN tag_story_counts s ON s.tag = i.tag AND s.stories > 0) AS indicators,
           (SELECT json_group_array(json_array(t.tag, t.pages) ORDER BY t.tag)
            FROM tag_counts t
            WHERE t.pages > 0 AND t.tag NOT IN (SELECT tag FROM indicators)) AS free",
    );
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Coverage>(&sql)
        .bind(since)
        .fetch_one(pool)
        .await)
}

/// The tag box's suggestions: every current indicator (tag, "CODE — name",
/// group), then every free tag in use (tag, "", "").
pub async fn vocabulary(pool: &Db) -> sqlx::Result<Vec<(String, String, String)>> {
    crate::on_db!(pool, |pool| {
        sqlx::query_as::<_, (String, String, String)>(
        "SELECT tag, code || ' — ' || name, grp FROM indicators WHERE retired = FALSE
         UNION ALL
         SELECT tag, '', '' FROM tag_counts WHERE pages > 0 AND tag NOT IN (SELECT tag FROM indicators)
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    })
}

/// Saves an indicator edited by an admin, recorded in recent changes.
pub async fn save_indicator(
    pool: &Db,
    row: &IndicatorRow,
    admin_id: i64,
    summary: &str,
) -> sqlx::Result<()> {
    let mut tx = crate::db::begin_write(pool).await?;
    upsert_indicator(&mut tx, row).await?;
    crate::recent::db::record(
        &mut tx,
        crate::recent::db::NewEvent::new(crate::recent::Kind::Admin, Some(admin_id), summary),
    )
    .await?;
    tx.commit().await
}

/// Every indicator's tag and name, to show indicator tags with their names.
pub async fn labels(pool: &Db) -> sqlx::Result<std::collections::HashMap<String, String>> {
    Ok(
        crate::on_db!(pool, |pool| sqlx::query_as::<_, (String, String)>(
            "SELECT tag, name FROM indicators"
        )
        .fetch_all(pool)
        .await)?
        .into_iter()
        .collect(),
    )
}

#[cfg(test)]
mod tests {
    /// The counts kept by triggers equal a fresh count after creates and edits.
    #[tokio::test]
    async fn tag_counts_follow_page_saves() {
        let (_dir, pool) = crate::seed::seeded_for_test().await;
        let text = crate::pages::PageText::parse("Body\n", "alpha, beta", "").expect("text");
        crate::pages::db::create(&pool, "Counted", &text, None)
            .await
            .expect("create");
        let edit = crate::pages::PageText::parse("Body\n", "beta, gamma", "").expect("text");
        let id: i64 = crate::on_db!(&pool, |pool| sqlx::query_scalar(
            "SELECT id FROM pages WHERE slug = 'counted'"
        )
        .fetch_one(pool)
        .await)
        .expect("id");
        crate::pages::db::save(&pool, id, 1, &edit, None)
            .await
            .expect("save");
        let kept = super::tag_counts(&pool).await.expect("kept");
        let fresh: Vec<(String, i64)> = crate::on_db!(&pool, |pool| sqlx::query_as(
            "SELECT tag, count(*) FROM page_tags GROUP BY tag ORDER BY tag"
        )
        .fetch_all(pool)
        .await)
        .expect("fresh");
        assert_eq!(kept, fresh);
        assert!(!kept.iter().any(|(tag, _)| tag == "alpha"), "{kept:?}");
    }

    /// The story counts kept by triggers equal a fresh count of visible
    /// stories per page tag after stories are told, hidden and shown again,
    /// and their pages' tags change.
    #[tokio::test]
    async fn tag_story_counts_follow_stories_and_page_tags() {
        use crate::pages::{PageText, db as pages};
        use crate::stories::{StoryText, db as stories};
        let (_dir, pool) = crate::seed::seeded_for_test().await;
        let user = crate::on_db!(&pool, |pool| sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, skeleton, display_name, password_hash, created_at)
             VALUES ('teller', 'teller', 'Teller', 'x', '2026-01-01T00:00:00Z') RETURNING id",
        )
        .fetch_one(pool)
        .await)
        .expect("user");
        let page = |tags: &str| PageText::parse("Body\n", tags, "").expect("text");
        let mut ids = Vec::new();
        for (title, tags) in [
            ("One", "alpha, beta"),
            ("Two", "beta, lkm-1"),
            ("Three", ""),
        ] {
            let slug = pages::create(&pool, title, &page(tags), None)
                .await
                .expect("create");
            let id: i64 = crate::on_db!(&pool, |pool| sqlx::query_scalar(
                "SELECT id FROM pages WHERE slug = $1"
            )
            .bind(slug.as_str())
            .fetch_one(pool)
            .await)
            .expect("id");
            ids.push(id);
        }
        let story = StoryText::parse("Told", "It went well.", "success", "").expect("story");
        let mut told = Vec::new();
        for &page_id in [ids[0], ids[0], ids[1], ids[2], ids[1]].iter() {
            let id = stories::create(&pool, page_id, user, &story)
                .await
                .expect("story");
            told.push((page_id, id));
        }
        let fresh = || async {
            let mut counts = crate::stories::db::count_by_page_tag(&pool)
                .await
                .expect("fresh");
            counts.sort();
            counts
        };
        let kept = || async {
            crate::on_db!(&pool, |pool| sqlx::query_as::<_, (String, i64)>(
                "SELECT tag, stories FROM tag_story_counts WHERE stories > 0 ORDER BY tag",
            )
            .fetch_all(pool)
            .await)
            .expect("kept")
        };
        assert_eq!(kept().await, fresh().await);
        assert_eq!(
            kept().await,
            [
                ("alpha".to_owned(), 2),
                ("beta".to_owned(), 4),
                ("lkm-1".to_owned(), 2)
            ]
        );

        let hide = |(page_id, id): (i64, i64), hidden: bool| {
            let pool = pool.clone();
            async move {
                let found = stories::find(&pool, page_id, id)
                    .await
                    .expect("find")
                    .expect("story");
                stories::set_story_hidden(&pool, &found, hidden, user)
                    .await
                    .expect("hide");
            }
        };
        hide(told[0], true).await;
        hide(told[0], true).await;
        hide(told[2], true).await;
        assert_eq!(kept().await, fresh().await);
        pages::save(&pool, ids[0], 1, &page("beta, gamma, lkm-1"), None)
            .await
            .expect("save");
        pages::save(&pool, ids[2], 1, &page("alpha"), None)
            .await
            .expect("save");
        assert_eq!(kept().await, fresh().await);
        hide(told[0], false).await;
        hide(told[2], false).await;
        hide(told[4], true).await;
        pages::save(&pool, ids[1], 1, &page(""), None)
            .await
            .expect("save");
        assert_eq!(kept().await, fresh().await);
        assert_eq!(
            kept().await,
            [
                ("alpha".to_owned(), 1),
                ("beta".to_owned(), 2),
                ("gamma".to_owned(), 2),
                ("lkm-1".to_owned(), 2)
            ]
        );
        let leftovers: i64 = crate::on_db!(&pool, |pool| sqlx::query_scalar(
            "SELECT count(*) FROM tag_story_counts WHERE stories <= 0"
        )
        .fetch_one(pool)
        .await)
        .expect("leftovers");
        assert_eq!(leftovers, 0, "tags without stories leave no row");
    }
}
