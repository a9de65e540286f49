//! Accounts through the real router: joining, signing in and out, the
//! session cookie, safe redirects, throttling and profiles.

use crate::support::attrs;
use crate::support::{Client, PASSWORD, Page, TestApp, select};
use axum::http::StatusCode;
use scraper::{Html, Selector};

use cafe::config::ServeArgs;

/// The inner HTML of `<main>`.
fn main_html(html: &str) -> String {
    let doc = Html::parse_document(html);
    let selector = Selector::parse("main").expect("a valid selector");
    doc.select(&selector).map(|e| e.inner_html()).collect()
}

async fn join_as(client: &mut Client, fields: [(&str, &str); 4]) -> Page {
    client.post("/join", &fields).await
}

/// Whether a client is signed in, as a user finds out: can they open the new page form?
async fn is_signed_in(client: &mut Client) -> bool {
    let page = client.get("/methods/new").await;
    match page.status {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert_eq!(page.location(), Some("/signin?next=%2Fmethods%2Fnew"));
            false
        }
        other => panic!("unexpected {other} for /methods/new"),
    }
}

#[tokio::test]
async fn joining_signs_you_in_and_the_header_shows_your_display_name() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let form = client.get("/join").await;
    form.assert_status(StatusCode::OK);
    let joined = join_as(
        &mut client,
        [
            ("username", "alice"),
            ("display_name", "Alice Example"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await;
    joined.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(joined.location(), Some("/"));

    let home = client.get("/").await;
    home.assert_status(StatusCode::OK);
    assert_eq!(select(&home.body, "header .account a"), ["Alice Example"]);
    assert_eq!(
        attrs(&home.body, "header .account a", "href"),
        ["/users/alice"]
    );
    assert!(is_signed_in(&mut client).await);
}

#[tokio::test]
async fn a_short_password_is_refused_and_the_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let page = join_as(
        &mut client,
        [
            ("username", "alice"),
            ("display_name", "Alice Example"),
            ("password", "short one"),
            ("password_confirm", "short one"),
        ],
    )
    .await;
    page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let errors = select(&page.body, ".form-errors li");
    assert!(
        errors.iter().any(|e| e.contains("at least 12 characters")),
        "{errors:?}"
    );
    assert_eq!(
        attrs(&page.body, "input[name=username]", "value"),
        ["alice"]
    );
    assert_eq!(
        attrs(&page.body, "input[name=display_name]", "value"),
        ["Alice Example"]
    );
    assert!(
        !page.body.contains("short one"),
        "the password is echoed back"
    );
    assert!(!is_signed_in(&mut client).await);
    assert_eq!(
        client.signin("alice", "short one").await.status,
        StatusCode::UNAUTHORIZED,
        "no account was made"
    );
}

#[tokio::test]
async fn passwords_that_differ_are_refused() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let page = join_as(
        &mut client,
        [
            ("username", "bob"),
            ("display_name", "Bob"),
            ("password", "one long enough password"),
            ("password_confirm", "another long enough password"),
        ],
    )
    .await;
    page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        select(&page.body, ".form-errors li"),
        ["The two passwords differ."]
    );
    assert_eq!(attrs(&page.body, "input[name=username]", "value"), ["bob"]);
    assert!(!is_signed_in(&mut client).await);
}

#[tokio::test]
async fn a_taken_username_is_refused_whatever_its_case_or_look_alike() {
    let app = TestApp::new().await;
    app.member("alice").await;
    for taken in ["alice", "Alice", "ALICE", "\u{0430}lice"] {
        let mut client = app.client();
        let page = join_as(
            &mut client,
            [
                ("username", taken),
                ("display_name", "Someone Else"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
        page.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let errors = select(&page.body, ".form-errors li");
        assert!(
            errors.iter().any(|e| e.contains("taken")),
            "{taken}: {errors:?}"
        );
        assert_eq!(attrs(&page.body, "input[name=username]", "value"), [taken]);
        assert_eq!(
            attrs(&page.body, "input[name=display_name]", "value"),
            ["Someone Else"]
        );
        assert!(!is_signed_in(&mut client).await);
    }
}

#[tokio::test]
async fn signing_in_goes_to_the_page_asked_for() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let mut client = app.client();
    let form = client.get("/signin?next=/methods/peer-assist/edit").await;
    assert_eq!(
        attrs(&form.body, "input[name=next]", "value"),
        ["/methods/peer-assist/edit"]
    );
    let page = client
        .post(
            "/signin",
            &[
                ("username", "Alice"),
                ("password", PASSWORD),
                ("next", "/methods/peer-assist/edit"),
            ],
        )
        .await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/methods/peer-assist/edit"));
    client
        .get("/methods/peer-assist/edit")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn sign_in_and_join_never_redirect_to_another_site() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let hostile = [
        "//evil.example",
        "//evil.example/methods",
        "https://evil.example",
        "http://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "/\t/evil.example",
    ];
    for next in hostile {
        let mut client = app.client();
        let page = client
            .post(
                "/signin",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        page.assert_status(StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/"), "sign-in with next={next:?}");
    }
    for (n, next) in hostile.iter().take(4).enumerate() {
        let mut client = app.client();
        let username = format!("joiner{n}");
        let page = client
            .post(
                "/join",
                &[
                    ("username", &username),
                    ("display_name", "Joiner"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        page.assert_status(StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some("/"), "join with next={next:?}");
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let mut client = app.client();
    let wrong = client.signin("alice", "not the right password").await;
    let unknown = client.signin("alicf", "not the right password").await;
    wrong.assert_status(StatusCode::UNAUTHORIZED);
    unknown.assert_status(StatusCode::UNAUTHORIZED);
    let message = select(&wrong.body, ".form-errors");
    assert_eq!(
        message,
        ["That username and password do not match an account."]
    );
    assert_eq!(select(&unknown.body, ".form-errors"), message);
    assert_eq!(
        attrs(&wrong.body, "input[name=username]", "value"),
        ["alice"]
    );
    // Apart from the name typed, the two answers are the same page.
    assert_eq!(
        main_html(&wrong.body),
        main_html(&unknown.body).replace("alicf", "alice")
    );
    assert!(!is_signed_in(&mut client).await);
}

#[tokio::test]
async fn signing_out_ends_the_session_for_good() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let old_cookie = alice.cookie.clone();
    assert!(is_signed_in(&mut alice).await);

    let out = alice.post("/signout", &[]).await;
    out.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(out.location(), Some("/"));
    assert!(!is_signed_in(&mut alice).await);
    let home = alice.get("/").await;
    assert!(
        select(&home.body, "header .account a").contains(&"Sign in".to_owned()),
        "{}",
        home.body
    );

    // The old cookie, replayed, is not signed in either: the session is gone on the server.
    let mut replay = app.client();
    replay.cookie = old_cookie;
    assert!(!is_signed_in(&mut replay).await);
}

#[tokio::test]
async fn signing_out_needs_the_form_not_a_link() {
    let app = TestApp::new().await;
    let mut alice = app.member("alice").await;
    let get = alice.get("/signout").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    let forged = alice.post_raw("/signout", "").await;
    forged.assert_status(StatusCode::FORBIDDEN);
    assert!(is_signed_in(&mut alice).await);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let form = client.get("/signin").await;
    // The form starts no session (issue 12, item 7): its cookie is the CSRF one.
    assert_eq!(
        form.set_cookie("cafe_session"),
        None,
        "the sign-in form starts no session"
    );
    let cookie = form
        .set_cookie("cafe_csrf")
        .expect("the sign-in form's CSRF cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain-HTTP default: {cookie}");

    let joined = client.join("alice", PASSWORD).await;
    let cookie = joined
        .set_cookie("cafe_session")
        .expect("joining sets the session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain-HTTP default: {cookie}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_configured_for_https() {
    let mut config = ServeArgs::defaults();
    config.secure_cookies = true;
    let app = TestApp::with_config(config).await;
    let mut client = app.client();
    let form = client.get("/signin").await;
    let joined = client.join("alice", PASSWORD).await;
    for cookie in [
        form.set_cookie("cafe_csrf")
            .expect("the form's CSRF cookie"),
        joined.set_cookie("cafe_session").expect("a session cookie"),
    ] {
        assert!(
            cookie.contains("Secure")
                && cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    let app = TestApp::new().await;
    app.member("alice").await;
    let mut client = app.client();
    client.get("/signin").await;
    let before = client.cookie.clone().expect("a session before sign-in");
    let token_before = client.csrf().await;

    client
        .signin("alice", PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let after = client.cookie.clone().expect("a session after sign-in");
    assert_ne!(before, after, "the session id was not cycled");
    assert!(is_signed_in(&mut client).await);
    assert_ne!(
        client.csrf().await,
        token_before,
        "the CSRF token was not renewed"
    );

    // Whoever planted or saw the old id does not share the signed-in session.
    let mut fixated = app.client();
    fixated.cookie = Some(before);
    assert!(!is_signed_in(&mut fixated).await);
}

#[tokio::test]
async fn the_sixth_wrong_password_for_one_username_is_refused_with_retry_after() {
    let app = TestApp::new().await;
    app.member("alice").await;
    app.member("bob").await;
    let mut attacker = app.client();
    for attempt in 1..=5 {
        let page = attacker
            .signin("alice", &format!("guess number {attempt}"))
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let sixth = attacker.signin("alice", "guess number 6").await;
    sixth.assert_status(StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = sixth
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("seconds");
    assert!((1..=15 * 60).contains(&retry), "Retry-After {retry}");
    sixth.assert_contains("Too many attempts");

    // The right password does not get through either, nor another spelling of the name…
    assert_eq!(
        app.client().signin("alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.client().signin(" ALICE ", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but other accounts are not locked out.
    assert_eq!(
        attacker.signin("bob", "a wrong password").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client().signin("bob", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_profile_page_shows_the_users_edits() {
    let app = TestApp::new().await;
    let mut alice = app.client();
    join_as(
        &mut alice,
        [
            ("username", "alice"),
            ("display_name", "Alice Example"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await
    .assert_status(StatusCode::SEE_OTHER);
    let path = alice
        .create_page("Alice's Method", "First take.\n", "")
        .await;
    let base = alice.base_revision(&path).await;
    alice
        .edit_page(&path, &base, "Second take.\n", "", "tightened the steps")
        .await
        .assert_status(StatusCode::SEE_OTHER);

    let mut visitor = app.client();
    let profile = visitor.get("/users/alice").await;
    profile.assert_status(StatusCode::OK);
    assert_eq!(select(&profile.body, "main h1"), ["Alice Example"]);
    let edits = select(&profile.body, "main section li");
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert!(
        edits[0].contains("Alice's Method")
            && edits[0].contains("revision 2")
            && edits[0].contains("tightened the steps"),
        "{edits:?}"
    );
    assert!(edits[1].contains("revision 1"), "{edits:?}");
    assert!(
        attrs(&profile.body, "main section a", "href").contains(&format!("{path}/revisions/2"))
    );

    visitor
        .get("/users/ALICE")
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Alice Example");
    visitor
        .get("/users/nobody")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    visitor
        .get("/users/%3Cscript%3E")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
