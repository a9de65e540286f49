//! Handlers for story threads: tell, show, edit (with history), reply, and
//! hide (admins).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::db::{self, Reply, Story, StoryRevision};
use super::{Outcome, StoryText, parse_reply};
use crate::error::{AppError, AppResult};
use crate::pages::db::Page;
use crate::pages::routes::{ShowErrors, load_page, show_page_with_errors};
use crate::state::AppState;
use crate::web::context::Ctx;
use crate::web::field_errors::FieldError;
use crate::web::flash;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/methods/{slug}/stories", get(to_stories).post(tell))
        .route("/methods/{slug}/stories/{id}", get(thread))
        .route(
            "/methods/{slug}/questions",
            get(to_stories).post(ask_in_public),
        )
        .route(
            "/methods/{slug}/stories/{id}/edit",
            get(edit_form).post(edit),
        )
        .route("/methods/{slug}/stories/{id}/history", get(history))
        .route(
            "/methods/{slug}/stories/{id}/revisions/{number}",
            get(revision),
        )
        .route(
            "/methods/{slug}/stories/{id}/replies",
            get(to_thread).post(reply),
        )
        .route("/methods/{slug}/stories/{id}/hide", post(hide_story))
        .route(
            "/methods/{slug}/stories/{id}/replies/{reply}/hide",
            post(hide_reply),
        )
}

/// Where the story form lives. Its address is only posted to, but a visitor
/// whose post was sent to sign in comes back here with a GET.
async fn to_stories(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    Ok(Redirect::to(&format!("/methods/{}#stories", page.slug)))
}

/// Where the reply form lives (see [`to_stories`]).
async fn to_thread(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    Ok(Redirect::to(&format!(
        "/methods/{}/stories/{id}",
        page.slug
    )))
}

/// The story form's fields (also re-shown on the method page).
#[derive(Debug, Default, Deserialize)]
pub struct StoryForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub summary: String,
}

impl StoryForm {
    /// Whether this is a question's form (no outcome to choose, no place).
    pub fn is_question(&self) -> bool {
        self.outcome == Outcome::Question.as_str()
    }

    /// The outcome choices with whether each is selected.
    pub fn outcome_choices(&self) -> Vec<(&'static str, &'static str, bool)> {
        Outcome::TOLD
            .iter()
            .map(|o| (o.as_str(), o.label(), o.as_str() == self.outcome))
            .collect()
    }
}

/// A story of this page that the visitor may see: hidden ones only for admins.
async fn load_story(state: &AppState, ctx: &Ctx, page: &Page, id: &str) -> AppResult<Story> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let story = db::find(&state.pool, page.id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if story.hidden && !ctx.is_admin() {
        return Err(AppError::NotFound);
    }
    Ok(story)
}

/// The author or an admin may edit a story.
fn may_edit(ctx: &Ctx, story: &Story) -> AppResult<i64> {
    let user = ctx.member()?;
    if user.id != story.author_id && !user.is_admin {
        return Err(AppError::Forbidden(
            "Only the story's author (or an administrator) can edit it.",
        ));
    }
    Ok(user.id)
}

async fn tell(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<StoryForm>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let author = ctx.member()?.id;
    let text = match StoryText::parse(&form.title, &form.body, &form.outcome, &form.location) {
        Ok(text) => text,
        Err(errors) => {
            let errors = ShowErrors {
                story: errors,
                story_form: Some(form),
                ..ShowErrors::default()
            };
            return show_page_with_errors(&state, ctx, page, errors).await;
        }
    };
    let thanks = "Thank you: your story is told.";
    start_thread(&state, &session, &page, author, &text, thanks).await
}

/// Starts a story or question thread on `page` and leads to it, thanking
/// its author.
async fn start_thread(
    state: &AppState,
    session: &Session,
    page: &Page,
    author: i64,
    text: &StoryText,
    thanks: &str,
) -> AppResult<Response> {
    let id = db::create(&state.pool, page.id, author, text).await?;
    flash::set(session, thanks).await;
    Ok(Redirect::to(&format!("/methods/{}/stories/{id}", page.slug)).into_response())
}

/// The public question form's fields (also re-shown on the method page).
#[derive(Debug, Default, Deserialize)]
pub struct QuestionForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
}

/// A question to the method's practitioners, asked on its page: a thread
/// marked "question", which everyone on the roster hears of (see
/// [`db::create`]).
async fn ask_in_public(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<QuestionForm>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let author = ctx.member()?.id;
    let text = match StoryText::parse_question(&form.title, &form.body) {
        Ok(text) => text,
        Err(errors) => {
            let errors = ShowErrors {
                question: errors,
                question_form: Some(form),
                ..ShowErrors::default()
            };
            return show_page_with_errors(&state, ctx, page, errors).await;
        }
    };
    let thanks = "Your question is asked. The people on this method's roster are told of it.";
    start_thread(&state, &session, &page, author, &text, thanks).await
}

#[derive(Template, WebTemplate)]
#[template(path = "stories/thread.html")]
struct ThreadPage {
    ctx: Ctx,
    page: Page,
    story: Story,
    replies: Vec<Reply>,
    reply_body: String,
    errors: Vec<String>,
}

async fn thread(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id)): Path<(String, String)>,
) -> AppResult<ThreadPage> {
    let page = load_page(&state, &slug).await?;
    let story = load_story(&state, &ctx, &page, &id).await?;
    let replies = db::replies(&state.pool, story.id, ctx.is_admin()).await?;
    Ok(ThreadPage {
        ctx,
        page,
        story,
        replies,
        reply_body: String::new(),
        errors: Vec::new(),
    })
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    body: String,
}

async fn reply(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<ReplyForm>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let story = load_story(&state, &ctx, &page, &id).await?;
    let author = ctx.member()?.id;
    match parse_reply(&form.body) {
        Ok(body) => {
            let reply_id = db::add_reply(&state.pool, &story, author, &body).await?;
            flash::set(&session, "Your reply is posted.").await;
            Ok(Redirect::to(&format!(
                "/methods/{}/stories/{}#reply-{reply_id}",
                page.slug, story.id
            ))
            .into_response())
        }
        Err(error) => {
            let replies = db::replies(&state.pool, story.id, ctx.is_admin()).await?;
            let thread = ThreadPage {
                ctx,
                page,
                story,
                replies,
                reply_body: form.body,
                errors: vec![error],
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, thread).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "stories/edit.html")]
struct EditPage {
    ctx: Ctx,
    page: Page,
    story: Story,
    form: StoryForm,
    errors: Vec<String>,
}

async fn edit_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id)): Path<(String, String)>,
) -> AppResult<EditPage> {
    let page = load_page(&state, &slug).await?;
    let story = load_story(&state, &ctx, &page, &id).await?;
    may_edit(&ctx, &story)?;
    let form = StoryForm {
        title: story.title.clone(),
        body: story.body.clone(),
        outcome: story.outcome.clone(),
        location: story.location.clone(),
        summary: String::new(),
    };
    Ok(EditPage {
        ctx,
        page,
        story,
        form,
        errors: Vec::new(),
    })
}

async fn edit(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<StoryForm>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let story = load_story(&state, &ctx, &page, &id).await?;
    let editor = may_edit(&ctx, &story)?;
    let parsed = StoryText::parse(&form.title, &form.body, &form.outcome, &form.location);
    let summary = crate::markup::text::one_line("The summary", &form.summary, 300);
    let (text, summary) = match (parsed, summary) {
        (Ok(text), Ok(summary)) => (text, summary),
        (parsed, summary) => {
            let mut errors = FieldError::messages(parsed.err().unwrap_or_default());
            errors.extend(summary.err());
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                EditPage {
                    ctx,
                    page,
                    story,
                    form,
                    errors,
                },
            )
                .into_response());
        }
    };
    db::update(&state.pool, &story, editor, &text, &summary).await?;
    flash::set(&session, "Your changes to the story are saved.").await;
    Ok(Redirect::to(&format!("/methods/{}/stories/{}", page.slug, story.id)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "stories/history.html")]
struct HistoryPage {
    ctx: Ctx,
    page: Page,
    story: Story,
    revisions: Vec<StoryRevision>,
}

async fn history(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id)): Path<(String, String)>,
) -> AppResult<HistoryPage> {
    let page = load_page(&state, &slug).await?;
    let story = load_story(&state, &ctx, &page, &id).await?;
    let revisions = db::revisions(&state.pool, story.id).await?;
    Ok(HistoryPage {
        ctx,
        page,
        story,
        revisions,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "stories/revision.html")]
struct RevisionPage {
    ctx: Ctx,
    page: Page,
    story: Story,
    revision: StoryRevision,
    html: String,
    /// What this revision changed from the one before (none for the first).
    changes: Option<StoryChanges>,
}

/// A story revision compared with the one before it.
struct StoryChanges {
    before: StoryRevision,
    hunks: Vec<crate::markup::diff::Hunk>,
    /// Too large to show: lines removed and added.
    too_large: Option<(usize, usize)>,
}

/// `revision` compared with the revision before it, if there is one.
async fn changes_of(
    state: &AppState,
    story_id: i64,
    revision: &StoryRevision,
) -> AppResult<Option<StoryChanges>> {
    if revision.number <= 1 {
        return Ok(None);
    }
    let Some(before) = db::revision(&state.pool, story_id, revision.number - 1).await? else {
        return Ok(None);
    };
    let (old, new) = (before.body.clone(), revision.body.clone());
    let (hunks, too_large) = crate::markup::diff::compare_for_page(old, new)
        .await
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("story diff failed")))?;
    Ok(Some(StoryChanges {
        before,
        hunks,
        too_large,
    }))
}

async fn revision(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id, number)): Path<(String, String, String)>,
) -> AppResult<RevisionPage> {
    let page = load_page(&state, &slug).await?;
    let story = load_story(&state, &ctx, &page, &id).await?;
    let number: i64 = number.parse().map_err(|_| AppError::NotFound)?;
    let revision = db::revision(&state.pool, story.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    // Old story revisions are rare views, rendered on demand.
    let html = crate::markup::markdown::render_plain(&revision.body);
    let changes = changes_of(&state, story.id, &revision).await?;
    Ok(RevisionPage {
        ctx,
        page,
        story,
        revision,
        html,
        changes,
    })
}

#[derive(Deserialize)]
struct HideForm {
    #[serde(default)]
    hidden: String,
}

async fn hide_story(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<HideForm>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    let admin = ctx.admin()?.id;
    let story = load_story(&state, &ctx, &page, &id).await?;
    db::set_story_hidden(&state.pool, &story, form.hidden == "1", admin).await?;
    Ok(Redirect::to(&format!(
        "/methods/{}/stories/{}",
        page.slug, story.id
    )))
}

async fn hide_reply(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, id, reply_id)): Path<(String, String, String)>,
    Form(form): Form<HideForm>,
) -> AppResult<Redirect> {
    let page = load_page(&state, &slug).await?;
    let admin = ctx.admin()?.id;
    let story = load_story(&state, &ctx, &page, &id).await?;
    let reply_id: i64 = reply_id.parse().map_err(|_| AppError::NotFound)?;
    if !db::set_reply_hidden(&state.pool, &story, reply_id, form.hidden == "1", admin).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!(
        "/methods/{}/stories/{}#reply-{reply_id}",
        page.slug, story.id
    )))
}
