//! The outbox of a real `cafe serve` process (issue 18): mail queued while
//! the SMTP server is down survives a `kill -9` of the process that queued
//! it, and the next process delivers each mail exactly once when the SMTP
//! server is back. On SQLite (a file) and on PostgreSQL alike.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::server::{Member, Server};
use crate::support::smtp::SmtpSink;
use crate::support::{backend, count};

fn flags(sink: &SmtpSink) -> Vec<String> {
    [
        "--smtp-url",
        &sink.url(),
        "--mail-from",
        "Cafe <cafe@example.org>",
        "--public-url",
        "https://wiki.example.org",
        "--mail-coalesce-secs",
        "0",
        "--mail-retry-secs",
        "1",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Waits (at most a minute) until `done` says so.
async fn until<F: AsyncFn() -> bool>(what: &str, done: F) {
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn execute(pool: &cafe::db::Db, sql: &str) {
    cafe::on_db!(pool, |pool| sqlx::query(sql)
        .execute(pool)
        .await
        .map(|_| ()))
    .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// Subjects of the mails the sink received for Alice, sorted.
fn alices(sink: &SmtpSink) -> Vec<String> {
    let mut subjects: Vec<String> = sink
        .received()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == "alice@example.org"))
        .map(|m| m.subject())
        .collect();
    subjects.sort();
    subjects
}

#[tokio::test]
async fn mail_queued_while_smtp_is_down_survives_kill_9_and_is_delivered_once() {
    let sink = SmtpSink::start().await;
    sink.set_down();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = backend::fresh(dir.path()).await;
    let flags = flags(&sink);
    let mut first = Server::start_with(&db, &flags).await;
    let alice = Member::join(&first.base, "alice").await;
    let bob = Member::join(&first.base, "bob").await;
    let (status, _, _) = alice
        .post(
            "/account/notifications",
            &[("email", "alice@example.org"), ("delivery", "each")],
        )
        .await
        .expect("settings");
    assert_eq!(status, StatusCode::SEE_OTHER);
    let pool = cafe::db::connect(&db).await.expect("the site's database");
    // Confirmed as if she had opened the link (its mail is queued too).
    execute(&pool, "UPDATE mail_settings SET verified = TRUE").await;

    for n in 1..=3 {
        let page = alice.create_page(&format!("Method {n}"), "Text.").await;
        let (status, _) = bob.edit(&page, 1, "Text, edited.").await.expect("edit");
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let tried = "SELECT count(*) FROM outbox WHERE kind = 'each' AND attempts > 0";
    until(
        "three mails queued and tried while SMTP is down",
        async || {
            count(&pool, tried).await == 3
                && count(&pool, "SELECT count(*) FROM outbox WHERE state = 'sending'").await == 0
        },
    )
    .await;
    assert!(alices(&sink).is_empty(), "nothing got through");

    first.signal("KILL");
    first.wait(Duration::from_secs(10)).await;
    sink.set_up();
    let _second = Server::start_with(&db, &flags).await;
    until("the three mails and the confirmation", async || {
        alices(&sink).len() >= 4
    })
    .await;
    // A few more rounds of the sender: nothing goes twice.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        alices(&sink),
        [
            "[Cafe] Confirm your e-mail address",
            "[Cafe] Method 1: revision 2",
            "[Cafe] Method 2: revision 2",
            "[Cafe] Method 3: revision 2",
        ]
    );
    let sent = "SELECT count(*) FROM outbox WHERE state = 'sent'";
    assert_eq!(count(&pool, sent).await, 4);
}
