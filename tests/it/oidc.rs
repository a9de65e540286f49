//! Signing in with the organisation's accounts (issue 17), against the
//! in-process fake provider of `support::oidc`: the flow, each way an
//! answer can be refused, accounts found by issuer and subject, local
//! passwords turned off, linking, sign-out, several instances.

use axum::http::StatusCode;

use crate::support::oidc::{CLIENT_ID, CLIENT_SECRET, FakeProvider, Person, Tamper};
use crate::support::{Client, Page, TestApp};
use cafe::config::{LocalSignIn, Secret, ServeArgs};

/// Cafe's address in the tests (the default `--addr`), which the redirect
/// URI and the provider's redirects back start with.
const ORIGIN: &str = "http://127.0.0.1:3000";

fn config(provider: &FakeProvider) -> ServeArgs {
    let mut config = ServeArgs::defaults();
    config.oidc_issuer = Some(provider.issuer());
    config.oidc_client_id = Some(CLIENT_ID.to_owned());
    config.oidc_client_secret = Some(Secret::parse(CLIENT_SECRET).expect("secret"));
    config.oidc_label = "Sign in with Example Org".to_owned();
    config
}

async fn site(provider: &FakeProvider) -> TestApp {
    TestApp::with_config(config(provider)).await
}

/// The site path of an absolute URL on Cafe.
fn path_of(url: &str) -> String {
    url.strip_prefix(ORIGIN)
        .unwrap_or_else(|| panic!("{url} is not on Cafe"))
        .to_owned()
}

/// Starts a sign-in at Cafe and returns the provider's authorization URL.
async fn start(client: &mut Client, next: &str) -> String {
    let start = client
        .get(&format!("/signin/oidc?next={}", urlencode(next)))
        .await;
    start.assert_status(StatusCode::SEE_OTHER);
    start
        .location()
        .expect("a redirect to the provider")
        .to_owned()
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A whole sign-in: Cafe → provider → Cafe's callback; the callback's answer.
async fn sign_in(client: &mut Client, provider: &FakeProvider, next: &str) -> Page {
    let authorize = start(client, next).await;
    let back = provider.authorize(&authorize).await;
    client.get(&path_of(&back)).await
}

async fn signed_in_as(client: &mut Client) -> Option<String> {
    let home = client.get("/account/profile").await;
    if home.status != StatusCode::OK {
        return None;
    }
    let marker = "href=\"/users/";
    let start = home.body.find(marker)? + marker.len();
    let end = home.body[start..].find('"')? + start;
    Some(home.body[start..end].to_owned())
}

/// A refused sign-in: the status, the error page's heading and sentence,
/// and nobody signed in.
async fn assert_refused(client: &mut Client, page: &Page, status: StatusCode, says: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    page.assert_contains("Sign-in did not work");
    page.assert_contains(says);
    page.assert_contains("href=\"/signin\"");
    assert_eq!(signed_in_as(client).await, None, "nobody is signed in");
}

#[tokio::test]
async fn a_first_sign_in_makes_a_member_from_the_claims_and_signs_them_in() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    let mut client = app.client();

    let signin = client.get("/signin").await;
    signin.assert_status(StatusCode::OK);
    signin.assert_contains("href=\"/signin/oidc\"");
    signin.assert_contains("Sign in with Example Org");

    provider.sign_in_as(Person::new("sub-ada", "Ada"));
    let back = sign_in(&mut client, &provider, "/methods").await;
    back.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(back.location(), Some("/methods"));

    let asked = provider.last_authorize().expect("an authorization request");
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], CLIENT_ID);
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(
        asked["redirect_uri"],
        format!("{ORIGIN}/signin/oidc/callback")
    );
    assert!(asked["state"].len() >= 16 && asked["nonce"].len() >= 16);
    let scopes: Vec<&str> = asked["scope"].split(' ').collect();
    for scope in ["openid", "profile", "email"] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }

    let welcome = client.get("/methods").await;
    welcome.assert_contains("your account was made from your organisation");
    welcome.assert_contains("Sign out");
    assert_eq!(signed_in_as(&mut client).await.as_deref(), Some("ada"));
    client
        .get("/users/ada")
        .await
        .assert_status(StatusCode::OK)
        .assert_contains("Name of Ada");
}

#[tokio::test]
async fn a_later_sign_in_finds_the_member_by_issuer_and_subject_never_by_email() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;

    provider.sign_in_as(Person::new("sub-1", "ada"));
    let mut first = app.client();
    sign_in(&mut first, &provider, "/").await;
    assert_eq!(signed_in_as(&mut first).await.as_deref(), Some("ada"));

    // Same subject, new name and address at the provider: the same member.
    let mut renamed = Person::new("sub-1", "ada-lovelace");
    renamed.email = Some("countess@example.org".to_owned());
    provider.sign_in_as(renamed);
    let mut again = app.client();
    sign_in(&mut again, &provider, "/").await;
    assert_eq!(signed_in_as(&mut again).await.as_deref(), Some("ada"));
    again
        .get("/users/ada-lovelace")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // Another subject with ada's address and name: another member.
    provider.sign_in_as(Person::new("sub-2", "ada"));
    let mut other = app.client();
    sign_in(&mut other, &provider, "/").await;
    assert_eq!(signed_in_as(&mut other).await.as_deref(), Some("ada-2"));
}

#[tokio::test]
async fn a_username_is_normalised_made_unique_and_may_come_from_the_email_claim() {
    let provider = FakeProvider::start().await;
    let mut settings = config(&provider);
    settings.oidc_username_claim = "email".to_owned();
    let app = TestApp::with_config(settings).await;
    app.member("grace").await;

    let mut person = Person::new("sub-g", "whatever");
    person.email = Some("Grace@example.org".to_owned());
    provider.sign_in_as(person);
    let mut client = app.client();
    sign_in(&mut client, &provider, "/").await;
    assert_eq!(signed_in_as(&mut client).await.as_deref(), Some("grace-2"));

    let mut spaced = Person::new("sub-h", "x");
    spaced.email = Some("Grace Murray Hopper@example.org".to_owned());
    provider.sign_in_as(spaced);
    let mut client = app.client();
    sign_in(&mut client, &provider, "/").await;
    assert_eq!(
        signed_in_as(&mut client).await.as_deref(),
        Some("grace-murray-hopper")
    );
}

#[tokio::test]
async fn a_replayed_or_forged_state_and_a_callback_in_another_browser_are_refused() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;

    let mut client = app.client();
    let authorize = start(&mut client, "/").await;
    let back = path_of(&provider.authorize(&authorize).await);
    let cookies = client.cookie.clone();
    client.get(&back).await.assert_status(StatusCode::SEE_OTHER);

    // The same callback again, from the browser that started it.
    let mut replay = app.client();
    replay.cookie = cookies;
    let page = replay.get(&back).await;
    assert_refused(&mut replay, &page, StatusCode::BAD_REQUEST, "already used").await;

    let mut forger = app.client();
    let page = forger
        .get("/signin/oidc/callback?code=x&state=forged-state")
        .await;
    assert_refused(&mut forger, &page, StatusCode::BAD_REQUEST, "already used").await;
    let page = forger.get("/signin/oidc/callback").await;
    assert_refused(&mut forger, &page, StatusCode::BAD_REQUEST, "already used").await;

    // Started in one browser, finished in another.
    let mut starter = app.client();
    let authorize = start(&mut starter, "/").await;
    let back = path_of(&provider.authorize(&authorize).await);
    let mut elsewhere = app.client();
    let page = elsewhere.get(&back).await;
    assert_refused(
        &mut elsewhere,
        &page,
        StatusCode::BAD_REQUEST,
        "started in another browser",
    )
    .await;
}

#[tokio::test]
async fn every_spoiled_id_token_is_refused_and_makes_no_member() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    let cases = [
        (Tamper::Signature, "could not be verified"),
        (Tamper::Payload, "could not be verified"),
        (Tamper::Audience, "could not be verified"),
        (Tamper::Nonce, "could not be verified"),
        (Tamper::Issuer, "could not be verified"),
        (Tamper::UnknownKey, "could not be verified"),
        (Tamper::NoIdToken, "could not be verified"),
        (Tamper::Expired, "had expired"),
        (Tamper::IssuedInFuture, "clocks"),
    ];
    for (n, (tamper, says)) in cases.into_iter().enumerate() {
        let username = format!("spoiled{n}");
        provider.sign_in_as(Person::new(&format!("sub-{username}"), &username));
        provider.tamper(tamper);
        let mut client = app.client();
        let page = sign_in(&mut client, &provider, "/").await;
        assert_eq!(
            page.status,
            StatusCode::UNAUTHORIZED,
            "{tamper:?}: {}",
            page.body
        );
        assert_refused(&mut client, &page, StatusCode::UNAUTHORIZED, says).await;
        client
            .get(&format!("/users/{username}"))
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
    // The same provider, unspoiled, signs in.
    provider.tamper(Tamper::None);
    provider.sign_in_as(Person::new("sub-fine", "fine"));
    let mut client = app.client();
    sign_in(&mut client, &provider, "/").await;
    assert_eq!(signed_in_as(&mut client).await.as_deref(), Some("fine"));
}

#[tokio::test]
async fn a_denied_consent_and_a_provider_that_is_down_are_clear_pages_not_server_errors() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;

    // Down before Cafe has read its discovery document.
    provider.set_down(true);
    let mut client = app.client();
    let page = client.get("/signin/oidc").await;
    assert_refused(
        &mut client,
        &page,
        StatusCode::FAILED_DEPENDENCY,
        "could not be reached",
    )
    .await;
    // The sign-in page itself still works (it does not ask the provider).
    client.get("/signin").await.assert_status(StatusCode::OK);

    provider.set_down(false);
    provider.deny(true);
    let mut client = app.client();
    let page = sign_in(&mut client, &provider, "/").await;
    assert_refused(
        &mut client,
        &page,
        StatusCode::FORBIDDEN,
        "consent was not given",
    )
    .await;
    provider.deny(false);

    // Down between the start and the callback: the code cannot be traded.
    let mut client = app.client();
    let authorize = start(&mut client, "/").await;
    let back = path_of(&provider.authorize(&authorize).await);
    provider.set_down(true);
    let page = client.get(&back).await;
    assert_refused(
        &mut client,
        &page,
        StatusCode::FAILED_DEPENDENCY,
        "could not be reached",
    )
    .await;
}

#[tokio::test]
async fn only_allowed_verified_email_domains_sign_in_when_domains_are_set() {
    let provider = FakeProvider::start().await;
    let mut settings = config(&provider);
    settings.oidc_allowed_domains = vec!["Example.org".to_owned()];
    let app = TestApp::with_config(settings).await;

    let mut outsider = Person::new("sub-out", "outsider");
    outsider.email = Some("outsider@elsewhere.example".to_owned());
    provider.sign_in_as(outsider);
    let mut client = app.client();
    let page = sign_in(&mut client, &provider, "/").await;
    assert_refused(
        &mut client,
        &page,
        StatusCode::FORBIDDEN,
        "example.org only",
    )
    .await;

    let mut unverified = Person::new("sub-unv", "unverified");
    unverified.email_verified = Some(false);
    provider.sign_in_as(unverified);
    let page = sign_in(&mut client, &provider, "/").await;
    assert_refused(&mut client, &page, StatusCode::FORBIDDEN, "not verified").await;

    provider.sign_in_as(Person::new("sub-in", "insider"));
    sign_in(&mut client, &provider, "/").await;
    assert_eq!(signed_in_as(&mut client).await.as_deref(), Some("insider"));
}

#[tokio::test]
async fn a_blocked_member_stays_blocked_whatever_the_provider_says() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    provider.sign_in_as(Person::new("sub-b", "bea"));
    let mut bea = app.client();
    sign_in(&mut bea, &provider, "/").await;
    assert_eq!(signed_in_as(&mut bea).await.as_deref(), Some("bea"));

    let mut admin = app.admin("boss").await;
    admin
        .post("/users/bea/block", &[("blocked", "1")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        signed_in_as(&mut bea).await,
        None,
        "blocking ends the session"
    );

    let mut client = app.client();
    let page = sign_in(&mut client, &provider, "/").await;
    assert_refused(&mut client, &page, StatusCode::FORBIDDEN, "blocked").await;
}

#[tokio::test]
async fn local_sign_in_for_admins_only_closes_joining_and_members_passwords() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    // Made while passwords were open to all.
    app.member("moira").await;
    let mut admin_app_config = config(&provider);
    admin_app_config.local_sign_in = LocalSignIn::Admins;
    let state = cafe::AppState::new(app.state.pool.clone(), admin_app_config)
        .await
        .expect("state");
    let router = cafe::app(state);
    let mut client = Client {
        router: router.clone(),
        cookie: None,
    };

    let join = client.get("/join").await;
    join.assert_status(StatusCode::OK);
    join.assert_contains("Accounts here come from your organisation");
    assert!(!join.body.contains("name=\"password_confirm\""));
    let refused = client.join("newbie", crate::support::PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let signin = client.get("/signin").await;
    signin.assert_contains("Administrators: sign in with a password");
    let page = client.signin("moira", crate::support::PASSWORD).await;
    page.assert_status(StatusCode::UNAUTHORIZED);
    page.assert_contains("administrator");

    // An administrator made on the command line still signs in.
    let name = cafe::accounts::Username::parse("root").expect("name");
    let hash = cafe::auth::hash_password(crate::support::PASSWORD.to_owned())
        .await
        .expect("hash");
    cafe::accounts::db::create(&app.state.pool, &name, "Root", &hash, true)
        .await
        .expect("admin");
    let page = client.signin("root", crate::support::PASSWORD).await;
    page.assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn local_sign_in_off_shows_only_the_button_and_refuses_passwords() {
    let provider = FakeProvider::start().await;
    // An instance where passwords still work, over the same database,
    // gives the form's token (the site's key is shared) that a stale form
    // would post to this one.
    let app = site(&provider).await;
    let mut settings = config(&provider);
    settings.local_sign_in = LocalSignIn::Off;
    let state = cafe::AppState::new(app.state.pool.clone(), settings)
        .await
        .expect("state");
    let mut client = app.client();
    let token = client.csrf().await;
    client.router = cafe::app(state);
    let signin = client.get("/signin").await;
    signin.assert_contains("Sign in with Example Org");
    assert!(!signin.body.contains("name=\"password\""));
    let join = client.get("/join").await;
    assert!(!join.body.contains("name=\"password\""));
    let form = format!(
        "csrf_token={token}&username=anyone&password={}",
        urlencode(crate::support::PASSWORD)
    );
    let page = client.post_raw("/signin", form).await;
    page.assert_status(StatusCode::FORBIDDEN);
    page.assert_contains("turned off");

    // Without a provider, turning passwords off is refused at start.
    let mut settings = ServeArgs::defaults();
    settings.local_sign_in = LocalSignIn::Off;
    let pool = app.state.pool.clone();
    let refused = cafe::AppState::new(pool, settings).await;
    let err = refused.err().expect("refused").to_string();
    assert!(err.contains("--oidc-issuer"), "{err}");
}

#[tokio::test]
async fn a_member_links_their_account_after_proving_their_password() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    let mut lin = app.member("lin").await;
    let profile = lin.get("/account/profile").await;
    profile.assert_contains("Link my organisation");

    let wrong = lin
        .post(
            "/account/oidc/link",
            &[("current_password", "not it at all")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    wrong.assert_contains("not your current password");

    let go = lin
        .post(
            "/account/oidc/link",
            &[("current_password", crate::support::PASSWORD)],
        )
        .await;
    go.assert_status(StatusCode::SEE_OTHER);
    provider.sign_in_as(Person::new("sub-lin", "lin.at.work"));
    let back = provider
        .authorize(go.location().expect("to the provider"))
        .await;
    let linked = lin.get(&path_of(&back)).await;
    assert_eq!(linked.location(), Some("/account/profile"));
    lin.get("/account/profile")
        .await
        .assert_contains("Your account is linked");

    // From now on the organisation's account signs in as lin.
    let mut later = app.client();
    sign_in(&mut later, &provider, "/").await;
    assert_eq!(signed_in_as(&mut later).await.as_deref(), Some("lin"));
    later
        .get("/users/lin.at.work")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    // The same identity cannot be linked to a second member.
    let mut other = app.member("other").await;
    let go = other
        .post(
            "/account/oidc/link",
            &[("current_password", crate::support::PASSWORD)],
        )
        .await;
    let back = provider.authorize(go.location().expect("redirect")).await;
    let page = other.get(&path_of(&back)).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    page.assert_contains("already linked to another member");
}

#[tokio::test]
async fn an_admin_links_and_unlinks_a_members_account() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    app.member("mia").await;
    let mut admin = app.admin("chief").await;
    admin
        .get("/users/mia")
        .await
        .assert_contains("Link an organisation account");
    admin
        .post("/users/mia/oidc/link", &[("subject", "sub-mia")])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    admin
        .get("/users/mia")
        .await
        .assert_contains("Unlink the organisation account");

    provider.sign_in_as(Person::new("sub-mia", "mia-work"));
    let mut client = app.client();
    sign_in(&mut client, &provider, "/").await;
    assert_eq!(signed_in_as(&mut client).await.as_deref(), Some("mia"));

    admin
        .post("/users/mia/oidc/unlink", &[])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let mut client = app.client();
    sign_in(&mut client, &provider, "/").await;
    assert_eq!(
        signed_in_as(&mut client).await.as_deref(),
        Some("mia-work"),
        "unlinked: the identity makes a member of its own"
    );

    // Members may not link others.
    let mut member = app.member("nosy").await;
    let page = member
        .post("/users/mia/oidc/link", &[("subject", "sub-x")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn signing_out_offers_the_providers_sign_out_to_those_who_came_from_it() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    provider.sign_in_as(Person::new("sub-o", "otto"));
    let mut otto = app.client();
    sign_in(&mut otto, &provider, "/").await;
    let out = otto.post("/signout", &[]).await;
    assert_eq!(out.location(), Some("/signed-out?provider=1"));
    // Read by another instance, which has not read the provider's document yet.
    let other = cafe::AppState::new(app.state.pool.clone(), config(&provider))
        .await
        .expect("a second instance");
    let mut elsewhere = Client {
        router: cafe::app(other),
        cookie: otto.cookie.clone(),
    };
    let out = elsewhere.get("/signed-out?provider=1").await;
    out.assert_status(StatusCode::OK);
    out.assert_contains("You are signed out");
    out.assert_contains(&provider.end_session_endpoint());
    out.assert_contains("post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2F");
    out.assert_contains(&format!("client_id={CLIENT_ID}"));
    assert_eq!(signed_in_as(&mut otto).await, None);

    // A member who signed in with a password is simply signed out.
    let mut local = app.member("paula").await;
    let out = local.post("/signout", &[]).await;
    out.assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_sign_in_started_on_one_instance_finishes_on_another() {
    let provider = FakeProvider::start().await;
    let app = site(&provider).await;
    let other = cafe::AppState::new(app.state.pool.clone(), config(&provider))
        .await
        .expect("a second instance");
    let mut on_a = app.client();
    provider.sign_in_as(Person::new("sub-two", "twin"));
    let authorize = start(&mut on_a, "/").await;
    let back = path_of(&provider.authorize(&authorize).await);
    let mut on_b = Client {
        router: cafe::app(other),
        cookie: on_a.cookie.clone(),
    };
    on_b.get(&back).await.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(signed_in_as(&mut on_b).await.as_deref(), Some("twin"));
}

#[tokio::test]
async fn the_client_secret_never_shows_in_the_configuration_or_pages() {
    let provider = FakeProvider::start().await;
    let settings = config(&provider);
    assert!(!format!("{settings:?}").contains(CLIENT_SECRET));
    let app = TestApp::with_config(settings).await;
    let mut client = app.client();
    for path in ["/signin", "/join", "/signin/oidc/callback?state=x"] {
        let page = client.get(path).await;
        assert!(!page.body.contains(CLIENT_SECRET), "{path}");
    }
    let to_provider = start(&mut client, "/").await;
    assert!(!to_provider.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn the_secret_may_come_from_a_file_and_a_half_configuration_is_refused() {
    let provider = FakeProvider::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{CLIENT_SECRET}\n")).expect("write");
    let mut settings = config(&provider);
    settings.oidc_client_secret = None;
    settings.oidc_client_secret_file = Some(file);
    let app = TestApp::with_config(settings).await;
    provider.sign_in_as(Person::new("sub-f", "filed"));
    let mut client = app.client();
    sign_in(&mut client, &provider, "/").await;
    assert_eq!(signed_in_as(&mut client).await.as_deref(), Some("filed"));

    let mut half = config(&provider);
    half.oidc_client_id = None;
    let err = cafe::AppState::new(app.state.pool.clone(), half)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("--oidc-client-id"), "{err}");
}
