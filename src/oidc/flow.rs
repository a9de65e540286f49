//! The two halves of a sign-in at the provider: [`begin`] makes the
//! authorization URL and keeps what the callback must check; [`finish`]
//! checks the callback, trades the code for tokens and verifies the ID
//! token (signature, issuer, audience, expiry, nonce).

use std::sync::Arc;

use axum::http::StatusCode;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RequestTokenError, SignatureVerificationError, TokenResponse as _,
};

use super::db::{self, Pending};
use super::{Provider, SignInError, chain};
use crate::db::Db;

/// How far the provider's clock may be from ours, either way.
pub const CLOCK_SKEW: i64 = 120;

/// A hex BLAKE2b-256 of a secret, as the database keeps it.
pub fn digest(secret: &str) -> String {
    let hash = Blake2b::<U32>::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a sign-in (or, with `link_user_id`, the linking of a member's
/// account): keeps the PKCE verifier, nonce and `next` under the hash of a
/// fresh `state`, bound to the browser's cookie value `browser`, and
/// returns the provider's authorization URL.
pub async fn begin(
    provider: &Provider,
    db: &Db,
    browser: &str,
    next: &str,
    link_user_id: Option<i64>,
) -> Result<String, SignInError> {
    let metadata = provider.metadata(false).await?;
    let client = provider.client(metadata);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in provider.settings.scopes.iter().skip(1) {
        request = request.add_scope(scope.clone());
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    let pending = Pending {
        browser_hash: digest(browser),
        pkce_verifier: verifier.secret().clone(),
        nonce: nonce.secret().clone(),
        next: next.to_owned(),
        link_user_id,
        created_at: 0,
    };
    db::start(db, &digest(state.secret()), &pending)
        .await
        .map_err(|err| SignInError::database(&err))?;
    Ok(url.to_string())
}

/// What the provider's redirect back carries.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// Who the provider says signed in: the verified ID token's issuer and
/// subject, and all its claims for [`super::accounts`].
#[derive(Debug)]
pub struct Verified {
    pub issuer: String,
    pub subject: String,
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Where to go next, and whose account is being linked, from the start.
    pub next: String,
    pub link_user_id: Option<i64>,
}

/// Checks a callback against the sign-in it claims to finish, and verifies
/// the provider's answer.
pub async fn finish(
    provider: &Arc<Provider>,
    db: &Db,
    browser: Option<&str>,
    callback: Callback,
) -> Result<Verified, SignInError> {
    let state = callback.state.as_deref().unwrap_or_default();
    let pending = if state.is_empty() {
        None
    } else {
        db::take(db, &digest(state))
            .await
            .map_err(|err| SignInError::database(&err))?
    };
    let Some(pending) = pending else {
        return Err(stale(
            "no sign-in in progress has this state (replayed, forged or finished)",
        ));
    };
    if !db::is_fresh(&pending) {
        return Err(stale("the sign-in was started more than ten minutes ago"));
    }
    let same_browser =
        browser.is_some_and(|b| crate::auth::tokens_match(&pending.browser_hash, &digest(b)));
    if !same_browser {
        return Err(SignInError::new(
            StatusCode::BAD_REQUEST,
            "This sign-in was started in another browser (or your browser did not keep \
             Cafe's cookie). Please start again from the sign-in page, in this browser.",
            "the state's browser cookie is missing or differs",
        ));
    }
    if let Some(error) = callback.error.as_deref() {
        return Err(refused(error, callback.error_description.as_deref()));
    }
    let Some(code) = callback.code.filter(|c| !c.is_empty()) else {
        return Err(SignInError::new(
            StatusCode::BAD_REQUEST,
            "Your organisation's sign-in service sent you back without a sign-in code. \
             Please start again.",
            "callback without code",
        ));
    };

    let metadata = provider.metadata(false).await?;
    let client = provider.client(metadata);
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|err| SignInError::provider_down(format!("no token endpoint: {err}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
    let tokens = exchange
        .request_async(&provider.http)
        .await
        .map_err(|err| token_error(&err))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| SignInError::untrusted("the token answer has no id_token"))?;
    let nonce = Nonce::new(pending.nonce.clone());
    let verified = match verify(&client, id_token, &nonce) {
        // A key Cafe has not seen: the provider may have rotated its keys.
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            let client = provider.client(provider.metadata(true).await?);
            verify(&client, id_token, &nonce)
        }
        other => other,
    };
    let (issuer, subject) = verified.map_err(|err| claims_error(&err))?;
    Ok(Verified {
        issuer,
        subject,
        claims: payload(id_token),
        next: pending.next,
        link_user_id: pending.link_user_id,
    })
}

/// Verifies an ID token: signature by one of the provider's keys, issuer,
/// audience, nonce, expiry and issue time within [`CLOCK_SKEW`].
fn verify(
    client: &super::Client,
    id_token: &CoreIdToken,
    nonce: &Nonce,
) -> Result<(String, String), ClaimsVerificationError> {
    let skew = chrono::Duration::seconds(CLOCK_SKEW);
    let verifier = client
        .id_token_verifier()
        // A token is taken until CLOCK_SKEW after it expired...
        .set_time_fn(move || chrono::Utc::now() - skew)
        // ...and not if it says it was issued further ahead than that
        // (the crate reports this as `Expired`, with this text).
        .set_issue_time_verifier_fn(move |issued| {
            if issued > chrono::Utc::now() + skew {
                Err(format!("issued in the future ({issued})"))
            } else {
                Ok(())
            }
        });
    let claims = id_token.claims(&verifier, nonce)?;
    Ok((
        claims.issuer().as_str().to_owned(),
        claims.subject().as_str().to_owned(),
    ))
}

/// The verified token's claims as JSON, for claims the core types do not
/// name (a username claim such as `upn`).
fn payload(id_token: &CoreIdToken) -> serde_json::Map<String, serde_json::Value> {
    use base64::Engine as _;
    let text = id_token.to_string();
    text.split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn stale(reason: &str) -> SignInError {
    SignInError::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link was already used, has expired, or did not come from this site. \
         Please start again from the sign-in page.",
        reason,
    )
}

/// The provider sent an error back instead of a code.
fn refused(error: &str, description: Option<&str>) -> SignInError {
    let reason = format!("provider answered {error}: {}", description.unwrap_or(""));
    match error {
        "access_denied" | "consent_required" | "interaction_required" | "login_required" => {
            SignInError::new(
                StatusCode::FORBIDDEN,
                "You were not signed in: the sign-in was cancelled or consent was not given at \
                 your organisation's sign-in service. Nothing was changed. You can try again \
                 whenever you like.",
                reason,
            )
        }
        _ => SignInError::new(
            StatusCode::BAD_REQUEST,
            "Your organisation's sign-in service refused this sign-in. Please try again; if \
             it goes on, tell an administrator (the reason is in Cafe's log).",
            reason,
        ),
    }
}

fn token_error<RE, T>(err: &RequestTokenError<RE, T>) -> SignInError
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match err {
        RequestTokenError::ServerResponse(response) => SignInError::new(
            StatusCode::BAD_REQUEST,
            "Your organisation's sign-in service did not accept the sign-in code (it may have \
             been used already). Please start again.",
            format!("token endpoint refused: {response}"),
        ),
        RequestTokenError::Request(_) => {
            SignInError::provider_down(format!("token request failed: {}", chain(err)))
        }
        _ => SignInError::untrusted(format!("token answer unreadable: {}", chain(err))),
    }
}

/// Turns a failed ID token check into what the person sees; expiry and a
/// future issue time name the clocks, the likeliest cause.
fn claims_error(err: &ClaimsVerificationError) -> SignInError {
    let reason = format!("ID token refused: {}", chain(err));
    match err {
        ClaimsVerificationError::Expired(text) if text.contains("future") => SignInError::new(
            StatusCode::UNAUTHORIZED,
            "The sign-in answer says it was made in the future: the clocks of Cafe's server \
             and of your organisation's sign-in service differ by more than two minutes. \
             Please tell an administrator.",
            reason,
        ),
        ClaimsVerificationError::Expired(_) => SignInError::new(
            StatusCode::UNAUTHORIZED,
            "The sign-in answer had expired. Please try again; if it happens again, the clocks \
             of Cafe's server and of your organisation's sign-in service may differ (an \
             administrator can check).",
            reason,
        ),
        _ => SignInError::untrusted(reason),
    }
}
