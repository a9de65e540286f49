//! Issue 12, items 7 and 11: the sign-in and join forms need no stored
//! session (a signed double-submit CSRF cookie instead), and every answer
//! says how caches may keep it (`no-store` for members and forms, `private`
//! for visitors), with HSTS over HTTPS and images only from allowed hosts.

use crate::support::{Client, PASSWORD, Page, TestApp, alone, encode, queries, session_rows};
use axum::http::StatusCode;
use cafe::config::{Cli, ServeArgs};
use clap::Parser as _;

const PAGE: &str = "/methods/communities-of-practice";

fn cache_control(page: &Page) -> &str {
    page.header("cache-control").unwrap_or("(none)")
}

/// The sign-in form as a visitor without a session gets it: its token, and
/// the CSRF cookie it came with (the only cookie the visitor holds).
async fn signin_form(client: &mut Client) -> String {
    let form = client.get("/signin").await;
    form.assert_status(StatusCode::OK);
    assert!(
        !client.has_session() && client.cookie.is_some(),
        "the form should set the CSRF cookie and no session: {:?}",
        client.cookie
    );
    form.csrf_token().expect("a token in the sign-in form")
}

#[tokio::test]
async fn fifty_anonymous_sign_in_and_join_forms_store_no_session() {
    let app = TestApp::new().await;
    let before = session_rows(&app).await;
    for n in 0..50 {
        let path = if n % 2 == 0 { "/signin" } else { "/join" };
        let mut client = app.client();
        let form = client.get(path).await;
        form.assert_status(StatusCode::OK);
        assert!(form.csrf_token().is_some_and(|t| !t.is_empty()));
        let cookies = form.set_cookies();
        assert!(
            !cookies.iter().any(|c| c.starts_with("cafe_session=")),
            "GET {path} started a session: {cookies:?}"
        );
        assert!(
            cookies.iter().any(|c| c.starts_with("cafe_csrf=")),
            "GET {path} set no CSRF cookie: {cookies:?}"
        );
    }
    assert_eq!(session_rows(&app).await, before, "forms wrote session rows");
}

#[tokio::test]
async fn a_visitor_joins_and_signs_in_with_the_forms_token_and_only_then_gets_a_session() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let token = signin_form(&mut client).await;
    assert_eq!(session_rows(&app).await, 0);

    let joined = client
        .post_raw(
            "/join",
            encode(&[
                ("csrf_token", &token),
                ("username", "alice"),
                ("display_name", "Alice"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ]),
        )
        .await;
    joined.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(session_rows(&app).await, 1, "joining starts one session");
    let cookies = joined.set_cookies();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("cafe_csrf=") && c.contains("Max-Age=0")),
        "the form's cookie is cleared once signed in: {cookies:?}"
    );
    // The session is left, and the welcome's one-time cookie (see
    // `web::flash`); the form's cookie is gone.
    let jar = client.cookie.clone().unwrap_or_default();
    let names: Vec<&str> = jar
        .split("; ")
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name))
        .collect();
    assert!(
        names.contains(&"cafe_session") && !names.contains(&"cafe_csrf"),
        "the session cookie and no form cookie: {jar}"
    );
    client
        .get("/account/password")
        .await
        .assert_status(StatusCode::OK);

    let mut again = app.client();
    let token = signin_form(&mut again).await;
    let signed_in = again
        .post_raw(
            "/signin",
            encode(&[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    signed_in.assert_status(StatusCode::SEE_OTHER);
    assert!(again.has_session());
    again
        .get("/account/password")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_sign_in_with_a_missing_wrong_or_another_visitors_token_is_refused() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let mut mallory = app.client();
    let mallorys_token = signin_form(&mut mallory).await;
    let mut visitor = app.client();
    let token = signin_form(&mut visitor).await;
    assert_ne!(
        token, mallorys_token,
        "each visitor has a token of their own"
    );

    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &token[..token.len() - 1]);
    let other = mallorys_token.clone();
    let cases = [
        ("no token", None),
        ("an empty token", Some(String::new())),
        ("a wrong token", Some(wrong)),
        ("another visitor's token", Some(other)),
        ("a token of another length", Some(format!("{token}00"))),
    ];
    for (what, given) in cases {
        let mut fields = vec![("username", "alice"), ("password", PASSWORD)];
        if let Some(given) = &given {
            fields.push(("csrf_token", given));
        }
        let page = visitor.post_raw("/signin", encode(&fields)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {}", page.body);
        page.assert_contains("did not come from this site");
        assert!(!visitor.has_session(), "{what} signed in");
    }

    // The right token without its cookie is refused too.
    let mut cookieless = app.client();
    let page = cookieless
        .post_raw(
            "/signin",
            encode(&[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    page.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(session_rows(&app).await, 1, "only alice's session");

    // And the visitor's own still works after all that.
    let page = visitor
        .post_raw(
            "/signin",
            encode(&[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", PASSWORD),
            ]),
        )
        .await;
    page.assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_visitors_page_view_after_the_sign_in_form_still_comes_from_the_cache() {
    let name = alone::test_name(
        module_path!(),
        "a_visitors_page_view_after_the_sign_in_form_still_comes_from_the_cache",
    );
    if !alone::is_alone(&name) {
        alone::run_alone(&name, []);
        return;
    }
    queries::install();
    let app = TestApp::new().await;
    let warm = app.client().get(PAGE).await;
    warm.assert_status(StatusCode::OK);

    let mut visitor = app.client();
    signin_form(&mut visitor).await;
    queries::reset();
    let page = visitor.get(PAGE).await;
    // On PostgreSQL the content clock is read for every request (other
    // instances write without a sign this one can see): one small read,
    // and nothing else.
    let ran = if crate::support::backend::on_postgres() {
        queries::page_statements()
    } else {
        queries::statements()
    };
    page.assert_status(StatusCode::OK);
    assert_eq!(page.body, warm.body);
    assert_eq!(
        ran, 0,
        "the view after the sign-in form ran {ran} statements: not from the cache"
    );

    // The counter does see statements: joining writes a member's row. (A
    // member's page view may itself run none: sessions, members and the
    // shared page are all kept in memory.)
    queries::reset();
    let mut alice = app.member("alice").await;
    alice.get(PAGE).await.assert_status(StatusCode::OK);
    assert!(queries::statements() > 0, "the counter saw nothing");
}

#[tokio::test]
async fn member_pages_and_every_form_with_a_token_are_not_stored_by_caches() {
    let app = TestApp::new().await;
    let mut visitor = app.client();
    for path in ["/signin", "/join"] {
        let page = visitor.get(path).await;
        page.assert_status(StatusCode::OK);
        assert_eq!(cache_control(&page), "no-store", "GET {path}");
    }
    let refused = visitor.post_raw("/signin", "username=x").await;
    refused.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(cache_control(&refused), "no-store", "a refused sign-in");

    let mut alice = app.member("alice").await;
    for path in [
        PAGE,
        "/methods/new",
        "/account/password",
        "/",
        "/users/alice",
    ] {
        let page = alice.get(path).await;
        page.assert_status(StatusCode::OK);
        assert_eq!(cache_control(&page), "no-store", "a member's GET {path}");
    }
    let missing = alice.get("/methods/no-such-page").await;
    missing.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(cache_control(&missing), "no-store", "a member's 404");
}

#[tokio::test]
async fn visitors_pages_are_private_whether_fresh_or_from_the_cache() {
    let app = TestApp::new().await;
    let mut visitor = app.client();
    let fresh = visitor.get(PAGE).await;
    fresh.assert_status(StatusCode::OK);
    assert_eq!(cache_control(&fresh), "private, no-cache", "a fresh view");
    let kept = visitor.get(PAGE).await;
    assert_eq!(cache_control(&kept), "private, no-cache", "a cached view");
    signin_form(&mut visitor).await;
    let after_form = visitor.get(PAGE).await;
    assert_eq!(
        cache_control(&after_form),
        "private, no-cache",
        "a view holding the form's cookie"
    );
    let home = app.client().get("/").await;
    assert_eq!(cache_control(&home), "private, no-cache", "the home page");

    // Static assets keep their own long life, for members too.
    let style = home
        .body
        .split("href=\"")
        .find_map(|rest| rest.split('"').next().filter(|h| h.starts_with("/static/")))
        .expect("a stylesheet link")
        .to_owned();
    let mut alice = app.member("alice").await;
    for client in [&mut visitor, &mut alice] {
        let asset = client.get(&style).await;
        asset.assert_status(StatusCode::OK);
        assert_eq!(cache_control(&asset), "public, max-age=31536000, immutable");
    }
}

#[tokio::test]
async fn hsts_is_sent_with_secure_cookies_and_not_without() {
    let plain = TestApp::new().await;
    let page = plain.client().get("/").await;
    assert_eq!(page.header("strict-transport-security"), None);

    let mut config = ServeArgs::defaults();
    config.secure_cookies = true;
    let https = TestApp::with_config(config).await;
    let mut client = https.client();
    for path in ["/", "/signin", "/no-such-page"] {
        let page = client.get(path).await;
        assert_eq!(
            page.header("strict-transport-security"),
            Some("max-age=31536000"),
            "GET {path}"
        );
    }
    let form = https.client().get("/join").await.set_cookies();
    assert!(
        form.iter()
            .any(|c| c.starts_with("cafe_csrf=") && c.contains("Secure") && c.contains("HttpOnly")),
        "the form's cookie is Secure over HTTPS: {form:?}"
    );
}

fn img_src(page: &Page) -> String {
    let csp = page.header("content-security-policy").expect("a CSP");
    csp.split(';')
        .map(str::trim)
        .find(|d| d.starts_with("img-src"))
        .expect("an img-src directive")
        .to_owned()
}

#[tokio::test]
async fn images_come_only_from_the_site_unless_the_operator_allows_hosts() {
    let app = TestApp::new().await;
    let page = app.client().get(PAGE).await;
    assert_eq!(img_src(&page), "img-src 'self' data:");
    assert!(
        !page
            .header("content-security-policy")
            .unwrap_or_default()
            .contains("https:")
    );

    let cli = Cli::try_parse_from([
        "cafe",
        "--image-hosts",
        "images.example.org,cdn-2.example:8443",
    ])
    .expect("valid image hosts");
    let app = TestApp::with_config(cli.serve).await;
    let page = app.client().get(PAGE).await;
    assert_eq!(
        img_src(&page),
        "img-src 'self' data: https://images.example.org https://cdn-2.example:8443"
    );
}

#[tokio::test]
async fn an_image_host_that_is_not_a_plain_host_name_is_refused_at_start() {
    for bad in [
        "https://images.example.org",
        "images.example.org/x",
        "*",
        "a b",
        "evil.example; script-src *",
        "host:port",
        "host:99999",
        "",
        "ok.example,,",
        "exämple.org",
    ] {
        let err = Cli::try_parse_from(["cafe", "--image-hosts", bad])
            .err()
            .unwrap_or_else(|| panic!("{bad:?} was accepted"));
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::ValueValidation,
            "{bad:?}: {err}"
        );
    }
}
