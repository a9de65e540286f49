//! Joining, updating and leaving a page's roster. The forms live on the
//! method page; errors re-show it with a message.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use askama::Template;
use askama_web::WebTemplate;

use super::EntryText;
use super::db::MethodUsed;
use crate::error::AppResult;
use crate::pages::db::Page;
use crate::pages::routes::{ShowErrors, load_page, show_page_with_errors};
use crate::state::AppState;
use crate::web::context::Ctx;
use crate::web::flash;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/methods/{slug}/roster", get(to_roster).post(join))
        .route(
            "/methods/{slug}/roster/remove",
            get(confirm_leave).post(leave),
        )
        .route("/methods/{slug}/roster/confirm", post(still_using))
}

/// Where the roster forms live. Their addresses are only posted to, but a
/// visitor whose post was sent to sign in comes back here with a GET.
async fn to_roster(State(state): State<AppState>, Path(slug): Path<String>) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    Ok(Redirect::to(&format!("/methods/{}#roster", page.slug)))
}

/// The roster form's fields (also re-shown on the method page).
#[derive(Debug, Default, Deserialize)]
pub struct RosterForm {
    #[serde(default)]
    pub tip: String,
    #[serde(default)]
    pub location: String,
}

async fn join(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<RosterForm>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let user_id = ctx.member()?.id;
    let entry = match EntryText::parse(&form.tip, &form.location) {
        Ok(entry) => entry,
        Err(errors) => {
            let errors = ShowErrors {
                roster: errors,
                roster_form: Some(form),
                ..ShowErrors::default()
            };
            return show_page_with_errors(&state, ctx, page, errors).await;
        }
    };
    let updated = super::db::upsert(&state.pool, page.id, user_id, &entry).await?;
    let message = if updated {
        "Your roster entry is updated."
    } else {
        "Your name is on the roster. Thank you for sharing!"
    };
    flash::set(&session, message).await;
    Ok(Redirect::to(&format!("/methods/{}#roster", page.slug)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/roster_remove.html")]
struct RemovePage {
    ctx: Ctx,
    page: Page,
    entry: MethodUsed,
}

/// "Remove my name" asks first: the tip is lost with the entry. A member
/// not on the roster is sent back to it; a visitor signs in first.
async fn confirm_leave(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let user_id = ctx.member()?.id;
    let entry = super::db::for_user(&state.pool, user_id)
        .await?
        .into_iter()
        .find(|m| m.slug == page.slug);
    Ok(match entry {
        Some(entry) => RemovePage { ctx, page, entry }.into_response(),
        None => Redirect::to(&format!("/methods/{}#roster", page.slug)).into_response(),
    })
}

async fn leave(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    let user_id = ctx.member()?.id;
    if super::db::remove(&state.pool, page.id, user_id).await? {
        flash::set(&session, "Your name is removed from the roster.").await;
    }
    Ok(Redirect::to(&format!("/methods/{}#roster", page.slug)))
}

/// "Still using it": the member's entry is current again.
async fn still_using(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    let user_id = ctx.member()?.id;
    if super::db::confirm(&state.pool, page.id, user_id).await? {
        let said = format!("Thank you: your entry says you still use {}.", page.title);
        flash::set(&session, said).await;
    }
    Ok(Redirect::to(&format!("/methods/{}#roster", page.slug)))
}
