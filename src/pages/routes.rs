//! Handlers for method pages: list, show, create, edit, history, diff,
//! restore, source.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::db::{self, Page, PageSummary, Revision, RevisionMeta, SaveOutcome};
use super::{METHOD_TEMPLATE, PageText, Slug, parse_title};
use crate::error::{AppError, AppResult};
use crate::markup::diff::{Comparison, Hunk};
use crate::roster::routes::RosterForm;
use crate::state::AppState;
use crate::stories::Outcome;
use crate::stories::routes::StoryForm;
use crate::tags::{Tag, TagLink, TagList};
use crate::web::context::Ctx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/methods", get(list).post(create))
        .route("/methods/new", get(new_form))
        .route("/methods/{slug}", get(show))
        .route("/methods/{slug}/edit", get(edit_form).post(edit))
        .route("/methods/{slug}/history", get(history))
        .route("/methods/{slug}/revisions/{number}", get(revision))
        .route("/methods/{slug}/revisions/{number}/restore", post(restore))
        .route("/methods/{slug}/diff", get(diff))
        .route("/methods/{slug}/source", get(source))
        .route(
            "/methods/{slug}/revisions/{number}/source",
            get(revision_source),
        )
        .route("/methods/{slug}/protect", post(protect))
}

/// Revisions per history page.
const HISTORY_PAGE: i64 = 50;

/// Finds a page by its URL slug; a malformed slug is simply not found, a
/// well-formed unknown one offers to create the page.
pub async fn load_page(state: &AppState, raw: &str) -> AppResult<Page> {
    let slug = Slug::parse(raw).ok_or(AppError::NotFound)?;
    db::find(&state.pool, &slug)
        .await?
        .ok_or_else(|| no_such_page(&slug))
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

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    pages: Vec<PageSummary>,
    recent: Vec<PageSummary>,
    /// The latest edits, stories, replies and roster joins.
    activity: Vec<crate::recent::Activity>,
}

async fn home(State(state): State<AppState>, ctx: Ctx) -> AppResult<HomePage> {
    let pages = db::list(&state.pool, &[]).await?;
    let recent = db::recently_updated(&state.pool, 8).await?;
    let activity = crate::recent::activity(&state.pool, None, 8, 0).await?;
    Ok(HomePage {
        ctx,
        pages,
        recent,
        activity,
    })
}

/// One tag offered to narrow (or widen) the list, with how many listed pages carry it.
pub struct Facet {
    pub tag: String,
    pub count: usize,
    pub url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/list.html")]
struct ListPage {
    ctx: Ctx,
    /// The methods on this page of the list.
    pages: Vec<(db::ListedPage, Vec<TagLink>)>,
    /// How many methods match, over all pages of the list.
    total: usize,
    selected: Vec<Facet>,
    facets: Vec<Facet>,
    /// Links to the previous and next pages of the list.
    newer: Option<String>,
    older: Option<String>,
}

/// Methods shown per page of the list: a tag matching thousands of pages
/// must not make one answer of megabytes.
const LIST_PAGE: usize = db::LIST_PAGE as usize;

/// The `page` number of a query string (1 when absent or malformed).
fn page_from_query(query: Option<&str>) -> usize {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "page")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The `tag` values of a query string, in order, normalised; invalid ones are dropped.
pub fn tags_from_query(query: Option<&str>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "tag"
            && let Ok(tag) = Tag::parse(&value)
            && !tags.contains(&tag)
        {
            tags.push(tag);
        }
    }
    tags.truncate(crate::tags::MAX_TAGS);
    tags
}

/// True when the query asks for a tag no page can carry (one that is not a
/// valid tag, or more tags than a page may have): such a filter matches no
/// page, rather than being dropped and widening the list.
fn asks_for_impossible_tags(query: Option<&str>) -> bool {
    let mut distinct: Vec<Tag> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key != "tag" || value.trim().is_empty() {
            continue;
        }
        match Tag::parse(&value) {
            Ok(tag) if !distinct.contains(&tag) => distinct.push(tag),
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    distinct.len() > crate::tags::MAX_TAGS
}

/// `/methods?tag=…&tag=…` for a set of tags.
pub fn filter_url(tags: &[&Tag]) -> String {
    if tags.is_empty() {
        return "/methods".to_owned();
    }
    let query: Vec<String> = tags
        .iter()
        .map(|t| format!("tag={}", crate::text::url_encode(t.as_str())))
        .collect();
    format!("/methods?{}", query.join("&"))
}

/// The page of the list to show: `requested`, or the last one when it is
/// past the end (page 1 when nothing matches).
fn clamp_page(requested: usize, total: i64) -> usize {
    let total = usize::try_from(total).unwrap_or(0);
    requested.min(total.div_ceil(LIST_PAGE).max(1))
}

/// What the list shows: the counts over all of it, the page number shown
/// and its methods, and the indicator names.
struct ListAnswer {
    counts: std::sync::Arc<db::ListCounts>,
    number: usize,
    pages: std::sync::Arc<Vec<db::ListedPage>>,
    labels: std::collections::HashMap<String, String>,
}

/// One page of the list with the counts over all of it: from memory when
/// nothing that changes them happened since they were read (one short
/// statement checks that), else read again, the counts in one statement
/// with the page.
async fn list_answer(state: &AppState, chosen: &[Tag], requested: usize) -> AppResult<ListAnswer> {
    let mut head = match kept_list(state, chosen, requested).await? {
        Kept::Answer(answer) => return Ok(answer),
        Kept::Missing(head) => head,
    };
    let turn = crate::db::heavy_read_turn().await;
    if turn.waited {
        match kept_list(state, chosen, requested).await? {
            Kept::Answer(answer) => return Ok(answer),
            Kept::Missing(fresh) => head = fresh,
        }
    }
    let asked = i64::try_from(requested).unwrap_or(i64::MAX);
    let mut view = db::list_page(&state.pool, chosen, asked).await?;
    let counts = view
        .counts
        .take()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the list came without its counts")))?;
    let counts = state.lists.put_counts(chosen, counts);
    let number = clamp_page(requested, counts.total);
    let pages = state
        .lists
        .put_page(chosen, counts.generation, number, view.pages);
    Ok(ListAnswer {
        counts,
        number,
        pages,
        labels: head.labels,
    })
}

/// What is kept of a list: the answer, or the head read to find out.
enum Kept {
    Answer(ListAnswer),
    Missing(db::ListHead),
}

/// The list's page from what is kept, reading only the page's rows when
/// the counts are kept but not that page.
async fn kept_list(state: &AppState, chosen: &[Tag], requested: usize) -> AppResult<Kept> {
    let head = db::list_head(&state.pool).await?;
    let generation = head.generation;
    let Some(counts) = state.lists.counts(chosen, generation) else {
        return Ok(Kept::Missing(head));
    };
    let number = clamp_page(requested, counts.total);
    let pages = match state.lists.page(chosen, generation, number) {
        Some(pages) => pages,
        None => {
            let offset = i64::try_from((number - 1) * LIST_PAGE).unwrap_or(i64::MAX);
            let view = db::list_rows(&state.pool, chosen, offset).await?;
            if view.generation != generation {
                return Ok(Kept::Missing(head));
            }
            state.lists.put_page(chosen, generation, number, view.pages)
        }
    };
    Ok(Kept::Answer(ListAnswer {
        counts,
        number,
        pages,
        labels: head.labels,
    }))
}

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> AppResult<ListPage> {
    let chosen = tags_from_query(query.as_deref());
    let requested = page_from_query(query.as_deref());
    let (total, counts, number, pages, labels) = if asks_for_impossible_tags(query.as_deref()) {
        (0, Vec::new(), 1, Default::default(), Default::default())
    } else {
        let answer = list_answer(&state, &chosen, requested).await?;
        (
            answer.counts.total,
            answer.counts.facets.clone(),
            answer.number,
            answer.pages,
            answer.labels,
        )
    };
    let total = usize::try_from(total).unwrap_or(0);
    let selected = chosen
        .iter()
        .map(|tag| Facet {
            tag: tag.as_str().to_owned(),
            count: total,
            url: filter_url(&chosen.iter().filter(|t| *t != tag).collect::<Vec<_>>()),
        })
        .collect();
    let mut facets: Vec<Facet> = counts
        .into_iter()
        .filter_map(|(name, count)| {
            let tag = Tag::parse(&name).ok()?;
            if chosen.contains(&tag) {
                return None;
            }
            let mut with: Vec<&Tag> = chosen.iter().collect();
            with.push(&tag);
            Some(Facet {
                url: filter_url(&with),
                tag: name,
                count: usize::try_from(count).unwrap_or(0),
            })
        })
        .collect();
    facets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
    let last = total.div_ceil(LIST_PAGE).max(1);
    let page_url = |n: usize| {
        let base = filter_url(&chosen.iter().collect::<Vec<_>>());
        let joiner = if base.contains('?') { '&' } else { '?' };
        format!("{base}{joiner}page={n}")
    };
    let newer = (number > 1).then(|| page_url(number - 1));
    let older = (number < last).then(|| page_url(number + 1));
    let pages = pages
        .iter()
        .map(|p| {
            let links = TagLink::all(&p.tag_list(), &labels);
            (p.clone(), links)
        })
        .collect();
    Ok(ListPage {
        ctx,
        pages,
        total,
        selected,
        facets,
        newer,
        older,
    })
}

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
    stories: Vec<crate::stories::db::StoryLine>,
    tally: Vec<TallyItem>,
    story_total: i64,
    /// The outcomes with at least one story, for the tally line.
    tally_nonzero: Vec<TallyItem>,
    /// The outcome the stories are filtered by, if any.
    outcome: Option<&'static str>,
    roster: Vec<crate::roster::db::Entry>,
    /// Whether the signed-in user is on the roster.
    on_roster: bool,
    story_form: StoryForm,
    story_errors: Vec<String>,
    roster_form: RosterForm,
    roster_errors: Vec<String>,
    /// In a members' skeleton, what the roster form is made from (see
    /// `cache::members`); empty otherwise.
    roster_slot: String,
}

/// Form input and messages to re-show on the method page (422).
#[derive(Default)]
pub struct ShowErrors {
    pub story: Vec<String>,
    pub story_form: Option<StoryForm>,
    pub roster: Vec<String>,
    pub roster_form: Option<RosterForm>,
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    outcome: String,
}

async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<ShowQuery>,
) -> AppResult<Response> {
    let outcome = Outcome::parse(&q.outcome);
    let view = load_view(&state, &ctx, &slug, outcome).await?;
    Ok(render_show(ctx, view, outcome, ShowErrors::default()).into_response())
}

/// Everything the method page shows, or the "no such page" answer.
async fn load_view(
    state: &AppState,
    ctx: &Ctx,
    raw: &str,
    outcome: Option<Outcome>,
) -> AppResult<db::PageView> {
    let slug = Slug::parse(raw).ok_or(AppError::NotFound)?;
    db::view(
        &state.pool,
        &slug,
        ctx.is_admin(),
        outcome.map(Outcome::as_str),
    )
    .await?
    .ok_or_else(|| no_such_page(&slug))
}

/// Re-shows the method page with a story or roster form's input and messages.
pub async fn show_page_with_errors(
    state: &AppState,
    ctx: Ctx,
    page: Page,
    errors: ShowErrors,
) -> AppResult<Response> {
    let view = load_view(state, &ctx, &page.slug, None).await?;
    let mut response = render_show(ctx, view, None, errors).into_response();
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

fn render_show(
    ctx: Ctx,
    view: db::PageView,
    outcome: Option<Outcome>,
    errors: ShowErrors,
) -> ShowPage {
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
    let roster_slot = if crate::cache::members::is_skeleton(&ctx) {
        crate::cache::members::roster_slot(&view.page.slug, &view.roster)
    } else {
        String::new()
    };
    ShowPage {
        roster_slot,
        on_roster: mine.is_some(),
        tags: TagLink::all(&view.page.tag_list(), &view.tag_names),
        story_total: tally.iter().map(|t| t.count).sum(),
        tally_nonzero: tally.iter().filter(|t| t.count > 0).cloned().collect(),
        outcome: outcome.map(Outcome::as_str),
        ctx,
        page: view.page,
        backlinks: view.backlinks,
        related: view.related,
        stories: view.stories,
        tally,
        roster: view.roster,
        story_form: errors.story_form.unwrap_or_default(),
        story_errors: errors.story,
        roster_form,
        roster_errors: errors.roster,
    }
}

/// The create and edit form (one template, two uses).
#[derive(Template, WebTemplate)]
#[template(path = "pages/edit.html")]
struct EditPage {
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
struct NewQuery {
    #[serde(default)]
    title: String,
}

async fn new_form(
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
        body: METHOD_TEMPLATE.to_owned(),
        tags: String::new(),
        summary: String::new(),
        base_revision: 0,
        errors: Vec::new(),
    })
}

#[derive(Debug, Deserialize)]
struct PageForm {
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

async fn create(
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
fn may_edit(ctx: &Ctx, page: &Page) -> AppResult<i64> {
    let user = ctx.member()?;
    if page.protected && !user.is_admin {
        return Err(AppError::Forbidden(
            "This page is protected: only administrators can edit it.",
        ));
    }
    Ok(user.id)
}

async fn edit_form(
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

async fn edit(
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

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/history.html")]
struct HistoryPage {
    ctx: Ctx,
    page: Page,
    /// Each revision with the tags it added and removed.
    revisions: Vec<(RevisionMeta, TagChange)>,
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

async fn history(
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
    let older_tags: Vec<String> = revisions
        .iter()
        .skip(1)
        .map(|r| r.tags.clone())
        .chain([String::new()])
        .collect();
    revisions.truncate(HISTORY_PAGE as usize);
    let revisions = revisions
        .into_iter()
        .zip(older_tags)
        .map(|(rev, older)| {
            let change = TagChange::between(&older, &rev.tags);
            (rev, change)
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
struct RevisionPage {
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

async fn revision(
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

async fn restore(
    State(state): State<AppState>,
    ctx: Ctx,
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
    db::save_grouped(
        &state.pool,
        &state.saves,
        &page.slug,
        page.id,
        page.revision,
        text,
        Some(author),
    )
    .await?;
    Ok(Redirect::to(&format!("/methods/{}/history", page.slug)))
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/diff.html")]
struct DiffPage {
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

async fn diff(
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
    let comparison =
        crate::markup::diff::off_thread(move || crate::markup::diff::compare(&old, &new))
            .await
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the diff task failed")))?;
    let (hunks, too_large) = match comparison {
        Comparison::Hunks(hunks) => (hunks, None),
        Comparison::TooLarge { removed, added } => (Vec::new(), Some((removed, added))),
    };
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

async fn source(State(state): State<AppState>, Path(slug): Path<String>) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    Ok(markdown_source(page.body))
}

/// An old revision's Markdown, where a diff too large to show sends readers.
async fn revision_source(
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

#[derive(Deserialize)]
struct ProtectForm {
    #[serde(default)]
    protected: String,
}

/// Admins protect a page (only admins may then edit it) or lift that.
async fn protect(
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
