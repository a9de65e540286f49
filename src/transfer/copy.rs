//! `cafe copy FROM TO`: a whole site from one database into another, empty
//! one, SQLite to PostgreSQL or back (or SQLite to SQLite, PostgreSQL to
//! PostgreSQL), so a site can move to the backend it has grown into and
//! back without losing a revision or an account.
//!
//! What is copied, row for row and with the same ids (so every URL, every
//! story number and every revision number stays as it was): the accounts
//! with their password hashes, pages and every revision, tags and links,
//! the indicator table, stories with their revisions, replies, rosters,
//! recent changes (`events`, which hold page protections and blocks as
//! admin events; the flags themselves are columns of `pages` and `users`,
//! a deleted page's too), the old slugs of renamed or merged pages
//! (`page_redirects`), the site's secrets (the key of the sign-in and
//! join forms' CSRF tokens, so a form opened before the move is still
//! accepted after it), and the files of pages and stories with every
//! version, hidden ones too (`files`, `file_versions`, and their bytes in
//! `file_blobs` and `file_chunks`, a few chunks at a time: see
//! [`CHUNK_BATCH`]).
//!
//! What is not copied but made again from the copied rows: the tag counts,
//! the search index and the content clock (whose ticks only need to move,
//! not to match the source's). On SQLite the target's own triggers make
//! them as the rows go in, exactly as a save does. On PostgreSQL those
//! triggers are switched off for the copy's transaction and the tables are
//! made in a few set-wise statements at the end (`REBUILD_ON_POSTGRES`):
//! row by row, each trigger moved the one row of `content_clock`, and one
//! transaction updating one row many times slows with every update (5,000
//! pages took 1.4 s, 20,000 took 9.3 s, and their tags 16 s more; the
//! clock now moves at commit, `0102_clock_at_commit.sql`, but the triggers
//! still note every slug and make every derived row one by one). If the
//! role may not alter the tables, the triggers stay on: slower, same
//! result. Sessions and throttle counts are not copied: they
//! are the running site's, not its content, so members sign in again on
//! the new database.
//!
//! The source is read in one snapshot (a read transaction on SQLite,
//! `REPEATABLE READ` on PostgreSQL), so a site may be copied while it
//! serves; the target is written in one transaction, all or nothing. Rows
//! are read and written a batch at a time in key order, so a site of any
//! size is copied in a little memory.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use sqlx::query::Query;
use sqlx::{Database, Decode, Encode, Type};

use crate::db::{Db, Tx};

/// Rows read and written at a time: a few thousand bound values per
/// statement (SQLite allows 32,766, PostgreSQL 65,535), a few megabytes of
/// typical pages.
pub const BATCH: usize = 256;

/// Rows of `file_chunks` read and written at a time. A chunk holds up to
/// 512 KiB (`files::db::CHUNK`), so a batch of [`BATCH`] would be 128 MiB
/// read from the source and as much again bound into the insert; 8 chunks
/// are at most 4 MiB each way, which still fills a statement well enough
/// that the round trips do not matter beside the bytes themselves.
pub const CHUNK_BATCH: usize = 8;

/// How a column is read from one backend and written to the other. Flags
/// are integers on SQLite and booleans on PostgreSQL, which sqlx reads and
/// writes as `bool` on both.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    OptInt,
    OptText,
    Bool,
    Text,
    Bytes,
}

/// A copied table: its columns, the first `key` of which are its primary
/// key (the order it is read in), whether its `id` is an identity column
/// on PostgreSQL (whose sequence must move past the copied ids), and the
/// most rows it is read and written at a time.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    key: usize,
    identity: bool,
    /// [`BATCH`] for rows of a few kilobytes; fewer for a table whose rows
    /// are large (see [`CHUNK_BATCH`]).
    batch: usize,
}

use Kind::{Bool, Bytes, Int, OptInt, OptText, Text};

/// Every table holding the site's content or accounts, in an order that
/// inserts each row after the rows it refers to.
const TABLES: [Table; 22] = [
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("username", Text),
            ("skeleton", Text),
            ("display_name", Text),
            ("password_hash", Text),
            ("is_admin", Bool),
            ("blocked", Bool),
            ("auth_epoch", Int),
            ("created_at", Text),
            ("role", Text),
            ("office", Text),
            ("helps_with", Text),
            ("contact", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "indicators",
        columns: &[
            ("code", Text),
            ("tag", Text),
            ("name", Text),
            ("description", Text),
            ("grp", Text),
            ("sort", Int),
            ("retired", Bool),
        ],
        key: 1,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "pages",
        columns: &[
            ("id", Int),
            ("slug", Text),
            ("title", Text),
            ("revision", Int),
            ("body", Text),
            ("html", Text),
            ("tags", Text),
            ("protected", Bool),
            ("created_at", Text),
            ("updated_at", Text),
            ("updated_by", OptInt),
            ("deleted_at", OptText),
            ("deleted_by", OptInt),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "page_redirects",
        columns: &[("old_slug", Text), ("page_id", Int), ("created_at", Text)],
        key: 1,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "revisions",
        columns: &[
            ("id", Int),
            ("page_id", Int),
            ("number", Int),
            ("title", Text),
            ("body", Text),
            ("tags", Text),
            ("summary", Text),
            ("author_id", OptInt),
            ("created_at", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "page_tags",
        columns: &[("page_id", Int), ("tag", Text)],
        key: 2,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "page_links",
        columns: &[("from_page_id", Int), ("to_slug", Text)],
        key: 2,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "stories",
        columns: &[
            ("id", Int),
            ("page_id", Int),
            ("author_id", Int),
            ("title", Text),
            ("body", Text),
            ("html", Text),
            ("outcome", Text),
            ("location", Text),
            ("revision", Int),
            ("hidden", Bool),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "story_revisions",
        columns: &[
            ("id", Int),
            ("story_id", Int),
            ("number", Int),
            ("title", Text),
            ("body", Text),
            ("outcome", Text),
            ("location", Text),
            ("summary", Text),
            ("author_id", Int),
            ("created_at", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "replies",
        columns: &[
            ("id", Int),
            ("story_id", Int),
            ("author_id", Int),
            ("body", Text),
            ("html", Text),
            ("hidden", Bool),
            ("created_at", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "roster",
        columns: &[
            ("page_id", Int),
            ("user_id", Int),
            ("tip", Text),
            ("location", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("confirmed_at", Text),
        ],
        key: 2,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "events",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("page_id", OptInt),
            ("story_id", OptInt),
            ("revision", OptInt),
            ("actor_id", OptInt),
            ("summary", Text),
            ("created_at", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "site_secrets",
        columns: &[("name", Text), ("value", Bytes)],
        key: 1,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "file_blobs",
        columns: &[("hash", Text), ("size", Int), ("chunks", Int)],
        key: 1,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "file_chunks",
        columns: &[("hash", Text), ("n", Int), ("bytes", Bytes)],
        key: 2,
        identity: false,
        batch: CHUNK_BATCH,
    },
    Table {
        name: "files",
        columns: &[
            ("id", Int),
            ("page_id", Int),
            ("story_id", OptInt),
            ("name", Text),
            ("version", Int),
            ("hidden", Bool),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "file_versions",
        columns: &[
            ("id", Int),
            ("file_id", Int),
            ("number", Int),
            ("hash", Text),
            ("size", Int),
            ("media_type", Text),
            ("width", OptInt),
            ("height", OptInt),
            ("thumb_hash", OptText),
            ("thumb_type", OptText),
            ("description", Text),
            ("uploaded_by", OptInt),
            ("created_at", Text),
        ],
        key: 1,
        identity: true,
        batch: BATCH,
    },
    Table {
        name: "oidc_identities",
        columns: &[
            ("issuer", Text),
            ("subject", Text),
            ("user_id", Int),
            ("linked_at", Text),
        ],
        key: 2,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "watches",
        columns: &[
            ("user_id", Int),
            ("target", Text),
            ("page_id", OptInt),
            ("member_id", OptInt),
            ("level", Text),
            ("since_event", Int),
            ("created_at", Text),
        ],
        key: 2,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "watch_tags",
        columns: &[("user_id", Int), ("target", Text), ("tag", Text)],
        key: 3,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "mail_settings",
        columns: &[
            ("user_id", Int),
            ("email", Text),
            ("verified", Bool),
            ("delivery", Text),
            ("verify_hash", OptText),
            ("verify_until", OptInt),
            ("digest_event", Int),
            ("digest_at", Int),
            ("questions", Bool),
        ],
        key: 1,
        identity: false,
        batch: BATCH,
    },
    Table {
        name: "follow_state",
        columns: &[
            ("user_id", Int),
            ("seen_event", Int),
            ("auto_created", Bool),
            ("auto_edited", Bool),
            ("auto_stories", Bool),
            ("auto_roster", Bool),
        ],
        key: 1,
        identity: false,
        batch: BATCH,
    },
];

/// The names of the tables `cafe copy` copies, in the order it copies them.
pub fn copied_tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|table| table.name)
}

impl Table {
    /// The rows read and written at a time when `asked` are: never more
    /// than the table's own batch.
    fn rows_per_batch(&self, asked: usize) -> usize {
        asked.min(self.batch)
    }

    fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }

    fn key_list(&self) -> String {
        let names: Vec<&str> = self.columns[..self.key]
            .iter()
            .map(|(name, _)| *name)
            .collect();
        names.join(", ")
    }

    /// The next batch in key order: the first one, or the one after the
    /// key bound as `$1…$key` (keyset paging, each batch an index range).
    /// The row count is the last parameter.
    fn select(&self, after: bool) -> String {
        let keys = self.key_list();
        let mut sql = format!("SELECT {} FROM {}", self.column_list(), self.name);
        if after {
            let params: Vec<String> = (1..=self.key).map(|n| format!("${n}")).collect();
            let _ = if self.key == 1 {
                write!(sql, " WHERE {keys} > {}", params.join(", "))
            } else {
                write!(sql, " WHERE ({keys}) > ({})", params.join(", "))
            };
        }
        let limit = if after { self.key + 1 } else { 1 };
        let _ = write!(sql, " ORDER BY {keys} LIMIT ${limit}");
        sql
    }

    /// One INSERT of `rows` rows, every value bound.
    fn insert(&self, rows: usize) -> String {
        let width = self.columns.len();
        let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.name, self.column_list());
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..width {
                if column > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(sql, "${}", row * width + column + 1);
            }
            sql.push(')');
        }
        sql
    }
}

/// One value of a row in flight.
enum Value {
    Int(i64),
    OptInt(Option<i64>),
    OptText(Option<String>),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

/// Reads a row of `table` from either backend's driver.
fn decode<R>(row: &R, table: &Table) -> sqlx::Result<Vec<Value>>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    bool: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::OptInt => Value::OptInt(row.try_get(i)?),
                Kind::OptText => Value::OptText(row.try_get(i)?),
                Kind::Bool => Value::Bool(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Bytes => Value::Bytes(row.try_get(i)?),
            })
        })
        .collect()
}

/// Binds `value` as the next parameter, for either backend's driver.
fn bind<'q, DB>(
    query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    value: &'q Value,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    match value {
        Value::Int(n) => query.bind(*n),
        Value::OptInt(n) => query.bind(*n),
        Value::OptText(text) => query.bind(text.as_deref()),
        Value::Bool(b) => query.bind(*b),
        Value::Text(text) => query.bind(text.as_str()),
        Value::Bytes(bytes) => query.bind(bytes.as_slice()),
    }
}

/// The next batch of `table` from the source, after the key `after`.
async fn read_batch(
    source: &mut Tx,
    table: &Table,
    after: Option<&[Value]>,
    batch: usize,
) -> sqlx::Result<Vec<Vec<Value>>> {
    let sql = table.select(after.is_some());
    let keys = after.unwrap_or_default();
    crate::on_tx!(source, |conn| {
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = bind(query, key);
        }
        let rows = query.bind(batch as i64).fetch_all(conn).await?;
        rows.iter().map(|row| decode(row, table)).collect()
    })
}

/// Inserts `rows` of `table` into the target in one statement.
async fn write_batch(target: &mut Tx, table: &Table, rows: &[Vec<Value>]) -> sqlx::Result<()> {
    let sql = table.insert(rows.len());
    crate::on_tx!(target, |conn| {
        let mut query = sqlx::query(&sql);
        for value in rows.iter().flatten() {
            query = bind(query, value);
        }
        query.execute(conn).await.map(|_| ())
    })
}

async fn count(tx: &mut Tx, table: &str) -> sqlx::Result<i64> {
    let sql = format!("SELECT count(*) FROM {table}");
    crate::on_tx!(tx, |conn| sqlx::query_scalar(&sql).fetch_one(conn).await)
}

/// Copies every row of `table`, `batch` rows at a time or the table's own
/// smaller batch; returns how many.
async fn copy_table(
    source: &mut Tx,
    target: &mut Tx,
    table: &Table,
    batch: usize,
) -> anyhow::Result<u64> {
    let batch = table.rows_per_batch(batch);
    let mut copied = 0u64;
    let mut after: Option<Vec<Value>> = None;
    loop {
        let mut rows = read_batch(source, table, after.as_deref(), batch)
            .await
            .with_context(|| format!("cannot read {} from the source", table.name))?;
        if rows.is_empty() {
            break;
        }
        write_batch(target, table, &rows)
            .await
            .with_context(|| format!("cannot write {} into the target", table.name))?;
        copied += rows.len() as u64;
        let last = rows.len() < batch;
        after = rows.pop().map(|mut key| {
            key.truncate(table.key);
            key
        });
        if last {
            break;
        }
    }
    // Paging by key must have met every row of the snapshot.
    let expected = count(source, table.name).await?;
    if u64::try_from(expected).ok() != Some(copied) {
        bail!(
            "{}: the source holds {expected} rows but {copied} were read",
            table.name
        );
    }
    Ok(copied)
}

/// Opens the source's snapshot: every batch of every table reads the site
/// as it was at one moment, whatever the server writes meanwhile.
async fn begin_snapshot(db: &Db) -> sqlx::Result<Tx> {
    match db {
        // A deferred transaction: its first read fixes the snapshot (WAL).
        Db::Sqlite(pool) => pool.begin().await.map(Tx::Sqlite),
        Db::Postgres(pool) => pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map(Tx::Postgres),
    }
}

/// Refuses a target holding content: the copy keeps the source's ids, so
/// it can only go into tables nobody has written yet.
async fn check_empty(target: &mut Tx) -> anyhow::Result<()> {
    let pages = count(target, "pages").await?;
    if pages > 0 {
        bail!(
            "the target already holds {pages} pages; cafe copy writes only into an empty \
             database, so nothing was written"
        );
    }
    for table in &TABLES {
        let rows = count(target, table.name).await?;
        if rows > 0 {
            bail!(
                "the target already holds {rows} rows in {}; cafe copy writes only into an \
                 empty database, so nothing was written",
                table.name
            );
        }
    }
    Ok(())
}

/// Cafe's PostgreSQL triggers that fire on inserting copied rows, by
/// table, each deriving `search_index`, `tag_counts`, `tag_story_counts` or
/// the content clock (`migrations/postgres/0001_schema.sql`; those on
/// `files`, `0105_files.sql`, only move the clock of the file's page), and the
/// deferred triggers that move the clock at commit (`0102_clock_at_commit.sql`):
/// with those on, the first copied row would leave an event pending until
/// the commit, and PostgreSQL refuses to switch a table's triggers back on
/// while it has one. Those on `users` fire only on updates and deletes;
/// foreign keys are not user triggers, so they are checked as ever.
const DERIVING_TRIGGERS: [(&str, &str); 20] = [
    ("pages", "pages_changed"),
    ("page_tags", "page_tags_changed"),
    ("page_links", "page_links_changed"),
    ("stories", "stories_changed"),
    ("replies", "replies_changed"),
    ("roster", "roster_changed"),
    ("indicators", "indicators_changed"),
    ("pages", "pages_flush_at_commit"),
    ("page_tags", "page_tags_flush_at_commit"),
    ("page_links", "page_links_flush_at_commit"),
    ("stories", "stories_flush_at_commit"),
    ("replies", "replies_flush_at_commit"),
    ("roster", "roster_flush_at_commit"),
    ("indicators", "indicators_flush_at_commit"),
    ("pages", "pages_zz_deleted_search"),
    ("stories", "stories_zz_deleted_search"),
    ("page_redirects", "page_redirects_changed"),
    ("page_redirects", "page_redirects_flush_at_commit"),
    ("files", "files_changed"),
    ("files", "files_flush_at_commit"),
];

/// What [`DERIVING_TRIGGERS`] would have made, made once from the copied
/// rows: the statements the SQLite migrations fill the same tables with
/// (0002-0004), in PostgreSQL's spelling, and one move of the content
/// clock for every copied slug and link target.
const REBUILD_ON_POSTGRES: [&str; 8] = [
    "DELETE FROM search_index",
    "INSERT INTO search_index (key, title, body, tags, extra, document)
     SELECT id, title, body, tags, '', cafe_document(title, body, tags, '') FROM pages
     WHERE deleted_at IS NULL",
    "INSERT INTO search_index (key, title, body, tags, extra, document)
     SELECT -id, title, body, '', outcome || ' ' || location,
            cafe_document(title, body, '', outcome || ' ' || location)
     FROM stories WHERE NOT hidden
     AND page_id IN (SELECT id FROM pages WHERE deleted_at IS NULL)",
    "DELETE FROM tag_counts",
    "INSERT INTO tag_counts (tag, pages) SELECT tag, count(*) FROM page_tags GROUP BY tag",
    "DELETE FROM tag_story_counts",
    "INSERT INTO tag_story_counts (tag, stories)
     SELECT t.tag, count(*) FROM stories s JOIN page_tags t ON t.page_id = s.page_id
     WHERE NOT s.hidden GROUP BY t.tag",
    "WITH clock AS (
         UPDATE content_clock SET tick = tick + 1, lists = lists + 1,
                everything = everything + 1, accounts = accounts + 1
         WHERE id = 1 RETURNING tick)
     INSERT INTO page_ticks (slug, tick)
     SELECT slugs.slug, clock.tick
     FROM (SELECT slug FROM pages UNION SELECT to_slug FROM page_links) AS slugs, clock
     ON CONFLICT (slug) DO UPDATE SET tick = EXCLUDED.tick",
];

/// Switches [`DERIVING_TRIGGERS`] off (`on` false) or on again, inside the
/// copy's transaction: other sessions never see them off, and a copy that
/// fails leaves them on.
async fn switch_deriving_triggers(tx: &mut Tx, on: bool) -> sqlx::Result<()> {
    let Tx::Postgres(tx) = tx else {
        return Ok(());
    };
    let verb = if on { "ENABLE" } else { "DISABLE" };
    for (table, trigger) in DERIVING_TRIGGERS {
        sqlx::query(&format!("ALTER TABLE {table} {verb} TRIGGER {trigger}"))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Whether the target's deriving triggers are now off, to be made up for
/// by [`REBUILD_ON_POSTGRES`]. Only a table's owner may switch its
/// triggers: for another role the copy goes on with them on, behind a
/// savepoint so the refusal does not end the transaction.
async fn triggers_off(target: &mut Tx) -> sqlx::Result<bool> {
    let Tx::Postgres(tx) = target else {
        return Ok(false);
    };
    sqlx::query("SAVEPOINT cafe_copy_triggers")
        .execute(&mut **tx)
        .await?;
    match switch_deriving_triggers(target, false).await {
        Ok(()) => Ok(true),
        Err(err) => {
            tracing::warn!(%err, "cannot switch the target's triggers off; copying with them on");
            crate::on_tx!(target, |conn| sqlx::query(
                "ROLLBACK TO SAVEPOINT cafe_copy_triggers"
            )
            .execute(conn)
            .await
            .map(|_| ()))?;
            Ok(false)
        }
    }
}

/// Makes what the switched-off triggers would have made, then switches
/// them on again.
async fn rebuild_derived(target: &mut Tx) -> sqlx::Result<()> {
    let Tx::Postgres(tx) = target else {
        return Ok(());
    };
    for sql in REBUILD_ON_POSTGRES {
        sqlx::query(sql).execute(&mut **tx).await?;
    }
    switch_deriving_triggers(target, true).await
}

/// Moves each identity sequence past the copied ids: the ids were given,
/// not drawn, so the next page or story would otherwise be given id 1.
async fn reset_sequences(target: &mut Tx) -> sqlx::Result<()> {
    let Tx::Postgres(tx) = target else {
        // SQLite gives a new row the largest id plus one by itself.
        return Ok(());
    };
    for table in TABLES.iter().filter(|table| table.identity) {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce(max(id), 1), \
             max(id) IS NOT NULL) FROM {0}",
            table.name
        );
        sqlx::query(&sql).execute(&mut **tx).await?;
    }
    Ok(())
}

/// How many rows of each table a copy wrote, in the order it wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies the site in `from` into the empty database `to` (each a SQLite
/// path or `sqlite:` URL, or a `postgres://` URL). `from` must exist; `to`
/// is created if it is a SQLite file that does not, and migrated, never
/// seeded. Nothing is written unless everything is.
pub async fn copy(from: &str, to: &str) -> anyhow::Result<Copied> {
    copy_in_batches(from, to, BATCH).await
}

/// [`copy`], `batch` rows at a time (at most [`BATCH`]): the tests copy a
/// small site a few rows at a time, so that it takes many batches too.
pub async fn copy_in_batches(from: &str, to: &str, batch: usize) -> anyhow::Result<Copied> {
    let batch = batch.clamp(1, BATCH);
    if from.trim() == to.trim() {
        bail!("FROM and TO are the same database");
    }
    let source = crate::db::connect_existing(from)
        .await
        .with_context(|| format!("cannot open the source {}", crate::db::redacted(from)))?;
    let target = crate::db::connect(to)
        .await
        .with_context(|| format!("cannot open the target {}", crate::db::redacted(to)))?;
    let copied = copy_between(&source, &target, batch).await;
    source.close().await;
    target.close().await;
    copied
}

async fn copy_between(source: &Db, target: &Db, batch: usize) -> anyhow::Result<Copied> {
    let mut reading = begin_snapshot(source)
        .await
        .context("cannot start reading the source")?;
    let mut writing = crate::db::begin_write(target)
        .await
        .context("cannot start writing the target")?;
    if let Tx::Postgres(tx) = &mut writing {
        // No other process writes these tables until the copy commits, so
        // the target found empty stays empty but for the copy.
        let names: Vec<&str> = copied_tables().collect();
        let sql = format!("LOCK TABLE {} IN EXCLUSIVE MODE", names.join(", "));
        sqlx::query(&sql)
            .execute(&mut **tx)
            .await
            .context("cannot lock the target's tables")?;
        // The rebuild reads every page in one statement (3.5 s for the search
        // index of 100,000 pages): an operator's batch job, not a request to
        // cut short at `--db-statement-timeout-secs`.
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut **tx)
            .await
            .context("cannot lift the statement timeout for the copy")?;
    }
    check_empty(&mut writing).await?;
    let off = triggers_off(&mut writing)
        .await
        .context("cannot prepare the target's triggers")?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in &TABLES {
        let rows = copy_table(&mut reading, &mut writing, table, batch).await?;
        tables.push((table.name, rows));
    }
    if off {
        rebuild_derived(&mut writing)
            .await
            .context("cannot rebuild the search index, tag counts and clock on the target")?;
    }
    reset_sequences(&mut writing)
        .await
        .context("cannot move the target's id sequences")?;
    // The outbox and what was mailed are not copied (mail in flight is the
    // source's to send); the target mails only about changes after the copy.
    crate::on_tx!(&mut writing, |conn| sqlx::query(
        "UPDATE mail_cursor SET last_event = (SELECT COALESCE(MAX(id), 0) FROM events),
                lease_owner = NULL, lease_until = NULL"
    )
    .execute(&mut *conn)
    .await
    .map(|_| ()))
    .context("cannot move the target's mail cursor")?;
    writing
        .commit()
        .await
        .context("cannot commit the copy into the target")?;
    reading.rollback().await?;
    Ok(Copied { tables })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_read_in_key_order_after_the_last_key() {
        let users = &TABLES[0];
        assert!(
            users
                .select(false)
                .ends_with("FROM users ORDER BY id LIMIT $1")
        );
        assert!(
            users
                .select(true)
                .ends_with("FROM users WHERE id > $1 ORDER BY id LIMIT $2")
        );
        let roster = TABLES
            .iter()
            .find(|t| t.name == "roster")
            .expect("roster is copied");
        assert!(roster.select(true).ends_with(
            "FROM roster WHERE (page_id, user_id) > ($1, $2) ORDER BY page_id, user_id LIMIT $3"
        ));
    }

    #[test]
    fn a_batch_is_one_insert_with_every_value_bound() {
        let tags = TABLES
            .iter()
            .find(|t| t.name == "page_tags")
            .expect("page_tags is copied");
        assert_eq!(
            tags.insert(2),
            "INSERT INTO page_tags (page_id, tag) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn a_batch_stays_under_both_backends_limit_of_bound_values() {
        let widest = TABLES.iter().map(|t| t.columns.len()).max().unwrap_or(0);
        assert!(widest * BATCH < 32_766);
    }

    #[test]
    fn file_chunks_are_copied_a_few_megabytes_at_a_time() {
        let chunks = TABLES
            .iter()
            .find(|t| t.name == "file_chunks")
            .expect("file_chunks is copied");
        assert_eq!(chunks.rows_per_batch(BATCH), CHUNK_BATCH);
        assert!(chunks.rows_per_batch(BATCH) * crate::files::db::CHUNK <= 4 << 20);
        // A smaller batch asked for (the tests') is still taken as asked.
        assert_eq!(chunks.rows_per_batch(3), 3);
        let pages = TABLES
            .iter()
            .find(|t| t.name == "pages")
            .expect("pages is copied");
        assert_eq!(pages.rows_per_batch(BATCH), BATCH);
    }

    #[test]
    fn files_are_copied_after_what_they_refer_to() {
        let at = |name: &str| {
            TABLES
                .iter()
                .position(|t| t.name == name)
                .unwrap_or_else(|| panic!("{name} is copied"))
        };
        assert!(at("file_blobs") < at("file_chunks"));
        assert!(at("stories") < at("files") && at("pages") < at("files"));
        assert!(at("files") < at("file_versions"));
        assert!(at("users") < at("file_versions") && at("file_blobs") < at("file_versions"));
    }
}
