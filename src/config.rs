//! Command line and environment (`CAFE_*`) configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `cafe [serve] [flags]` or `cafe <subcommand>`.
///
/// No `args_conflicts_with_subcommands`: clap counts the global `--db` as a
/// conflicting argument too, which refused `cafe --db FILE export DIR`.
#[derive(Debug, Parser)]
#[command(
    name = "cafe",
    version,
    about = "Cafe: a wiki of methods, stories and rosters for communities of practice"
)]
pub struct Cli {
    /// The SQLite database: a file path or a `sqlite:` URL. Used by every subcommand.
    #[arg(long, env = "CAFE_DB", default_value = "cafe.db", global = true)]
    pub db: String,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Load a folder of `SLUG.md` files (front matter + Markdown) as pages.
    Import { dir: PathBuf },
    /// Write every page as `SLUG.md` with front matter into a folder.
    Export { dir: PathBuf },
    /// Write a consistent copy of the live database to FILE.
    Backup { file: PathBuf },
    /// Manage the CCASS indicator table.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from the first line of standard
    /// input when it is not a terminal, else prompted for.
    Add {
        username: String,
        /// Shown name (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IndicatorsCommand {
    /// Load a CSV file (`code,name,description,group,sort`): all rows or none.
    Import { file: PathBuf },
}

/// Settings of the web server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CAFE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// The site's name, shown in the header and titles.
    #[arg(long, env = "CAFE_SITE_NAME", default_value = "Cafe")]
    pub site_name: String,
    /// The organisation, as in "Who is using this method at {org}?".
    #[arg(long, env = "CAFE_ORG", default_value = "our organisation")]
    pub org: String,
    /// Mark the session cookie `Secure` (set this when served over HTTPS).
    #[arg(long, env = "CAFE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Serve static assets from this folder instead of the embedded copies.
    #[arg(long, env = "CAFE_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Sign a session out after this many minutes without a request.
    #[arg(long, env = "CAFE_SESSION_IDLE_MINUTES", default_value_t = 60 * 24 * 14)]
    pub session_idle_minutes: i64,
    /// Sign a session out this many hours after sign-in, whatever its use.
    #[arg(long, env = "CAFE_SESSION_MAX_HOURS", default_value_t = 24 * 30)]
    pub session_max_hours: i64,
    /// Wrong passwords allowed for one username in 15 minutes before 429.
    #[arg(long, env = "CAFE_SIGNIN_FAILURES_PER_USER", default_value_t = 5)]
    pub signin_failures_per_user: usize,
    /// Failed sign-ins allowed from one address in a minute before 429.
    #[arg(long, env = "CAFE_SIGNIN_FAILURES_PER_ADDR", default_value_t = 30)]
    pub signin_failures_per_addr: usize,
    /// Accounts that may be created from one address in an hour.
    #[arg(long, env = "CAFE_JOINS_PER_ADDR", default_value_t = 20)]
    pub joins_per_addr: usize,
    /// Memory for method pages kept rendered for visitors who are not
    /// signed in, in MiB (0: render every view).
    #[arg(long, env = "CAFE_PAGE_CACHE_MIB", default_value_t = 8)]
    pub page_cache_mib: u64,
    /// Disk for more of those pages, kept in an unnamed file beside the
    /// database (read back from the kernel's page cache, not the server's
    /// memory), in MiB (0: none).
    #[arg(long, env = "CAFE_PAGE_CACHE_DISK_MIB", default_value_t = 256)]
    pub page_cache_disk_mib: u64,
}

impl ServeArgs {
    /// Defaults for tests and tools that build an app without a command line.
    pub fn defaults() -> Self {
        match Cli::try_parse_from(["cafe"]) {
            Ok(cli) => cli.serve,
            Err(err) => unreachable!("the defaults always parse: {err}"),
        }
    }
}
