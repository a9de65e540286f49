//! The conflict page (an edit made from an old revision whose lines were
//! changed meanwhile) and the confirmation after a save, which names the
//! other editor when the save was merged with their edit.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::error::{AppError, AppResult};
use crate::markup::diff::Hunk;
use crate::pages::db::{self, Page, SaveOutcome};
use crate::state::AppState;
use crate::tags::TagList;
use crate::web::context::Ctx;
use crate::web::flash;

/// What the member sent, shown again in the editor.
pub(super) struct Mine {
    pub body: String,
    pub tags: String,
    pub summary: String,
}

/// Who saved the revision the edit collided with, and when.
struct OtherEdit {
    name: String,
    username: Option<String>,
    created_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/conflict.html")]
struct ConflictPage {
    ctx: Ctx,
    page: Page,
    mine: Mine,
    current_revision: i64,
    current_body: String,
    current_tags: String,
    other: OtherEdit,
    hunks: Vec<Hunk>,
    /// Lines removed and added, when the diff is too large to show.
    too_large: Option<(usize, usize)>,
}

/// The 409 page: the other editor's text against the member's, and the
/// member's text in the editor, to be saved on top of the current revision.
pub(super) async fn conflict_page(
    state: &AppState,
    ctx: Ctx,
    page: Page,
    mine: Mine,
    current_revision: i64,
    current_body: String,
    current_tags: &str,
) -> AppResult<Response> {
    let other = other_edit(state, page.id, current_revision).await?;
    // Browsers send a textarea's lines ended by CR LF; saved text has LF.
    let (old, new) = (
        current_body.clone(),
        crate::markup::text::clean_body(&mine.body),
    );
    let (hunks, too_large) = crate::markup::diff::compare_for_page(old, new)
        .await
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the diff task failed")))?;
    let conflict = ConflictPage {
        ctx,
        page,
        mine,
        current_revision,
        current_body,
        current_tags: TagList::from_stored(current_tags).to_input(),
        other,
        hunks,
        too_large,
    };
    Ok((StatusCode::CONFLICT, conflict).into_response())
}

/// The author and time of revision `number` ("someone" if the account is gone).
async fn other_edit(state: &AppState, page_id: i64, number: i64) -> AppResult<OtherEdit> {
    let revision = db::revision(&state.pool, page_id, number).await?;
    Ok(match revision {
        Some(r) => OtherEdit {
            name: r.author_name.unwrap_or_else(|| "Someone".to_owned()),
            username: r.author_username,
            created_at: r.created_at,
        },
        None => OtherEdit {
            name: "Someone".to_owned(),
            username: None,
            created_at: String::new(),
        },
    })
}

/// Tells the member what their save did, on the page they land on.
pub(super) async fn confirm_save(
    state: &AppState,
    session: &Session,
    page_id: i64,
    outcome: &SaveOutcome,
) -> AppResult<()> {
    let message = match outcome {
        SaveOutcome::Saved {
            number,
            merged: true,
        } => {
            // The revision before this one is the edit it was merged with.
            let other = other_edit(state, page_id, number - 1).await?;
            format!(
                "Merged with {}'s edit from {}. Saved as revision {number}.",
                other.name,
                crate::clock::display(&other.created_at)
            )
        }
        SaveOutcome::Saved { number, .. } => format!("Saved as revision {number}."),
        SaveOutcome::Unchanged => "Nothing to save: the text and tags are as they were.".to_owned(),
        SaveOutcome::Moved | SaveOutcome::Conflict { .. } => return Ok(()),
    };
    flash::set(session, message).await;
    Ok(())
}
