//! The real server on a random port, driven by an HTTP client that keeps
//! cookies like a browser: what a first visitor does, over TCP.

use crate::support;
use crate::support::select;
use crate::support::server::csrf;
use std::net::SocketAddr;

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use cafe::config::ServeArgs;
use cafe::{AppState, app};

/// A running server: its base URL, and the folder holding its database.
struct Server {
    base: String,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cafe.db");
    let pool = cafe::seed::open_and_seed(db.to_str().expect("utf-8 path"))
        .await
        .expect("open db");
    let state = AppState::new(pool, ServeArgs::defaults())
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    Server {
        base: format!("http://{addr}"),
        _dir: dir,
        task,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Vec<String>,
    body: String,
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let set_cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let body = response.text().await.expect("body");
    Reply {
        status,
        location,
        set_cookie,
        body,
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Reply {
    reply(client.get(url).send().await.expect("GET")).await
}

async fn post(client: &reqwest::Client, url: &str, fields: &[(&str, &str)]) -> Reply {
    reply(client.post(url).form(fields).send().await.expect("POST")).await
}

#[tokio::test]
async fn a_visitor_joins_writes_a_page_signs_out_and_signs_in_again_over_http() {
    let server = start().await;
    let base = &server.base;
    let client = browser();

    let health = get(&client, &format!("{base}/healthz")).await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "ok")
    );

    // Join.
    let form = get(&client, &format!("{base}/join")).await;
    assert_eq!(form.status, StatusCode::OK);
    // The form starts no session, only its CSRF cookie (issue 12, item 7).
    let cookie = form
        .set_cookie
        .iter()
        .find(|c| c.starts_with("cafe_csrf="))
        .expect("the form's CSRF cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !form
            .set_cookie
            .iter()
            .any(|c| c.starts_with("cafe_session=")),
        "{:?}",
        form.set_cookie
    );
    let token = csrf(&form.body);
    let joined = post(
        &client,
        &format!("{base}/join"),
        &[
            ("csrf_token", &token),
            ("username", "Dana"),
            ("display_name", "Dana Field"),
            ("password", support::PASSWORD),
            ("password_confirm", support::PASSWORD),
        ],
    )
    .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.body);
    assert_eq!(joined.location.as_deref(), Some("/"));
    let cookie = joined
        .set_cookie
        .iter()
        .find(|c| c.starts_with("cafe_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let home = get(&client, &format!("{base}/")).await;
    assert_eq!(select(&home.body, "header .account a"), ["Dana Field"]);

    // Create a page.
    let new = get(&client, &format!("{base}/methods/new")).await;
    assert_eq!(new.status, StatusCode::OK);
    let token = csrf(&new.body);
    let created = post(
        &client,
        &format!("{base}/methods"),
        &[
            ("csrf_token", &token),
            ("title", "Walking Interviews"),
            (
                "body",
                "## Brief Description\n\nTalk while you walk the site together.\n",
            ),
            ("tags", "fieldwork, Listening"),
            ("summary", "first draft"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(
        created.location.as_deref(),
        Some("/methods/walking-interviews")
    );
    let page = get(&client, &format!("{base}/methods/walking-interviews")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        select(&page.body, "main h1").first().map(String::as_str),
        Some("Walking Interviews")
    );
    assert!(page.body.contains("Talk while you walk the site together."));
    assert!(
        select(&page.body, "ul.tags a.tag").contains(&"listening".to_owned()),
        "{}",
        page.body
    );

    // Sign out.
    let token = csrf(&page.body);
    let out = post(
        &client,
        &format!("{base}/signout"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let gate = get(&client, &format!("{base}/methods/new")).await;
    assert_eq!(gate.status, StatusCode::SEE_OTHER);
    assert_eq!(
        gate.location.as_deref(),
        Some("/signin?next=%2Fmethods%2Fnew")
    );

    // A wrong password, then the right one, coming back to where the visitor was going.
    let form = get(&client, &format!("{base}/signin?next=%2Fmethods%2Fnew")).await;
    let token = csrf(&form.body);
    let wrong = post(
        &client,
        &format!("{base}/signin"),
        &[
            ("csrf_token", &token),
            ("username", "dana"),
            ("password", "not my password at all"),
            ("next", "/methods/new"),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let token = csrf(&wrong.body);
    let signed_in = post(
        &client,
        &format!("{base}/signin"),
        &[
            ("csrf_token", &token),
            ("username", "dana"),
            ("password", support::PASSWORD),
            ("next", "/methods/new"),
        ],
    )
    .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(signed_in.location.as_deref(), Some("/methods/new"));
    assert!(
        signed_in
            .set_cookie
            .iter()
            .any(|c| c.starts_with("cafe_session=")),
        "the session id is cycled"
    );
    let new = get(&client, &format!("{base}/methods/new")).await;
    assert_eq!(new.status, StatusCode::OK);
    assert_eq!(select(&new.body, "header .account a"), ["Dana Field"]);

    // What was written is still there, with its author.
    let history = get(
        &client,
        &format!("{base}/methods/walking-interviews/history"),
    )
    .await;
    assert!(
        history.body.contains("first draft") && history.body.contains("Dana Field"),
        "{}",
        history.body
    );
}

#[tokio::test]
async fn the_server_refuses_an_oversized_upload_and_keeps_serving() {
    let server = start().await;
    let base = &server.base;
    let client = browser();
    let form = get(&client, &format!("{base}/signin")).await;
    let token = csrf(&form.body);
    let huge = "z".repeat(2 * 1024 * 1024);
    let refused = post(
        &client,
        &format!("{base}/signin"),
        &[("csrf_token", &token), ("username", &huge)],
    )
    .await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        refused.body.contains("larger than 1 MiB"),
        "{}",
        refused.body
    );
    let again = get(&client, &format!("{base}/methods/peer-assist")).await;
    assert_eq!(again.status, StatusCode::OK);
}
