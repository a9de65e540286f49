//! Members' pages made from a role's shared skeleton (`cache::members`):
//! each member sees their own name, token and roster entry, never another
//! member's, and a visitor never sees a member's, whichever was kept first.

use crate::support;
use crate::support::{Client, TestApp, attrs};
use axum::http::StatusCode;

/// A method page with alice on its roster (tip and location her own).
async fn page_with_alice_on_roster(app: &TestApp) -> (Client, String) {
    let mut alice = app.member("alice").await;
    let page = alice
        .create_page("Shared skeletons", "A page read by many.\n", "")
        .await;
    alice
        .post(
            &format!("{page}/roster"),
            &[
                ("tip", "Start with a pilot"),
                ("location", "Nairobi office"),
            ],
        )
        .await
        .assert_status(StatusCode::SEE_OTHER);
    (alice, page)
}

/// Whose account the header shows, the tokens in the page's forms, and the
/// roster form's tip.
struct Seen {
    account: Vec<String>,
    tokens: Vec<String>,
    tip: Vec<String>,
}

async fn seen(client: &mut Client, path: &str) -> (Seen, String) {
    let page = client.get(path).await;
    page.assert_status(StatusCode::OK);
    let seen = Seen {
        account: attrs(&page.body, ".account a", "href"),
        tokens: attrs(&page.body, "input[name=csrf_token]", "value"),
        tip: attrs(&page.body, "#roster-tip", "value"),
    };
    let signed_in = seen.account.iter().any(|href| href.starts_with("/users/"));
    let (expected, why) = match signed_in {
        true => ("no-store", "no cache may keep a member's page"),
        false => ("private, no-cache", "a visitor's page"),
    };
    assert_eq!(
        page.header("cache-control"),
        Some(expected),
        "{path}: {why}"
    );
    (seen, page.body)
}

async fn cache_stats(client: &mut Client) -> (u64, u64) {
    let page = client.get("/healthz/cache").await;
    let json: serde_json::Value = serde_json::from_str(&page.body).expect("json");
    (
        json["hits"].as_u64().expect("hits"),
        json["misses"].as_u64().expect("misses"),
    )
}

#[tokio::test]
async fn each_member_sees_their_own_name_token_and_roster_entry_from_the_shared_page() {
    let app = TestApp::new().await;
    let (mut alice, page) = page_with_alice_on_roster(&app).await;
    let mut bob = app.member("bob").await;
    let alice_token = alice.csrf().await;
    let bob_token = bob.csrf().await;
    assert_ne!(alice_token, bob_token);

    // Twice each: the first view makes the skeleton, the second is served from it.
    for round in 0..2 {
        let (a, a_body) = seen(&mut alice, &page).await;
        assert_eq!(a.account, ["/users/alice"], "round {round}");
        assert!(!a.tokens.is_empty() && a.tokens.iter().all(|t| *t == alice_token));
        assert_eq!(a.tip, ["Start with a pilot"]);
        assert!(a_body.contains("Update my entry") && a_body.contains("Remove my name"));

        let (b, b_body) = seen(&mut bob, &page).await;
        assert_eq!(b.account, ["/users/bob"], "round {round}");
        assert!(!b.tokens.is_empty() && b.tokens.iter().all(|t| *t == bob_token));
        assert_eq!(b.tip, [""], "bob's form is empty: {b_body}");
        assert!(b_body.contains("Add my name") && !b_body.contains("Remove my name"));
        // Alice's tip is on the public roster, but not in bob's form.
        assert!(b_body.contains("<q>Start with a pilot</q>"));
    }

    // The token a member was sent from the shared page is their session's.
    let token = attrs(
        &bob.get(&page).await.body,
        ".roster-form input[name=csrf_token]",
        "value",
    )
    .pop()
    .expect("a token");
    let answer = bob
        .post_raw(
            &format!("{page}/roster"),
            support::encode(&[("csrf_token", &token), ("tip", "Bob's own tip")]),
        )
        .await;
    answer.assert_status(StatusCode::SEE_OTHER);
    let (b, _) = seen(&mut bob, &page).await;
    assert_eq!(b.tip, ["Bob's own tip"], "the roster change shows at once");
    let (a, _) = seen(&mut alice, &page).await;
    assert_eq!(a.tip, ["Start with a pilot"]);
}

#[tokio::test]
async fn members_lists_tags_search_and_history_come_from_the_cache_with_their_own_name() {
    let app = TestApp::new().await;
    let (mut alice, page) = page_with_alice_on_roster(&app).await;
    let mut bob = app.member("bob").await;
    let bob_token = bob.csrf().await;
    let paths = [
        page.clone(),
        "/methods".to_owned(),
        "/tags".to_owned(),
        "/search?q=skeletons".to_owned(),
        format!("{page}/history"),
        "/recent".to_owned(),
        "/".to_owned(),
    ];
    // Alice's first page after joining the roster carries her one-time
    // confirmation: made for her alone, so kept by no cache.
    seen(&mut alice, &page).await;
    for path in &paths {
        seen(&mut alice, path).await;
    }
    let (hits_before, misses_before) = cache_stats(&mut bob).await;
    for path in &paths {
        let (b, body) = seen(&mut bob, path).await;
        assert_eq!(b.account, ["/users/bob"], "{path}: {body}");
        assert!(b.tokens.iter().all(|t| *t == bob_token), "{path}");
        assert!(
            !body.contains("/users/alice\">alice</a>\n      <form"),
            "{path}"
        );
    }
    let (hits, misses) = cache_stats(&mut bob).await;
    assert_eq!(
        (hits - hits_before, misses - misses_before),
        (paths.len() as u64, 0),
        "bob's views were all served from alice's role's skeletons"
    );
}

#[tokio::test]
async fn a_visitor_never_sees_a_members_page_and_a_member_never_a_visitors() {
    let app = TestApp::new().await;
    let (mut alice, page) = page_with_alice_on_roster(&app).await;
    let mut visitor = app.client();
    for path in [page.as_str(), "/methods", "/tags"] {
        // Member first, then the visitor: the visitor gets a visitor's page.
        let (a, _) = seen(&mut alice, path).await;
        assert_eq!(a.account, ["/users/alice"]);
        let (v, body) = seen(&mut visitor, path).await;
        assert!(v.tokens.is_empty(), "{path}: a visitor was sent a token");
        assert!(!body.contains("Sign out"), "{path}");
        assert!(v.account.iter().all(|href| !href.starts_with("/users/")));
        assert!(v.tip.is_empty(), "{path}: a visitor was sent a roster form");
    }
    let mut bob = app.member("bob").await;
    for path in ["/recent", "/search?q=pilot"] {
        // The visitor first, then a member: the member gets their own page.
        let (v, _) = seen(&mut visitor, path).await;
        assert!(v.tokens.is_empty());
        let (b, body) = seen(&mut bob, path).await;
        assert_eq!(b.account, ["/users/bob"], "{path}");
        assert!(body.contains("Sign out"), "{path}");
    }
}

#[tokio::test]
async fn admins_and_members_are_kept_apart_by_role() {
    let app = TestApp::new().await;
    let (mut alice, page) = page_with_alice_on_roster(&app).await;
    let mut root = app.admin("root").await;
    for _ in 0..2 {
        let admin_page = root.get(&page).await;
        admin_page.assert_contains("Protect this page");
        let member_page = alice.get(&page).await;
        member_page.assert_status(StatusCode::OK);
        assert!(!member_page.body.contains("Protect this page"));
    }
    // Protected by the admin: the member's edit link goes at once, the admin's stays.
    root.post(&format!("{page}/protect"), &[("protected", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let member_page = alice.get(&page).await;
    assert!(!member_page.body.contains(&format!("href=\"{page}/edit\"")));
    root.get(&page)
        .await
        .assert_contains(&format!("href=\"{page}/edit\""))
        .assert_contains("Unprotect this page");
}
