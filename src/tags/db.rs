//! All SQL about tags and the CCASS indicator table.

use sqlx::{FromRow, SqliteConnection, SqlitePool};

use super::indicators::IndicatorRow;

/// An indicator as listed and edited.
#[derive(Debug, Clone, FromRow)]
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
pub async fn indicators(pool: &SqlitePool) -> sqlx::Result<Vec<Indicator>> {
    sqlx::query_as::<_, Indicator>(
        "SELECT code, tag, name, description, grp, sort, retired FROM indicators
         ORDER BY grp COLLATE NOCASE, sort, code",
    )
    .fetch_all(pool)
    .await
}

pub async fn indicator(pool: &SqlitePool, code: &str) -> sqlx::Result<Option<Indicator>> {
    sqlx::query_as::<_, Indicator>(
        "SELECT code, tag, name, description, grp, sort, retired FROM indicators WHERE code = ? COLLATE NOCASE",
    )
    .bind(code)
    .fetch_optional(pool)
    .await
}

/// Inserts an indicator or updates the one with the same code, whatever its
/// case (`lkm-1` updates `LKM-1`, which keeps its spelling). The tag is the
/// lower-cased code, so pages tagged with it keep pointing at it whatever
/// the name becomes.
pub async fn upsert_indicator(conn: &mut SqliteConnection, row: &IndicatorRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO indicators (code, tag, name, description, grp, sort, retired)
         VALUES (?, ?, ?, ?, ?, ?, ?)
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
    .execute(conn)
    .await?;
    Ok(())
}

/// Pages per tag, over the current revisions.
pub async fn tag_counts(pool: &SqlitePool) -> sqlx::Result<Vec<(String, i64)>> {
    // Kept by triggers on page_tags (migrations/0003_tag_counts.sql).
    sqlx::query_as::<_, (String, i64)>(
        "SELECT tag, pages FROM tag_counts WHERE pages > 0 ORDER BY tag",
    )
    .fetch_all(pool)
    .await
}

/// The tag box's suggestions: every current indicator (tag, "CODE — name"),
/// then every free tag in use.
pub async fn vocabulary(pool: &SqlitePool) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT tag, code || ' — ' || name FROM indicators WHERE retired = 0
         UNION ALL
         SELECT tag, '' FROM tag_counts WHERE pages > 0 AND tag NOT IN (SELECT tag FROM indicators)
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// Saves an indicator edited by an admin, recorded in recent changes.
pub async fn save_indicator(
    pool: &SqlitePool,
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
pub async fn labels(pool: &SqlitePool) -> sqlx::Result<std::collections::HashMap<String, String>> {
    Ok(
        sqlx::query_as::<_, (String, String)>("SELECT tag, name FROM indicators")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    /// The counts kept by triggers equal a fresh count after creates and edits.
    #[tokio::test]
    async fn tag_counts_follow_page_saves() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = crate::db::open_and_seed(dir.path().join("t.db").to_str().expect("utf-8"))
            .await
            .expect("db");
        let text = crate::pages::PageText::parse("Body\n", "alpha, beta", "").expect("text");
        crate::pages::db::create(&pool, "Counted", &text, None)
            .await
            .expect("create");
        let edit = crate::pages::PageText::parse("Body\n", "beta, gamma", "").expect("text");
        let id: i64 = sqlx::query_scalar("SELECT id FROM pages WHERE slug = 'counted'")
            .fetch_one(&pool)
            .await
            .expect("id");
        crate::pages::db::save(&pool, id, 1, &edit, None)
            .await
            .expect("save");
        let kept = super::tag_counts(&pool).await.expect("kept");
        let fresh: Vec<(String, i64)> =
            sqlx::query_as("SELECT tag, count(*) FROM page_tags GROUP BY tag ORDER BY tag")
                .fetch_all(&pool)
                .await
                .expect("fresh");
        assert_eq!(kept, fresh);
        assert!(!kept.iter().any(|(tag, _)| tag == "alpha"), "{kept:?}");
    }
}
