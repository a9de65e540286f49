//! The home page and the method list, filtered by tags, a page of rows at
//! a time, and the lists kept lately ("wait for a turn, then look again").

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};

use crate::db::Look;
use crate::error::{AppError, AppResult};
use crate::pages::db::{self, PageSummary};
use crate::state::AppState;
use crate::tags::{Tag, TagLink};
use crate::web::context::Ctx;

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub(super) struct HomePage {
    ctx: Ctx,
    pages: Vec<PageSummary>,
    recent: Vec<PageSummary>,
    /// The latest edits, stories, replies and roster joins.
    activity: Vec<crate::recent::Activity>,
}

pub(super) async fn home(State(state): State<AppState>, ctx: Ctx) -> AppResult<HomePage> {
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
    /// The indicator's name, for an indicator tag.
    pub label: Option<String>,
    pub count: usize,
    pub url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/list.html")]
pub(super) struct ListPage {
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
        .map(|t| format!("tag={}", crate::markup::text::url_encode(t.as_str())))
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
    labels: std::sync::Arc<db::Labels>,
}

/// One page of the list with the counts over all of it: from memory when
/// nothing that changes them happened since they were read (one short
/// statement checks that), else read again, the counts in one statement
/// with the page.
async fn list_answer(state: &AppState, chosen: &[Tag], requested: usize) -> AppResult<ListAnswer> {
    let looked = crate::db::cached_or_turn(&state.pool, || kept_list(state, chosen, requested));
    let (_turn, labels) = match looked.await? {
        Look::Found(answer) => return Ok(answer),
        Look::Missing(missing) => missing,
    };
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
        labels,
    })
}

/// The lists' generation and the indicator names. While the clock this
/// process keeps says nothing was written, both come from memory: the
/// generation from the clock, the names kept with it (`cache::by_clock`).
/// Otherwise (or when the clock cannot be read) one statement reads them.
/// A member's list was two statements a request on PostgreSQL (the
/// session's row, then this); it is one.
async fn list_head(state: &AppState) -> AppResult<(i64, std::sync::Arc<db::Labels>)> {
    let Some(now) = state.page_cache.now().await else {
        let head = db::list_head(&state.pool).await?;
        return Ok((head.generation, std::sync::Arc::new(head.labels)));
    };
    let read = async { db::list_head(&state.pool).await.map(|head| head.labels) };
    let labels = state.list_labels.get_or_read(Some(now), read).await?;
    Ok((now.lists, labels))
}

/// The list's page from what is kept, reading only the page's rows when
/// the counts are kept but not that page; else the names, to read the rest.
async fn kept_list(
    state: &AppState,
    chosen: &[Tag],
    requested: usize,
) -> AppResult<Look<ListAnswer, std::sync::Arc<db::Labels>>> {
    let (generation, labels) = list_head(state).await?;
    let Some(counts) = state.lists.counts(chosen, generation) else {
        return Ok(Look::Missing(labels));
    };
    let number = clamp_page(requested, counts.total);
    let pages = match state.lists.page(chosen, generation, number) {
        Some(pages) => pages,
        None => {
            let offset = i64::try_from((number - 1) * LIST_PAGE).unwrap_or(i64::MAX);
            let view = db::list_rows(&state.pool, chosen, offset).await?;
            if view.generation != generation {
                return Ok(Look::Missing(labels));
            }
            state.lists.put_page(chosen, generation, number, view.pages)
        }
    };
    Ok(Look::Found(ListAnswer {
        counts,
        number,
        pages,
        labels,
    }))
}

pub(super) async fn list(
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
            label: labels.get(tag.as_str()).cloned(),
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
                label: labels.get(&name).cloned(),
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
            let links = TagLink::within_filter(&p.tag_list(), &labels, &chosen);
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
