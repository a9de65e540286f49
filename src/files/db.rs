//! All SQL about attached files, for both backends (the tables are in
//! `migrations/sqlite/0014_files.sql`, which says why they are shaped so),
//! except the method page's list of its files, which the page view reads
//! in its one statement ([`crate::pages::db::view`]).

use std::collections::HashMap;

use blake2::Digest as _;
use sqlx::FromRow;

use crate::db::{Db, Sql, Tx, begin_write};
use crate::recent::Kind;
use crate::recent::db::{NewEvent, record};

use super::Owner;
use super::kind::Clean;

/// The most bytes one `file_chunks` row holds: what a download or a range
/// request holds in memory at a time.
pub const CHUNK: usize = 512 * 1024;

/// A file on a page or story, with its current version.
#[derive(Debug, Clone, FromRow)]
pub struct File {
    pub id: i64,
    pub name: String,
    pub version: i64,
    pub hidden: bool,
    pub size: i64,
    pub media_type: String,
    pub description: String,
    pub hash: String,
    pub thumb_hash: Option<String>,
    pub thumb_type: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub uploaded_at: String,
    pub uploader_username: Option<String>,
    pub uploader_name: Option<String>,
}

/// The columns of [`File`], from `files f` joined to its current version
/// `v` and the uploader `u`.
const FILE_COLUMNS: &str = "f.id, f.name, f.version, f.hidden, v.size, v.media_type, v.description,
       v.hash, v.thumb_hash, v.thumb_type, v.width, v.height, v.created_at AS uploaded_at,
       u.username AS uploader_username, u.display_name AS uploader_name
  FROM files f
  JOIN file_versions v ON v.file_id = f.id AND v.number = f.version
  LEFT JOIN users u ON u.id = v.uploaded_by";

/// One version of a file.
#[derive(Debug, Clone, FromRow)]
pub struct Version {
    pub number: i64,
    pub hash: String,
    pub size: i64,
    pub media_type: String,
    pub description: String,
    pub thumb_hash: Option<String>,
    pub thumb_type: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub created_at: String,
    pub uploader_username: Option<String>,
    pub uploader_name: Option<String>,
}

const VERSION_COLUMNS: &str = "v.number, v.hash, v.size, v.media_type, v.description, v.thumb_hash,
       v.thumb_type, v.width, v.height, v.created_at,
       u.username AS uploader_username, u.display_name AS uploader_name
  FROM file_versions v LEFT JOIN users u ON u.id = v.uploaded_by";

/// The files of `owner`, by name; hidden ones only when `with_hidden`.
pub async fn list(pool: &Db, owner: Owner, with_hidden: bool) -> sqlx::Result<Vec<File>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS}
         WHERE f.page_id = $1 AND coalesce(f.story_id, 0) = $2 AND (f.hidden = FALSE OR $3)
         ORDER BY f.name"
    );
    crate::on_db!(pool, |pool| sqlx::query_as::<_, File>(&sql)
        .bind(owner.page_id)
        .bind(owner.story_id.unwrap_or(0))
        .bind(with_hidden)
        .fetch_all(pool)
        .await)
}

/// The file `name` of `owner` (hidden or not: the caller decides).
pub async fn find(pool: &Db, owner: Owner, name: &str) -> sqlx::Result<Option<File>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS}
         WHERE f.page_id = $1 AND coalesce(f.story_id, 0) = $2 AND f.name = $3"
    );
    crate::on_db!(pool, |pool| sqlx::query_as::<_, File>(&sql)
        .bind(owner.page_id)
        .bind(owner.story_id.unwrap_or(0))
        .bind(name)
        .fetch_optional(pool)
        .await)
}

/// Every version of a file, newest first.
pub async fn versions(pool: &Db, file_id: i64) -> sqlx::Result<Vec<Version>> {
    let sql = format!("SELECT {VERSION_COLUMNS} WHERE v.file_id = $1 ORDER BY v.number DESC");
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Version>(&sql)
        .bind(file_id)
        .fetch_all(pool)
        .await)
}

/// Version `number` of a file.
pub async fn version(pool: &Db, file_id: i64, number: i64) -> sqlx::Result<Option<Version>> {
    let sql = format!("SELECT {VERSION_COLUMNS} WHERE v.file_id = $1 AND v.number = $2");
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Version>(&sql)
        .bind(file_id)
        .bind(number)
        .fetch_optional(pool)
        .await)
}

/// Chunk `n` of the bytes with this hash (empty past the end).
pub async fn chunk(pool: &Db, hash: &str, n: i64) -> sqlx::Result<Vec<u8>> {
    crate::on_db!(pool, |pool| sqlx::query_scalar::<_, Vec<u8>>(
        "SELECT bytes FROM file_chunks WHERE hash = $1 AND n = $2"
    )
    .bind(hash)
    .bind(n)
    .fetch_optional(pool)
    .await)
    .map(Option::unwrap_or_default)
}

/// The hex BLAKE2b-256 of `bytes`: a blob's address.
pub fn hash_of(bytes: &[u8]) -> String {
    let digest = blake2::Blake2b::<blake2::digest::consts::U32>::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores `bytes` once: nothing is written when the same bytes are stored
/// already. Returns their hash.
pub async fn store_blob(conn: &mut Tx, bytes: &[u8]) -> sqlx::Result<String> {
    let hash = hash_of(bytes);
    let chunks = bytes.len().div_ceil(CHUNK).max(1);
    let inserted = crate::on_tx!(&mut *conn, |conn| {
        sqlx::query(
        "INSERT INTO file_blobs (hash, size, chunks) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING"
    )
    .bind(&hash)
    .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
    .bind(i64::try_from(chunks).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected())
    })?;
    if inserted == 0 {
        return Ok(hash);
    }
    let pieces: Vec<&[u8]> = if bytes.is_empty() {
        vec![bytes]
    } else {
        bytes.chunks(CHUNK).collect()
    };
    for (n, piece) in pieces.into_iter().enumerate() {
        crate::on_tx!(&mut *conn, |conn| sqlx::query(
            "INSERT INTO file_chunks (hash, n, bytes) VALUES ($1, $2, $3)"
        )
        .bind(&hash)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .bind(piece)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))?;
    }
    Ok(hash)
}

/// An upload ready to write.
pub struct Upload<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub clean: &'a Clean,
    pub uploaded_by: Option<i64>,
    /// When it was uploaded: now, or the original time for an import.
    pub at: &'a str,
}

/// What [`add_in`] made: a new file, or a new version of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    pub file_id: i64,
    pub number: i64,
}

/// Adds an upload to `owner` inside a caller's transaction: a new file, or
/// the next version of the file of that name. Does not re-render or record.
pub async fn add_in(conn: &mut Tx, owner: Owner, upload: &Upload<'_>) -> sqlx::Result<Added> {
    let clean = upload.clean;
    let hash = store_blob(conn, &clean.bytes).await?;
    let thumb = match &clean.thumbnail {
        Some((bytes, kind)) => Some((store_blob(conn, bytes).await?, kind.media_type())),
        None => None,
    };
    let existing = crate::on_tx!(&mut *conn, |conn| {
        sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, version FROM files WHERE page_id = $1 AND coalesce(story_id, 0) = $2 AND name = $3"
    )
    .bind(owner.page_id)
    .bind(owner.story_id.unwrap_or(0))
    .bind(upload.name)
    .fetch_optional(&mut *conn)
    .await
    })?;
    let (file_id, number) = match existing {
        Some((id, version)) => {
            crate::on_tx!(&mut *conn, |conn| sqlx::query(
                "UPDATE files SET version = $1, updated_at = $2 WHERE id = $3"
            )
            .bind(version + 1)
            .bind(upload.at)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected()))?;
            (id, version + 1)
        }
        None => {
            let id = crate::on_tx!(&mut *conn, |conn| sqlx::query_scalar::<_, i64>(
                "INSERT INTO files (page_id, story_id, name, version, created_at, updated_at)
                 VALUES ($1, $2, $3, 1, $4, $4) RETURNING id"
            )
            .bind(owner.page_id)
            .bind(owner.story_id)
            .bind(upload.name)
            .bind(upload.at)
            .fetch_one(&mut *conn)
            .await)?;
            (id, 1)
        }
    };
    let dimension = |d: Option<u32>| d.map(i64::from);
    crate::on_tx!(&mut *conn, |conn| sqlx::query(
        "INSERT INTO file_versions (file_id, number, hash, size, media_type, width, height,
             thumb_hash, thumb_type, description, uploaded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )
    .bind(file_id)
    .bind(number)
    .bind(&hash)
    .bind(i64::try_from(clean.bytes.len()).unwrap_or(i64::MAX))
    .bind(clean.kind.media_type())
    .bind(dimension(clean.width))
    .bind(dimension(clean.height))
    .bind(thumb.as_ref().map(|(hash, _)| hash.as_str()))
    .bind(thumb.as_ref().map(|(_, kind)| *kind))
    .bind(upload.description)
    .bind(upload.uploaded_by)
    .bind(upload.at)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(Added { file_id, number })
}

/// A stored version as an import compares it with the one it brings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredVersion {
    pub number: i64,
    pub hash: String,
    pub created_at: String,
    pub description: String,
}

/// The versions of `owner`'s file `name` as the transaction sees them.
pub async fn versions_in(
    conn: &mut Tx,
    owner: Owner,
    name: &str,
) -> sqlx::Result<Vec<StoredVersion>> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query_as::<_, StoredVersion>(
        "SELECT v.number, v.hash, v.created_at, v.description
         FROM file_versions v JOIN files f ON f.id = v.file_id
         WHERE f.page_id = $1 AND coalesce(f.story_id, 0) = $2 AND f.name = $3
         ORDER BY v.number"
    )
    .bind(owner.page_id)
    .bind(owner.story_id.unwrap_or(0))
    .bind(name)
    .fetch_all(&mut *conn)
    .await)
}

/// Adds several uploads to `owner` in one transaction (all or none),
/// re-renders the texts that may show them and records one event.
/// `None` when they would take the page past `page_limit` bytes.
pub async fn add(
    pool: &Db,
    owner: Owner,
    uploads: &[Upload<'_>],
    page_limit: u64,
) -> sqlx::Result<Option<Vec<Added>>> {
    let mut tx = begin_write(pool).await?;
    let incoming: u64 = uploads.iter().map(|u| u.clean.bytes.len() as u64).sum();
    if page_bytes(&mut tx, owner.page_id)
        .await?
        .saturating_add(incoming)
        > page_limit
    {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut added = Vec::with_capacity(uploads.len());
    for upload in uploads {
        added.push(add_in(&mut tx, owner, upload).await?);
    }
    crate::pages::db::rerender_for_files(&mut tx, owner.page_id).await?;
    let names: Vec<&str> = uploads.iter().map(|u| u.name).collect();
    let summary = format!("Uploaded {}", names.join(", "));
    let mut event =
        NewEvent::new(Kind::File, uploads[0].uploaded_by, &summary).on_page(owner.page_id);
    if let Some(story_id) = owner.story_id {
        event = event.on_story(story_id);
    }
    record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(Some(added))
}

/// The bytes of every version of every file on a page and its stories:
/// what the per-page limit counts (a version stored once for two names
/// counts twice: the limit is on what members put there).
async fn page_bytes(conn: &mut Tx, page_id: i64) -> sqlx::Result<u64> {
    let total = crate::on_tx!(&mut *conn, |conn| {
        sqlx::query_scalar::<_, i64>(
        "SELECT CAST(coalesce(sum(v.size), 0) AS BIGINT) FROM file_versions v JOIN files f ON f.id = v.file_id
         WHERE f.page_id = $1"
    )
    .bind(page_id)
    .fetch_one(&mut *conn)
    .await
    })?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// Hides or shows a file again (admins); the texts that show it are
/// re-rendered, so a hidden image becomes a missing one.
pub async fn set_hidden(
    pool: &Db,
    page_id: i64,
    file_id: i64,
    hidden: bool,
    admin_id: i64,
    name: &str,
) -> sqlx::Result<()> {
    let mut tx = begin_write(pool).await?;
    crate::on_tx!(&mut tx, |tx| sqlx::query(
        "UPDATE files SET hidden = $1 WHERE id = $2"
    )
    .bind(hidden)
    .bind(file_id)
    .execute(&mut *tx)
    .await
    .map(|done| done.rows_affected()))?;
    crate::pages::db::rerender_for_files(&mut tx, page_id).await?;
    let summary = if hidden {
        format!("Hid the file {name}")
    } else {
        format!("Showed the file {name} again")
    };
    record(
        &mut tx,
        NewEvent::new(Kind::Admin, Some(admin_id), &summary).on_page(page_id),
    )
    .await?;
    tx.commit().await
}

/// The files a text of page `page_id` (and of its story `story_id`) may
/// show, by name, with their current version and type: what a render
/// needs ([`super::Links`]). Hidden files are left out.
pub async fn visible_in(
    conn: &mut Tx,
    page_id: i64,
    story_id: Option<i64>,
) -> sqlx::Result<Vec<(String, Option<i64>, i64, String)>> {
    crate::on_tx!(&mut *conn, |conn| sqlx::query_as::<
        _,
        (String, Option<i64>, i64, String),
    >(
        "SELECT f.name, f.story_id, f.version, v.media_type
         FROM files f JOIN file_versions v ON v.file_id = f.id AND v.number = f.version
         WHERE f.page_id = $1 AND (f.story_id IS NULL OR f.story_id = $2) AND f.hidden = FALSE"
    )
    .bind(page_id)
    .bind(story_id.unwrap_or(0))
    .fetch_all(&mut *conn)
    .await)
}

/// A file as listed somewhere other than its page (a profile, the
/// admins' list of the largest, search results).
#[derive(Debug, Clone, FromRow)]
pub struct Listed {
    pub name: String,
    pub slug: String,
    pub page_title: String,
    pub story_id: Option<i64>,
    pub version: i64,
    pub size: i64,
    pub media_type: String,
    pub description: String,
    pub hidden: bool,
    pub created_at: String,
}

const LISTED_COLUMNS: &str =
    "f.name, p.slug, p.title AS page_title, f.story_id, v.number AS version,
       v.size, v.media_type, v.description, f.hidden, v.created_at
  FROM file_versions v JOIN files f ON f.id = v.file_id JOIN pages p ON p.id = f.page_id";

/// What a member uploaded, newest first (visible files on live pages).
pub async fn by_uploader(pool: &Db, user_id: i64) -> sqlx::Result<Vec<Listed>> {
    let sql = format!(
        "SELECT {LISTED_COLUMNS}
         WHERE v.uploaded_by = $1 AND f.hidden = FALSE AND p.deleted_at IS NULL
         ORDER BY v.id DESC LIMIT 200"
    );
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Listed>(&sql)
        .bind(user_id)
        .fetch_all(pool)
        .await)
}

/// The largest versions on the site, hidden ones too (admins).
pub async fn largest(pool: &Db, limit: i64) -> sqlx::Result<Vec<Listed>> {
    let sql = format!("SELECT {LISTED_COLUMNS} ORDER BY v.size DESC, v.id LIMIT $1");
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Listed>(&sql)
        .bind(limit)
        .fetch_all(pool)
        .await)
}

/// The bytes stored for files (each distinct content once) and how many
/// distinct contents: the admins' total.
pub async fn stored(pool: &Db) -> sqlx::Result<(i64, i64)> {
    crate::on_db!(pool, |pool| sqlx::query_as::<_, (i64, i64)>(
        "SELECT CAST(coalesce(sum(size), 0) AS BIGINT), count(*) FROM file_blobs"
    )
    .fetch_one(pool)
    .await)
}

/// Lower-cased name and description contain every word: how search finds
/// files (see docs/finding.md).
const SEARCH: Sql = Sql {
    sqlite: "SELECT {LISTED} WHERE f.hidden = FALSE AND p.deleted_at IS NULL
             AND f.id IN (SELECT f2.id FROM files f2 JOIN file_versions v2
                 ON v2.file_id = f2.id AND v2.number = f2.version
                 WHERE NOT EXISTS (SELECT 1 FROM json_each($1) w
                     WHERE instr(lower(f2.name || ' ' || v2.description), w.value) = 0))
             AND v.number = f.version ORDER BY f.name LIMIT 20",
    postgres: "SELECT {LISTED} WHERE f.hidden = FALSE AND p.deleted_at IS NULL
             AND f.id IN (SELECT f2.id FROM files f2 JOIN file_versions v2
                 ON v2.file_id = f2.id AND v2.number = f2.version
                 WHERE NOT EXISTS (SELECT 1 FROM json_array_elements_text($1::json) w
                     WHERE strpos(lower(f2.name || ' ' || v2.description), w) = 0))
             AND v.number = f.version ORDER BY f.name LIMIT 20",
};

/// Visible files whose name and description hold every one of `words`
/// (lower-cased), at most 20.
pub async fn search(pool: &Db, words: &[String]) -> sqlx::Result<Vec<Listed>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let sql = pool.pick(&SEARCH).replace("{LISTED}", LISTED_COLUMNS);
    let words = crate::db::json_list(words.iter().map(String::as_str));
    crate::on_db!(pool, |pool| sqlx::query_as::<_, Listed>(&sql)
        .bind(&words)
        .fetch_all(pool)
        .await)
}

/// Every file and version of every live page's own files, for `cafe
/// export`: (slug, name, version).
pub async fn all_page_versions(pool: &Db) -> sqlx::Result<Vec<(String, File, Version)>> {
    let mut out = Vec::new();
    let pages = crate::on_db!(pool, |pool| sqlx::query_as::<_, (i64, String)>(
        "SELECT DISTINCT p.id, p.slug FROM files f JOIN pages p ON p.id = f.page_id
         WHERE f.story_id IS NULL AND p.deleted_at IS NULL ORDER BY p.slug"
    )
    .fetch_all(pool)
    .await)?;
    for (page_id, slug) in pages {
        for file in list(pool, Owner::page(page_id), true).await? {
            let mut all = versions(pool, file.id).await?;
            all.reverse();
            for version in all {
                out.push((slug.clone(), file.clone(), version));
            }
        }
    }
    Ok(out)
}

/// `(name, story id) → (version, media type)`: [`visible_in`] as a map.
pub fn by_name(
    rows: Vec<(String, Option<i64>, i64, String)>,
) -> HashMap<(String, Option<i64>), (i64, String)> {
    rows.into_iter()
        .map(|(name, story, version, media)| ((name, story), (version, media)))
        .collect()
}

/// The size of the blob `hash` (0 when there is none).
pub async fn blob_size(pool: &Db, hash: &str) -> sqlx::Result<i64> {
    crate::on_db!(pool, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT size FROM file_blobs WHERE hash = $1"
    )
    .bind(hash)
    .fetch_optional(pool)
    .await)
    .map(Option::unwrap_or_default)
}
