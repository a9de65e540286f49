//! One-time confirmations ("Saved.", "Restored revision 3"): a handler that
//! has done something calls [`set`] before its redirect, and the next HTML
//! page the member is sent shows the message once, in the layout's
//! `role="status"` region, and forgets it.
//!
//! The message travels in a cookie of its own ([`COOKIE`]), sealed with
//! the site's key for the member it was set for, not in the session: a
//! message kept in the session cost two writes of the session's row per
//! confirmation (one to keep it, one to forget it), each a commit, and on
//! PostgreSQL each told every instance to drop the sessions it keeps in
//! memory. A visitor without a session gets none: every action that
//! confirms something is a member's (join and sign-in make the session
//! first). A page carrying a message is neither served from nor kept in
//! the visitors' or members' caches (see `cache::visitors`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use tower_sessions::Session;

use crate::db::Db;

/// The cookie holding the message waiting to be shown:
/// `{user id}.{message, base64url}.{MAC, hex}`.
pub const COOKIE: &str = "cafe_flash";

/// Longest message kept, in bytes (a cookie holds about 4 KiB); a longer
/// one is cut at a character boundary and ends with "…".
const MAX_BYTES: usize = 1024;

/// How long an unshown message waits, in seconds.
const MAX_AGE: u32 = 600;

type FlashMac = Blake2bMac<U32>;

/// The site's key for sealing messages (`site_secrets`, shared by every
/// process serving the site). No `Debug`: it is a secret.
#[derive(Clone)]
pub struct FlashKey(FlashMac);

impl FlashKey {
    pub async fn load(pool: &Db) -> anyhow::Result<FlashKey> {
        let key = crate::auth::site_key(pool, "flash").await?;
        let mac = <FlashMac as KeyInit>::new_from_slice(&key)
            .map_err(|_| anyhow::anyhow!("the stored flash key has a bad length"))?;
        Ok(FlashKey(mac))
    }

    fn tag(&self, user_id: i64, message: &str) -> FlashMac {
        self.0
            .clone()
            .chain_update(b"cafe flash\0")
            .chain_update(user_id.to_string().as_bytes())
            .chain_update(b"\0")
            .chain_update(message.as_bytes())
    }

    /// The cookie's value carrying `message` to member `user_id`.
    fn seal(&self, user_id: i64, message: &str) -> String {
        let mac = crate::auth::hex(&self.tag(user_id, message).finalize().into_bytes());
        format!("{user_id}.{}.{mac}", URL_SAFE_NO_PAD.encode(message))
    }

    /// The message in `value` if this site sealed it for `user_id`
    /// (compared in constant time); a cookie planted by anyone else, or
    /// left by another member on this browser, shows nothing.
    fn open(&self, user_id: i64, value: &str) -> Option<String> {
        let mut parts = value.splitn(3, '.');
        if parts.next()?.parse::<i64>().ok()? != user_id {
            return None;
        }
        let message = String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next()?).ok()?).ok()?;
        let mac = crate::auth::unhex(parts.next()?)?;
        self.tag(user_id, &message).verify_slice(&mac).ok()?;
        Some(message)
    }
}

/// Where a handler leaves its message for the context middleware, which
/// turns it into the cookie (one per request, the last one set).
#[derive(Clone, Default)]
pub struct Outbox(Arc<Mutex<Option<String>>>);

impl Outbox {
    fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

tokio::task_local! {
    /// The request's [`Outbox`]: handlers run inside the context
    /// middleware's task ([`with_outbox`]), so [`set`] finds it without
    /// every handler taking one more argument.
    static OUTBOX: Outbox;
}

/// Runs `handler` (the rest of the request) with `outbox` for [`set`].
pub async fn with_outbox<F: std::future::Future>(outbox: Outbox, handler: F) -> F::Output {
    OUTBOX.scope(outbox, handler).await
}

/// Keeps `message` for the next page this signed-in session is sent.
/// Without a signed-in session it does nothing (no session is made for it).
pub async fn set(session: &Session, message: impl Into<String>) {
    let signed_in = matches!(session.get::<i64>(crate::auth::USER_ID).await, Ok(Some(_)));
    if !signed_in {
        return;
    }
    let mut message: String = message.into();
    if message.len() > MAX_BYTES {
        let mut end = MAX_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    let kept = OUTBOX.try_with(|outbox| {
        *outbox.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
    });
    if kept.is_err() {
        tracing::warn!("a confirmation was set outside a request and is not shown");
    }
}

/// The request's message cookie, if it carries one.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    crate::auth::cookie(headers, COOKIE).map(str::to_owned)
}

/// The message in the cookie's `value` waiting for member `user_id`.
pub fn waiting(key: &FlashKey, value: &str, user_id: i64) -> Option<String> {
    key.open(user_id, value)
}

/// Whether the request carries a message cookie at all (the members' kept
/// pages are not served to it: the page it asks for must show it).
pub fn carried(headers: &HeaderMap) -> bool {
    crate::auth::cookie(headers, COOKIE).is_some()
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

/// After the handler: the message it set, as a cookie for the member the
/// session now holds (a sign-in sets one for the member it signed in);
/// else, once a page has shown the cookie's message, the cookie cleared.
pub async fn deliver(
    key: &FlashKey,
    outbox: &Outbox,
    session: &Session,
    shown: bool,
    secure: bool,
    response: &mut Response,
) {
    let secure = if secure { "; Secure" } else { "" };
    let member = session
        .get::<i64>(crate::auth::USER_ID)
        .await
        .ok()
        .flatten();
    let cookie = match (outbox.take(), member) {
        (Some(message), Some(user_id)) => format!(
            "{COOKIE}={}; Max-Age={MAX_AGE}; HttpOnly; SameSite=Lax; Path=/{secure}",
            key.seal(user_id, &message)
        ),
        _ if shown => format!("{COOKIE}=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/{secure}"),
        _ => return,
    };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FlashKey {
        FlashKey(<FlashMac as KeyInit>::new_from_slice(&[7u8; 32]).expect("a key"))
    }

    #[test]
    fn a_sealed_message_opens_only_for_its_member_and_unchanged() {
        let key = key();
        let sealed = key.seal(5, "Restored revision 3 — “Peer Assist”; thanks");
        assert_eq!(
            key.open(5, &sealed).as_deref(),
            Some("Restored revision 3 — “Peer Assist”; thanks")
        );
        assert_eq!(key.open(6, &sealed), None, "another member");
        let forged = format!(
            "5.{}.{}",
            URL_SAFE_NO_PAD.encode("Your password changed"),
            "00".repeat(32)
        );
        assert_eq!(key.open(5, &forged), None, "a planted cookie");
        let (head, _) = sealed.rsplit_once('.').expect("three parts");
        let retold = format!("{head}x.{}", sealed.rsplit_once('.').expect("mac").1);
        assert_eq!(key.open(5, &retold), None, "a changed message");
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "a cookie value needs no quoting: {sealed}"
        );
    }
}
