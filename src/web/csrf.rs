//! CSRF on every POST that acts for someone: a signed-in member's form
//! carries the session's token, and a visitor's sign-in or join form a MAC
//! of the visitor's `cafe_csrf` cookie (login CSRF). The check reads the
//! form body (up to [`super::MAX_BODY`]), so it also refuses, before any
//! handler, a body that is too large or not UTF-8. The request context's
//! middleware ([`super::context::middleware`]) calls [`check`] and renders
//! its refusals as error pages.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth;
use crate::error::ErrorPage;
use crate::state::AppState;

use super::MAX_BODY;

/// POSTs that must carry a CSRF token even without a signed-in user (login
/// CSRF). Other anonymous POSTs are refused by their handlers with a 303 to
/// sign-in, so they never act.
const ANONYMOUS_FORMS: [&str; 2] = ["/signin", "/join"];

/// Whether `path` is one of the [`ANONYMOUS_FORMS`] (the middleware also
/// keeps their answers from every cache: they carry a visitor's token).
pub fn is_anonymous_form(path: &str) -> bool {
    ANONYMOUS_FORMS.contains(&path)
}

/// Checks the token of a POST that needs one: a member's (`session_token`
/// is their session's token; `None` for a visitor) or a visitor's to the
/// [`ANONYMOUS_FORMS`]. An upload's token is its first multipart field,
/// checked by the handler before it reads a file (`files::routes::upload`):
/// the body is too large to hold here.
///
/// Hands the request on with its body intact and, for a visitor's form,
/// the token that form carries if it is shown again (a wrong password, a
/// taken name); `Err` is the refusal to send (403, 400 or 413).
pub async fn check(
    state: &AppState,
    session_token: Option<&str>,
    request: Request,
) -> Result<(Request, Option<String>), Response> {
    let path = request.uri().path();
    let needs_token = request.method() == Method::POST
        && (session_token.is_some() || is_anonymous_form(path))
        && !crate::files::is_upload(request.method(), path)
        // One-click unsubscribe (RFC 8058) comes from a mail provider, with
        // no session or form token: the link's MAC is its proof
        // (`mail::routes`).
        && path != crate::mail::routes::UNSUBSCRIBE;
    if !needs_token {
        return Ok((request, None));
    }
    let cookie = auth::form_cookie(request.headers()).map(str::to_owned);
    let expected = match session_token {
        Some(token) => Expected::Session(token),
        None => Expected::Form(state, cookie.as_deref()),
    };
    let request = check_csrf(expected, request).await?;
    let form_token = match (session_token, &cookie) {
        (None, Some(cookie)) => Some(state.csrf_key.token_for(cookie)),
        _ => None,
    };
    Ok((request, form_token))
}

/// What a POST's `csrf_token` must match.
enum Expected<'a> {
    /// A signed-in session's token.
    Session(&'a str),
    /// The sign-in and join forms of a visitor without a session: the MAC
    /// of the `cafe_csrf` cookie the request carries (none: nothing matches).
    Form(&'a AppState, Option<&'a str>),
}

impl Expected<'_> {
    fn matches(&self, given: &str) -> bool {
        match self {
            Expected::Session(token) => auth::tokens_match(token, given),
            Expected::Form(state, Some(cookie)) => state.csrf_key.verify(cookie, given),
            Expected::Form(_, None) => false,
        }
    }
}

/// Reads the (size-limited) form body, compares its `csrf_token` with what
/// is expected, and hands the request on with its body intact.
async fn check_csrf(expected: Expected<'_>, request: Request) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let given = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == "csrf_token")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if !expected.matches(&given) {
        let mut page = ErrorPage::for_status(StatusCode::FORBIDDEN);
        page.message = "This form has expired or did not come from this site. Go back, reload the page and try again.".to_owned();
        let mut response = StatusCode::FORBIDDEN.into_response();
        response.extensions_mut().insert(page);
        return Err(response);
    }
    if !form_is_utf8(&bytes) {
        let mut page = ErrorPage::for_status(StatusCode::BAD_REQUEST);
        page.message = "The form held bytes that are not valid text (UTF-8). Check what was pasted and try again.".to_owned();
        let mut response = StatusCode::BAD_REQUEST.into_response();
        response.extensions_mut().insert(page);
        return Err(response);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// True when every name and value of a form body percent-decodes to UTF-8:
/// form extraction would silently turn bad bytes into U+FFFD and save them.
fn form_is_utf8(bytes: &[u8]) -> bool {
    let hex = |b: u8| char::from(b).to_digit(16);
    bytes.split(|&b| b == b'&' || b == b'=').all(|part| {
        let mut decoded = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            let escape = (
                part.get(i + 1).copied().and_then(hex),
                part.get(i + 2).copied().and_then(hex),
            );
            match (part[i], escape) {
                (b'%', (Some(high), Some(low))) => {
                    decoded.extend(u8::try_from(high * 16 + low).ok());
                    i += 3;
                }
                (byte, _) => {
                    decoded.push(byte);
                    i += 1;
                }
            }
        }
        std::str::from_utf8(&decoded).is_ok()
    })
}
