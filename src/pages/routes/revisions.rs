//! A page's history, one revision, restoring it, diffs between two and
//! the Markdown source.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::edit::may_edit;
use super::*;
use crate::error::{AppError, AppResult};
use crate::markup::diff::Hunk;
use crate::pages::PageText;
use crate::pages::db::{self, Page, Revision, RevisionMeta};
use crate::state::AppState;
use crate::tags::{TagLink, TagList};
use crate::web::context::Ctx;

#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/history.html")]
pub(super) struct HistoryPage {
    ctx: Ctx,
    page: Page,
    /// Each revision with the tags it added and removed, and how many
    /// characters longer (or shorter) it made the text.
    revisions: Vec<(RevisionMeta, TagChange, SizeChange)>,
    number: i64,
    last: i64,
}

/// Tags a revision added and removed, compared with the one before it.
#[derive(Default)]
pub struct TagChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl TagChange {
    fn between(older: &str, newer: &str) -> TagChange {
        let (older, newer) = (TagList::from_stored(older), TagList::from_stored(newer));
        TagChange {
            added: newer.minus(&older).map(|t| t.as_str().to_owned()).collect(),
            removed: older.minus(&newer).map(|t| t.as_str().to_owned()).collect(),
        }
    }
}

/// How many characters a revision added to the text (or took from it).
pub struct SizeChange(pub i64);

impl SizeChange {
    /// "+123", "−45" (a minus sign, not a hyphen) or "0".
    pub fn signed(&self) -> String {
        match self.0 {
            n if n > 0 => format!("+{n}"),
            n if n < 0 => format!("\u{2212}{}", n.unsigned_abs()),
            _ => "0".to_owned(),
        }
    }

    /// The class that colours it: `grew`, `shrank` or `same`.
    pub fn class(&self) -> &'static str {
        match self.0.signum() {
            1 => "grew",
            -1 => "shrank",
            _ => "same",
        }
    }

    /// "character" or "characters".
    pub fn unit(&self) -> &'static str {
        if self.0.abs() == 1 {
            "character"
        } else {
            "characters"
        }
    }
}

pub(super) async fn history(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> AppResult<HistoryPage> {
    let page = load_page(&state, &slug).await?;
    let last = (page.revision + HISTORY_PAGE - 1) / HISTORY_PAGE;
    let number = q.page.unwrap_or(1).clamp(1, last.max(1));
    // One revision more than shown, to tell the tag changes of the oldest shown.
    let mut revisions = db::history(
        &state.pool,
        page.id,
        HISTORY_PAGE + 1,
        (number - 1) * HISTORY_PAGE,
    )
    .await?;
    let older: Vec<(String, i64)> = revisions
        .iter()
        .skip(1)
        .map(|r| (r.tags.clone(), r.size))
        .chain([(String::new(), 0)])
        .collect();
    revisions.truncate(HISTORY_PAGE as usize);
    let revisions = revisions
        .into_iter()
        .zip(older)
        .map(|(rev, (older_tags, older_size))| {
            let change = TagChange::between(&older_tags, &rev.tags);
            let size = SizeChange(rev.size - older_size);
            (rev, change, size)
        })
        .collect();
    Ok(HistoryPage {
        ctx,
        page,
        revisions,
        number,
        last,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/revision.html")]
pub(super) struct RevisionPage {
    ctx: Ctx,
    page: Page,
    revision: Revision,
    html: String,
    tags: Vec<TagLink>,
}

async fn load_revision(state: &AppState, page: &Page, number: &str) -> AppResult<Revision> {
    let number: i64 = number.parse().map_err(|_| AppError::NotFound)?;
    db::revision(&state.pool, page.id, number)
        .await?
        .ok_or(AppError::NotFound)
}

pub(super) async fn revision(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, number)): Path<(String, String)>,
) -> AppResult<RevisionPage> {
    let page = load_page(&state, &slug).await?;
    let revision = load_revision(&state, &page, &number).await?;
    // Old revisions are rare views: rendered on demand, links shown as plain links.
    let html = crate::markup::markdown::render_plain(&revision.body);
    let tags = TagLink::all(
        &revision.tag_list(),
        &crate::tags::db::labels(&state.pool).await?,
    );
    Ok(RevisionPage {
        ctx,
        page,
        revision,
        html,
        tags,
    })
}

pub(super) async fn restore(
    State(state): State<AppState>,
    ctx: Ctx,
    session: tower_sessions::Session,
    Path((slug, number)): Path<(String, String)>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    let author = may_edit(&ctx, &page)?;
    let old = load_revision(&state, &page, &number).await?;
    let text = PageText {
        body: old.body,
        tags: TagList::from_stored(&old.tags),
        summary: format!("Restored revision {}", old.number),
    };
    let outcome = db::save_grouped(
        &state.pool,
        &state.saves,
        &page.slug,
        page.id,
        page.revision,
        text,
        Some(author),
    )
    .await?;
    let message = match outcome {
        db::SaveOutcome::Saved { number, .. } => {
            format!("Restored revision {} as revision {number}.", old.number)
        }
        _ => format!(
            "Restored revision {}: nothing changed, it is the current text.",
            old.number
        ),
    };
    crate::web::flash::set(&session, message).await;
    Ok(Redirect::to(&format!("/methods/{}/history", page.slug)))
}

#[derive(Deserialize)]
pub(super) struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/diff.html")]
pub(super) struct DiffPage {
    ctx: Ctx,
    page: Page,
    from: Revision,
    to: Revision,
    hunks: Vec<Hunk>,
    /// Lines removed and added, when the diff is too large to show.
    too_large: Option<(usize, usize)>,
    tags_added: Vec<String>,
    tags_removed: Vec<String>,
}

pub(super) async fn diff(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<DiffQuery>,
) -> AppResult<DiffPage> {
    let page = load_page(&state, &slug).await?;
    let to_number = q.to.unwrap_or(page.revision);
    let from_number = q.from.unwrap_or(to_number.saturating_sub(1)).max(1);
    let from = load_revision(&state, &page, &from_number.to_string()).await?;
    let to = load_revision(&state, &page, &to_number.to_string()).await?;
    let (old_tags, new_tags) = (from.tag_list(), to.tag_list());
    let tags_added = new_tags
        .minus(&old_tags)
        .map(|t| t.as_str().to_owned())
        .collect();
    let tags_removed = old_tags
        .minus(&new_tags)
        .map(|t| t.as_str().to_owned())
        .collect();
    let (old, new) = (from.body.clone(), to.body.clone());
    let (hunks, too_large) = crate::markup::diff::compare_for_page(old, new)
        .await
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the diff task failed")))?;
    Ok(DiffPage {
        ctx,
        page,
        from,
        to,
        hunks,
        too_large,
        tags_added,
        tags_removed,
    })
}

pub(super) async fn source(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    Ok(markdown_source(page.body))
}

/// An old revision's Markdown, where a diff too large to show sends readers.
pub(super) async fn revision_source(
    State(state): State<AppState>,
    Path((slug, number)): Path<(String, String)>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let revision = load_revision(&state, &page, &number).await?;
    Ok(markdown_source(revision.body))
}

fn markdown_source(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        body,
    )
        .into_response()
}
