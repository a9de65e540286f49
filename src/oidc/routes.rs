//! `GET /signin/oidc` (start), `GET /signin/oidc/callback` (finish),
//! `POST /account/oidc/link` (a member links their account after proving
//! their password), and the administrators' `POST
//! /users/{username}/oidc/link|unlink`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::flow::{self, Callback};
use super::{Provider, SignInError, accounts, db};
use crate::accounts::routes::safe_next;
use crate::accounts::{Username, db as users};
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::markup::text;
use crate::state::AppState;
use crate::web::context::Ctx;
use crate::web::throttle::{Bucket, ClientAddr};

/// The cookie that binds a sign-in to the browser that started it: the
/// callback must come with the value the start saw (so a `state` sent to
/// someone else's browser is worth nothing there).
const BROWSER_COOKIE: &str = "cafe_oidc";

/// Sign-ins one address may start in a minute.
const STARTS_PER_MINUTE: usize = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signin/oidc", get(start))
        .route(super::CALLBACK_PATH, get(callback))
        .route("/account/oidc/link", post(link_mine))
        .route("/users/{username}/oidc/link", post(admin_link))
        .route("/users/{username}/oidc/unlink", post(admin_unlink))
}

/// The configured provider, or 404 when there is none.
fn provider(state: &AppState) -> AppResult<Arc<Provider>> {
    state.oidc.clone().ok_or(AppError::NotFound)
}

/// Logs why a sign-in did not work and shows the person what they can do.
fn failed(err: SignInError) -> AppError {
    tracing::warn!(status = err.status.as_u16(), reason = %err.reason, "OpenID Connect sign-in did not work");
    AppError::SignInFailed {
        status: err.status,
        message: err.message,
    }
}

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// No cache, not even the browser's, keeps an answer that sets a cookie of
/// a sign-in.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(crate::state::MEMBER_CACHE_CONTROL),
    );
    response
}

/// The browser's binding value: the one it has, else a new one.
fn browser_value(headers: &HeaderMap) -> (String, bool) {
    match auth::cookie(headers, BROWSER_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(value) => (value.to_owned(), false),
        None => (auth::random_token(), true),
    }
}

/// 303 to the provider, with the browser's binding cookie when new.
async fn redirect_to_provider(
    state: &AppState,
    headers: &HeaderMap,
    addr: &str,
    next: &str,
    link_user_id: Option<i64>,
) -> AppResult<Response> {
    let provider = provider(state)?;
    // Each start keeps a row for ten minutes: bounded per address.
    state
        .throttle
        .reserve(
            Bucket::OidcStartsPerAddr,
            addr,
            STARTS_PER_MINUTE,
            Duration::from_secs(60),
        )
        .await
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
    let (browser, new) = browser_value(headers);
    let url = flow::begin(&provider, &state.pool, &browser, next, link_user_id)
        .await
        .map_err(failed)?;
    let mut response = no_store(Redirect::to(&url).into_response());
    if new {
        let secure = if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{BROWSER_COOKIE}={browser}; Max-Age={}; HttpOnly; SameSite=Lax; Path=/{secure}",
            db::PENDING_SECS
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

async fn start(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    if ctx.user.is_some() {
        // Already signed in: nothing to start.
        return Ok(Redirect::to(safe_next(&q.next)).into_response());
    }
    redirect_to_provider(&state, &headers, &addr, safe_next(&q.next), None).await
}

async fn callback(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> AppResult<Response> {
    let provider = provider(&state)?;
    let browser = auth::cookie(&headers, BROWSER_COOKIE);
    let verified = flow::finish(&provider, &state.pool, browser, callback)
        .await
        .map_err(failed)?;
    accounts::check_domain(&provider.settings, &verified.claims).map_err(failed)?;
    if let Some(user_id) = verified.link_user_id {
        // Linking: only for the member who asked, still signed in.
        if !ctx.is_user(&user_id) {
            return Err(failed(SignInError::new(
                axum::http::StatusCode::FORBIDDEN,
                "The account link was started by another member, or you signed out before \
                 it finished. Sign in and start it again from your profile.",
                "link finished by a session that is not the linking member's",
            )));
        }
        accounts::link(&state.pool, &verified, user_id)
            .await
            .map_err(failed)?;
        tracing::info!(user_id, issuer = %verified.issuer, "account linked to an OpenID Connect identity");
        crate::web::flash::set(
            &session,
            "Your account is linked: you can now sign in with your organisation's account.",
        )
        .await;
        return Ok(Redirect::to("/account/profile").into_response());
    }
    let member = accounts::member_for(&state.pool, &provider.settings, &verified)
        .await
        .map_err(failed)?;
    auth::start_session(&session, member.id, member.auth_epoch)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    session
        .insert(auth::SIGNED_IN_WITH, verified.issuer.clone())
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let welcome = if member.created {
        format!(
            "Welcome to {}: your account was made from your organisation's account, and you \
             are signed in.",
            state.site.name
        )
    } else {
        "You are signed in.".to_owned()
    };
    crate::web::flash::set(&session, welcome).await;
    let mut response = no_store(Redirect::to(safe_next(&verified.next)).into_response());
    // The binding cookie has done its work.
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{BROWSER_COOKIE}=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// No `Debug`: holds a password.
#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    current_password: String,
}

/// A member proves their password, then goes to the provider to link the
/// account they sign in with there. A wrong password counts against the
/// sign-in throttle like a failed sign-in.
async fn link_mine(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<LinkForm>,
) -> AppResult<Response> {
    let me = ctx.member()?;
    provider(&state)?;
    let per_user = state
        .throttle
        .reserve(
            Bucket::FailuresPerUser,
            &me.username,
            state.config.signin_failures_per_user,
            Duration::from_secs(15 * 60),
        )
        .await
        .map_err(|retry_after| AppError::TooManyAttempts { retry_after })?;
    let username = Username::parse(&me.username).map_err(|_| AppError::NotFound)?;
    let hash = users::credentials(&state.pool, &username)
        .await?
        .map(|c| c.password_hash);
    if !auth::verify_password(form.current_password, hash).await {
        return Err(AppError::SignInFailed {
            status: axum::http::StatusCode::UNAUTHORIZED,
            message: "That is not your current password, so the account was not linked. \
                      Go back to your profile and try again."
                .to_owned(),
        });
    }
    state.throttle.give_back(per_user).await;
    redirect_to_provider(&state, &headers, &addr, "/account/profile", Some(me.id)).await
}

#[derive(Deserialize)]
struct AdminLinkForm {
    #[serde(default)]
    subject: String,
}

/// An administrator links a member to the provider's subject identifier
/// (as the provider's admin console shows it).
async fn admin_link(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(username): Path<String>,
    Form(form): Form<AdminLinkForm>,
) -> AppResult<Response> {
    ctx.admin()?;
    let provider = provider(&state)?;
    let user_id = member_id(&state, &username).await?;
    let subject = form.subject.trim();
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "Give the subject identifier (`sub`) the provider uses for this person.",
        ));
    }
    let issuer = provider.settings.issuer.as_str();
    match db::link(&state.pool, issuer, subject, user_id).await {
        Ok(()) => {}
        Err(db::LinkError::Taken) => {
            return Err(AppError::Forbidden(
                "That subject is already linked to another member: unlink it there first.",
            ));
        }
        Err(db::LinkError::Db(err)) => return Err(err.into()),
    }
    tracing::info!(
        username,
        "an administrator linked an OpenID Connect identity"
    );
    crate::web::flash::set(&session, "The account is linked.").await;
    Ok(Redirect::to(&format!("/users/{}", text::url_encode(&username))).into_response())
}

async fn admin_unlink(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(username): Path<String>,
) -> AppResult<Response> {
    ctx.admin()?;
    let provider = provider(&state)?;
    let user_id = member_id(&state, &username).await?;
    db::unlink(&state.pool, provider.settings.issuer.as_str(), user_id).await?;
    tracing::info!(
        username,
        "an administrator unlinked an OpenID Connect identity"
    );
    crate::web::flash::set(&session, "The account is unlinked.").await;
    Ok(Redirect::to(&format!("/users/{}", text::url_encode(&username))).into_response())
}

async fn member_id(state: &AppState, username: &str) -> AppResult<i64> {
    let name = Username::parse(username).map_err(|_| AppError::NotFound)?;
    users::credentials(&state.pool, &name)
        .await?
        .map(|c| c.id)
        .ok_or(AppError::NotFound)
}
