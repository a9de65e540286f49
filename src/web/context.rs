//! The per-request context every page is rendered with (who is signed in,
//! the CSRF token, the site's names), and the middleware that builds it,
//! has every POST's CSRF token checked ([`super::csrf`]), and renders error
//! pages in the site layout.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::accounts::SessionUser;
use crate::auth;
use crate::error::{AppError, ErrorPage};
use crate::state::{AppState, Site};

use super::csrf;

/// What every template needs to draw the layout.
#[derive(Clone)]
pub struct Ctx {
    pub user: Option<SessionUser>,
    /// The signed-in session's CSRF token; empty for a visitor, except in
    /// the sign-in and join forms (see [`Ctx::anonymous_form`]).
    pub csrf: String,
    pub site: Arc<Site>,
    /// Path and query of this request (for `next=` links).
    pub path: String,
    /// A one-time confirmation to show on this page (see [`super::flash`]).
    pub flash: Option<String>,
    /// A member's watches and unseen count (see `follow`).
    pub follow: Option<Arc<crate::follow::Mine>>,
}

impl Ctx {
    /// The header's count of unseen changes (HTML), or a skeleton's marker.
    pub fn following_badge(&self) -> String {
        if self.is_skeleton() {
            return crate::cache::members::following_marker();
        }
        self.follow
            .as_deref()
            .map(crate::follow::badge_html)
            .unwrap_or_default()
    }

    /// A watch button for a member (HTML), a skeleton's slot for one, or
    /// nothing for a visitor.
    pub fn watch_button(&self, button: crate::follow::Button) -> String {
        if self.is_skeleton() {
            return crate::cache::members::watch_slot(&button);
        }
        button.render(self).unwrap_or_default()
    }

    /// A roster entry's "Ask … a question" link (HTML), none on the
    /// member's own entry, or a skeleton's slot for one.
    pub fn ask_link(&self, slug: &str, username: &str, display_name: &str) -> String {
        let link = crate::cache::members::AskLink {
            slug: slug.to_owned(),
            username: username.to_owned(),
            display_name: display_name.to_owned(),
        };
        if self.is_skeleton() {
            return link.slot();
        }
        link.render(self)
    }

    pub fn watch_page(&self, id: &i64, slug: &str) -> String {
        self.watch_button(crate::follow::Button::page(*id, slug))
    }

    pub fn watch_tag(&self, tag: &crate::tags::Tag) -> String {
        self.watch_button(crate::follow::Button::tag(tag))
    }

    pub fn watch_member(&self, id: &i64, username: &str) -> String {
        self.watch_button(crate::follow::Button::member(*id, username))
    }

    /// The signed-in user, or a redirect to the sign-in page that comes back here.
    pub fn member(&self) -> Result<&SessionUser, AppError> {
        self.user.as_ref().ok_or_else(|| AppError::SignInRequired {
            next: self.path.clone(),
        })
    }

    /// The signed-in administrator, else 403 (or the sign-in redirect).
    pub fn admin(&self) -> Result<&SessionUser, AppError> {
        let user = self.member()?;
        if !user.is_admin {
            return Err(AppError::Forbidden("Only administrators can do that."));
        }
        Ok(user)
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin)
    }

    /// Takes a reference because templates pass their arguments by reference.
    pub fn is_user(&self, user_id: &i64) -> bool {
        self.user.as_ref().is_some_and(|u| u.id == *user_id)
    }

    /// The path to come back to after signing in from this page.
    pub fn signin_url(&self) -> String {
        format!(
            "/signin?next={}",
            crate::markup::text::url_encode(&self.path)
        )
    }

    /// Gives a visitor's sign-in or join form its token without a stored
    /// session: a MAC of the visitor's `cafe_csrf` cookie, made now if the
    /// request brought none. Returns the `Set-Cookie` to send, if any.
    /// A signed-in member's form carries the session's token as any other.
    pub fn anonymous_form(&mut self, state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
        if self.user.is_some() {
            return None;
        }
        let (value, set_cookie) = match auth::form_cookie(headers) {
            Some(value) => (value.to_owned(), None),
            None => {
                let value = auth::random_token();
                let set_cookie = auth::set_form_cookie(&value, state.config.secure_cookies);
                (value, set_cookie)
            }
        };
        self.csrf = state.csrf_key.token_for(&value);
        set_cookie
    }

    /// Whether this is a members' skeleton's stand-in (see `cache::members`).
    pub fn is_skeleton(&self) -> bool {
        crate::cache::members::is_skeleton(self)
    }

    /// The `aria-current` value for the main menu's link to `section`
    /// (`/methods`, `/tags`…): `page` on that very page, `true` anywhere
    /// under it (a method, a tag, an indicator), so the menu says where
    /// one is; `None` elsewhere.
    pub fn nav_current(&self, section: &str) -> Option<&'static str> {
        let path = without_query(&self.path);
        let within = |prefix: &str| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('.'))
        };
        let inside = match section {
            "/tags" => within("/tags") || within("/indicators"),
            "/account" => {
                within("/account")
                    || self
                        .user
                        .as_ref()
                        .is_some_and(|u| within(&format!("/users/{}", u.username)))
            }
            _ => within(section),
        };
        if path == section {
            Some("page")
        } else if inside {
            Some("true")
        } else {
            None
        }
    }

    pub fn style_url(&self) -> &'static str {
        crate::static_files::style_url()
    }

    pub fn icon_url(&self) -> &'static str {
        crate::static_files::icon_url()
    }

    pub fn script_url(&self) -> &'static str {
        crate::static_files::script_url()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("context middleware missing")))
    }
}

/// Builds the [`Ctx`], checks CSRF, runs the handler, and turns any error
/// response into a page in the site layout. Every answer made here says how
/// caches may keep it (see [`cache_control`]).
pub async fn middleware(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    let anonymous_form = csrf::is_anonymous_form(request.uri().path());
    let flash_cookie = super::flash::cookie(request.headers());
    let carried_flash = flash_cookie.is_some();
    let method = request.method().clone();
    let mut ctx = match load(&state, &session, path, method, flash_cookie.as_deref()).await {
        Ok(ctx) => ctx,
        Err(err) => return error_page(&state, err),
    };
    let private = ctx.user.is_some() || anonymous_form;
    let request_was_get = request.method() == Method::GET;
    let anonymous_post = request.method() == Method::POST && ctx.user.is_none() && anonymous_form;
    let session_token = ctx.user.as_ref().map(|_| ctx.csrf.as_str());
    request = match csrf::check(&state, session_token, request).await {
        Ok((request, form_token)) => {
            if let Some(token) = form_token {
                ctx.csrf = token;
            }
            request
        }
        Err(response) => {
            let mut response = render_error(&ctx, response);
            cache_control(&mut response, private);
            return response;
        }
    };
    request.extensions_mut().insert(ctx.clone());
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let outbox = super::flash::Outbox::default();
    let mut response = super::flash::with_outbox(outbox.clone(), next.run(request)).await;
    if writes {
        // Its transaction has committed: views cached while it ran go stale.
        crate::db::note_write();
    }
    if anonymous_post && signed_in(&session).await {
        // The session has its own token now: the form's cookie is done.
        if let Some(clear) = auth::clear_form_cookie(state.config.secure_cookies) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
    ascii_location(&mut response);
    let mut response = render_error(&ctx, response);
    // Error pages and re-shown forms show the confirmation too. Only a
    // member's page clears the cookie: a visitor's may be kept and sent
    // to others, and a stale cookie runs out by itself.
    let shown =
        carried_flash && ctx.user.is_some() && request_was_get && super::flash::shows(&response);
    super::flash::deliver(
        &state.flash_key,
        &outbox,
        &session,
        shown,
        state.config.secure_cookies,
        &mut response,
    )
    .await;
    cache_control(&mut response, private);
    response
}

/// `err` as a page in the site layout for someone not known to be signed
/// in, kept by no cache: for an answer made before a session could be read.
pub fn error_page(state: &AppState, err: AppError) -> Response {
    let ctx = Ctx {
        user: None,
        csrf: String::new(),
        site: state.site.clone(),
        path: "/".to_owned(),
        flash: None,
        follow: None,
    };
    let mut response = render_error(&ctx, err.into_response());
    cache_control(&mut response, true);
    response
}

/// Whether the handler left a signed-in session (a sign-in or join that
/// succeeded).
async fn signed_in(session: &Session) -> bool {
    matches!(session.get::<i64>(auth::USER_ID).await, Ok(Some(_)))
}

/// `Cache-Control: no-store` on anything a signed-in member is sent and on
/// the forms with a visitor's token (`private`): no cache, shared or the
/// browser's own, may keep a member's data or a token. Other answers are
/// visitors' pages ([`crate::state::VISITOR_CACHE_CONTROL`]). A header the
/// handler set (static assets' year) is left as it is.
fn cache_control(response: &mut Response, private: bool) {
    let value = if private {
        crate::state::MEMBER_CACHE_CONTROL
    } else {
        crate::state::VISITOR_CACHE_CONTROL
    };
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(value));
}

/// Slugs and usernames may hold letters of any script, but a `Location`
/// header is a URI: its non-ASCII bytes are percent-encoded (RFC 3987 3.1).
fn ascii_location(response: &mut Response) {
    let Some(location) = response.headers().get(header::LOCATION) else {
        return;
    };
    if location.as_bytes().is_ascii() {
        return;
    }
    let mut encoded = String::with_capacity(location.len() * 3);
    for &byte in location.as_bytes() {
        if byte.is_ascii() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        response.headers_mut().insert(header::LOCATION, value);
    }
}

async fn load(
    state: &AppState,
    session: &Session,
    path: String,
    method: Method,
    flash_cookie: Option<&str>,
) -> Result<Ctx, AppError> {
    // PostgreSQL's store is a server: a session that cannot be read because
    // it cannot be reached is a 503, not a bug.
    let postgres = state.pool.backend() == crate::db::Backend::Postgres;
    let session_error = |err: tower_sessions::session::Error| match err {
        tower_sessions::session::Error::Store(err) if postgres => {
            tracing::error!(error = %err, "cannot read the session");
            AppError::Unreachable
        }
        err => AppError::Internal(err.into()),
    };
    let mut user = None;
    if let Some(user_id) = session
        .get::<i64>(auth::USER_ID)
        .await
        .map_err(session_error)?
    {
        let epoch = session
            .get::<i64>(auth::AUTH_EPOCH)
            .await
            .map_err(session_error)?;
        let signed_in_at = session
            .get::<i64>(auth::SIGNED_IN_AT)
            .await
            .map_err(session_error)?
            .unwrap_or(0);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let fresh = sign_in_is_fresh(&state.config, signed_in_at, now);
        match session_member(state, user_id).await? {
            Some((found, db_epoch)) if Some(db_epoch) == epoch && fresh => {
                user = Some(found);
                keep_alive(state, session, now)
                    .await
                    .map_err(session_error)?;
            }
            _ => session.flush().await.map_err(session_error)?,
        }
    }
    // A session without a user (made by an older version for its forms) is
    // treated as none: visitors' forms use the CSRF cookie instead.
    let csrf = match user {
        Some(_) => session
            .get::<String>(auth::CSRF)
            .await
            .map_err(session_error)?
            .unwrap_or_default(),
        None => String::new(),
    };
    // Only a member is sent one, and only a page shows it.
    let flash = match (&user, &method) {
        (Some(user), &Method::GET) => {
            flash_cookie.and_then(|cookie| super::flash::waiting(&state.flash_key, cookie, user.id))
        }
        _ => None,
    };
    // A form's answer is mostly a redirect, and a form shown again after a
    // mistake may show the count of the member's last page view: counting
    // again for every post cost a save a sixth of its database time
    // (bench/save_statements.sh). An edit form shows it too: the count
    // matters where members read, and the save's answer leads to a page
    // view, which counts.
    let follow = match &user {
        Some(user) => match (method != Method::GET || is_edit_form(&path))
            .then(|| state.follow.latest(user.id))
            .flatten()
        {
            Some(kept) => Some(kept),
            None => {
                let tick = state.page_cache.now().await.map(|clock| clock.tick);
                Some(state.follow.mine(&state.pool, user.id, tick).await?)
            }
        },
        None => None,
    };
    let ctx = Ctx {
        user,
        csrf,
        site: state.site.clone(),
        path,
        flash,
        follow,
    };
    if method == Method::GET {
        crate::mail::looked_at(state, &ctx, &ctx.path);
    }
    Ok(ctx)
}

/// Whether `path` is a form for writing a page, a story or an indicator
/// (`…/edit`, `/methods/new`), where the header may show the member's last
/// unseen count instead of counting again.
fn is_edit_form(path: &str) -> bool {
    let path = without_query(path);
    path.ends_with("/edit") || path == "/methods/new"
}

/// `path` without its query or fragment.
fn without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or_default()
}

/// The member `user_id` and their `auth_epoch` (`None`: no such member, or
/// blocked), from memory while no account has changed since it was read.
async fn session_member(
    state: &AppState,
    user_id: i64,
) -> Result<Option<(SessionUser, i64)>, AppError> {
    let accounts = state.page_cache.now().await.map(|clock| clock.accounts);
    if let Some(kept) = accounts.and_then(|at| state.session_members.get(user_id, at)) {
        return Ok(Some(kept));
    }
    let found = crate::accounts::db::session_user(&state.pool, user_id).await?;
    if let (Some((user, epoch)), Some(at)) = (&found, accounts) {
        state.session_members.put(user.clone(), *epoch, at);
    }
    Ok(found)
}

/// Whether a sign-in at `signed_in_at` (Unix seconds) still holds at `now`:
/// `--session-max-hours` counts from the sign-in, whatever the activity.
pub fn sign_in_is_fresh(config: &crate::config::ServeArgs, signed_in_at: i64, now: i64) -> bool {
    now - signed_in_at < config.session_max_hours.saturating_mul(3600)
}

/// Whether a session last re-saved at `seen` is due to be re-saved at `now`
/// (see [`keep_alive`]).
pub fn keep_alive_is_due(config: &crate::config::ServeArgs, seen: i64, now: i64) -> bool {
    let interval = (config.session_idle_minutes.saturating_mul(60) / 4).clamp(1, 600);
    now - seen >= interval
}

/// The session store only moves a session's expiry when the session is
/// saved, so an active member is re-saved now and then (not on every
/// request, which would make every page view a write): the idle timeout
/// then counts from the last activity, give or take this interval.
async fn keep_alive(
    state: &AppState,
    session: &Session,
    now: i64,
) -> Result<(), tower_sessions::session::Error> {
    let seen = session.get::<i64>(auth::SEEN_AT).await?.unwrap_or(0);
    if keep_alive_is_due(&state.config, seen, now) {
        session.insert(auth::SEEN_AT, now).await?;
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    ctx: &'a Ctx,
    status: u16,
    page: &'a ErrorPage,
}

/// Responses with an error status that are not already HTML pages (an
/// [`AppError`], axum's own rejections, the 404 fallback, a 413) get the
/// error page, with no internals in it.
fn render_error(ctx: &Ctx, mut response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let page = response.extensions_mut().remove::<ErrorPage>();
    if is_html && page.is_none() {
        return response;
    }
    let page = page.unwrap_or_else(|| ErrorPage::for_status(status));
    let html = ErrorTemplate {
        ctx,
        status: status.as_u16(),
        page: &page,
    }
    .render()
    .unwrap_or_else(|_| page.message.clone());
    let headers = std::mem::take(response.headers_mut());
    let mut fresh = (status, html).into_response();
    for (name, value) in &headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    fresh
}

/// Helpers the templates call.
impl Ctx {
    /// A stored timestamp as people read it.
    pub fn when(&self, stamp: &str) -> String {
        crate::clock::display(stamp)
    }

    /// Just the date of a stored timestamp.
    pub fn date<'a>(&self, stamp: &'a str) -> &'a str {
        crate::clock::date(stamp)
    }

    /// A tag's page.
    pub fn tag_url(&self, tag: &str) -> String {
        crate::tags::tag_path(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::is_edit_form;

    #[test]
    fn edit_forms_are_told_by_their_path() {
        for path in [
            "/methods/peer-assist/edit",
            "/methods/new",
            "/methods/new?title=Peer%20Assist",
            "/methods/peer-assist/stories/4/edit",
            "/indicators/lkm-1/edit",
        ] {
            assert!(is_edit_form(path), "{path}");
        }
        for path in [
            "/methods/peer-assist",
            "/methods/editing",
            "/methods?q=edit",
            "/following",
        ] {
            assert!(!is_edit_form(path), "{path}");
        }
    }
}
