//! The subcommands: `serve` (the default) and the operator tools.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::accounts::{Username, check_new_password, parse_display_name};
use crate::config::{Cli, Command, DigestCommand, IndicatorsCommand, ServeArgs, UserCommand};
use crate::pages::{PageText, Slug, normalise_body, parse_title};
use crate::tags::TagList;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::db::choose_options(crate::db::DbOptions {
        pool_size: cli.db_pool_size,
        statement_timeout: Duration::from_secs(cli.db_statement_timeout_secs),
    });
    match cli.command {
        None => serve(&cli.db, cli.serve).await,
        Some(Command::Serve(args)) => serve(&cli.db, *args).await,
        Some(Command::User(UserCommand::Add {
            username,
            display_name,
            admin,
        })) => user_add(&cli.db, &username, display_name.as_deref(), admin).await,
        Some(Command::Import { dir }) => import(&cli.db, &dir).await,
        Some(Command::Export { dir }) => export(&cli.db, &dir).await,
        Some(Command::Backup { file }) => backup(&cli.db, &file).await,
        Some(Command::Indicators(IndicatorsCommand::Import { file })) => {
            indicators_import(&cli.db, &file).await
        }
        Some(Command::Copy { from, to }) => copy(&from, &to).await,
        Some(Command::Digest(DigestCommand::Send)) => digest_send(&cli.db, cli.serve).await,
    }
}

/// Runs the web server until SIGTERM or Ctrl-C; in-flight requests finish.
pub async fn serve(db: &str, args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let pool = crate::seed::open_and_seed(db).await?;
    let state = crate::AppState::new(pool.clone(), args.clone()).await?;
    let cleanup = tokio::spawn(
        tower_sessions::session_store::ExpiredDeletion::continuously_delete_expired(
            state.sessions.clone(),
            Duration::from_secs(600),
        ),
    );
    crate::search::upkeep::spawn(pool.clone());
    crate::mail::spawn(state.clone());
    std::thread::spawn(crate::auth::warm_up);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    // A PostgreSQL URL may hold a password: logs never show it.
    let db = crate::db::redacted(db);
    tracing::info!(%addr, db, ms = started.elapsed().as_millis(), "ready");
    println!("{} is running: open http://{addr}/", args.site_name);
    if let Some(hint) = first_admin_hint(&pool, &db).await? {
        println!("{hint}");
    }
    if args.public_url.is_none() {
        println!(
            "links in feeds use {}; set --public-url to the address people use",
            args.base_url().origin()
        );
    }
    match &args.smtp_url {
        Some(url) => tracing::info!(smtp = %url.redacted(), "mail goes through this SMTP server"),
        None => {
            println!("no --smtp-url: Cafe sends no mail (the Following page still lists changes)")
        }
    }
    let limits = crate::server::Limits::new(&args);
    crate::server::serve(listener, crate::app(state), limits, shutdown_signal()).await?;
    cleanup.abort();
    pool.close().await;
    println!("{} stopped.", args.site_name);
    Ok(())
}

/// What the server's console says while there is no administrator (at
/// first start): the command that makes one. `db` is the database as shown
/// (a PostgreSQL URL without its password); `None` once an administrator exists.
pub async fn first_admin_hint(pool: &crate::db::Db, db: &str) -> anyhow::Result<Option<String>> {
    if crate::accounts::db::has_admin(pool).await? {
        return Ok(None);
    }
    let db_flag = if db == "cafe.db" {
        String::new()
    } else if db.starts_with("postgres") {
        " --db \"$CAFE_DB\"".to_owned()
    } else {
        format!(" --db '{}'", db.replace('\'', "'\\''"))
    };
    Ok(Some(format!(
        "There is no administrator yet. To make the first one, run in another terminal \
         (with the same --db or CAFE_DB as this server):\n    \
         cafe{db_flag} user add NAME --admin\n\
         It asks for a password (or reads it from standard input); then sign in at /signin."
    )))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Reads the password from the first line of standard input when it is not
/// a terminal (scripts), else prompts without echo, twice.
fn read_password() -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password again: ")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first)
}

async fn user_add(
    db: &str,
    username: &str,
    display_name: Option<&str>,
    admin: bool,
) -> anyhow::Result<()> {
    let username = Username::parse(username).map_err(anyhow::Error::msg)?;
    let display_name = parse_display_name(display_name.unwrap_or(username.as_str()))
        .map_err(anyhow::Error::msg)?;
    let password = read_password()?;
    check_new_password(&password, username.as_str(), &display_name).map_err(anyhow::Error::msg)?;
    let pool = crate::db::connect(db).await?;
    if crate::accounts::db::is_taken(&pool, &username).await? {
        bail!(
            "the username {} (or a look-alike) is taken",
            username.as_str()
        );
    }
    let hash = crate::auth::hash_password(password).await?;
    crate::accounts::db::create(&pool, &username, &display_name, &hash, admin).await?;
    println!(
        "created {}{}",
        username.as_str(),
        if admin { " (administrator)" } else { "" }
    );
    Ok(())
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}} {{eta}}"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Loads every `*.md` file of `dir`: new pages are created, existing ones
/// get a new revision (none when nothing changed). Then each `SLUG.files`
/// folder beside a `SLUG.md` gives that page the versions of its files it
/// does not have yet (`transfer::files`). All files or none: a bad file is
/// reported by name and nothing is written.
///
/// A page's slug comes from its title, except that a file named like a
/// numbered variant of it (`peer-assist-2.md`, which export writes for a
/// second page titled "Peer Assist") keeps that slug: so an export imported
/// into an empty database gives back the same pages under the same URLs.
pub async fn import(db: &str, dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let stem = path
            .file_stem()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_page_file(&t))
        {
            Ok((title, text)) => match ImportTarget::new(&stem, &title) {
                Some(target) => docs.push(ImportDoc {
                    name,
                    stem,
                    target,
                    title,
                    text,
                }),
                None => errors.push(format!("{name}: the title has no letter or digit")),
            },
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    let attached = crate::transfer::files::read(dir)?;
    errors.extend(attached.errors);
    for folder in &attached.pages {
        if !docs.iter().any(|doc| doc.stem == folder.stem) {
            errors.push(format!(
                "{0}{1}: there is no {0}.md beside it, the page its files belong to",
                folder.stem,
                crate::transfer::files::FOLDER_SUFFIX
            ));
        }
    }
    let mut notes = attached.notes;
    if !errors.is_empty() {
        bail!(
            "nothing was imported; fix these files first:\n  {}",
            errors.join("\n  ")
        );
    }
    let total = docs.len();
    let pool = crate::db::connect(db).await?;
    let uploaders = crate::transfer::files::uploaders(&pool, &attached.pages).await?;
    let bar = progress(total as u64, "importing");
    let mut report = ImportReport::default();
    let mut page_ids = std::collections::HashMap::new();
    let mut tx = crate::db::begin_write(&pool).await?;
    // A new page takes the first free slug of `base`, `base-2`, `base-3`…:
    // so pages under their title's own slug go first, and each numbered
    // one once the slugs below its number exist, as in the exporting wiki.
    let (mut ready, mut waiting): (Vec<ImportDoc>, Vec<ImportDoc>) =
        docs.into_iter().partition(|d| d.target.number == 1);
    loop {
        for doc in ready.drain(..) {
            let page_id = import_one(&mut tx, &doc, &mut report).await?;
            page_ids.insert(doc.stem, page_id);
            bar.inc(1);
        }
        if waiting.is_empty() {
            break;
        }
        let mut still = Vec::new();
        for doc in waiting {
            if doc.target.lower_slugs_exist(&mut tx).await? {
                ready.push(doc);
            } else {
                still.push(doc);
            }
        }
        waiting = still;
        if ready.is_empty() {
            // Nothing can be placed exactly: import the rest as they come.
            ready = std::mem::take(&mut waiting);
        }
    }
    // The pages' files, once every page exists: each folder's page is the
    // one its page file became, whatever slug that took.
    let mut files = crate::transfer::files::Added::default();
    for folder in &attached.pages {
        let Some(&page_id) = page_ids.get(&folder.stem) else {
            continue;
        };
        let added =
            crate::transfer::files::add_to_page(&mut tx, page_id, folder, &uploaders, &mut notes)
                .await?;
        files.added += added.added;
        files.already += added.already;
    }
    tx.commit().await?;
    bar.finish_and_clear();
    for line in report.moved.iter().chain(&notes) {
        println!("note: {line}");
    }
    println!(
        "imported {total} files: {} new pages, {} updated, {} unchanged, in {:.1} s",
        report.created,
        report.updated,
        report.unchanged,
        started.elapsed().as_secs_f64()
    );
    if !attached.pages.is_empty() {
        println!(
            "attached files of {} pages: {} versions added, {} already there",
            attached.pages.len(),
            files.added,
            files.already
        );
    }
    Ok(())
}

struct ImportDoc {
    name: String,
    /// The file name without `.md`: what a `.files` folder goes with.
    stem: String,
    target: ImportTarget,
    title: String,
    text: PageText,
}

#[derive(Default)]
struct ImportReport {
    created: usize,
    updated: usize,
    unchanged: usize,
    /// New pages that could not get the slug their file name asked for.
    moved: Vec<String>,
}

/// Creates the page or saves a new revision of it; returns the page's id.
async fn import_one(
    tx: &mut crate::db::Tx,
    doc: &ImportDoc,
    report: &mut ImportReport,
) -> anyhow::Result<i64> {
    use crate::pages::db::{SaveOutcome, create_in, current_revision_in, save_in};
    let text = PageText {
        summary: format!("Imported from {}", doc.name),
        ..doc.text.clone()
    };
    match current_revision_in(&mut *tx, &doc.target.slug).await? {
        Some((id, revision)) => {
            match save_in(&mut *tx, id, revision, &text, None, None).await? {
                SaveOutcome::Unchanged => report.unchanged += 1,
                SaveOutcome::Saved { .. } => report.updated += 1,
                SaveOutcome::Conflict { .. } | SaveOutcome::Moved => {
                    anyhow::bail!("{}: the page changed during the import", doc.name)
                }
            }
            Ok(id)
        }
        None => {
            let given = create_in(&mut *tx, &doc.title, &text, None).await?;
            if given != doc.target.slug {
                report.moved.push(format!(
                    "{} became /methods/{given} ({} was taken)",
                    doc.name, doc.target.slug
                ));
            }
            report.created += 1;
            let (id, _) = current_revision_in(&mut *tx, &given)
                .await?
                .with_context(|| format!("{}: the new page is not there", doc.name))?;
            Ok(id)
        }
    }
}

/// Highest `-N` a file name may carry to keep its numbered slug.
const MAX_SLUG_NUMBER: u32 = 1000;

/// The slug a page file imports to.
#[derive(Debug, PartialEq, Eq)]
struct ImportTarget {
    /// The title's own slug.
    base: Slug,
    /// `base`, or `base-N` when the file is named so.
    slug: Slug,
    /// N, or 1 for `base` itself.
    number: u32,
}

impl ImportTarget {
    fn new(stem: &str, title: &str) -> Option<ImportTarget> {
        let base = Slug::from_title(title)?;
        let number = stem
            .strip_prefix(base.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| (2..=MAX_SLUG_NUMBER).contains(&n) && base.with_suffix(n).as_str() == stem)
            .unwrap_or(1);
        let slug = if number == 1 {
            base.clone()
        } else {
            base.with_suffix(number)
        };
        Some(ImportTarget { base, slug, number })
    }

    /// Whether `base`, `base-2` … `base-(N-1)` all exist, so that creating
    /// the page gives it `base-N`.
    async fn lower_slugs_exist(&self, tx: &mut crate::db::Tx) -> sqlx::Result<bool> {
        for n in 1..self.number {
            let slug = if n == 1 {
                self.base.clone()
            } else {
                self.base.with_suffix(n)
            };
            if crate::pages::db::current_revision_in(&mut *tx, &slug)
                .await?
                .is_none()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn parse_page_file(text: &str) -> Result<(String, PageText), String> {
    let doc = crate::transfer::parse(text)?;
    let title = parse_title(&doc.title)?;
    let tags = TagList::parse(&doc.tags.join(","))?;
    Ok((
        title,
        PageText {
            body: normalise_body(&doc.body),
            tags,
            summary: String::new(),
        },
    ))
}

/// Writes every page as `SLUG.md` into `dir` (created if needed), and its
/// visible files beside it in `SLUG.files/` (`transfer::files`).
pub async fn export(db: &str, dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pool = crate::db::connect(db).await?;
    let pages = crate::pages::db::all_for_export(&pool).await?;
    let bar = progress(pages.len() as u64, "exporting");
    for page in &pages {
        let tags = TagList::from_stored(&page.tags);
        let tags: Vec<&str> = tags.iter().map(|t| t.as_str()).collect();
        let extra = [
            ("revision", page.revision.to_string()),
            (
                "last_editor",
                page.editor_username
                    .clone()
                    .unwrap_or_else(|| "cafe".to_owned()),
            ),
            ("updated", page.updated_at.clone()),
        ];
        let text = crate::transfer::render(&page.title, &tags, &extra, &page.body);
        let path = dir.join(format!("{}.md", page.slug));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        bar.inc(1);
    }
    let files = crate::transfer::files::export(&pool, dir).await?;
    bar.finish_and_clear();
    println!(
        "exported {} pages to {} in {:.1} s",
        pages.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    if files.versions > 0 {
        println!(
            "and {} versions of {} files of {} pages, in SLUG.files folders \
             (hidden files and stories' files are not exported)",
            files.versions, files.files, files.pages
        );
    }
    Ok(())
}

/// A consistent copy of the live database while the server runs: `VACUUM
/// INTO` reads one snapshot (every save committed before it started) while
/// writers go on. The copy is flushed to disk, then checked with
/// `integrity_check`. The live database is opened as it is: not created,
/// not migrated.
pub async fn backup(db: &str, file: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    if file.exists() {
        bail!("{} exists already; choose a new file name", file.display());
    }
    if crate::db::Backend::of(db) == crate::db::Backend::Postgres {
        return backup_postgres(db, file);
    }
    let target = file
        .to_str()
        .context("the backup path is not valid UTF-8")?;
    let live = sqlx::SqlitePool::connect_with(crate::db::options(db)?.create_if_missing(false))
        .await
        .with_context(|| format!("cannot open the database {db}"))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&live)
        .await
        .context("backup failed")?;
    live.close().await;
    // SQLite does not sync the file VACUUM INTO writes.
    std::fs::File::open(file)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {} to disk", file.display()))?;
    let copy = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(file)
            .read_only(true),
    )
    .await?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&copy)
        .await?;
    copy.close().await;
    if check != "ok" {
        bail!(
            "the backup at {} failed its integrity check: {check}",
            file.display()
        );
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({size} bytes) in {:.1} s, integrity_check: ok",
        file.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// PostgreSQL's own tool makes a PostgreSQL backup: `pg_dump` reads one
/// snapshot while writers go on, as `VACUUM INTO` does for SQLite. Cafe
/// runs it in its custom format (restored with `pg_restore`), with the
/// password, if the URL has one, passed in the environment, not the
/// command line.
fn backup_postgres(db: &str, file: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pg_dump = std::process::Command::new("pg_dump");
    if let Some(password) = crate::db::password(db) {
        pg_dump.env("PGPASSWORD", password);
    }
    let status = pg_dump
        .arg("--format=custom")
        .arg("--file")
        .arg(file)
        .arg("--dbname")
        .arg(crate::db::redacted(db))
        .status()
        .context(
            "cannot run pg_dump: for a PostgreSQL site, install PostgreSQL's client tools \
             (Debian: postgresql-client) or run `pg_dump --format=custom` yourself",
        )?;
    if !status.success() {
        bail!(
            "pg_dump failed ({status}) for {}; nothing was written",
            crate::db::redacted(db)
        );
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written by pg_dump to {} ({size} bytes) in {:.1} s; restore with \
         pg_restore --dbname URL {}",
        file.display(),
        started.elapsed().as_secs_f64(),
        file.display()
    );
    Ok(())
}

/// Copies the whole site in `from` into the empty database `to` and says
/// how many rows of each table it copied.
pub async fn copy(from: &str, to: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let copied = crate::transfer::copy::copy(from, to).await?;
    println!(
        "copied {} into {} in {:.1} s:",
        crate::db::redacted(from),
        crate::db::redacted(to),
        started.elapsed().as_secs_f64()
    );
    for (table, rows) in &copied.tables {
        println!("  {table:<16} {rows:>9}");
    }
    println!(
        "tag counts, the search index and the content clock were rebuilt on the target; \
         sessions were not copied: members sign in again"
    );
    Ok(())
}

/// Makes every digest now and sends the outbox's mail that is due.
async fn digest_send(db: &str, args: ServeArgs) -> anyhow::Result<()> {
    let pool = crate::seed::open_and_seed(db).await?;
    let state = crate::AppState::new(pool.clone(), args).await?;
    let queued = crate::mail::digest::send(&state, true).await?;
    let sent = crate::mail::outbox::send_due(&state).await?;
    pool.close().await;
    println!("{queued} digests queued, {sent} mails sent");
    if !state.mail.enabled() {
        println!("no --smtp-url: the server sends them");
    }
    Ok(())
}

async fn indicators_import(db: &str, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = crate::tags::indicators::parse_csv(&text).map_err(|errors| {
        anyhow::anyhow!(
            "nothing was imported; fix these rows first:\n  {}",
            errors.join("\n  ")
        )
    })?;
    let pool = crate::db::connect(db).await?;
    let mut tx = crate::db::begin_write(&pool).await?;
    for row in &rows {
        crate::tags::db::upsert_indicator(&mut tx, row).await?;
    }
    tx.commit().await?;
    let _ = std::io::stdout().flush();
    println!("imported {} indicators", rows.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(stem: &str, title: &str) -> (String, u32) {
        let t = ImportTarget::new(stem, title).expect("a slug");
        (t.slug.as_str().to_owned(), t.number)
    }

    #[test]
    fn a_file_keeps_the_numbered_slug_export_gave_it() {
        assert_eq!(
            target("peer-assist-2", "Peer Assist"),
            ("peer-assist-2".to_owned(), 2)
        );
        assert_eq!(
            target("peer-assist-2-2", "Peer Assist 2"),
            ("peer-assist-2-2".to_owned(), 2)
        );
    }

    #[test]
    fn otherwise_the_slug_comes_from_the_title() {
        assert_eq!(
            target("peer-assist", "Peer Assist"),
            ("peer-assist".to_owned(), 1)
        );
        assert_eq!(
            target("peer-assist-2", "Peer Assist 2"),
            ("peer-assist-2".to_owned(), 1)
        );
        assert_eq!(
            target("my notes", "Peer Assist"),
            ("peer-assist".to_owned(), 1)
        );
        assert_eq!(
            target("peer-assist-02", "Peer Assist"),
            ("peer-assist".to_owned(), 1)
        );
        assert_eq!(
            target("peer-assist-99999", "Peer Assist"),
            ("peer-assist".to_owned(), 1)
        );
        assert!(ImportTarget::new("x", "???").is_none());
    }
}
