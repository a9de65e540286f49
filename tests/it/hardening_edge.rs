//! Issue 12, items 5 and 6: absolute links come from `--public-url`, never
//! from request headers; client addresses from a proxy only when trusted;
//! and the server cuts off clients that stall their headers or body, answers
//! an over-size `Content-Length` before reading, and bounds its connections.

use crate::support;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestApp;
use cafe::config::{Cli, ServeArgs};

/// Server settings as the command line gives them.
fn args(flags: &[&str]) -> ServeArgs {
    let mut argv = vec!["cafe"];
    argv.extend_from_slice(flags);
    Cli::try_parse_from(argv).expect("flags parse").serve
}

const FEEDS: [&str; 3] = [
    "/recent.atom",
    "/methods.atom",
    "/methods/peer-assist/history.atom",
];

/// Every `href` and `<id>` of a feed.
fn links_and_ids(xml: &str) -> (Vec<String>, Vec<String>) {
    let doc = roxmltree::Document::parse(xml).expect("feed parses");
    let links = doc
        .descendants()
        .filter_map(|n| n.attribute("href").map(str::to_owned))
        .collect();
    let ids = doc
        .descendants()
        .filter(|n| n.has_tag_name("id"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    (links, ids)
}

#[tokio::test]
async fn a_feed_asked_for_with_a_hostile_host_gives_no_reader_that_host() {
    let app = TestApp::new().await;
    let mut client = app.client();
    for path in FEEDS {
        let hostile = client
            .send(
                Request::get(path)
                    .header(header::HOST, "evil.example")
                    .header("x-forwarded-proto", "https")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        let plain = client.get(path).await;
        for page in [&hostile, &plain] {
            page.assert_status(StatusCode::OK);
            assert!(!page.body.contains("evil.example"), "{path}: {}", page.body);
            let (links, ids) = links_and_ids(&page.body);
            assert!(!links.is_empty(), "{path}: no links");
            for link in links {
                assert!(link.starts_with("http://127.0.0.1:3000/"), "{path}: {link}");
            }
            for id in ids {
                assert!(id.starts_with("tag:127.0.0.1,2026:"), "{path}: {id}");
            }
        }
    }
}

#[tokio::test]
async fn with_a_public_url_feeds_link_to_it_and_take_their_ids_from_its_host() {
    let app = TestApp::with_config(args(&["--public-url", "https://wiki.example.org:8443"])).await;
    let mut client = app.client();
    for path in FEEDS {
        let page = client.get(path).await;
        page.assert_status(StatusCode::OK);
        let (links, ids) = links_and_ids(&page.body);
        assert!(!links.is_empty() && !ids.is_empty(), "{path}");
        for link in links {
            assert!(
                link.starts_with("https://wiki.example.org:8443/"),
                "{path}: {link}"
            );
        }
        for id in ids {
            assert!(id.starts_with("tag:wiki.example.org,2026:"), "{path}: {id}");
        }
    }
}

#[test]
fn a_public_url_with_a_query_a_fragment_or_another_scheme_is_refused_at_start() {
    for bad in [
        "https://wiki.example.org/?a=1",
        "https://wiki.example.org/#top",
        "ftp://wiki.example.org",
        "https://",
    ] {
        let err = Cli::try_parse_from(["cafe", "--public-url", bad])
            .expect_err(bad)
            .to_string();
        assert!(err.contains("--public-url"), "{bad}: {err}");
        assert!(!err.contains("unexpected argument"), "{bad}: {err}");
    }
    assert!(Cli::try_parse_from(["cafe", "--public-url", "http://localhost:8080/"]).is_ok());
}

/// Signs in as `username` (who does not exist) with this forwarded-for value.
async fn failed_signin(
    client: &mut support::Client,
    username: &str,
    forwarded: &str,
) -> StatusCode {
    let token = client.csrf().await;
    let body = support::encode(&[
        ("csrf_token", &token),
        ("username", username),
        ("password", "not the password"),
    ]);
    let mut request = Request::post("/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", forwarded);
    if let Some(cookie) = &client.cookie {
        request = request.header(header::COOKIE, cookie);
    }
    client
        .send(request.body(Body::from(body)).expect("request"))
        .await
        .status
}

#[tokio::test]
async fn the_client_address_comes_from_a_proxy_header_only_when_it_is_trusted() {
    // Without --trust-proxy, a new X-Forwarded-For each time changes nothing.
    let app = TestApp::with_config(args(&["--signin-failures-per-addr", "3"])).await;
    let mut client = app.client();
    for n in 0..3 {
        let status =
            failed_signin(&mut client, &format!("nobody{n}"), &format!("10.0.0.{n}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = failed_signin(&mut client, "nobody9", "10.0.0.9").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // With it, the right-most entry (the one the proxy appended) is the address.
    let app = TestApp::with_config(args(&[
        "--signin-failures-per-addr",
        "3",
        "--trust-proxy",
        "x-forwarded-for",
    ]))
    .await;
    let mut client = app.client();
    for n in 0..3 {
        let forwarded = format!("10.9.9.{n}, 192.0.2.1");
        let status = failed_signin(&mut client, &format!("nobody{n}"), &forwarded).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = failed_signin(&mut client, "nobody8", "10.9.9.8, 192.0.2.1").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "same proxy-seen address"
    );
    let status = failed_signin(&mut client, "nobody9", "192.0.2.1, 192.0.2.2").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "another address");
}

// ------------------------------------------------------------ the server

/// A real server on a random port, served by `cafe::server::serve`.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _app: TestApp,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

async fn start(flags: &[&str]) -> Server {
    let config = args(flags);
    let limits = cafe::server::Limits::new(&config);
    let app = TestApp::with_config(config).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app.router.clone();
    let task = tokio::spawn(async move {
        cafe::server::serve(listener, router, limits, async {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    Server {
        addr,
        stop: Some(stop),
        task,
        _app: app,
    }
}

/// What the server sent until it closed the connection, or `None` when it
/// neither answered nor closed within `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// The first response on a fresh connection, within `limit`.
async fn first_response(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

const SMALL_TIMEOUTS: [&str; 4] = ["--header-timeout-secs", "1", "--body-timeout-secs", "1"];

#[tokio::test]
async fn a_client_that_stops_halfway_through_its_request_line_or_headers_is_cut_off() {
    let server = start(&SMALL_TIMEOUTS).await;
    for half in [
        "GET /heal",
        "GET /healthz HTTP/1.1\r\nHost: cafe\r\nAccept: te",
    ] {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(half.as_bytes()).await.expect("write");
        let answer = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        let answer = answer.unwrap_or_else(|| panic!("{half:?}: still open after 5 s"));
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{half:?}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_body_that_stops_short_of_its_content_length_is_cut_off() {
    let server = start(&SMALL_TIMEOUTS).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let head = "POST /signin HTTP/1.1\r\nHost: cafe\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(b"username=a").await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server answers or closes within 5 s");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_declared_content_length_over_the_limit_gets_413_before_any_body_is_sent() {
    let server = start(&[]).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let head = "POST /signin HTTP/1.1\r\nHost: cafe\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = first_response(&mut stream, Duration::from_secs(2))
        .await
        .expect("an answer within 2 s");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn past_max_connections_an_extra_connection_waits_until_one_closes() {
    let server = start(&["--max-connections", "2", "--header-timeout-secs", "30"]).await;
    let held_a = TcpStream::connect(server.addr).await.expect("connect");
    let held_b = TcpStream::connect(server.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(server.addr).await.expect("connect");
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: cafe\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        first_response(&mut extra, Duration::from_secs(1)).await,
        None,
        "served past the limit"
    );
    drop(held_a);
    drop(held_b);
    let answer = first_response(&mut extra, Duration::from_secs(5))
        .await
        .expect("served once the others closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
