//! What watchers cost a save (issue 18): the latency of saving one method
//! page with no watchers, then with `--watchers` members watching it (and
//! each of them with an unseen change waiting), one save after another
//! through `pages::db::save` as the edit form's path does. Following
//! fans nothing out at save time, so the two should match; prints p50,
//! p99 and mean for each, and the ratio.
//!
//! cargo run --release --example watched_save -- --db /tmp/watched.db --watchers 1000 --saves 300
//! cargo run --release --example watched_save -- --db postgres://cafe:cafe@127.0.0.1:5432/empty
//!
//! A SQLite `--db` must not exist yet; a PostgreSQL one must be empty.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cafe::accounts::Username;
use cafe::follow::{Level, Target};
use cafe::pages::PageText;
use cafe::pages::db::{SaveOutcome, create, find, save};

struct Args {
    db: String,
    watchers: usize,
    saves: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        db: String::new(),
        watchers: 1000,
        saves: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().context("every flag takes a value")?;
        match flag.as_str() {
            "--db" => out.db = value,
            "--watchers" => out.watchers = value.parse()?,
            "--saves" => out.saves = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if out.db.is_empty() {
        bail!("give --db PATH (a new SQLite file) or --db postgres://… (an empty database)");
    }
    Ok(out)
}

/// Saves the page `saves` times in a row; the latencies, sorted.
async fn saves(
    db: &cafe::db::Db,
    slug: &cafe::markup::slug::Slug,
    author: i64,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let page = find(db, slug).await?.context("the page")?;
        let (page_id, base) = (page.id, page.revision);
        let text = PageText::parse(&format!("Revision text number {i}.\n"), "", "bench")
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let start = Instant::now();
        let outcome = save(db, page_id, base, &text, Some(author)).await?;
        took.push(start.elapsed());
        if !matches!(outcome, SaveOutcome::Saved { .. }) {
            bail!("save {i} was not saved: {outcome:?}");
        }
    }
    took.sort();
    Ok(took)
}

fn line(what: &str, took: &[Duration]) -> (f64, String) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = took.iter().map(|d| ms(*d)).sum::<f64>() / took.len() as f64;
    let p = |q: f64| ms(took[((took.len() as f64 * q) as usize).min(took.len() - 1)]);
    (
        mean,
        format!(
            "{what}: {} saves, p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
            took.len(),
            p(0.5),
            p(0.99),
            mean
        ),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let db = cafe::db::connect(&args.db).await?;
    let hash = cafe::auth::NO_PASSWORD;
    let author = cafe::accounts::db::create(
        &db,
        &Username::parse("author").map_err(anyhow::Error::msg)?,
        "Author",
        hash,
        false,
    )
    .await?;
    let quiet = create(
        &db,
        "Quiet Page",
        &PageText::parse("Quiet.\n", "", "first").map_err(|e| anyhow::anyhow!("{e:?}"))?,
        Some(author),
    )
    .await?;
    let watched = create(
        &db,
        "Watched Page",
        &PageText::parse("Watched.\n", "", "first").map_err(|e| anyhow::anyhow!("{e:?}"))?,
        Some(author),
    )
    .await?;
    let watched_id = find(&db, &watched).await?.context("watched page")?.id;
    // The author watches both by default; others watch only one.
    for n in 0..args.watchers {
        let name = Username::parse(&format!("watcher{n}")).map_err(anyhow::Error::msg)?;
        let id =
            cafe::accounts::db::create(&db, &name, &format!("Watcher {n}"), hash, false).await?;
        cafe::follow::db::set(&db, id, &Target::Page(watched_id), Level::Watching).await?;
    }
    println!(
        "{} ({}), {} watchers of one page",
        args.db.split('@').next_back().unwrap_or_default(),
        if args.db.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        args.watchers
    );
    // Warm up both, then measure in turns so drift hits both alike.
    saves(&db, &quiet, author, 20).await?;
    saves(&db, &watched, author, 20).await?;
    let mut unwatched = Vec::new();
    let mut with_watchers = Vec::new();
    for _ in 0..3 {
        unwatched.extend(saves(&db, &quiet, author, args.saves / 3).await?);
        with_watchers.extend(saves(&db, &watched, author, args.saves / 3).await?);
    }
    unwatched.sort();
    with_watchers.sort();
    let (a, first) = line("page nobody else watches", &unwatched);
    let (b, second) = line(
        &format!("page {} members watch", args.watchers),
        &with_watchers,
    );
    println!(
        "{first}\n{second}\nratio of means (watched / unwatched): {:.2}",
        b / a
    );
    Ok(())
}
