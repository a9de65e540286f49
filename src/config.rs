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
    /// Hosts pages may show images from over HTTPS, besides the site itself
    /// (`HOST,HOST`; a host name or address with an optional `:port`).
    #[arg(long, env = "CAFE_IMAGE_HOSTS", value_delimiter = ',', value_parser = ImageHost::parse)]
    pub image_hosts: Vec<ImageHost>,
}

/// A host the Content-Security-Policy lets images come from: letters,
/// digits, `-` and `.`, with an optional `:port`. Nothing else, since it is
/// written into the CSP header, where a space, `;` or `*` would widen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHost(String);

impl ImageHost {
    /// Refuses a scheme, a path, a wildcard, an empty name or label, and a
    /// port that is not 1–65535.
    pub fn parse(text: &str) -> Result<ImageHost, String> {
        let refuse = || {
            format!(
                "{text:?} is not a host name: use letters, digits, '-' and '.', \
                 and optionally :PORT (no scheme, path or wildcard)"
            )
        };
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let label_ok = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !host.split('.').all(label_ok) {
            return Err(refuse());
        }
        if let Some(port) = port {
            let digits =
                !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
            if !digits || !port.parse::<u16>().is_ok_and(|p| p > 0) {
                return Err(refuse());
            }
        }
        Ok(ImageHost(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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

#[cfg(test)]
mod tests {
    use super::ImageHost;

    #[test]
    fn an_image_host_is_a_plain_host_name_with_an_optional_port() {
        for good in [
            "images.example.org",
            "cdn-2.example:8443",
            "localhost",
            "10.0.0.1:1",
        ] {
            assert!(ImageHost::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            ImageHost::parse("Images.Example.ORG").map(|h| h.as_str().to_owned()),
            Ok("images.example.org".to_owned())
        );
        for bad in [
            "",
            "https://a.example",
            "a.example/x",
            "*.example",
            "a b",
            "a;b",
            "a..b",
            ".a",
            "a:",
            "a:0",
            "a:65536",
            "a:+1",
            "a:1:2",
            "ex\u{e4}mple.org",
        ] {
            assert!(ImageHost::parse(bad).is_err(), "{bad:?}");
        }
    }
}
