//! The method page itself, with its stories, roster and tally, and the
//! same page re-rendered with a story's or roster entry's form errors.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::*;
use crate::cache::freshness::KeepUntil;
use crate::error::{AppError, AppResult};
use crate::pages::Slug;
use crate::pages::db::{self, Page};
use crate::roster::routes::RosterForm;
use crate::state::AppState;
use crate::stories::Outcome;
use crate::stories::routes::{QuestionForm, StoryForm};
use crate::tags::TagLink;
use crate::web::context::Ctx;
use crate::web::field_errors::FieldError;

/// One outcome in a page's story tally.
#[derive(Clone)]
pub struct TallyItem {
    pub outcome: &'static str,
    pub label: &'static str,
    pub count: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/show.html")]
struct ShowPage {
    ctx: Ctx,
    page: Page,
    tags: Vec<TagLink>,
    backlinks: Vec<db::PageLink>,
    related: Vec<db::PageLink>,
    stories: Vec<db::StoryLine>,
    tally: Vec<TallyItem>,
    /// Threads of every kind, stories and questions.
    story_total: i64,
    /// The outcomes with at least one story told, for the tally line;
    /// questions are counted apart (`question_total`), as near the title.
    tally_told: Vec<TallyItem>,
    told_total: i64,
    question_total: i64,
    /// The outcome the stories are filtered by, if any.
    outcome: Option<&'static str>,
    /// Each entry and whether it is current (confirmed since the cutoff).
    roster: Vec<(db::RosterEntry, bool)>,
    /// The page's files: name, address, thumbnail address, "PDF, 2.4 MB".
    files: Vec<(String, String, Option<String>, String)>,
    /// Whether the signed-in user is on the roster.
    on_roster: bool,
    /// Whether their entry (if any) is current; if not, they are asked.
    my_entry_current: bool,
    story_form: StoryForm,
    story_errors: Vec<FieldError>,
    roster_form: RosterForm,
    roster_errors: Vec<FieldError>,
    question_form: QuestionForm,
    question_errors: Vec<FieldError>,
    /// In a members' skeleton, what the roster form is made from (see
    /// `cache::members`); empty otherwise.
    roster_slot: String,
    /// The page's sections, for "On this page".
    outline: Vec<crate::markup::outline::Section>,
    /// "4 stories (3 success, 1 failure)", near the title.
    stories_sentence: String,
    /// "3 people use this", near the title.
    people_sentence: String,
    /// The first paragraph, for `<meta name="description">`.
    description: String,
}

/// Longest `<meta name="description">`, in characters (what search
/// engines show).
const DESCRIPTION_CHARS: usize = 160;

/// How many stories a page has, by outcome, and how many questions, as
/// said near its title.
pub fn stories_sentence(tally: &[TallyItem]) -> String {
    let (told, total, questions) = told_and_asked(tally);
    let parts: Vec<String> = told
        .iter()
        .map(|t| format!("{} {}", t.count, t.label.to_lowercase()))
        .collect();
    let stories = match total {
        0 => "No stories yet".to_owned(),
        1 => format!("1 story ({})", parts.join(", ")),
        n => format!("{n} stories ({})", parts.join(", ")),
    };
    match questions {
        0 => stories,
        1 => format!("{stories}, 1 question"),
        n => format!("{stories}, {n} questions"),
    }
}

/// The outcomes with stories told (questions left out), how many stories,
/// and how many questions: questions are counted apart wherever the
/// stories are counted.
fn told_and_asked(tally: &[TallyItem]) -> (Vec<TallyItem>, i64, i64) {
    let question = Outcome::Question.as_str();
    let (questions, told): (Vec<&TallyItem>, Vec<&TallyItem>) =
        tally.iter().partition(|t| t.outcome == question);
    (
        told.iter()
            .filter(|t| t.count > 0)
            .map(|t| (*t).clone())
            .collect(),
        told.iter().map(|t| t.count).sum(),
        questions.iter().map(|t| t.count).sum(),
    )
}

/// How many people are on a page's roster, as said near its title.
pub fn people_sentence(count: usize) -> String {
    match count {
        0 => "No one uses this yet".to_owned(),
        1 => "1 person uses this".to_owned(),
        n => format!("{n} people use this"),
    }
}

/// A file as the method page lists it.
fn file_line(slug: &str, file: db::PageFile) -> (String, String, Option<String>, String) {
    let url = crate::files::file_url(&format!("/methods/{slug}"), &file.name);
    let thumbnail = (file.thumb == 1).then(|| format!("{url}/thumbnail?version={}", file.version));
    let label = crate::files::kind::Kind::from_media_type(&file.media_type)
        .map_or("File", crate::files::kind::Kind::label);
    let about = format!("{label}, {}", crate::files::human_size(file.size));
    (file.name, url, thumbnail, about)
}

/// Form input and messages to re-show on the method page (422).
#[derive(Default)]
pub struct ShowErrors {
    pub story: Vec<FieldError>,
    pub story_form: Option<StoryForm>,
    pub roster: Vec<FieldError>,
    pub roster_form: Option<RosterForm>,
    pub question: Vec<FieldError>,
    pub question_form: Option<QuestionForm>,
}

#[derive(Deserialize, Default)]
pub(super) struct ShowQuery {
    #[serde(default)]
    outcome: String,
}

pub(super) async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<ShowQuery>,
) -> AppResult<Response> {
    let outcome = Outcome::parse(&q.outcome);
    let view = load_view(&state, &ctx, &slug, outcome).await?;
    let cutoff = state.config.roster_cutoff();
    let until = roster_turns(&view.roster, cutoff.as_deref(), &state.config);
    let mut response =
        render_show(ctx, view, outcome, ShowErrors::default(), cutoff).into_response();
    if let Some(until) = until {
        response.extensions_mut().insert(KeepUntil(until));
    }
    Ok(response)
}

/// When the first entry shown as current stops being so (its confirmation
/// grows older than the site allows): a kept copy of the page must not
/// outlive that moment, though nothing is written then.
fn roster_turns(
    roster: &[db::RosterEntry],
    cutoff: Option<&str>,
    config: &crate::config::ServeArgs,
) -> Option<std::time::SystemTime> {
    let days = config.roster_confirm_days()?;
    roster
        .iter()
        .filter(|e| e.is_current(cutoff))
        .filter_map(|e| {
            time::OffsetDateTime::parse(
                &e.confirmed_at,
                &time::format_description::well_known::Rfc3339,
            )
            .ok()
        })
        .min()
        .map(|confirmed| std::time::SystemTime::from(confirmed + time::Duration::days(days)))
}

/// Everything the method page shows, or the "no such page" answer.
async fn load_view(
    state: &AppState,
    ctx: &Ctx,
    raw: &str,
    outcome: Option<Outcome>,
) -> AppResult<db::PageView> {
    let slug = Slug::parse(raw).ok_or(AppError::NotFound)?;
    let view = db::view(
        &state.pool,
        &slug,
        ctx.is_admin(),
        outcome.map(Outcome::as_str),
    )
    .await?
    .ok_or_else(|| no_such_page(&slug))?;
    if view.page.deleted_at.is_some() {
        return Err(gone(view.page));
    }
    Ok(view)
}

/// Re-shows the method page with a story or roster form's input and messages.
pub async fn show_page_with_errors(
    state: &AppState,
    ctx: Ctx,
    page: Page,
    errors: ShowErrors,
) -> AppResult<Response> {
    let view = load_view(state, &ctx, &page.slug, None).await?;
    let cutoff = state.config.roster_cutoff();
    let mut response = render_show(ctx, view, None, errors, cutoff).into_response();
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

fn render_show(
    ctx: Ctx,
    mut view: db::PageView,
    outcome: Option<Outcome>,
    errors: ShowErrors,
    cutoff: Option<String>,
) -> ShowPage {
    // Current entries first, then those not confirmed since the cutoff.
    let current = |e: &db::RosterEntry| e.is_current(cutoff.as_deref());
    view.roster.sort_by_key(|e| !current(e));
    let tally: Vec<TallyItem> = crate::stories::db::tally(&view.tally)
        .into_iter()
        .map(|(o, count)| TallyItem {
            outcome: o.as_str(),
            label: o.label(),
            count,
        })
        .collect();
    let mine = view.roster.iter().find(|e| ctx.is_user(&e.user_id));
    let roster_form = errors.roster_form.unwrap_or_else(|| RosterForm {
        tip: mine.map(|e| e.tip.clone()).unwrap_or_default(),
        location: mine.map(|e| e.location.clone()).unwrap_or_default(),
    });
    let my_entry_current = mine.is_none_or(current);
    let roster_slot = if crate::cache::members::is_skeleton(&ctx) {
        crate::cache::members::roster_slot(
            &view.page.slug,
            &view.page.title,
            &view.roster,
            cutoff.as_deref(),
        )
    } else {
        String::new()
    };
    let description = crate::markup::outline::first_paragraph(&view.page.html, DESCRIPTION_CHARS)
        .unwrap_or_else(|| format!("{} at {}", view.page.title, ctx.site.org));
    let files = view
        .files
        .into_iter()
        .map(|f| file_line(&view.page.slug, f))
        .collect();
    let (tally_told, told_total, question_total) = told_and_asked(&tally);
    ShowPage {
        outline: crate::markup::outline::outline(&view.page.html),
        stories_sentence: stories_sentence(&tally),
        people_sentence: people_sentence(view.roster.len()),
        description,
        roster_slot,
        on_roster: mine.is_some(),
        my_entry_current,
        tags: TagLink::all(&view.page.tag_list(), &view.tag_names),
        story_total: tally.iter().map(|t| t.count).sum(),
        tally_told,
        told_total,
        question_total,
        outcome: outcome.map(Outcome::as_str),
        ctx,
        page: view.page,
        backlinks: view.backlinks,
        related: view.related,
        stories: view.stories,
        tally,
        roster: view
            .roster
            .into_iter()
            .map(|e| {
                let current = current(&e);
                (e, current)
            })
            .collect(),
        files,
        story_form: errors.story_form.unwrap_or_default(),
        story_errors: errors.story,
        question_form: errors.question_form.unwrap_or_default(),
        question_errors: errors.question,
        roster_form,
        roster_errors: errors.roster,
    }
}
