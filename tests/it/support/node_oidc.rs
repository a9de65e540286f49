//! A real OpenID provider for the end-to-end sign-in test: the npm package
//! `oidc-provider` (tests/oidc-provider/provider.mjs) run by Node.js on a
//! free port of 127.0.0.1, with one confidential client for Cafe.
//!
//! Its login form takes any login with any password; the account's `sub`
//! and `preferred_username` are the login, its `name` "Name of {login}",
//! its `email` "{login}@example.org".
//!
//! Needs `node` (or `CAFE_NODE`) and the packages: `npm ci --prefix
//! tests/oidc-provider` (which `.ci/run` does).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::server::free_port;
use crate::support::under_ci;

/// The client Cafe is registered as.
const CLIENT_ID: &str = "cafe-e2e";
/// Not a secret: the provider lives for one test on 127.0.0.1.
const CLIENT_SECRET: &str = "cafe-e2e-client-secret-for-tests-only";

/// How long Node may take to load the provider and listen.
const STARTUP: Duration = Duration::from_secs(30);

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oidc-provider")
}

fn node_binary() -> PathBuf {
    std::env::var_os("CAFE_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// Why the provider cannot run here, if it cannot.
fn missing() -> Option<String> {
    let node = node_binary();
    let runs = Command::new(&node)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !runs {
        return Some(format!(
            "{} not found (install Node.js, e.g. Debian's nodejs npm)",
            node.display()
        ));
    }
    let package = provider_dir()
        .join("node_modules")
        .join("oidc-provider")
        .join("package.json");
    if !package.exists() {
        return Some(
            "the provider's packages are missing \
             (run: npm ci --prefix tests/oidc-provider --no-audit --no-fund)"
                .to_owned(),
        );
    }
    None
}

/// Whether the provider can run, after saying why not. Under `CI` a
/// missing Node.js or package is a failure, as a missing browser is (see
/// [`crate::support::browser::browser_binaries`]).
pub fn available() -> bool {
    let Some(missing) = missing() else {
        return true;
    };
    if under_ci() {
        panic!(
            "the OpenID provider cannot run: {missing}; CI is set, so the test fails instead of skipping"
        );
    }
    // Straight to stderr: `cargo test` hides a passing test's print! output.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** OpenID Connect end-to-end test skipped: {missing} ***\n"
    );
    false
}

/// A running `provider.mjs`; the process is killed on drop.
pub struct NodeProvider {
    child: Child,
    issuer: String,
    /// Holds the provider's stderr (its warnings and errors).
    log: tempfile::NamedTempFile,
}

impl NodeProvider {
    /// Starts the provider with Cafe's client registered for
    /// `redirect_uri` (and `post_logout`, where Cafe may ask the provider
    /// to send a person back after signing out there), and waits until it
    /// listens. `None` (after saying so) when Node.js or the packages are
    /// missing outside CI; see [`available`].
    pub fn start(redirect_uri: &str, post_logout: Option<&str>) -> Option<NodeProvider> {
        if !available() {
            return None;
        }
        Some(Self::spawn(redirect_uri, post_logout).unwrap_or_else(|error| panic!("{error}")))
    }

    fn spawn(redirect_uri: &str, post_logout: Option<&str>) -> Result<NodeProvider, String> {
        let port = free_port();
        // It listens on 127.0.0.1 only, but is named `localhost`: another
        // site than Cafe's 127.0.0.1 (ports do not make sites), as a real
        // provider is, so the browser applies its cross-site cookie rules
        // to the way back (a `SameSite=Strict` cookie would be missing).
        let issuer = format!("http://localhost:{port}");
        let log = tempfile::NamedTempFile::new().map_err(|e| format!("a log file: {e}"))?;
        let stderr = log
            .reopen()
            .map_err(|e| format!("reopening the log file: {e}"))?;
        let mut command = Command::new(node_binary());
        command
            .arg(provider_dir().join("provider.mjs"))
            .current_dir(provider_dir())
            .env("PORT", port.to_string())
            .env("ISSUER", &issuer)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        match post_logout {
            Some(uri) => command.env("POST_LOGOUT_REDIRECT_URI", uri),
            None => command.env_remove("POST_LOGOUT_REDIRECT_URI"),
        };
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", node_binary().display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines, ready) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps reading to the end, so the pipe never fills.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut provider = NodeProvider { child, issuer, log };
        let expected = format!("oidc-provider listening on {}", provider.issuer);
        let started = Instant::now();
        loop {
            match ready.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.trim() == expected => return Ok(provider),
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                // Its stdout closed: it is ending; try_wait tells soon.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            if let Ok(Some(status)) = provider.child.try_wait() {
                return Err(format!(
                    "the OpenID provider exited with {status} before listening; its stderr:\n{}",
                    provider.stderr()
                ));
            }
            if started.elapsed() > STARTUP {
                return Err(format!(
                    "the OpenID provider did not say {expected:?} within {STARTUP:?}; its stderr:\n{}",
                    provider.stderr()
                ));
            }
        }
    }

    /// What the provider wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// `http://localhost:PORT`, as `--oidc-issuer` takes it.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        CLIENT_ID
    }

    pub fn client_secret(&self) -> &str {
        CLIENT_SECRET
    }
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
