//! Creating, editing and protecting a method page, and the conflict page
//! when a save cannot be merged.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::*;
use crate::error::{AppError, AppResult};
use crate::pages::db::{self, Page, SaveOutcome};
use crate::pages::{METHOD_TEMPLATE, PageText, parse_title};
use crate::state::AppState;
use crate::tags::TagList;
use crate::web::context::Ctx;

/// The create and edit form (one template, two uses).
#[derive(Template, WebTemplate)]
#[template(path = "pages/edit.html")]
pub(super) struct EditPage {
    ctx: Ctx,
    /// `None` for a new page.
    slug: Option<String>,
    title: String,
    body: String,
    tags: String,
    summary: String,
    base_revision: i64,
    errors: Vec<String>,
    /// Suggestions for the tag box: (tag, label).
    vocabulary: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
pub(super) struct NewQuery {
    #[serde(default)]
    title: String,
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NewQuery>,
) -> AppResult<EditPage> {
    ctx.member()?;
    Ok(EditPage {
        vocabulary: vocabulary(&state).await?,
        ctx,
        slug: None,
        title: q.title,
        body: METHOD_TEMPLATE.clone(),
        tags: String::new(),
        summary: String::new(),
        base_revision: 0,
        errors: Vec::new(),
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct PageForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    base_revision: i64,
}

impl PageForm {
    /// Re-shows the form with the user's input and what is wrong: 422.
    async fn reshow(
        self,
        state: &AppState,
        ctx: Ctx,
        slug: Option<String>,
        errors: Vec<String>,
    ) -> AppResult<Response> {
        let page = EditPage {
            vocabulary: vocabulary(state).await?,
            ctx,
            slug,
            title: self.title,
            body: self.body,
            tags: self.tags,
            summary: self.summary,
            base_revision: self.base_revision,
            errors,
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    }
}

async fn vocabulary(state: &AppState) -> AppResult<Vec<(String, String)>> {
    Ok(crate::tags::db::vocabulary(&state.pool).await?)
}

pub(super) async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<PageForm>,
) -> AppResult<Response> {
    let author = ctx.member()?.id;
    let title = parse_title(&form.title);
    let text = PageText::parse(&form.body, &form.tags, &form.summary);
    let (title, text) = match (title, text) {
        (Ok(title), Ok(text)) => (title, text),
        (title, text) => {
            let mut errors: Vec<String> = title.err().into_iter().collect();
            errors.extend(text.err().unwrap_or_default());
            return form.reshow(&state, ctx, None, errors).await;
        }
    };
    let slug = db::create(&state.pool, &title, &text, Some(author)).await?;
    Ok(Redirect::to(&format!("/methods/{slug}")).into_response())
}

/// Members edit; only admins edit a protected page.
pub(super) fn may_edit(ctx: &Ctx, page: &Page) -> AppResult<i64> {
    let user = ctx.member()?;
    if page.protected && !user.is_admin {
        return Err(AppError::Forbidden(
            "This page is protected: only administrators can edit it.",
        ));
    }
    Ok(user.id)
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
) -> AppResult<EditPage> {
    let page = load_page(&state, &slug).await?;
    may_edit(&ctx, &page)?;
    Ok(EditPage {
        vocabulary: vocabulary(&state).await?,
        ctx,
        tags: page.tag_list().to_input(),
        slug: Some(page.slug),
        title: page.title,
        body: page.body,
        summary: String::new(),
        base_revision: page.revision,
        errors: Vec::new(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/conflict.html")]
struct ConflictPage {
    ctx: Ctx,
    page: Page,
    body: String,
    tags: String,
    summary: String,
    current_revision: i64,
    current_body: String,
    current_tags: String,
}

pub(super) async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Form(form): Form<PageForm>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let author = may_edit(&ctx, &page)?;
    let text = match PageText::parse(&form.body, &form.tags, &form.summary) {
        Ok(text) => text,
        Err(errors) => {
            let slug = Some(page.slug);
            let form = PageForm {
                title: page.title,
                ..form
            };
            return form.reshow(&state, ctx, slug, errors).await;
        }
    };
    match db::save_grouped(
        &state.pool,
        &state.saves,
        &page.slug,
        page.id,
        form.base_revision,
        text,
        Some(author),
    )
    .await?
    {
        SaveOutcome::Saved { .. } | SaveOutcome::Unchanged | SaveOutcome::Moved => {
            Ok(Redirect::to(&format!("/methods/{}", page.slug)).into_response())
        }
        SaveOutcome::Conflict {
            current_revision,
            current_body,
            current_tags,
        } => {
            let conflict = ConflictPage {
                ctx,
                page,
                body: form.body,
                tags: form.tags,
                summary: form.summary,
                current_revision,
                current_body,
                current_tags: TagList::from_stored(&current_tags).to_input(),
            };
            Ok((StatusCode::CONFLICT, conflict).into_response())
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ProtectForm {
    #[serde(default)]
    protected: String,
}

/// Admins protect a page (only admins may then edit it) or lift that.
pub(super) async fn protect(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Form(form): Form<ProtectForm>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    let admin = ctx.admin()?;
    db::set_protected(&state.pool, page.id, form.protected == "1", admin.id).await?;
    Ok(Redirect::to(&format!("/methods/{}", page.slug)))
}
