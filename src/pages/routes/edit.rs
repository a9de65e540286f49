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
use crate::web::flash;
use tower_sessions::Session;

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
    /// Suggestions for the tag box: (tag, label, indicator group).
    vocabulary: std::sync::Arc<Vec<(String, String, String)>>,
    /// Doubts about typed tags the author may confirm (`crate::tags::check`).
    tag_warnings: Vec<String>,
    /// New page only: the pages that already have this title, offered
    /// instead (the form then asks to confirm a new one).
    duplicates: Vec<db::Duplicate>,
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
        tag_warnings: Vec::new(),
        duplicates: Vec::new(),
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
    /// Set when the author keeps tags the form warned about.
    #[serde(default)]
    confirm_tags: Option<String>,
    /// `1`: create the page even though one with this title exists.
    #[serde(default)]
    create_anyway: String,
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
        self.reshow_with(state, ctx, slug, errors, Vec::new()).await
    }

    async fn reshow_with(
        self,
        state: &AppState,
        ctx: Ctx,
        slug: Option<String>,
        errors: Vec<String>,
        tag_warnings: Vec<String>,
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
            tag_warnings,
            duplicates: Vec::new(),
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    }

    /// Typed tags that look like slips (an unknown indicator-like code, a
    /// near-duplicate of a tag in use), unless the author confirmed them.
    async fn tag_doubts(&self, state: &AppState, tags: &TagList) -> AppResult<Vec<String>> {
        if self.confirm_tags.is_some() {
            return Ok(Vec::new());
        }
        Ok(crate::tags::check::check(&state.pool, tags).await?)
    }
}

/// The tag suggestions, kept while no tag comes or goes and no indicator
/// changes (`cache::by_clock`); read for every form when the clock cannot be.
async fn vocabulary(state: &AppState) -> AppResult<std::sync::Arc<Vec<(String, String, String)>>> {
    let now = state.page_cache.now().await;
    let read = crate::tags::db::vocabulary(&state.pool);
    Ok(state.vocabulary.get_or_read(now, read).await?)
}

pub(super) async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
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
    if form.create_anyway != "1" {
        let duplicates = db::duplicates(&state.pool, &title).await?;
        if !duplicates.is_empty() {
            let page = EditPage {
                vocabulary: vocabulary(&state).await?,
                ctx,
                slug: None,
                title: form.title,
                body: form.body,
                tags: form.tags,
                summary: form.summary,
                base_revision: 0,
                errors: Vec::new(),
                tag_warnings: Vec::new(),
                duplicates,
            };
            return Ok((StatusCode::CONFLICT, page).into_response());
        }
    }
    let doubts = form.tag_doubts(&state, &text.tags).await?;
    if !doubts.is_empty() {
        return form
            .reshow_with(&state, ctx, None, Vec::new(), doubts)
            .await;
    }
    let slug = db::create(&state.pool, &title, &text, Some(author)).await?;
    flash::set(&session, "Page created. Thank you!").await;
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
        tag_warnings: Vec::new(),
        duplicates: Vec::new(),
    })
}

pub(super) async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
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
    // Only tags the edit adds are questioned: those the page has were
    // accepted when they were added (and an edit that keeps them asks
    // nothing of the database).
    let added = text.tags.added_to(&page.tag_list());
    let doubts = form.tag_doubts(&state, &added).await?;
    if !doubts.is_empty() {
        let form = PageForm {
            title: page.title,
            ..form
        };
        return form
            .reshow_with(&state, ctx, Some(page.slug), Vec::new(), doubts)
            .await;
    }
    let outcome = db::save_grouped(
        &state.pool,
        &state.saves,
        &page.slug,
        page.id,
        form.base_revision,
        text,
        Some(author),
    )
    .await?;
    match outcome {
        SaveOutcome::Conflict {
            current_revision,
            current_body,
            current_tags,
        } => {
            let mine = conflict::Mine {
                body: form.body,
                tags: form.tags,
                summary: form.summary,
            };
            conflict::conflict_page(
                &state,
                ctx,
                page,
                mine,
                current_revision,
                current_body,
                &current_tags,
            )
            .await
        }
        saved => {
            conflict::confirm_save(&state, &session, page.id, &saved).await?;
            Ok(Redirect::to(&format!("/methods/{}", page.slug)).into_response())
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
