//! Benchmark client for the scenarios a plain load generator cannot drive:
//! page saves by signed-in editors (sign in, fetch the edit form, take its
//! `csrf_token`, `base_revision`, text and tags, post an edit), sign-in
//! itself (fetch the form for a session and CSRF token, post the password),
//! member cookies for wrk, a walk over a list of paths (each fetched once),
//! and a paced background of saves and sign-in form views.
//!
//! cargo run --release --example bench_client -- saves  --base http://127.0.0.1:28080 --users bench/out/users.txt --slugs bench/out/slugs.txt --conns 4 --seconds 10
//! cargo run --release --example bench_client -- signin --base http://127.0.0.1:28080 --users bench/out/users.txt --conns 4 --seconds 10
//! cargo run --release --example bench_client -- cookie --base http://127.0.0.1:28080 --users bench/out/users.txt [--count 3]
//! cargo run --release --example bench_client -- walk   --base http://127.0.0.1:28080 --paths bench/out/paths/page.txt --conns 4
//! cargo run --release --example bench_client -- background --base http://127.0.0.1:28080 --users bench/out/users.txt --slugs bench/out/slugs.txt --saves-per-sec 2 --signin-per-sec 5 --seconds 10
//!
//! `saves`, `signin`, `walk` and `background` print one line
//! `RESULT<TAB>ops/s<TAB>p50 ms<TAB>p99 ms<TAB>errors<TAB>ops<TAB>note`, which
//! `bench/run.sh` tabulates: for saves and sign-in the latency of the POST
//! that does the work; for `walk` that of each GET (every path once, in the
//! file's order, over `--conns` connections, without cookies); for
//! `background` the saves (the edit form's GET and the POST), with the
//! sign-in form views in the note.
//!
//! `cookie` signs in `--count` users (1 by default) from the end of the
//! users file, each as `signin` does (GET /signin for the CSRF token, POST
//! the form), and prints for each one line: the `Cookie` header value a
//! browser would then send (`name=value; name=value`, the session cookie
//! among them), then a tab and the username.

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
    /// 429s: the server's throttles refused the request.
    throttled: u64,
    other: u64,
    latencies: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        self.server_errors += other.server_errors;
        self.throttled += other.throttled;
        self.other += other.other;
        self.latencies.extend(other.latencies);
    }
}

struct Args {
    mode: String,
    base: String,
    users: Vec<(String, String)>,
    slugs: Vec<String>,
    paths: Vec<String>,
    conns: usize,
    seconds: f64,
    count: usize,
    saves_per_sec: f64,
    signin_per_sec: f64,
    /// `walk` as a member: the `Cookie` header `cookie` printed.
    cookie: Option<String>,
}

fn read_lines(file: &str) -> anyhow::Result<Vec<String>> {
    Ok(std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {file}"))?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().context(
        "usage: bench_client saves|signin|cookie|walk|background --base URL [--users FILE] \
         [--slugs FILE] [--paths FILE] [--conns N] [--seconds S] [--count N] \
         [--saves-per-sec R] [--signin-per-sec R] [--cookie HEADER]",
    )?;
    let (mut base, mut users, mut slugs, mut paths, mut conns, mut seconds) =
        (String::new(), Vec::new(), Vec::new(), Vec::new(), 4, 10.0);
    let (mut count, mut saves_per_sec, mut signin_per_sec) = (1, 2.0, 5.0);
    let mut cookie = None;
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
            "--slugs" => slugs = read_lines(&value)?,
            "--paths" => paths = read_lines(&value)?,
            "--conns" => conns = value.parse()?,
            "--seconds" => seconds = value.parse()?,
            "--count" => count = value.parse()?,
            "--saves-per-sec" => saves_per_sec = value.parse()?,
            "--signin-per-sec" => signin_per_sec = value.parse()?,
            "--cookie" => cookie = Some(value),
            _ => bail!("unknown flag {flag}"),
        }
    }
    if base.is_empty() {
        bail!("--base is needed");
    }
    if users.is_empty() && mode != "walk" {
        bail!("--users is needed");
    }
    if conns == 0 {
        bail!("--conns must be at least 1");
    }
    Ok(Args {
        mode,
        base,
        users,
        slugs,
        paths,
        conns,
        seconds,
        count,
        saves_per_sec,
        signin_per_sec,
        cookie,
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

/// What became of one save.
enum Saved {
    Ok,
    Conflict,
    ServerError,
    Throttled,
    Other,
}

impl Tally {
    fn count(&mut self, saved: Saved) {
        match saved {
            Saved::Ok => self.ok += 1,
            Saved::Conflict => self.conflicts += 1,
            Saved::ServerError => self.server_errors += 1,
            Saved::Throttled => self.throttled += 1,
            Saved::Other => self.other += 1,
        }
    }

    fn count_status(&mut self, status: StatusCode, ok: StatusCode) {
        self.count(match status {
            s if s == ok => Saved::Ok,
            StatusCode::CONFLICT => Saved::Conflict,
            StatusCode::TOO_MANY_REQUESTS => Saved::Throttled,
            s if s.is_server_error() => Saved::ServerError,
            _ => Saved::Other,
        })
    }
}

/// The text a bench save posts: the page's own text with one line saying
/// which save this is, in place of the line an earlier bench save left.
///
/// Why in place: every save must change the text (so that it makes a
/// revision and a new search row), but a line added per save grew the
/// pages by about 25 bytes each time, so each of `run.sh`'s three save
/// runs saved longer pages than the one before: in four 10 s runs of
/// `bench/saves.sh` the saved pages grew to 1,774, 1,975, 2,188 and 2,404
/// characters on average (bench/RESULTS.md, "Session of 2026-12-07
/// (tenth)"). With the line in place they stay at 1,551.
fn edited(body: &str, n: u64, user: &str) -> String {
    let text = body.trim_end();
    let kept = match text.rsplit_once('\n') {
        Some((before, last)) if last.starts_with(BENCH_LINE) => before.trim_end(),
        None if text.starts_with(BENCH_LINE) => "",
        _ => text,
    };
    format!("{kept}\n\n{BENCH_LINE}{n} by {user}.\n")
}

/// How the line a bench save writes begins.
const BENCH_LINE: &str = "Bench edit ";

/// One save by a signed-in `client`: GET the edit form of `slug`, POST its
/// text with its bench line in place ([`edited`]). Returns the outcome and how long the POST took
/// (`None` when the form did not answer 200 and nothing was posted).
async fn save_once(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    user: &str,
    n: u64,
) -> anyhow::Result<(Saved, Option<Duration>)> {
    let response = client
        .get(format!("{base}/methods/{slug}/edit"))
        .send()
        .await?;
    if response.status() != StatusCode::OK {
        let saved = if response.status().is_server_error() {
            Saved::ServerError
        } else {
            Saved::Other
        };
        return Ok((saved, None));
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
    let body = edited(&body, n, user);
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
    let took = started.elapsed();
    let saved = match status {
        StatusCode::SEE_OTHER => Saved::Ok,
        StatusCode::CONFLICT => Saved::Conflict,
        StatusCode::TOO_MANY_REQUESTS => Saved::Throttled,
        s if s.is_server_error() => Saved::ServerError,
        _ => Saved::Other,
    };
    Ok((saved, Some(took)))
}

async fn signed_in(base: &str, user: &(String, String)) -> anyhow::Result<reqwest::Client> {
    let client = client()?;
    let (status, _) = sign_in(&client, base, &user.0, &user.1).await?;
    if status != StatusCode::SEE_OTHER {
        bail!("{} could not sign in: {status}", user.0);
    }
    Ok(client)
}

async fn editor(
    base: String,
    user: (String, String),
    slugs: Arc<Vec<String>>,
    deadline: Instant,
) -> anyhow::Result<Tally> {
    let client = signed_in(&base, &user).await?;
    let mut tally = Tally::default();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let slug = &slugs[rand::rng().random_range(0..slugs.len())];
        n += 1;
        let (saved, took) = save_once(&client, &base, slug, &user.0, n).await?;
        tally.latencies.extend(took);
        tally.count(saved);
    }
    Ok(tally)
}

async fn signer(base: String, user: (String, String), deadline: Instant) -> anyhow::Result<Tally> {
    let client = client()?;
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let (status, took) = sign_in(&client, &base, &user.0, &user.1).await?;
        tally.latencies.push(took);
        tally.count_status(status, StatusCode::SEE_OTHER);
    }
    Ok(tally)
}

/// `cookie`: signs in `count` users from the end of the list and prints the
/// Cookie header each would send next, a tab, and the username.
async fn cookies(args: &Args) -> anyhow::Result<()> {
    if args.count == 0 || args.count > args.users.len() {
        bail!(
            "--count must be 1 to {} (the users in the file)",
            args.users.len()
        );
    }
    let url = reqwest::Url::parse(&format!("{}/", args.base)).context("--base is not a URL")?;
    for user in &args.users[args.users.len() - args.count..] {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .timeout(Duration::from_secs(60))
            .build()?;
        let (status, _) = sign_in(&client, &args.base, &user.0, &user.1).await?;
        if status != StatusCode::SEE_OTHER {
            bail!(
                "{} could not sign in: POST /signin answered {status}",
                user.0
            );
        }
        // The landing page shows the sign-in's confirmation and clears its
        // cookie, as a browser's would: what is left is the session alone.
        client.get(format!("{}/", args.base)).send().await?;
        use reqwest::cookie::CookieStore as _;
        let header = jar
            .cookies(&url)
            .with_context(|| format!("no cookie kept after {} signed in", user.0))?;
        println!("{}\t{}", header.to_str()?, user.0);
    }
    Ok(())
}

/// `walk`: GETs every path of the list once, in order, over `conns`
/// connections without cookies (as visitors), or with `--cookie` (as the
/// member it signs in), and tallies the 200s.
async fn walk(args: &Args) -> anyhow::Result<(Tally, u64)> {
    if args.paths.is_empty() {
        bail!("walk needs --paths");
    }
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(cookie) = &args.cookie {
        headers.insert(reqwest::header::COOKIE, cookie.parse()?);
    }
    let paths = Arc::new(args.paths.clone());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.conns {
        let (paths, next, base) = (paths.clone(), next.clone(), args.base.clone());
        let headers = headers.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .default_headers(headers)
                .redirect(Policy::none())
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(1)
                .build()?;
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let started = Instant::now();
                let response = client.get(format!("{base}{path}")).send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                tally.latencies.push(started.elapsed());
                tally.count_status(status, StatusCode::OK);
            }
            anyhow::Ok(tally)
        }));
    }
    gather(tasks).await
}

/// `background`: `saves_per_sec` saves by one signed-in editor and
/// `signin_per_sec` GETs of the sign-in form without cookies, each started
/// on its own clock tick (a slow answer does not delay the next one), for
/// `seconds`. Returns the saves' tally and the sign-in form views' tally.
async fn background(args: &Args) -> anyhow::Result<(Tally, Tally, u64)> {
    if args.slugs.is_empty() {
        bail!("background needs --slugs");
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let base = args.base.clone();
    let user = args.users[0].clone();
    let editor = signed_in(&base, &user).await?;
    let visitor = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?;
    let slugs = Arc::new(args.slugs.clone());
    let ticker = |per_sec: f64| {
        let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        interval
    };
    let saves = {
        let (base, slugs) = (base.clone(), slugs.clone());
        let per_sec = args.saves_per_sec;
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            if per_sec > 0.0 {
                let mut tick = ticker(per_sec);
                let mut n = 0u64;
                while Instant::now() < deadline {
                    tick.tick().await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    n += 1;
                    let slug = slugs[rand::rng().random_range(0..slugs.len())].clone();
                    let (client, base, name) = (editor.clone(), base.clone(), user.0.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut tally = Tally::default();
                        let (saved, took) = save_once(&client, &base, &slug, &name, n).await?;
                        tally.latencies.extend(took);
                        tally.count(saved);
                        anyhow::Ok(tally)
                    }));
                }
            }
            gather(tasks).await
        })
    };
    let signins = {
        let per_sec = args.signin_per_sec;
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            if per_sec > 0.0 {
                let mut tick = ticker(per_sec);
                while Instant::now() < deadline {
                    tick.tick().await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    let (client, base) = (visitor.clone(), base.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut tally = Tally::default();
                        let started = Instant::now();
                        let response = client.get(format!("{base}/signin")).send().await?;
                        let status = response.status();
                        let form = response.text().await?;
                        tally.latencies.push(started.elapsed());
                        let status = if status == StatusCode::OK && !form.contains("csrf_token") {
                            StatusCode::IM_A_TEAPOT // a 200 without the form counts as unexpected
                        } else {
                            status
                        };
                        tally.count_status(status, StatusCode::OK);
                        anyhow::Ok(tally)
                    }));
                }
            }
            gather(tasks).await
        })
    };
    let (saves, save_failures) = saves.await??;
    let (signins, signin_failures) = signins.await??;
    Ok((saves, signins, save_failures + signin_failures))
}

/// Sums the tallies of finished workers; returns them and how many failed.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Tally>>>,
) -> anyhow::Result<(Tally, u64)> {
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
    tally.latencies.sort();
    Ok((tally, failures))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Prints the RESULT line `bench/run.sh` reads.
fn result(tally: &Tally, elapsed: f64, ops: u64, errors: u64, note: std::fmt::Arguments) {
    println!(
        "RESULT\t{:.1}\t{:.2}\t{:.2}\t{errors}\t{ops}\t{note}",
        ops as f64 / elapsed,
        percentile(&tally.latencies, 0.50),
        percentile(&tally.latencies, 0.99),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    match args.mode.as_str() {
        "cookie" => return cookies(&args).await,
        "walk" => {
            let (tally, failures) = walk(&args).await?;
            let elapsed = started.elapsed().as_secs_f64();
            let requests = tally.latencies.len() as u64;
            let errors =
                tally.server_errors + tally.throttled + tally.other + tally.conflicts + failures;
            result(
                &tally,
                elapsed,
                requests,
                errors,
                format_args!(
                    "paths={} 200={} 5xx={} 429={} other={} workers_failed={failures} total_s={elapsed:.2}",
                    args.paths.len(),
                    tally.ok,
                    tally.server_errors,
                    tally.throttled,
                    tally.other + tally.conflicts
                ),
            );
            return Ok(());
        }
        "background" => {
            let (saves, signins, failures) = background(&args).await?;
            let elapsed = started.elapsed().as_secs_f64();
            let errors = saves.server_errors
                + saves.throttled
                + saves.other
                + signins.server_errors
                + signins.throttled
                + signins.other
                + signins.conflicts
                + failures;
            result(
                &saves,
                elapsed,
                saves.ok,
                errors,
                format_args!(
                    "saves {:.1}/s (ok={} 409={} 5xx={} 429={} other={}), GET /signin {:.1}/s (ok={} p99={:.1} ms 5xx={} 429={} other={}), tasks_failed={failures}",
                    saves.ok as f64 / elapsed,
                    saves.ok,
                    saves.conflicts,
                    saves.server_errors,
                    saves.throttled,
                    saves.other,
                    signins.ok as f64 / elapsed,
                    signins.ok,
                    percentile(&signins.latencies, 0.99),
                    signins.server_errors,
                    signins.throttled,
                    signins.other + signins.conflicts
                ),
            );
            return Ok(());
        }
        _ => {}
    }
    let slugs = Arc::new(args.slugs.clone());
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
    let (tally, failures) = gather(tasks).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let errors = tally.server_errors + tally.throttled + tally.other + failures;
    result(
        &tally,
        elapsed,
        tally.ok,
        errors,
        format_args!(
            "ok={} 409={} 5xx={} 429={} other={} workers_failed={failures}",
            tally.ok, tally.conflicts, tally.server_errors, tally.throttled, tally.other
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::edited;

    #[test]
    fn a_bench_save_replaces_the_line_of_the_one_before() {
        let first = edited("Some text.\n", 1, "bench1");
        assert_eq!(first, "Some text.\n\nBench edit 1 by bench1.\n");
        let second = edited(&first, 2, "bench2");
        assert_eq!(second, "Some text.\n\nBench edit 2 by bench2.\n");
        assert_eq!(edited(&second, 3, "b"), edited(&first, 3, "b"));
        assert_eq!(
            edited("Bench edit 9 by x.", 4, "y"),
            "\n\nBench edit 4 by y.\n"
        );
    }
}
