//! First-start content: a handful of method pages written for Cafe and a
//! small *sample* CCASS indicator table, which an organisation replaces.

use crate::db::Db;

use crate::pages::{PageText, normalise_body};
use crate::tags::TagList;

/// The sample indicator table (marked as a sample in the UI and README).
pub const SAMPLE_INDICATORS: &str = include_str!("seed/indicators.csv");

const PAGES: [&str; 6] = [
    include_str!("seed/communities-of-practice.md"),
    include_str!("seed/learning-communities.md"),
    include_str!("seed/after-action-review.md"),
    include_str!("seed/most-significant-change.md"),
    include_str!("seed/reflective-practice.md"),
    include_str!("seed/peer-assist.md"),
];

/// Opens the database, migrates it and seeds it on first start.
pub async fn open_and_seed(db: &str) -> anyhow::Result<Db> {
    let pool = crate::db::connect(db).await?;
    seed_if_empty(&pool).await?;
    Ok(pool)
}

/// Seeds an empty database (no pages, no indicators) in one transaction.
pub async fn seed_if_empty(pool: &Db) -> anyhow::Result<()> {
    let pages = crate::pages::db::count(pool).await?;
    let indicators = crate::tags::db::indicators(pool).await?.len();
    if pages > 0 || indicators > 0 {
        return Ok(());
    }
    let rows = crate::tags::indicators::parse_csv(SAMPLE_INDICATORS).map_err(|errors| {
        anyhow::anyhow!(
            "the sample indicator table is invalid: {}",
            errors.join("; ")
        )
    })?;
    let mut tx = crate::db::begin_write(pool).await?;
    // Instances started together on one empty PostgreSQL database all found
    // it empty above: one seeds, the others wait for its commit (the whole
    // content turn, taken by `begin_write`) and find it seeded here.
    let seeded = crate::on_tx!(&mut tx, |tx| sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pages) OR EXISTS (SELECT 1 FROM indicators)"
    )
    .fetch_one(&mut *tx)
    .await)?;
    if seeded {
        tx.rollback().await?;
        return Ok(());
    }
    for row in &rows {
        crate::tags::db::upsert_indicator(&mut tx, row).await?;
    }
    for file in PAGES {
        let doc =
            crate::transfer::parse(file).map_err(|e| anyhow::anyhow!("bad seed page: {e}"))?;
        let text = PageText {
            body: normalise_body(&doc.body),
            tags: TagList::parse(&doc.tags.join(",")).map_err(|e| anyhow::anyhow!(e))?,
            summary: "Seeded on first start".to_owned(),
        };
        crate::pages::db::create_in(&mut tx, &doc.title, &text, None).await?;
    }
    tx.commit().await?;
    tracing::info!(
        pages = PAGES.len(),
        indicators = rows.len(),
        "seeded a new database"
    );
    Ok(())
}

/// A migrated and seeded database in a temporary directory, for unit tests
/// (the directory goes when the returned guard is dropped).
#[cfg(test)]
pub async fn seeded_for_test() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cafe.db");
    let pool = open_and_seed(path.to_str().expect("utf-8 path"))
        .await
        .expect("seeded database");
    (dir, pool)
}
