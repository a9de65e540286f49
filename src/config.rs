//! Command line and environment (`CAFE_*`) configuration.

use std::net::{IpAddr, SocketAddr};
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
    /// The database, used by every subcommand: a SQLite file path or
    /// `sqlite:` URL (created if missing), or a PostgreSQL database that
    /// exists, `postgres://USER[:PASS]@HOST:PORT/DB` (or `postgresql://`).
    #[arg(long, env = "CAFE_DB", default_value = "cafe.db", global = true)]
    pub db: String,

    /// Connections the process keeps to the database at most.
    #[arg(long, env = "CAFE_DB_POOL_SIZE", default_value_t = 8, global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub db_pool_size: u32,

    /// PostgreSQL: seconds a statement may run before the database cancels
    /// it (answered "busy, try again"). SQLite's writers wait 10 s at most.
    #[arg(long, env = "CAFE_DB_STATEMENT_TIMEOUT_SECS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_statement_timeout_secs: u64,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve(Box<ServeArgs>),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Load a folder of `SLUG.md` files (front matter + Markdown) as pages.
    Import { dir: PathBuf },
    /// Write every page as `SLUG.md` with front matter into a folder.
    Export { dir: PathBuf },
    /// Write a consistent copy of the live database to FILE.
    Backup { file: PathBuf },
    /// Mail digests.
    #[command(subcommand)]
    Digest(DigestCommand),
    /// Manage the CCASS indicator table.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
    /// Copy a whole site (accounts, pages and every revision, stories,
    /// rosters, tags, indicators, recent changes) from FROM into the empty
    /// database TO, in one transaction: SQLite to PostgreSQL or back.
    /// Sessions are not copied. `--db` is not used.
    Copy {
        /// The site to copy: a SQLite file path or `sqlite:` URL (which must
        /// exist), or `postgres://USER[:PASS]@HOST:PORT/DB`.
        from: String,
        /// The empty database to copy into (a SQLite file is created if
        /// missing; a PostgreSQL database must exist).
        to: String,
    },
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
pub enum DigestCommand {
    /// Make every member's daily or weekly digest now (whatever the
    /// schedule) and send what is in the outbox. Give the server's mail
    /// flags before `digest` (`cafe --smtp-url … --mail-from … --public-url
    /// … digest send`); without `--smtp-url` the digests wait in the outbox
    /// for the server.
    Send,
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
    /// memory), in MiB (0: none). Visitors' and members' copies of a page
    /// are kept apart, about 12 KB each: 1,024 MiB keeps 20,000 pages that
    /// both read (256 did not: every visitor's page was rendered again after
    /// the members had read theirs, bench/RESULTS.md "Session of 2026-12-07
    /// (tenth)"). Its index costs the server about 100 bytes a page.
    #[arg(long, env = "CAFE_PAGE_CACHE_DISK_MIB", default_value_t = 1024)]
    pub page_cache_disk_mib: u64,
    /// Hosts pages may show images from over HTTPS, besides the site itself
    /// (`HOST,HOST`; a host name or address with an optional `:port`).
    #[arg(long, env = "CAFE_IMAGE_HOSTS", value_delimiter = ',', value_parser = ImageHost::parse)]
    pub image_hosts: Vec<ImageHost>,
    /// The address people use to reach the site (`https://wiki.example.org`),
    /// for every absolute link: feeds, and later mail and redirects. Without
    /// it, `http://` and `--addr`.
    #[arg(long, env = "CAFE_PUBLIC_URL", value_parser = PublicUrl::parse)]
    pub public_url: Option<PublicUrl>,
    /// The header a reverse proxy puts the client's address in
    /// (`x-forwarded-for` or `x-real-ip`). Only then is that header read;
    /// without it, headers never change the address throttles count by.
    #[arg(long, env = "CAFE_TRUST_PROXY", value_parser = parse_header_name)]
    pub trust_proxy: Option<axum::http::HeaderName>,
    /// Seconds a client has to send a request's line and headers (also how
    /// long an idle kept-alive connection stays open).
    #[arg(long, env = "CAFE_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a whole request body.
    #[arg(long, env = "CAFE_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// Connections served at once; more wait in the listening queue. 1024
    /// is far more than a community's wiki sees at once (a browser opens up
    /// to six) while bounding the sockets and memory a flood can take; keep
    /// the open-files limit (`ulimit -n`) above it.
    #[arg(long, env = "CAFE_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// The largest file a member may upload, in MiB (an upload request may
    /// carry several files that together fit in this, plus 1 MiB of form).
    #[arg(long, env = "CAFE_FILE_MAX_MIB", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub file_max_mib: u64,
    /// The most bytes of files (every version counted) one method page and
    /// its stories may hold, in MiB.
    #[arg(long, env = "CAFE_PAGE_FILES_MAX_MIB", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub page_files_max_mib: u64,
    /// Upload requests one member may make in an hour before 429.
    #[arg(long, env = "CAFE_UPLOADS_PER_HOUR", default_value_t = 60)]
    pub uploads_per_hour: usize,
    /// Questions one member may send practitioners through Cafe in an
    /// hour before the form says to wait (at most 64).
    #[arg(long, env = "CAFE_QUESTIONS_PER_HOUR", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub questions_per_hour: u64,
    /// OpenID Connect: the provider's issuer URL, whose
    /// `/.well-known/openid-configuration` Cafe reads. With it, the
    /// sign-in page offers the provider's button (see docs/sso.md).
    #[arg(long, env = "CAFE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// OpenID Connect: the client id Cafe was registered with.
    #[arg(long, env = "CAFE_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// OpenID Connect: the client secret. Prefer the environment or
    /// `--oidc-client-secret-file`: a command line is seen by every user of
    /// the machine.
    #[arg(long, env = "CAFE_OIDC_CLIENT_SECRET", hide_env_values = true, value_parser = Secret::parse)]
    pub oidc_client_secret: Option<Secret>,
    /// OpenID Connect: a file holding the client secret (its first line).
    #[arg(long, env = "CAFE_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// OpenID Connect: the text of the sign-in button.
    #[arg(
        long,
        env = "CAFE_OIDC_LABEL",
        default_value = "Sign in with your organisation account"
    )]
    pub oidc_label: String,
    /// OpenID Connect: the ID token claim a new member's username is made
    /// from (`preferred_username`, `email` — its part before `@` —, `sub`,
    /// or any other text claim).
    #[arg(
        long,
        env = "CAFE_OIDC_USERNAME_CLAIM",
        default_value = "preferred_username"
    )]
    pub oidc_username_claim: String,
    /// OpenID Connect: the scopes asked for (`openid` is always among them).
    #[arg(
        long,
        env = "CAFE_OIDC_SCOPES",
        value_delimiter = ',',
        default_value = "openid,profile,email"
    )]
    pub oidc_scopes: Vec<String>,
    /// OpenID Connect: sign in only people whose verified e-mail address is
    /// in one of these domains (`example.org,example.com`; empty: anyone
    /// the provider signs in).
    #[arg(long, env = "CAFE_OIDC_ALLOWED_DOMAINS", value_delimiter = ',')]
    pub oidc_allowed_domains: Vec<String>,
    /// Months after which a roster entry its owner has not confirmed is
    /// shown as not confirmed and its owner asked "Still using …?" (0:
    /// never).
    #[arg(long, env = "CAFE_ROSTER_CONFIRM_MONTHS", default_value_t = 12)]
    pub roster_confirm_months: u32,
    /// Mail: the SMTP server notifications and address checks go through,
    /// `smtp://HOST:PORT` (STARTTLS when the server offers it) or
    /// `smtps://HOST:PORT` (TLS from the start), with `USER:PASSWORD@` before
    /// the host if it needs a sign-in. Without it Cafe sends no mail.
    #[arg(long, env = "CAFE_SMTP_URL", hide_env_values = true, value_parser = crate::mail::smtp::SmtpUrl::parse)]
    pub smtp_url: Option<crate::mail::smtp::SmtpUrl>,
    /// Mail: the SMTP password, when it is not in `--smtp-url` (prefer the
    /// environment: a command line is seen by every user of the machine).
    #[arg(long, env = "CAFE_SMTP_PASSWORD", hide_env_values = true, value_parser = Secret::parse)]
    pub smtp_password: Option<Secret>,
    /// Mail: the sender's address (`cafe@example.org` or `Cafe
    /// <cafe@example.org>`); needed with `--smtp-url`.
    #[arg(long, env = "CAFE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Mail: attempts at sending one mail before it is marked failed.
    #[arg(long, env = "CAFE_MAIL_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub mail_max_attempts: u32,
    /// Mail: seconds before the first retry of a mail the SMTP server did
    /// not take; later retries wait 5, 30, 120, 360… times as long.
    #[arg(long, env = "CAFE_MAIL_RETRY_SECS", default_value_t = 60)]
    pub mail_retry_secs: u64,
    /// Mail: seconds a change's mail waits before it is sent, so that more
    /// changes to the same page join it (one member's repeated edits make
    /// one mail).
    #[arg(long, env = "CAFE_MAIL_COALESCE_SECS", default_value_t = 300)]
    pub mail_coalesce_secs: u64,
    /// Who may sign in with a Cafe password: everyone (`all`), only
    /// administrators (`admins`), or nobody (`off`). Anything but `all`
    /// closes the join form and needs `--oidc-issuer`.
    #[arg(long, env = "CAFE_LOCAL_SIGN_IN", value_enum, default_value_t = LocalSignIn::All)]
    pub local_sign_in: LocalSignIn,
}

/// Who may sign in with a password kept by Cafe (`--local-sign-in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LocalSignIn {
    All,
    Admins,
    Off,
}

/// A secret from the command line or environment: never shown by `Debug`,
/// so a logged configuration does not carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn parse(raw: &str) -> Result<Secret, String> {
        Ok(Secret(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(hidden)")
    }
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
    /// Defaults for tests and tools that build an app without a command
    /// line. The `CAFE_*` variables are not read: what a shell exports for
    /// a server it runs must not change an app built in code.
    pub fn defaults() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let without_env = Cli::command()
            .mut_args(|arg| arg.env(None))
            .mut_subcommands(|sub| sub.mut_args(|arg| arg.env(None)));
        let parsed = without_env
            .try_get_matches_from(["cafe"])
            .and_then(|matches| Cli::from_arg_matches(&matches));
        match parsed {
            Ok(cli) => cli.serve,
            Err(err) => unreachable!("the defaults always parse: {err}"),
        }
    }

    /// Roster entries confirmed before this stamp are not current (`None`:
    /// every entry is).
    pub fn roster_cutoff(&self) -> Option<String> {
        self.roster_confirm_days().map(crate::clock::days_ago)
    }

    /// How many days a roster confirmation holds (`None`: for ever).
    pub fn roster_confirm_days(&self) -> Option<i64> {
        (self.roster_confirm_months > 0).then(|| i64::from(self.roster_confirm_months) * 365 / 12)
    }

    /// The most bytes an upload request's body may hold.
    pub fn upload_body_max(&self) -> usize {
        usize::try_from(self.file_max_mib << 20)
            .unwrap_or(usize::MAX)
            .saturating_add(1 << 20)
    }

    /// Where absolute links point: `--public-url`, else `http://` and the
    /// listening address (never a request's `Host`, which anyone can set).
    pub fn base_url(&self) -> PublicUrl {
        self.public_url
            .clone()
            .unwrap_or_else(|| PublicUrl::from_addr(self.addr))
    }
}

/// `scheme://host[:port]` of the site as people reach it, without a
/// trailing slash: a site path is appended to it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    host: String,
}

impl PublicUrl {
    /// Accepts `http` or `https`, a host, an optional port and at most a
    /// `/` after it: Cafe is served at the root of its host, and a query or
    /// fragment would end up inside every link.
    pub fn parse(raw: &str) -> Result<PublicUrl, String> {
        let raw = raw.trim();
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or("give the scheme too, as in https://wiki.example.org")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("the scheme must be http or https, not {scheme}"));
        }
        if rest.contains(['?', '#']) {
            return Err("a public URL has no query (?) or fragment (#)".to_owned());
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err("Cafe is served at the root of its host: give no path".to_owned());
        }
        if authority.contains('@') {
            return Err("a public URL has no user name or password".to_owned());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        if let Some(port) = port
            && port.parse::<u16>().is_err()
        {
            return Err(format!("{port} is not a port number"));
        }
        let is_ipv6 = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok());
        let is_name = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !(is_ipv6 || is_name) {
            return Err(format!("{host:?} is not a host name"));
        }
        let host = host.to_ascii_lowercase();
        let origin = match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(PublicUrl { origin, host })
    }

    /// `http://` and the listening address.
    pub fn from_addr(addr: SocketAddr) -> PublicUrl {
        PublicUrl {
            origin: format!("http://{addr}"),
            host: match addr.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            },
        }
    }

    /// `scheme://host[:port]`, to put a site path after.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// An absolute URL of a site path (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The host as an RFC 4151 tag authority (a DNS name): an IPv6 address
    /// has no such spelling, so its eight groups are joined with `-`.
    pub fn tag_authority(&self) -> String {
        match self
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .and_then(|h| h.parse::<std::net::Ipv6Addr>().ok())
        {
            Some(ip) => {
                let groups: Vec<String> = ip.segments().iter().map(|g| format!("{g:x}")).collect();
                format!("ip6-{}", groups.join("-"))
            }
            None => self.host.clone(),
        }
    }
}

fn parse_header_name(raw: &str) -> Result<axum::http::HeaderName, String> {
    axum::http::HeaderName::from_bytes(raw.trim().to_ascii_lowercase().as_bytes())
        .map_err(|_| format!("{raw:?} is not a header name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_keeps_scheme_host_and_port_and_drops_a_final_slash() {
        let url = PublicUrl::parse("HTTPS://Wiki.Example.org:8443/").expect("valid");
        assert_eq!(url.origin(), "https://wiki.example.org:8443");
        assert_eq!(url.join("/recent"), "https://wiki.example.org:8443/recent");
        assert_eq!(url.tag_authority(), "wiki.example.org");
        let v6 = PublicUrl::parse("http://[::1]:3000").expect("valid");
        assert_eq!(v6.origin(), "http://[::1]:3000");
        assert_eq!(v6.tag_authority(), "ip6-0-0-0-0-0-0-0-1");
    }

    #[test]
    fn a_public_url_with_a_path_query_fragment_or_odd_host_is_refused() {
        for bad in [
            "wiki.example.org",
            "ftp://wiki.example.org",
            "https://wiki.example.org/?a=1",
            "https://wiki.example.org#x",
            "https://wiki.example.org/cafe",
            "https://user@wiki.example.org",
            "https://wiki.example.org:99999",
            "https://",
            "https://evil.example\"><x",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_a_public_url_links_use_the_listening_address() {
        let args = ServeArgs::defaults();
        assert_eq!(args.base_url().origin(), "http://127.0.0.1:3000");
        assert_eq!(args.base_url().tag_authority(), "127.0.0.1");
    }
}

#[cfg(test)]
mod image_host_tests {
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
