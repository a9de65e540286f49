//! Page housekeeping: renaming (members, unless the page is protected),
//! deleting and undeleting, and merging a duplicate into another page
//! (admins); and [`follow_old_slugs`], which sends an old slug's every
//! address to the page's current one.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::edit::may_edit;
use super::*;
use crate::error::{AppError, AppResult};
use crate::pages::parse_title;
use crate::state::AppState;
use crate::web::context::Ctx;

#[derive(Template, WebTemplate)]
#[template(path = "pages/rename.html")]
pub(super) struct RenamePage {
    ctx: Ctx,
    page: Page,
    title: String,
    summary: String,
    errors: Vec<String>,
}

pub(super) async fn rename_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
) -> AppResult<RenamePage> {
    let page = load_page(&state, &slug).await?;
    may_edit(&ctx, &page)?;
    Ok(RenamePage {
        ctx,
        title: page.title.clone(),
        page,
        summary: String::new(),
        errors: Vec::new(),
    })
}

#[derive(Deserialize)]
pub(super) struct RenameForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
}

/// A new title and slug, as a revision; the old slug redirects here.
pub(super) async fn rename(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Form(form): Form<RenameForm>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let author = may_edit(&ctx, &page)?;
    let title = parse_title(&form.title);
    let summary = crate::markup::text::one_line(
        "The summary",
        &form.summary,
        crate::pages::MAX_SUMMARY_CHARS,
    );
    let mut errors: Vec<String> = Vec::new();
    if let Ok(title) = &title
        && *title == page.title
    {
        errors.push("The new title is the same as the current one.".to_owned());
    }
    let (title, summary) = match (title, summary) {
        (Ok(title), Ok(summary)) if errors.is_empty() => (title, summary),
        (title, summary) => {
            errors.extend(title.err());
            errors.extend(summary.err());
            let form = RenamePage {
                ctx,
                page,
                title: form.title,
                summary: form.summary,
                errors,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, form).into_response());
        }
    };
    let slug = db::rename(&state.pool, page.id, &title, &summary, author).await?;
    Ok(Redirect::to(&format!("/methods/{slug}")).into_response())
}

/// Admins: the page leaves every list, its address answers 410.
pub(super) async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
) -> AppResult<Redirect> {
    let admin = ctx.admin()?.id;
    let page = load_page(&state, &slug).await?;
    db::delete(&state.pool, page.id, admin).await?;
    Ok(Redirect::to(&format!("/methods/{}", page.slug)))
}

/// Admins: a deleted page comes back as it was.
pub(super) async fn undelete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
) -> AppResult<Redirect> {
    let admin = ctx.admin()?.id;
    let slug = Slug::parse(&slug).ok_or(AppError::NotFound)?;
    let page = db::find(&state.pool, &slug)
        .await?
        .ok_or(AppError::NotFound)?;
    db::undelete(&state.pool, page.id, admin).await?;
    Ok(Redirect::to(&format!("/methods/{}", page.slug)))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/merge.html")]
pub(super) struct MergePage {
    ctx: Ctx,
    page: Page,
    target: String,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct MergeForm {
    #[serde(default)]
    target: String,
}

/// Admins: the page becomes a redirect to `target` (a slug or title),
/// which takes its stories and roster.
pub(super) async fn merge_into(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Form(form): Form<MergeForm>,
) -> AppResult<Response> {
    let admin = ctx.admin()?.id;
    let page = load_page(&state, &slug).await?;
    let target = db::find_target(&state.pool, &form.target).await?;
    let error = match &target {
        _ if form.target.trim().is_empty() => {
            Some("Please name the page to merge this one into.".to_owned())
        }
        None => Some(format!(
            "There is no method page called “{}”.",
            form.target.trim()
        )),
        Some((id, _)) if *id == page.id => Some("A page cannot be merged into itself.".to_owned()),
        Some(_) => None,
    };
    if let Some(error) = error {
        let form = MergePage {
            ctx,
            page,
            target: form.target,
            errors: vec![error],
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, form).into_response());
    }
    let Some((target_id, target_slug)) = target else {
        return Err(AppError::NotFound);
    };
    db::merge_into(&state.pool, page.id, target_id, admin).await?;
    Ok(Redirect::to(&format!("/methods/{target_slug}")).into_response())
}

/// Sends a request for an old slug of a renamed or merged page, at any
/// address under it, to the same address under the page's slug now: 301
/// for reading, 308 for a form sent (so it is sent again, unchanged).
/// Looked up only when the answer was a 404, so a page's own requests
/// cost nothing more.
pub async fn follow_old_slugs(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if response.status() != StatusCode::NOT_FOUND {
        return response;
    }
    let Some(rest) = uri.path().strip_prefix("/methods/") else {
        return response;
    };
    let (old, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some(old) = Slug::parse(old) else {
        return response;
    };
    let Ok(Some(new)) = db::redirect_target(&state.pool, old.as_str()).await else {
        return response;
    };
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let location = format!("/methods/{new}{tail}{query}");
    let Ok(location) = HeaderValue::from_str(&location) else {
        return response;
    };
    let status = if method == Method::GET || method == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    (status, [(header::LOCATION, location)]).into_response()
}
