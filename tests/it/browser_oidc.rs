//! OpenID Connect sign-in (issue 17) end to end, in Chromium, through a
//! real provider: the npm package `oidc-provider` on Node.js
//! (tests/oidc-provider, see `support::node_oidc`). The sign-in page
//! offers the provider's button; its login form and consent bring the
//! person back to Cafe signed in as a new member; signing out offers to
//! sign out of the provider too, and after that the same person signs in
//! again as the same member; a forged answer is a 4xx page saying why, and
//! so is cancelling at the provider. axe-core runs on the sign-in page, the
//! signed-out page and the error page.
//!
//! The provider is `localhost`, Cafe `127.0.0.1`: two sites, as in real
//! life, so the browser's cross-site cookie rules apply to the way back.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use axum::http::StatusCode;
use fantoccini::Locator;

use cafe::config::{Cli, ServeArgs};

use crate::support::browser::{Browser, Harness};
use crate::support::node_oidc::{self, NodeProvider};

/// The provider button's text, given with `--oidc-label`.
const LABEL: &str = "Sign in with Test ID";

/// Who signs in at the provider (its accounts take any password).
const LOGIN: &str = "grace";

/// Server settings from command-line flags, the `CAFE_*` environment left
/// out (as `ServeArgs::defaults` does): the test goes through the flags a
/// site's administrator types.
fn serve_args(flags: &[String]) -> ServeArgs {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command()
        .mut_args(|arg| arg.env(None))
        .mut_subcommands(|sub| sub.mut_args(|arg| arg.env(None)));
    let argv = std::iter::once("cafe".to_owned()).chain(flags.iter().cloned());
    let cli = command
        .try_get_matches_from(argv)
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .unwrap_or_else(|error| panic!("the OpenID Connect flags {flags:?} parse: {error}"));
    cli.serve
}

/// Cafe's flags for the provider, served at `base`.
fn oidc_flags(base: &str, provider: &NodeProvider) -> Vec<String> {
    let addr = base.trim_start_matches("http://");
    [
        "--addr",
        addr,
        "--public-url",
        base,
        "--oidc-issuer",
        provider.issuer(),
        "--oidc-client-id",
        provider.client_id(),
        "--oidc-client-secret",
        provider.client_secret(),
        "--oidc-label",
        LABEL,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Types into an input of the provider's own pages, which have
/// placeholders rather than labels.
async fn type_into(b: &Browser, css: &str, text: &str) -> Result<()> {
    let Ok(field) = b.client.find(Locator::Css(css)).await else {
        bail!("no {css} {}:\n{}", b.place().await, b.text().await?);
    };
    field
        .send_keys(text)
        .await
        .with_context(|| format!("typing into {css}"))
}

/// The one-time confirmation, waited for a little: with JavaScript,
/// Cafe's script puts it back into the live region just after load.
async fn flash(b: &Browser) -> Result<String> {
    let mut seen = String::new();
    for _ in 0..20 {
        seen = b
            .js("const f = document.getElementById('cafe-flash'); return f ? f.innerText.trim() : ''")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(seen)
}

/// Signs in at the provider's own login form (and consents when asked),
/// which sends the browser back to Cafe.
async fn log_in_at_the_provider(b: &Browser, provider: &NodeProvider) -> Result<()> {
    let at = b.client.current_url().await?;
    ensure!(
        at.as_str().starts_with(provider.issuer()),
        "the button should lead to the provider's login, but it is {at}:\n{}",
        b.text().await?
    );
    type_into(b, "input[name=login]", LOGIN).await?;
    type_into(b, "input[name=password]", "any password will do").await?;
    b.press("Sign-in")
        .await
        .context("signing in at the provider")?;
    let at = b.client.current_url().await?;
    if at.as_str().starts_with(provider.issuer()) {
        b.press("Continue")
            .await
            .context("consenting at the provider")?;
    }
    Ok(())
}

/// Fails unless the header shows the member made from the provider's
/// claims: username from `preferred_username`, display name from `name`.
async fn expect_member(b: &Browser) -> Result<()> {
    let name = format!("Name of {LOGIN}");
    let member = b.link(&name).await.context("the header shows the member")?;
    let profile = member.attr("href").await?.unwrap_or_default();
    ensure!(
        profile == format!("/users/{LOGIN}"),
        "the member should be {LOGIN} (from preferred_username), but the header links to {profile:?}"
    );
    b.button("Sign out").await?;
    Ok(())
}

/// The sign-in page shows the provider's button beside the password form;
/// it leads through the provider's login and consent back to Cafe, signed
/// in as a new member named from the provider's claims, on the page the
/// sign-in was asked from.
async fn sign_in_through_the_provider(b: &Browser, provider: &NodeProvider) -> Result<()> {
    b.goto("/signin?next=/recent").await?;
    b.expect_page("Sign in").await?;
    b.field("Password")
        .await
        .context("the password form stays beside the provider's button")?;
    let button = b.link(LABEL).await?;
    let href = button.attr("href").await?.unwrap_or_default();
    ensure!(
        href.starts_with("/signin/oidc"),
        "the provider's button should lead to /signin/oidc, not {href:?}"
    );
    b.axe("the sign-in page with the provider button").await?;

    b.follow(LABEL).await?;
    log_in_at_the_provider(b, provider).await?;
    b.expect_path("/recent").await?;
    let said = flash(b).await?;
    ensure!(
        said.contains("signed in"),
        "the first sign-in should confirm it (\"…signed in.\") {}; the confirmation is {said:?}",
        b.place().await
    );
    expect_member(b).await
}

/// "Sign out" signs out of Cafe and offers a link to the provider's
/// end-session endpoint, which signs out there too.
async fn sign_out_of_both(b: &Browser, provider: &NodeProvider) -> Result<()> {
    b.press("Sign out").await?;
    b.link("Sign in").await.context("signed out of Cafe")?;
    let end_session = format!("{}/session/end", provider.issuer());
    let found = b
        .js(&format!(
            "const a = Array.from(document.querySelectorAll('a')).find(a => a.href.startsWith({})); \
             return a ? a.innerText.trim() : null",
            serde_json::to_string(&end_session)?
        ))
        .await?;
    let Some(text) = found.as_str().map(str::to_owned) else {
        bail!(
            "the signed-out page should offer a link to {end_session}; {}:\n{}",
            b.place().await,
            b.text().await?
        );
    };
    b.axe("the signed-out page offering the provider's sign-out")
        .await?;
    b.follow(&text).await?;
    b.press("Yes, sign me out")
        .await
        .context("confirming at the provider")?;
    // The provider sends the browser back to Cafe's home page.
    b.expect_path("/").await?;
    b.link("Sign in")
        .await
        .context("still signed out of Cafe")?;
    Ok(())
}

/// Signed out there too, the provider asks who you are again; the
/// member found again (by the provider's subject) is the same one.
async fn sign_in_again(b: &Browser, provider: &NodeProvider) -> Result<()> {
    b.goto("/signin").await?;
    b.follow(LABEL).await?;
    if b.client
        .find(Locator::Css("input[name=login]"))
        .await
        .is_err()
    {
        bail!(
            "after signing out there, the provider should ask for a login again; {}:\n{}",
            b.place().await,
            b.text().await?
        );
    }
    log_in_at_the_provider(b, provider).await?;
    b.expect_path("/").await?;
    let said = flash(b).await?;
    ensure!(
        said == "You are signed in.",
        "a returning member should read \"You are signed in.\" {}; the confirmation is {said:?}",
        b.place().await
    );
    expect_member(b).await?;
    b.press("Sign out").await
}

/// An answer Cafe did not ask for is refused with a page saying why.
async fn forged_answer(b: &Browser) -> Result<()> {
    b.goto("/signin/oidc/callback?state=forged&code=x").await?;
    b.expect_heading("Sign-in did not work").await?;
    let why = b
        .js("return Array.from(document.querySelectorAll('main p')).map(p => p.innerText.trim()).join(' ')")
        .await?;
    ensure!(
        why.as_str().is_some_and(|text| !text.is_empty()),
        "the error page should say why {}",
        b.place().await
    );
    b.axe("the sign-in error page").await?;
    Ok(())
}

/// Cancelling at the provider's login (signed out there) brings the person
/// back to Cafe's error page, not signed in.
async fn cancel_at_the_provider(b: &Browser, provider: &NodeProvider) -> Result<()> {
    b.goto("/signin").await?;
    b.follow(LABEL).await?;
    let at = b.client.current_url().await?;
    ensure!(
        at.as_str().starts_with(provider.issuer()),
        "the button should lead to the provider's login, but it is {at}"
    );
    b.follow("[ Cancel ]").await?;
    let path = b.path().await?;
    ensure!(
        path.starts_with("/signin/oidc/callback?"),
        "the provider should send the browser back to Cafe's callback, {}",
        b.place().await
    );
    b.expect_heading("Sign-in did not work").await?;
    b.link("Sign in").await.context("not signed in")?;
    Ok(())
}

/// Runs one step of the journey, saying how it went.
async fn step(name: &str, work: impl Future<Output = Result<()>>) -> Result<()> {
    let began = Instant::now();
    let result = work.await.with_context(|| name.to_owned());
    let secs = began.elapsed().as_secs_f64();
    let how = if result.is_ok() { "ok    " } else { "FAILED" };
    eprintln!("[browser_oidc] {how} {name} ({secs:.1} s)");
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_a_real_openid_provider() {
    if !node_oidc::available() {
        return;
    }
    let mut provider = None;
    let Some(harness) = Harness::start_configured(|base| {
        let node = NodeProvider::start(
            &format!("{base}/signin/oidc/callback"),
            Some(&format!("{base}/")),
        )
        .expect("checked by node_oidc::available");
        let args = serve_args(&oidc_flags(base, &node));
        provider = Some(node);
        args
    })
    .await
    else {
        return;
    };
    let provider = provider.expect("started with the harness");
    let b = &harness.browser;

    // Each step needs the one before: the first failure ends the journey.
    let result: Result<()> = async {
        step(
            "sign in through the provider as a new member",
            sign_in_through_the_provider(b, &provider),
        )
        .await?;
        step(
            "sign out of Cafe, then of the provider",
            sign_out_of_both(b, &provider),
        )
        .await?;
        step(
            "cancel at the provider's login",
            cancel_at_the_provider(b, &provider),
        )
        .await?;
        step(
            "sign in again as the same member",
            sign_in_again(b, &provider),
        )
        .await?;
        step("a forged answer is refused", forged_answer(b)).await
    }
    .await;
    let forged = harness
        .app
        .client()
        .get("/signin/oidc/callback?state=forged&code=x")
        .await;
    harness.finish().await;
    if let Err(error) = result {
        panic!(
            "{error:#}\n--- the provider's stderr:\n{}",
            provider.stderr()
        );
    }
    assert!(
        forged.status.is_client_error(),
        "a forged answer should be a 4xx, not {}",
        forged.status
    );
    assert_ne!(forged.status, StatusCode::NOT_FOUND, "{}", forged.body);
}
