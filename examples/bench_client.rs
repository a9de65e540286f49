//! Benchmark client for the scenarios a plain load generator cannot drive:
//! page saves by signed-in editors (sign in, fetch the edit form, take its
//! `csrf_token`, `base_revision`, text and tags, post an edit) and sign-in
//! itself (fetch the form for a session and CSRF token, post the password).
//!
//! cargo run --release --example bench_client -- saves  --base http://127.0.0.1:38080 --users bench/out/users.txt --slugs bench/out/slugs.txt --conns 4 --seconds 10
//! cargo run --release --example bench_client -- signin --base http://127.0.0.1:38080 --users bench/out/users.txt --conns 4 --seconds 10
//!
//! Prints one line `RESULT<TAB>ops/s<TAB>p50 ms<TAB>p99 ms<TAB>errors<TAB>ops<TAB>note`
//! (latency of the POST that does the work), which `bench/run.sh` tabulates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rand::Rng;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

#[derive(Default)]
struct Tally {
    ok: u64,
    conflicts: u64,
    server_errors: u64,
    other: u64,
    latencies: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        self.server_errors += other.server_errors;
        self.other += other.other;
        self.latencies.extend(other.latencies);
    }
}

struct Args {
    mode: String,
    base: String,
    users: Vec<(String, String)>,
    slugs: Vec<String>,
    conns: usize,
    seconds: f64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().context("usage: bench_client saves|signin --base URL --users FILE [--slugs FILE] --conns N --seconds S")?;
    let (mut base, mut users, mut slugs, mut conns, mut seconds) =
        (String::new(), Vec::new(), Vec::new(), 4, 10.0);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--base" => base = value.trim_end_matches('/').to_owned(),
            "--users" => {
                users = std::fs::read_to_string(&value)?
                    .lines()
                    .filter_map(|l| l.split_once(' ').map(|(u, p)| (u.to_owned(), p.to_owned())))
                    .collect()
            }
            "--slugs" => {
                slugs = std::fs::read_to_string(&value)?
                    .lines()
                    .map(str::to_owned)
                    .collect()
            }
            "--conns" => conns = value.parse()?,
            "--seconds" => seconds = value.parse()?,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if base.is_empty() || users.is_empty() {
        bail!("--base and --users are needed");
    }
    Ok(Args {
        mode,
        base,
        users,
        slugs,
        conns,
        seconds,
    })
}

/// Undoes askama's HTML escaping of a form value.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The `value` of the input named `name`.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + 7;
    let len = tag[v..].find('"')?;
    Some(unescape(&tag[v..v + len]))
}

fn textarea(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let open_end = at + html[at..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</textarea>")?;
    Some(unescape(&html[open_end..close]))
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1)
        .build()?)
}

/// Signs `client` in; returns the POST's status and how long it took.
async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<(StatusCode, Duration)> {
    let form = client
        .get(format!("{base}/signin"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = input_value(&form, "csrf_token").context("no csrf_token on /signin")?;
    let started = Instant::now();
    let response = client
        .post(format!("{base}/signin"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf_token", &csrf),
            ("next", "/"),
        ])
        .send()
        .await?;
    let status = response.status();
    let _ = response.bytes().await;
    Ok((status, started.elapsed()))
}

async fn editor(
    base: String,
    user: (String, String),
    slugs: Arc<Vec<String>>,
    deadline: Instant,
) -> anyhow::Result<Tally> {
    let client = client()?;
    let (status, _) = sign_in(&client, &base, &user.0, &user.1).await?;
    if status != StatusCode::SEE_OTHER {
        bail!("{} could not sign in: {status}", user.0);
    }
    let mut tally = Tally::default();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let slug = &slugs[rand::rng().random_range(0..slugs.len())];
        let response = client
            .get(format!("{base}/methods/{slug}/edit"))
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            tally.other += 1;
            continue;
        }
        let form = response.text().await?;
        let (Some(csrf), Some(base_revision), Some(body), Some(tags)) = (
            input_value(&form, "csrf_token"),
            input_value(&form, "base_revision"),
            textarea(&form, "body"),
            input_value(&form, "tags"),
        ) else {
            bail!("the edit form of {slug} lacks a field");
        };
        n += 1;
        let body = format!("{body}\nBench edit {n} by {}.\n", user.0);
        let started = Instant::now();
        let response = client
            .post(format!("{base}/methods/{slug}/edit"))
            .form(&[
                ("body", body.as_str()),
                ("tags", &tags),
                ("summary", "bench edit"),
                ("base_revision", &base_revision),
                ("csrf_token", &csrf),
            ])
            .send()
            .await?;
        let status = response.status();
        let _ = response.bytes().await;
        tally.latencies.push(started.elapsed());
        match status {
            StatusCode::SEE_OTHER => tally.ok += 1,
            StatusCode::CONFLICT => tally.conflicts += 1,
            s if s.is_server_error() => tally.server_errors += 1,
            _ => tally.other += 1,
        }
    }
    Ok(tally)
}

async fn signer(base: String, user: (String, String), deadline: Instant) -> anyhow::Result<Tally> {
    let client = client()?;
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let (status, took) = sign_in(&client, &base, &user.0, &user.1).await?;
        tally.latencies.push(took);
        match status {
            StatusCode::SEE_OTHER => tally.ok += 1,
            s if s.is_server_error() => tally.server_errors += 1,
            _ => tally.other += 1,
        }
    }
    Ok(tally)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let slugs = Arc::new(args.slugs);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.conns {
        let user = args.users[i % args.users.len()].clone();
        let base = args.base.clone();
        tasks.push(match args.mode.as_str() {
            "saves" => {
                if slugs.is_empty() {
                    bail!("saves needs --slugs");
                }
                tokio::spawn(editor(base, user, slugs.clone(), deadline))
            }
            "signin" => tokio::spawn(signer(base, user, deadline)),
            other => bail!("unknown mode {other}"),
        });
    }
    let mut tally = Tally::default();
    let mut failures = 0;
    for task in tasks {
        match task.await? {
            Ok(t) => tally.add(t),
            Err(err) => {
                failures += 1;
                eprintln!("bench_client: a worker stopped: {err:#}");
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    tally.latencies.sort();
    let errors = tally.server_errors + tally.other + failures;
    println!(
        "RESULT\t{:.1}\t{:.2}\t{:.2}\t{}\t{}\t{}",
        tally.ok as f64 / elapsed,
        percentile(&tally.latencies, 0.50),
        percentile(&tally.latencies, 0.99),
        errors,
        tally.ok,
        format_args!(
            "ok={} 409={} 5xx={} other={} workers_failed={failures}",
            tally.ok, tally.conflicts, tally.server_errors, tally.other
        )
    );
    Ok(())
}
