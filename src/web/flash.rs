//! One-time confirmations ("Saved.", "Restored revision 3"): a handler that
//! has done something calls [`set`] before its redirect, and the next HTML
//! page the member is sent shows the message once, in the layout's
//! `role="status"` region, and forgets it.
//!
//! The message lives in the signed-in session, so it needs no script and no
//! cookie of its own. A visitor without a session gets none: every action
//! that confirms something is a member's (join and sign-in make the session
//! first). A page carrying a message is neither served from nor kept in the
//! visitors' or members' caches (see `cache::visitors` and
//! `cache::sessions::signed_in_member`).

use axum::http::header;
use axum::response::Response;
use tower_sessions::Session;

/// Session key: the message waiting to be shown.
pub const KEY: &str = "flash";

/// Keeps `message` for the next page this signed-in session is sent.
/// Without a signed-in session it does nothing (no session is made for it).
pub async fn set(session: &Session, message: impl Into<String>) {
    let signed_in = matches!(session.get::<i64>(crate::auth::USER_ID).await, Ok(Some(_)));
    if signed_in && let Err(err) = session.insert(KEY, message.into()).await {
        tracing::warn!(%err, "a confirmation could not be kept");
    }
}

/// The message waiting for this session, if any (left in place: [`shown`]
/// forgets it once a page has carried it).
pub async fn peek(session: &Session) -> Option<String> {
    session.get::<String>(KEY).await.ok().flatten()
}

/// Whether `response` showed the message: an HTML page, an error page
/// too (not a redirect, a feed or an asset).
pub fn shows(response: &Response) -> bool {
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    !response.status().is_redirection() && html
}

/// Forgets the message once a page showed it (see [`shows`]).
pub async fn shown(session: &Session) {
    if let Err(err) = session.remove::<String>(KEY).await {
        tracing::warn!(%err, "a shown confirmation could not be forgotten");
    }
}
