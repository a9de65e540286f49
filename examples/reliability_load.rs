//! Mixed load through real HTTP (issue 7): starts `cafe` (a release build)
//! on a fresh database, then for SECONDS runs WRITERS members saving edits
//! of their own pages back to back and READERS visitors reading pages,
//! lists, tags, search and recent changes back to back. Reports requests,
//! status counts, 5xx, "database is locked" in the server log, and read and
//! save latency percentiles.
//!
//! `cargo run --release --example reliability_load -- [--bin target/release/cafe]
//!  [--seconds 60] [--writers 8] [--readers 32]` (bench/reliability/load.sh wraps it).
//! Exits non-zero when a 5xx or "database is locked" was seen.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

const PASSWORD: &str = "correct horse battery staple";

struct Args {
    bin: String,
    seconds: u64,
    writers: usize,
    readers: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        bin: "target/release/cafe".to_owned(),
        seconds: 60,
        writers: 8,
        readers: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bin" => args.bin = value,
            "--seconds" => args.seconds = value.parse()?,
            "--writers" => args.writers = value.parse()?,
            "--readers" => args.readers = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// Latencies and statuses of one kind of request.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
}

impl Tally {
    fn add(&mut self, status: Option<u16>, took: Duration) {
        self.latencies.push(took);
        match status {
            Some(code) => *self.statuses.entry(code).or_default() += 1,
            None => self.transport_errors += 1,
        }
    }

    /// The `p` quantile; call after [`Tally::sort`].
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[index]
    }

    fn sort(&mut self) {
        self.latencies.sort_unstable();
    }

    fn server_errors(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(code, _)| **code >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

fn csrf(html: &str) -> anyhow::Result<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).context("no csrf token")? + marker.len();
    let end = html[start..].find('"').context("no token end")? + start;
    Ok(html[start..end].to_owned())
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<reqwest::Response> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    Ok(http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?)
}

/// A signed-in member with their own page: (client, token, page path).
async fn writer(base: &str, n: usize) -> anyhow::Result<(reqwest::Client, String, String)> {
    let http = client()?;
    let token = csrf(
        &http
            .get(format!("{base}/join"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let name = format!("writer{n}");
    let fields = [
        ("csrf_token", token.as_str()),
        ("username", &name),
        ("display_name", &name),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    let joined = post(&http, &format!("{base}/join"), &fields).await?;
    anyhow::ensure!(joined.status() == 303, "join {name}: {}", joined.status());
    let token = csrf(
        &http
            .get(format!("{base}/methods/new"))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let title = format!("Load test page {n}");
    let body = "## Brief Description\n\nA page edited under load.\n";
    let fields = [
        ("csrf_token", token.as_str()),
        ("title", &title),
        ("body", body),
        ("tags", "learning"),
        ("summary", "start"),
    ];
    let created = post(&http, &format!("{base}/methods"), &fields).await?;
    anyhow::ensure!(created.status() == 303, "create: {}", created.status());
    let page = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("no location")?
        .to_owned();
    Ok((http, token, page))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("load.db");
    let log_path = dir.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(&args.bin)
        .arg("--db")
        .arg(&db)
        .arg("--addr")
        .arg(format!("127.0.0.1:{port}"))
        .env("CAFE_JOINS_PER_ADDR", "100000")
        .env("RUST_LOG", "cafe=info,tower_http=warn,sqlx=warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path)?)
        .spawn()
        .with_context(|| format!("cannot start {}", args.bin))?;
    let ready = Instant::now();
    while reqwest::get(format!("{base}/healthz"))
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        if ready.elapsed() > Duration::from_secs(30) {
            let _ = server.kill();
            bail!("the server did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut pages: Vec<String> = [
        "communities-of-practice",
        "after-action-review",
        "learning-communities",
        "most-significant-change",
        "peer-assist",
        "reflective-practice",
    ]
    .iter()
    .map(|s| format!("/methods/{s}"))
    .collect();
    let mut writers = Vec::new();
    for n in 0..args.writers {
        let (http, token, page) = writer(&base, n).await?;
        pages.push(page.clone());
        writers.push((http, token, page));
    }
    let mut reads: Vec<String> = pages.clone();
    reads.extend(
        [
            "/",
            "/methods",
            "/tags",
            "/recent",
            "/search?q=community",
            "/methods?tag=learning",
        ]
        .map(str::to_owned),
    );
    let reads = Arc::new(reads);

    let read_tally = Arc::new(Mutex::new(Tally::default()));
    let by_path: Arc<Mutex<BTreeMap<String, Tally>>> = Arc::default();
    let save_tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (n, (http, token, page)) in writers.into_iter().enumerate() {
        let (base, tally) = (base.clone(), save_tally.clone());
        tasks.push(tokio::spawn(async move {
            let mut revision = 1u64;
            while Instant::now() < deadline {
                let body = format!(
                    "## Brief Description\n\nWriter {n}, save {revision}.\n\n{}\n",
                    "A line of method text. ".repeat(20)
                );
                let base_revision = revision.to_string();
                let fields = [
                    ("csrf_token", token.as_str()),
                    ("base_revision", base_revision.as_str()),
                    ("body", body.as_str()),
                    ("tags", "learning"),
                    ("summary", "load"),
                ];
                let started = Instant::now();
                let result = post(&http, &format!("{base}{page}/edit"), &fields).await;
                let status = result.ok().map(|r| r.status().as_u16());
                tally.lock().unwrap().add(status, started.elapsed());
                if status == Some(303) {
                    revision += 1;
                }
            }
        }));
    }
    for n in 0..args.readers {
        let (base, tally, reads, by_path) = (
            base.clone(),
            read_tally.clone(),
            reads.clone(),
            by_path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            let mut i = n;
            while Instant::now() < deadline {
                let path = &reads[i % reads.len()];
                i += 7;
                let started = Instant::now();
                let status = match http.get(format!("{base}{path}")).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        Some(status)
                    }
                    Err(_) => None,
                };
                let took = started.elapsed();
                tally.lock().unwrap().add(status, took);
                let kind = if path.starts_with("/methods/") {
                    "/methods/{slug}"
                } else {
                    path.as_str()
                };
                by_path
                    .lock()
                    .unwrap()
                    .entry(kind.to_owned())
                    .or_default()
                    .add(status, took);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let exit = server.wait()?;

    let log = std::fs::read_to_string(&log_path)?;
    let locked = log.matches("database is locked").count();
    let log_errors = log.lines().filter(|l| l.contains("ERROR")).count();
    let (mut reads, mut saves) = (
        std::mem::take(&mut *read_tally.lock().unwrap()),
        std::mem::take(&mut *save_tally.lock().unwrap()),
    );
    reads.sort();
    saves.sort();
    let total = reads.latencies.len() + saves.latencies.len();
    let fivexx = reads.server_errors() + saves.server_errors();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "mixed load: {} s, {} writers + {} readers, real HTTP to {}",
        args.seconds, args.writers, args.readers, args.bin
    );
    println!(
        "requests: {total} ({:.0}/s)",
        total as f64 / args.seconds as f64
    );
    println!(
        "reads: {} ({:.0}/s), statuses {:?}, transport errors {}; p50 {}, p95 {}, p99 {}, max {}",
        reads.latencies.len(),
        reads.latencies.len() as f64 / args.seconds as f64,
        reads.statuses,
        reads.transport_errors,
        ms(reads.percentile(0.50)),
        ms(reads.percentile(0.95)),
        ms(reads.percentile(0.99)),
        ms(reads.percentile(1.0))
    );
    println!(
        "saves: {} ({:.0}/s), statuses {:?}, transport errors {}; p50 {}, p99 {}, max {}",
        saves.latencies.len(),
        saves.latencies.len() as f64 / args.seconds as f64,
        saves.statuses,
        saves.transport_errors,
        ms(saves.percentile(0.50)),
        ms(saves.percentile(0.99)),
        ms(saves.percentile(1.0))
    );
    let mut by_path = std::mem::take(&mut *by_path.lock().unwrap());
    let breakdown: Vec<String> = by_path
        .iter_mut()
        .map(|(path, tally)| {
            tally.sort();
            format!(
                "{path} {} p99 {}",
                tally.latencies.len(),
                ms(tally.percentile(0.99))
            )
        })
        .collect();
    println!("reads by path: {}", breakdown.join("; "));
    println!(
        "5xx: {fivexx}; \"database is locked\" in the server log: {locked}; ERROR lines: {log_errors}; server exit: {exit}"
    );
    if fivexx > 0 || locked > 0 || reads.transport_errors + saves.transport_errors > 0 {
        bail!("FAILED: 5xx, locked database or transport errors");
    }
    let p99 = reads.percentile(0.99);
    println!(
        "read p99 {} against the 50 ms target: {}",
        ms(p99),
        if p99 <= Duration::from_millis(50) {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}
