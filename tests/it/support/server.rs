//! The real binary (`target/debug/cafe`) on a free local port, and members
//! and visitors driving it over real HTTP: for the tests that need a whole
//! process (signals, a second process writing the same database, files).
//!
//! Every `cafe` a test starts comes from [`cafe_command`], which keeps the
//! test's own `CAFE_*` environment (as a developer's shell or CI may set it)
//! away from the child: a test sets what it means to, nothing else leaks in.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};

use super::PASSWORD;

/// Removes from `command` every `CAFE_*` variable of this process's
/// environment, so the child reads only the flags and variables the test
/// gives it (the server reads `CAFE_DB`, `CAFE_ADDR`, … through clap).
pub fn without_cafe_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("CAFE_")) {
            command.env_remove(&key);
        }
    }
    command
}

/// The `cafe` binary with none of the test's `CAFE_*` variables.
pub fn cafe_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cafe"));
    without_cafe_env(&mut command);
    command
}

/// A free port on 127.0.0.1 (free when asked; the server binds it next).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("addr").port()
}

/// A `cafe` process serving a database on a free local port.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts the server on `db` (a SQLite file's path or a PostgreSQL URL,
    /// as `--db` takes it) and waits until `/healthz` answers. Throttles on
    /// joins and sign-ins are lifted: tests sign many members up (a test of
    /// the throttles sets its own limits with flags, which win).
    pub async fn start(db: impl AsRef<OsStr>) -> Server {
        Self::start_with(db, &[] as &[&str]).await
    }

    /// As [`Server::start`], with more flags for `cafe`.
    pub async fn start_with<S: AsRef<OsStr>>(db: impl AsRef<OsStr>, flags: &[S]) -> Server {
        let port = free_port();
        // Not beside the database: that disk may be full.
        let log = std::env::temp_dir().join(format!("cafe-test-server-{port}.log"));
        let child = cafe_command()
            .arg("--db")
            .arg(db.as_ref())
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .args(flags)
            .env("CAFE_JOINS_PER_ADDR", "100000")
            .env("CAFE_SIGNIN_FAILURES_PER_ADDR", "100000")
            .env("CAFE_SIGNIN_FAILURES_PER_USER", "100000")
            .env("RUST_LOG", "cafe=info,tower_http=warn,sqlx=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("the cafe binary starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(response) = http.get(format!("{}/healthz", self.base)).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not start; its log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits (at most `limit`) for the process to end.
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the server did not stop within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET /healthz/cache`: the visitors' cache's (hits, misses) so far.
    pub async fn cache_stats(&self) -> (u64, u64) {
        let text = reqwest::get(format!("{}/healthz/cache", self.base))
            .await
            .expect("GET /healthz/cache")
            .text()
            .await
            .expect("text");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let count = |name: &str| {
            json[name]
                .as_u64()
                .unwrap_or_else(|| panic!("no {name} in {text}"))
        };
        (count("hits"), count("misses"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The value of the first `csrf_token` field of `html`.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("a csrf token");
    let end = html[start..].find('"').expect("end of token") + start;
    assert!(end > start, "an empty csrf token");
    html[start..end].to_owned()
}

/// A browser session of one member: cookies, CSRF token, no redirects followed.
#[derive(Clone)]
pub struct Member {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Member {
    pub async fn join(base: &str, username: &str) -> Member {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let form = http
            .get(format!("{base}/join"))
            .send()
            .await
            .expect("join form")
            .text()
            .await
            .expect("text");
        let mut member = Member {
            http,
            base: base.to_owned(),
            token: csrf(&form),
        };
        let fields = [
            ("username", username),
            ("display_name", username),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ];
        let (status, _, body) = member.post("/join", &fields).await.expect("join");
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "joining as {username}: {body}"
        );
        let page = member
            .http
            .get(format!("{base}/methods/new"))
            .send()
            .await
            .expect("form")
            .text()
            .await
            .expect("text");
        member.token = csrf(&page);
        member
    }

    /// POSTs a form with the token: (status, Location, body), or the
    /// transport error (a dead server).
    pub async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<(StatusCode, String, String), reqwest::Error> {
        let mut all = vec![("csrf_token", self.token.as_str())];
        all.extend_from_slice(fields);
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(super::encode(&all))
            .send()
            .await?;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await?;
        Ok((status, location, body))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = response.status();
        (status, response.text().await.expect("text"))
    }

    pub async fn create_page(&self, title: &str, body: &str) -> String {
        self.create_page_tagged(title, body, "").await
    }

    pub async fn create_page_tagged(&self, title: &str, body: &str, tags: &str) -> String {
        let (status, location, text) = self
            .post(
                "/methods",
                &[
                    ("title", title),
                    ("body", body),
                    ("tags", tags),
                    ("summary", ""),
                ],
            )
            .await
            .expect("create");
        assert_eq!(status, StatusCode::SEE_OTHER, "creating {title}: {text}");
        location
    }

    pub async fn edit(
        &self,
        page: &str,
        base_revision: i64,
        body: &str,
    ) -> Result<(StatusCode, String), reqwest::Error> {
        self.edit_tagged(page, base_revision, body, "").await
    }

    pub async fn edit_tagged(
        &self,
        page: &str,
        base_revision: i64,
        body: &str,
        tags: &str,
    ) -> Result<(StatusCode, String), reqwest::Error> {
        let base = base_revision.to_string();
        let fields = [
            ("base_revision", base.as_str()),
            ("body", body),
            ("tags", tags),
            ("summary", "test edit"),
        ];
        self.post(&format!("{page}/edit"), &fields)
            .await
            .map(|(status, _, body)| (status, body))
    }
}
