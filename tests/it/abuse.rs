//! Accounts under abuse: sign-in and sign-up throttles (per username whatever
//! the address, per address), the same answer for an unknown user and a wrong
//! password, username normalisation and look-alikes, password rules, password
//! change, session expiry and purging, and blocked users.
//!
//! Requests carry the client address the way a real server sees it: a
//! `ConnectInfo<SocketAddr>` extension per request, which is what
//! `into_make_service_with_connect_info` puts there.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::{Client, PASSWORD, Page, TestApp, encode, session_rows};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};

use cafe::config::{Cli, ServeArgs};

/// POSTs a form (with the session's CSRF token) as if from `addr`.
async fn post_from(client: &mut Client, addr: &str, path: &str, fields: &[(&str, &str)]) -> Page {
    let token = client.csrf().await;
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    let mut request =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = &client.cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let mut request = request.body(Body::from(encode(&all))).expect("request");
    let ip = addr.parse().expect("an IP address");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    client.send(request).await
}

async fn signin_from(client: &mut Client, addr: &str, username: &str, password: &str) -> Page {
    post_from(
        client,
        addr,
        "/signin",
        &[("username", username), ("password", password)],
    )
    .await
}

async fn join_from(client: &mut Client, addr: &str, username: &str, password: &str) -> Page {
    let fields = [
        ("username", username),
        ("display_name", username),
        ("password", password),
        ("password_confirm", password),
    ];
    post_from(client, addr, "/join", &fields).await
}

/// Checks a 429: a `Retry-After` in seconds within `window`, and a page
/// that says when to try again.
#[track_caller]
fn assert_too_many(page: &Page, window: u64) {
    page.assert_status(StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = page
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=window).contains(&retry),
        "Retry-After {retry} outside 1..={window}"
    );
    page.assert_contains("Please try again in")
        .assert_contains("minute");
}

fn config(change: impl FnOnce(&mut ServeArgs)) -> ServeArgs {
    let mut config = ServeArgs::defaults();
    change(&mut config);
    config
}

// ---------------------------------------------------------------- throttles

#[tokio::test]
async fn the_sixth_wrong_password_for_one_username_is_refused_whatever_the_address() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let mut mallory = app.client();
    // Five wrong passwords, each from another address and with another
    // spelling of the same (normalised) name.
    for (n, name) in ["alice", "Alice", "ALICE", "ａｌｉｃｅ", " alice "]
        .iter()
        .enumerate()
    {
        let addr = format!("198.51.100.{}", n + 1);
        signin_from(&mut mallory, &addr, name, "wrong password guess")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    let sixth = signin_from(&mut mallory, "203.0.113.9", "alice", "wrong password again").await;
    assert_too_many(&sixth, 15 * 60);
    // Even the right password waits now: the throttle answers before checking.
    let right = signin_from(&mut app.client(), "203.0.113.10", "alice", PASSWORD).await;
    right.assert_status(StatusCode::TOO_MANY_REQUESTS);
    // Other accounts are not affected, even from the same addresses.
    app.member("bob").await;
    signin_from(&mut app.client(), "198.51.100.1", "bob", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_username_failures() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let mut client = app.client();
    for _ in 0..4 {
        signin_from(&mut client, "198.51.100.1", "alice", "wrong password guess")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    signin_from(&mut client, "198.51.100.1", "alice", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let mut other = app.client();
    for _ in 0..5 {
        signin_from(&mut other, "198.51.100.2", "alice", "wrong password guess")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    assert_too_many(
        &signin_from(&mut other, "198.51.100.2", "alice", "wrong").await,
        15 * 60,
    );
}

#[tokio::test]
async fn more_than_thirty_failed_sign_ins_a_minute_from_one_address_are_refused() {
    let app = TestApp::new().await;
    let mut spray = app.client();
    // One try per username, so only the per-address limit can trigger.
    for n in 0..30 {
        let page = signin_from(
            &mut spray,
            "192.0.2.7",
            &format!("victim{n}"),
            "summer2024 password",
        )
        .await;
        page.assert_status(StatusCode::UNAUTHORIZED);
    }
    let page = signin_from(&mut spray, "192.0.2.7", "victim30", "summer2024 password").await;
    assert_too_many(&page, 60);
    // Another address still gets an answer.
    let elsewhere = signin_from(
        &mut app.client(),
        "192.0.2.8",
        "victim31",
        "summer2024 password",
    )
    .await;
    elsewhere.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_ups_from_one_address_are_limited_to_twenty_an_hour_by_default() {
    let app = TestApp::new().await;
    assert_eq!(app.state.config.joins_per_addr, 20);
    for n in 0..20 {
        let page = join_from(
            &mut app.client(),
            "192.0.2.20",
            &format!("member{n}"),
            PASSWORD,
        )
        .await;
        page.assert_status(StatusCode::SEE_OTHER);
    }
    let refused = join_from(&mut app.client(), "192.0.2.20", "member20", PASSWORD).await;
    assert_too_many(&refused, 3600);
    refused.assert_contains("Too many attempts");
    // The account was not created, and another address may still join.
    app.client()
        .get("/users/member20")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    join_from(&mut app.client(), "192.0.2.21", "member20", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn refused_sign_ups_do_not_count_against_the_address() {
    let app = TestApp::with_config(config(|c| c.joins_per_addr = 1)).await;
    for _ in 0..3 {
        join_from(&mut app.client(), "192.0.2.30", "ab", PASSWORD)
            .await
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    join_from(&mut app.client(), "192.0.2.30", "carol", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_too_many(
        &join_from(&mut app.client(), "192.0.2.30", "dave", PASSWORD).await,
        3600,
    );
}

#[tokio::test]
async fn the_limits_are_configurable() {
    let app = TestApp::with_config(config(|c| {
        c.signin_failures_per_user = 2;
        c.signin_failures_per_addr = 3;
        c.joins_per_addr = 1;
    }))
    .await;
    join_from(&mut app.client(), "192.0.2.40", "alice", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_too_many(
        &join_from(&mut app.client(), "192.0.2.40", "bob", PASSWORD).await,
        3600,
    );

    let mut client = app.client();
    for addr in ["192.0.2.41", "192.0.2.42"] {
        signin_from(&mut client, addr, "alice", "not the password")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    assert_too_many(
        &signin_from(&mut client, "192.0.2.43", "alice", "not the password").await,
        15 * 60,
    );

    for name in ["x1-user", "x2-user", "x3-user"] {
        signin_from(&mut client, "192.0.2.44", name, "not the password")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    assert_too_many(
        &signin_from(&mut client, "192.0.2.44", "x4-user", "not the password").await,
        60,
    );
}

#[test]
fn the_limits_come_from_flags_and_environment_variables() {
    let cli = Cli::try_parse_from([
        "cafe",
        "--signin-failures-per-user",
        "3",
        "--signin-failures-per-addr",
        "10",
        "--joins-per-addr",
        "100",
        "--session-idle-minutes",
        "30",
        "--session-max-hours",
        "12",
    ])
    .expect("flags parse");
    assert_eq!(cli.serve.signin_failures_per_user, 3);
    assert_eq!(cli.serve.signin_failures_per_addr, 10);
    assert_eq!(cli.serve.joins_per_addr, 100);
    assert_eq!(cli.serve.session_idle_minutes, 30);
    assert_eq!(cli.serve.session_max_hours, 12);
    let defaults = ServeArgs::defaults();
    assert_eq!(
        (
            defaults.signin_failures_per_user,
            defaults.signin_failures_per_addr,
            defaults.joins_per_addr
        ),
        (5, 30, 20)
    );
}

use clap::Parser as _;

// ------------------------------------------------- same answer, same time

/// The sign-in page as answered, with the typed username taken out.
fn without(body: &str, username: &str) -> String {
    body.replace(username, "USERNAME")
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_answer_in_comparable_time() {
    let app = TestApp::with_config(config(|c| {
        c.signin_failures_per_user = 1000;
        c.signin_failures_per_addr = 1000;
    }))
    .await;
    app.member("existing-user").await;
    let mut client = app.client();
    // Warm up (the dummy hash is computed on first use).
    signin_from(
        &mut client,
        "192.0.2.50",
        "nobody-here",
        "wrong password here",
    )
    .await;

    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    let mut known_body = String::new();
    for _ in 0..30 {
        let started = Instant::now();
        let known = signin_from(
            &mut client,
            "192.0.2.50",
            "existing-user",
            "wrong password here",
        )
        .await;
        known_times.push(started.elapsed());
        let started = Instant::now();
        let unknown = signin_from(
            &mut client,
            "192.0.2.50",
            "no-such-user",
            "wrong password here",
        )
        .await;
        unknown_times.push(started.elapsed());
        assert_eq!(known.status, StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
        known_body = without(&known.body, "existing-user");
        assert_eq!(
            known_body,
            without(&unknown.body, "no-such-user"),
            "the two answers differ"
        );
    }
    assert!(known_body.contains("That username and password do not match an account."));
    let (known, unknown) = (median(known_times), median(unknown_times));
    eprintln!("median time: wrong password {known:?}, unknown user {unknown:?}");
    // A generous factor: the point is that neither skips the password hash
    // (which would make one of them many times faster), not a tight bound.
    assert!(
        unknown * 3 >= known && known * 3 >= unknown,
        "wrong password {known:?} vs unknown user {unknown:?}"
    );
}

// ---------------------------------------------------------------- usernames

#[tokio::test]
async fn alice_in_any_case_or_width_is_one_name() {
    let app = TestApp::new().await;
    let mut first = app.client();
    first
        .join("Alice", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    for same in ["alice", "ALICE", "ａｌｉｃｅ"] {
        let again = app.client().join(same, PASSWORD).await;
        again
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
            .assert_contains("is taken");
    }
    app.client()
        .get("/users/alice")
        .await
        .assert_status(StatusCode::OK);
    app.client()
        .get("/users/ALICE")
        .await
        .assert_status(StatusCode::OK);
    app.client()
        .signin("ａｌｉｃｅ", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn usernames_have_three_to_thirty_two_characters() {
    let app = TestApp::new().await;
    let long_ok = "a".repeat(32);
    let too_long = "a".repeat(33);
    for bad in ["ab", "", "  ", too_long.as_str()] {
        let page = app.client().join(bad, PASSWORD).await;
        page.assert_status(StatusCode::UNPROCESSABLE_ENTITY)
            .assert_contains("3 to 32 characters");
    }
    for good in ["abc", long_ok.as_str()] {
        app.client()
            .join(good, PASSWORD)
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn control_and_bidirectional_characters_are_refused_in_usernames() {
    let app = TestApp::new().await;
    let names = [
        "ali\u{202E}ce", // right-to-left override
        "ali\u{202D}ce", // left-to-right override
        "ali\u{2066}ce", // left-to-right isolate
        "ali\u{200F}ce", // right-to-left mark
        "ali\u{200B}ce", // zero-width space
        "ali\u{0000}ce",
        "ali\u{0007}ce",
        "ali\nce",
        "ali\u{007F}ce",
        "ali\u{FEFF}ce",
    ];
    for name in names {
        let page = app.client().join(name, PASSWORD).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?} was accepted"
        );
    }
    let users: i64 = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(
        "SELECT count(*) FROM users"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn a_look_alike_of_an_existing_name_is_refused() {
    let app = TestApp::new().await;
    app.member("paypal").await;
    app.member("jane.doe").await;
    // Cyrillic р, а, у; then separators that only look different.
    for look_alike in ["раураl", "pаypal", "jane_doe", "jane-doe", "janedoe"] {
        let page = app.client().join(look_alike, PASSWORD).await;
        page.assert_status(StatusCode::UNPROCESSABLE_ENTITY)
            .assert_contains("looks just like it");
    }
    app.client()
        .join("paypals", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

// ---------------------------------------------------------------- passwords

#[tokio::test]
async fn passwords_need_twelve_to_1024_characters_and_not_a_common_one() {
    let app = TestApp::new().await;
    let cases: [(&str, String, Option<&str>); 6] = [
        (
            "short-pw",
            "eleven char".to_owned(),
            Some("at least 12 characters"),
        ),
        ("twelve-pw", "twelve chars".to_owned(), None),
        // 1024 characters that are not one character repeated (that is refused now).
        (
            "max-pw",
            (0..400).map(|n| format!("{n} ")).collect::<String>()[..1024].to_owned(),
            None,
        ),
        ("over-pw", "p".repeat(1025), Some("at most 1024")),
        ("common-pw", "scandinavian".to_owned(), Some("most common")),
        ("common-pw2", "Unbelievable".to_owned(), Some("most common")),
    ];
    for (name, password, refusal) in cases {
        let page = app.client().join(name, &password).await;
        match refusal {
            Some(message) => {
                page.assert_status(StatusCode::UNPROCESSABLE_ENTITY)
                    .assert_contains(message);
            }
            None => {
                page.assert_status(StatusCode::SEE_OTHER);
            }
        }
    }
    // Multibyte characters count as characters, not bytes.
    app.client()
        .join("emoji-pw", "🔑🐱🌳🚲☕🎈🧭🍋🪁🎻🦉🌵")
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn changing_the_password_signs_out_the_other_sessions() {
    let app = TestApp::new().await;
    let mut here = app.member("alice").await;
    let mut elsewhere = app.client();
    elsewhere
        .signin("alice", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    elsewhere
        .get("/account/password")
        .await
        .assert_status(StatusCode::OK);

    // The profile links to the form, for its owner only.
    here.get("/users/alice")
        .await
        .assert_contains("/account/password");
    app.member("bob").await;
    let bobs = here.get("/users/bob").await;
    assert!(
        !bobs.body.contains("/account/password"),
        "a link to change someone else's password"
    );

    let form = here.get("/account/password").await;
    form.assert_status(StatusCode::OK)
        .assert_contains("current_password");

    let new = "a brand new passphrase";
    let wrong_current = here
        .post(
            "/account/password",
            &[
                ("current_password", "not my password"),
                ("password", new),
                ("password_confirm", new),
            ],
        )
        .await;
    wrong_current
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("current password is not right");
    let mismatch = here
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", new),
                ("password_confirm", "something else"),
            ],
        )
        .await;
    mismatch
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("differ");
    let common = here
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", "scandinavian"),
                ("password_confirm", "scandinavian"),
            ],
        )
        .await;
    common
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY)
        .assert_contains("most common");
    // Nothing changed so far: the other session is still in.
    elsewhere
        .get("/account/password")
        .await
        .assert_status(StatusCode::OK);

    let changed = here
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", new),
                ("password_confirm", new),
            ],
        )
        .await;
    changed.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(changed.location(), Some("/users/alice"));

    // This session goes on; the other one is signed out.
    here.get("/account/password")
        .await
        .assert_status(StatusCode::OK);
    let kicked = elsewhere.get("/account/password").await;
    kicked.assert_status(StatusCode::SEE_OTHER);
    assert!(
        kicked.location().unwrap_or_default().starts_with("/signin"),
        "{:?}",
        kicked.location()
    );

    app.client()
        .signin("alice", PASSWORD)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.client()
        .signin("alice", new)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_password_form_needs_a_signed_in_member_and_a_csrf_token() {
    let app = TestApp::new().await;
    let page = app.client().get("/account/password").await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/signin?next=%2Faccount%2Fpassword"));
    let mut alice = app.member("alice").await;
    let forged = alice
        .post_raw(
            "/account/password",
            encode(&[
                ("current_password", PASSWORD),
                ("password", "x y z w v u t s"),
                ("password_confirm", "x y z w v u t s"),
            ]),
        )
        .await;
    forged.assert_status(StatusCode::FORBIDDEN);
    app.client()
        .signin("alice", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

// ----------------------------------------------------------------- sessions

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime() {
    // A lifetime of zero hours: every session is already too old on its next request.
    let app = TestApp::with_config(config(|c| c.session_max_hours = 0)).await;
    let mut alice = app.client();
    alice
        .join("alice", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let page = alice.get("/methods/new").await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert!(page.location().unwrap_or_default().starts_with("/signin"));

    // With the default lifetime the same steps stay signed in.
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    alice
        .get("/methods/new")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn an_idle_session_expires_and_expired_rows_are_purged() {
    let app = TestApp::with_config(config(|c| c.session_idle_minutes = 5)).await;
    let mut alice = app.member("alice").await;
    let mut bob = app.member("bob").await;
    alice
        .get("/methods/new")
        .await
        .assert_status(StatusCode::OK);

    // The stored expiry is the idle limit from the last request.
    // PostgreSQL's store keeps a `timestamptz`, read here as RFC 3339.
    let (read_sql, expire_sql, count_sql) = if crate::support::backend::on_postgres() {
        (
            "SELECT to_char(expiry_date AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
             FROM tower_sessions.session ORDER BY expiry_date DESC LIMIT 1",
            "UPDATE tower_sessions.session SET expiry_date = expiry_date - interval '26 years' WHERE id = $1",
            "SELECT count(*) FROM tower_sessions.session WHERE id = $1",
        )
    } else {
        (
            "SELECT expiry_date FROM tower_sessions ORDER BY expiry_date DESC LIMIT 1",
            "UPDATE tower_sessions SET expiry_date = '2000' || substr(expiry_date, 5) WHERE id = $1",
            "SELECT count(*) FROM tower_sessions WHERE id = $1",
        )
    };
    let expiry: String = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(read_sql,)
        .fetch_one(pool)
        .await)
    .unwrap();
    let expiry = time::OffsetDateTime::parse(&expiry, &time::format_description::well_known::Rfc3339)
        .or_else(|_| {
            let format = time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory]:[offset_minute]"
            );
            time::OffsetDateTime::parse(&expiry, &format)
        })
        .unwrap_or_else(|err| panic!("cannot read the stored expiry {expiry:?}: {err}"));
    let ahead = expiry - time::OffsetDateTime::now_utc();
    assert!(
        ahead > time::Duration::minutes(4) && ahead <= time::Duration::minutes(5),
        "expiry {ahead} ahead, wanted about 5 minutes"
    );

    // Alice stays away longer than the idle limit: move her session's expiry
    // into the past, as the clock would, keeping the store's own format (the
    // year 2000 instead of this one) so that purging reads it as it would.
    let alice_id = alice
        .cookie
        .as_deref()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    let changed = cafe::on_db!(&app.state.pool, |pool| {
        sqlx::query(expire_sql)
            .bind(&alice_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })
    .unwrap();
    assert_eq!(changed, 1, "alice's session row");
    // The running server also keeps sessions in memory (on SQLite, where
    // it owns them), with the expiry it wrote; the clock passes for that
    // copy too.
    if !crate::support::backend::on_postgres() {
        use tower_sessions::session_store::SessionStore;
        let id: tower_sessions::session::Id = alice_id.parse().expect("a session id");
        let records = &app.state.session_records;
        let mut kept = records.load(&id).await.unwrap().expect("kept in memory");
        kept.expiry_date = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
        records.save(&kept).await.unwrap();
    }
    let page = alice.get("/methods/new").await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert!(page.location().unwrap_or_default().starts_with("/signin"));
    bob.get("/methods/new").await.assert_status(StatusCode::OK);

    // Purging removes the expired row and keeps the live ones.
    let before = session_rows(&app).await;
    let expired: i64 = cafe::on_db!(&app.state.pool, |pool| sqlx::query_scalar(count_sql)
        .bind(&alice_id)
        .fetch_one(pool)
        .await)
    .unwrap();
    assert_eq!(expired, 1, "the expired row is still there before purging");
    use tower_sessions::session_store::ExpiredDeletion;
    app.state.sessions.delete_expired().await.expect("purge");
    let after = session_rows(&app).await;
    assert_eq!(
        after,
        before - 1,
        "exactly the expired row is purged ({before} → {after})"
    );
    bob.get("/methods/new").await.assert_status(StatusCode::OK);
}

// ------------------------------------------------------------------ blocking

#[tokio::test]
async fn a_blocked_user_is_signed_out_cannot_sign_in_and_their_content_stays() {
    let app = TestApp::new().await;
    let mut admin = app.admin("root-admin").await;
    let mut bob = app.member("bob").await;
    let path = bob
        .create_page(
            "Bobs Method",
            "## Brief Description\n\nBob wrote this.\n",
            "",
        )
        .await;
    let story = bob
        .post(
            &format!("{path}/stories"),
            &[
                ("title", "How it went"),
                ("body", "Bobs story, told here."),
                ("outcome", "success"),
                ("location", ""),
            ],
        )
        .await;
    story.assert_status(StatusCode::SEE_OTHER);
    let story_path = story.location().unwrap().to_owned();

    // Members cannot block; admins can.
    let mut carol = app.member("carol").await;
    carol
        .post("/users/bob/block", &[("blocked", "1")])
        .await
        .assert_status(StatusCode::FORBIDDEN);
    bob.get("/methods/new").await.assert_status(StatusCode::OK);
    admin
        .post("/users/bob/block", &[("blocked", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let page = bob.get("/methods/new").await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert!(page.location().unwrap_or_default().starts_with("/signin"));
    let signin = app.client().signin("bob", PASSWORD).await;
    signin
        .assert_status(StatusCode::UNAUTHORIZED)
        .assert_contains("That username and password do not match an account.");

    let anyone = &mut app.client();
    anyone
        .get(&path)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Bob wrote this.");
    anyone
        .get(&story_path)
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Bobs story, told here.");
    anyone
        .get("/users/bob")
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("blocked");

    // Unblocking lets bob sign in again.
    admin
        .post("/users/bob/block", &[("blocked", "0")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    app.client()
        .signin("bob", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}
