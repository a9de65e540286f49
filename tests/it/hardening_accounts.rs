//! Issue 12, items 3, 4 and 8: the sign-in and sign-up throttles hold
//! bounded memory and cannot be raced, and weak passwords are refused with a
//! reason.

use crate::support;
use crate::support::server::csrf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Client, PASSWORD, Page, TestApp, encode};
use axum::http::StatusCode;

use cafe::config::ServeArgs;

// ------------------------------------------- item 3: bounded throttle memory

/// A `cafe serve` process, killed when the test ends (or panics).
struct Process {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts the real binary on a free port and waits for `/healthz`.
    async fn start(extra: &[&str]) -> Process {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = support::server::cafe_command()
            .arg("serve")
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--db")
            .arg(dir.path().join("cafe.db"))
            .args(extra)
            .env("RUST_LOG", "cafe=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cafe binary starts");
        let process = Process {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", process.base)).send().await
                && r.status() == StatusCode::OK
            {
                return process;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's resident memory in KiB, from `/proc/PID/status`.
    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line")
    }
}

#[tokio::test]
async fn three_hundred_failed_sign_ins_with_megabyte_usernames_leave_memory_within_a_bound() {
    let server = Process::start(&["--signin-failures-per-addr", "100000"]).await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http
        .get(format!("{}/signin", server.base))
        .send()
        .await
        .expect("GET /signin")
        .text()
        .await
        .expect("body");
    let token = csrf(&form);
    let before = server.rss_kib();
    for n in 0..300 {
        // Under the 1 MiB body limit with the other fields.
        let username = format!("{n:06}{}", "x".repeat(999_994));
        let body = encode(&[
            ("csrf_token", &token),
            ("username", &username),
            ("password", "not the password at all"),
        ]);
        let response = http
            .post(format!("{}/signin", server.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST /signin");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "sign-in {n}");
        response.bytes().await.expect("body");
    }
    let after = server.rss_kib();
    eprintln!("resident memory: {before} KiB before, {after} KiB after");
    // What may stay: the two argon2id buffers of the two hashes allowed at
    // once (`auth::HASHING`, 19 MiB each), kept by the allocator with the
    // threads that ran them, and some slack; not the 300 MB sent.
    let bound = before + (2 * 19 + 18) * 1024;
    assert!(
        after < bound,
        "300 failed sign-ins with 1 MB usernames left the server at {after} KiB (from {before} KiB, bound {bound} KiB)"
    );
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
}

// ----------------------------------------------- item 4: no racing throttles

/// Fires one POST per (client, fields) at once; each client already has its
/// token, so every request reaches the handler together with the others.
async fn all_at_once(path: &'static str, posts: Vec<(Client, Vec<(String, String)>)>) -> Vec<Page> {
    let mut tasks = tokio::task::JoinSet::new();
    for (mut client, fields) in posts {
        tasks.spawn(async move {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            client.post_raw(path, encode(&pairs)).await
        });
    }
    let mut pages = Vec::new();
    while let Some(page) = tasks.join_next().await {
        pages.push(page.expect("request task"));
    }
    pages
}

fn count(pages: &[Page], status: StatusCode) -> usize {
    pages.iter().filter(|p| p.status == status).count()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn forty_simultaneous_sign_ins_for_one_user_check_at_most_five_passwords() {
    let app = TestApp::new().await;
    assert_eq!(app.state.config.signin_failures_per_user, 5);
    app.member("alice").await;
    let mut posts = Vec::new();
    // 39 wrong passwords and, last, the right one.
    for n in 0..40 {
        let mut client = app.client();
        let token = client.csrf().await;
        let password = if n == 39 {
            PASSWORD.to_owned()
        } else {
            format!("wrong guess number {n}")
        };
        posts.push((
            client,
            fields(&[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", &password),
            ]),
        ));
    }
    let pages = all_at_once("/signin", posts).await;
    let checked_wrong = count(&pages, StatusCode::UNAUTHORIZED);
    let refused = count(&pages, StatusCode::TOO_MANY_REQUESTS);
    let signed_in = count(&pages, StatusCode::SEE_OTHER);
    assert!(
        checked_wrong <= 5,
        "{checked_wrong} wrong passwords were checked (limit 5), {refused} refused, {signed_in} signed in"
    );
    assert_eq!(
        checked_wrong + refused + signed_in,
        40,
        "every answer is a 401, a 429 or a sign-in"
    );
    assert!(refused >= 34, "{refused} of 40 were refused");
}

#[tokio::test]
async fn forty_simultaneous_joins_from_one_address_stop_at_the_hourly_limit() {
    let app = TestApp::with_config(ServeArgs::defaults()).await;
    assert_eq!(app.state.config.joins_per_addr, 20);
    // Half the hour's joins from this address ("local" in router tests) are used.
    for n in 0..10 {
        app.member(&format!("early{n}")).await;
    }
    let mut posts = Vec::new();
    for n in 0..40 {
        let mut client = app.client();
        let token = client.csrf().await;
        let username = format!("racer{n}");
        posts.push((
            client,
            fields(&[
                ("csrf_token", &token),
                ("username", &username),
                ("display_name", &username),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ]),
        ));
    }
    let pages = all_at_once("/join", posts).await;
    let joined = count(&pages, StatusCode::SEE_OTHER);
    let refused = count(&pages, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        joined <= 10,
        "{joined} accounts were created (10 were left)"
    );
    assert_eq!(joined + refused, 40, "every other join is a 429");
    assert!(joined >= 1, "the joins left in the hour still work");
}

// ------------------------------------------------- item 8: weak passwords

#[tokio::test]
async fn weak_passwords_are_refused_at_join_with_a_reason_and_a_passphrase_is_not() {
    let app = TestApp::new().await;
    let cases = [
        ("weak1", "password1234", "most common"),
        ("weak2", "Password1234", "most common"),
        ("weak3", "123456789012", "runs"),
        ("weak4", "aaaaaaaaaaaa", "repeats"),
        ("weak5", "qwertyuiopas", "runs"),
        ("marigold", "marigoldmarigold", "your username"),
    ];
    for (username, password, reason) in cases {
        let page = app
            .client()
            .post(
                "/join",
                &[
                    ("username", username),
                    ("display_name", "A Member"),
                    ("password", password),
                    ("password_confirm", password),
                ],
            )
            .await;
        page.assert_status(StatusCode::UNPROCESSABLE_ENTITY)
            .assert_contains(reason)
            // The form is shown again with the username, not the password.
            .assert_contains(&format!("value=\"{username}\""));
        assert!(
            !page.body.contains(password),
            "the password {password:?} is echoed back"
        );
        app.client()
            .get(&format!("/users/{username}"))
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
    app.client()
        .join("goodpass", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_password_form_refuses_a_new_password_that_holds_the_username_or_display_name() {
    let app = TestApp::new().await;
    let mut client = app.client();
    client
        .post(
            "/join",
            &[
                ("username", "quentin"),
                ("display_name", "Rosalind Franklin"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    for (new, reason) in [
        ("my name is Quentin, ok?", "your username"),
        ("rosalind franklin 1958", "display name"),
        ("Password1234", "most common"),
        ("zxcvbnm,./12", "runs"),
    ] {
        client
            .post(
                "/account/password",
                &[
                    ("current_password", PASSWORD),
                    ("password", new),
                    ("password_confirm", new),
                ],
            )
            .await
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
            .assert_contains(reason);
    }
    // The password did not change.
    app.client()
        .signin("quentin", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}
