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
