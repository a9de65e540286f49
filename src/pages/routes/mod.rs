//! Handlers for method pages: list, show, create, edit, history, diff,
//! restore, source.

use axum::Router;
use axum::routing::{get, post};

use super::Slug;
use super::db::{self, Page};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

mod conflict;
mod edit;
mod housekeeping;
mod list;
mod revisions;
mod show;

pub use housekeeping::follow_old_slugs;
pub use list::*;
pub use revisions::*;
pub use show::*;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list::home))
        .route("/methods", get(list::list).post(edit::create))
        .route("/methods/new", get(edit::new_form))
        .route("/methods/{slug}", get(show::show))
        .route(
            "/methods/{slug}/edit",
            get(edit::edit_form).post(edit::edit),
        )
        .route("/methods/{slug}/history", get(revisions::history))
        .route(
            "/methods/{slug}/revisions/{number}",
            get(revisions::revision),
        )
        .route(
            "/methods/{slug}/revisions/{number}/restore",
            post(revisions::restore),
        )
        .route("/methods/{slug}/diff", get(revisions::diff))
        .route("/methods/{slug}/source", get(revisions::source))
        .route(
            "/methods/{slug}/revisions/{number}/source",
            get(revisions::revision_source),
        )
        .route("/methods/{slug}/protect", post(edit::protect))
        .route(
            "/methods/{slug}/rename",
            get(housekeeping::rename_form).post(housekeeping::rename),
        )
        .route("/methods/{slug}/delete", post(housekeeping::delete))
        .route("/methods/{slug}/undelete", post(housekeeping::undelete))
        .route("/methods/{slug}/merge-into", post(housekeeping::merge_into))
}

/// Revisions per history page.
const HISTORY_PAGE: i64 = 50;

/// Finds a page by its URL slug; a malformed slug is simply not found, a
/// well-formed unknown one offers to create the page.
pub async fn load_page(state: &AppState, raw: &str) -> AppResult<Page> {
    let slug = Slug::parse(raw).ok_or(AppError::NotFound)?;
    let page = db::find(&state.pool, &slug)
        .await?
        .ok_or_else(|| no_such_page(&slug))?;
    if page.deleted_at.is_some() {
        return Err(gone(page));
    }
    Ok(page)
}

/// The answer for a deleted page's every address: 410, saying who
/// deleted it and when ([`AppError::Gone`]).
pub(crate) fn gone(page: Page) -> AppError {
    AppError::Gone(crate::error::DeletedPage {
        slug: page.slug,
        title: page.title,
        deleted_by: page
            .deleted_by_name
            .unwrap_or_else(|| "an administrator".to_owned()),
        deleted_at: page.deleted_at.unwrap_or_default(),
    })
}

/// The answer for a well-formed slug with no page: offer to create it.
fn no_such_page(slug: &Slug) -> AppError {
    AppError::NoSuchPage {
        title: title_from_slug(slug.as_str()),
    }
}

fn title_from_slug(slug: &str) -> String {
    let words = slug.replace('-', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
