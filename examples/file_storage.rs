//! How files grow a site's database, and how fast their bytes go in and
//! out of it: stores `--files` files of `--mib` MiB of random (so
//! incompressible) bytes through `files::db::add_in`, one transaction per
//! file as an upload does, then reads every byte back chunk by chunk as a
//! download does. Prints the bytes stored, what the database grew by, and
//! the write and read rates.
//!
//! cargo run --release --example file_storage -- --db /tmp/files.db --files 20 --mib 10
//! cargo run --release --example file_storage -- --db postgres://cafe:cafe@127.0.0.1:5432/empty --files 20 --mib 10
//!
//! A SQLite `--db` must not exist yet; a PostgreSQL one must be empty (it
//! is migrated, one page is made, and the files are attached to it).

use std::time::Instant;

use anyhow::{Context as _, bail};
use cafe::db::{Db, begin_write};
use cafe::files::Owner;
use cafe::files::db::{Upload, add_in, chunk};
use cafe::files::kind::{Clean, Kind};
use rand::RngCore as _;

struct Args {
    db: String,
    files: usize,
    mib: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        db: String::new(),
        files: 20,
        mib: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().context("every flag takes a value")?;
        match flag.as_str() {
            "--db" => out.db = value,
            "--files" => out.files = value.parse()?,
            "--mib" => out.mib = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if out.db.is_empty() {
        bail!("--db is required");
    }
    Ok(out)
}

/// The database's size in bytes: the file (and its WAL), or PostgreSQL's.
async fn size(db: &Db, path: &str) -> anyhow::Result<u64> {
    Ok(match db {
        Db::Sqlite(_) => {
            let main = std::fs::metadata(path).map_or(0, |m| m.len());
            let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
            main + wal
        }
        Db::Postgres(pool) => {
            let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(pool)
                .await?;
            u64::try_from(bytes).unwrap_or(0)
        }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    if !args.db.starts_with("postgres") && std::path::Path::new(&args.db).exists() {
        bail!("{} exists already", args.db);
    }
    let db = cafe::db::connect(&args.db).await?;
    let text = cafe::pages::PageText {
        body: "Files.".to_owned(),
        tags: cafe::tags::TagList::default(),
        summary: String::new(),
    };
    let slug = cafe::pages::db::create(&db, "File storage", &text, None).await?;
    let page_id = cafe::pages::db::find(&db, &slug)
        .await?
        .context("the page just made")?
        .id;
    if let Db::Sqlite(pool) = &db {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
    }
    let before = size(&db, &args.db).await?;
    let mut hashes = Vec::new();
    let started = Instant::now();
    for n in 0..args.files {
        let mut bytes = vec![0u8; args.mib << 20];
        rand::rng().fill_bytes(&mut bytes);
        hashes.push(cafe::files::db::hash_of(&bytes));
        let clean = Clean {
            kind: Kind::Pdf,
            bytes,
            width: None,
            height: None,
            thumbnail: None,
        };
        let name = format!("file-{n}.pdf");
        let now = cafe::clock::now();
        let mut tx = begin_write(&db).await?;
        let upload = Upload {
            name: &name,
            description: "",
            clean: &clean,
            uploaded_by: None,
            at: &now,
        };
        add_in(&mut tx, Owner::page(page_id), &upload).await?;
        tx.commit().await?;
    }
    let wrote = started.elapsed();
    let started = Instant::now();
    let mut read: u64 = 0;
    for hash in &hashes {
        let mut n = 0;
        loop {
            let piece = chunk(&db, hash, n).await?;
            if piece.is_empty() {
                break;
            }
            read += piece.len() as u64;
            n += 1;
        }
    }
    let readtime = started.elapsed();
    if let Db::Sqlite(pool) = &db {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
    }
    let after = size(&db, &args.db).await?;
    let stored = (args.files * (args.mib << 20)) as u64;
    let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
    println!(
        "backend\t{}\nfiles\t{} x {} MiB\nstored\t{:.1} MiB\ndatabase grew\t{:.1} MiB ({:+.1} % over the bytes)\nwrite\t{:.0} MiB/s\nread\t{:.0} MiB/s ({:.1} MiB read back)",
        if matches!(db, Db::Sqlite(_)) {
            "sqlite"
        } else {
            "postgres"
        },
        args.files,
        args.mib,
        mib(stored),
        mib(after.saturating_sub(before)),
        (after.saturating_sub(before) as f64 / stored as f64 - 1.0) * 100.0,
        mib(stored) / wrote.as_secs_f64(),
        mib(read) / readtime.as_secs_f64(),
        mib(read),
    );
    db.close().await;
    Ok(())
}
