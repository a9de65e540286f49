//! `/recent` (HTML) and the Atom feeds: `/recent.atom`,
//! `/methods/{slug}/history.atom`, `/methods.atom?tag=…`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use super::feed::{FEED_ENTRIES, Feed, FeedEntry};
use super::{Activity, Kind, activity, revision_id};
use crate::error::AppResult;
use crate::pages::routes::{filter_url, load_page, tags_from_query};
use crate::state::AppState;
use crate::web::context::Ctx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recent", get(recent))
        .route("/recent.atom", get(recent_feed))
        .route("/methods.atom", get(methods_feed))
        .route("/methods/{slug}/history.atom", get(history_feed))
}

/// Entries per page of `/recent`.
const PER_PAGE: i64 = 50;
/// Pages of `/recent` offered; older changes are in each page's history.
const MAX_PAGES: i64 = 200;

/// `kind` and `page` of the query string, read leniently: an unknown kind
/// shows every kind, a bad page number the first page.
fn params(raw: Option<&str>) -> (Option<Kind>, i64) {
    let mut kind = None;
    let mut page = 1;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*key {
            "kind" => kind = Kind::parse(&value),
            "page" => page = value.parse::<i64>().unwrap_or(1),
            _ => {}
        }
    }
    (kind, page.clamp(1, MAX_PAGES))
}

#[derive(Template, WebTemplate)]
#[template(path = "recent/list.html")]
struct RecentPage {
    ctx: Ctx,
    entries: Vec<Activity>,
    /// "Everything", then each kind.
    filters: Vec<Filter>,
    /// The feed of what this page lists.
    feed_url: String,
    /// Set when a kind is chosen (the layout already links the full feed).
    filtered: Option<&'static str>,
    newer_url: Option<String>,
    older_url: Option<String>,
}

/// A link that shows one kind of change (or all).
struct Filter {
    label: &'static str,
    url: String,
    current: bool,
}

/// `/recent` with this filter and page, or its feed (`suffix` ".atom").
fn recent_url(suffix: &str, kind: Option<Kind>, number: i64) -> String {
    let mut query = Vec::new();
    if let Some(kind) = kind {
        query.push(format!("kind={}", kind.as_str()));
    }
    if number > 1 {
        query.push(format!("page={number}"));
    }
    if query.is_empty() {
        format!("/recent{suffix}")
    } else {
        format!("/recent{suffix}?{}", query.join("&"))
    }
}

async fn recent(
    State(state): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> AppResult<RecentPage> {
    let (kind, number) = params(raw.as_deref());
    let mut entries = activity(&state.pool, kind, PER_PAGE + 1, (number - 1) * PER_PAGE).await?;
    let has_older = entries.len() as i64 > PER_PAGE && number < MAX_PAGES;
    entries.truncate(PER_PAGE as usize);
    let mut filters = vec![Filter {
        label: "Everything",
        url: recent_url("", None, 1),
        current: kind.is_none(),
    }];
    filters.extend(Kind::ALL.into_iter().map(|k| Filter {
        label: k.label(),
        url: recent_url("", Some(k), 1),
        current: kind == Some(k),
    }));
    Ok(RecentPage {
        ctx,
        entries,
        filters,
        feed_url: recent_url(".atom", kind, 1),
        filtered: kind.map(Kind::label),
        newer_url: (number > 1).then(|| recent_url("", kind, number - 1)),
        older_url: has_older.then(|| recent_url("", kind, number + 1)),
    })
}

async fn recent_feed(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let (kind, _) = params(raw.as_deref());
    let entries = activity(&state.pool, kind, FEED_ENTRIES, 0).await?;
    let filter = kind
        .map(|k| format!("?kind={}", k.as_str()))
        .unwrap_or_default();
    Feed {
        id: format!("recent{filter}"),
        about: match kind {
            Some(kind) => format!("recent changes ({})", kind.label().to_lowercase()),
            None => "recent changes".to_owned(),
        },
        page: format!("/recent{filter}"),
        entries: entries
            .into_iter()
            .map(|a| FeedEntry {
                id: a.id,
                path: a.url.unwrap_or_else(|| "/recent".to_owned()),
                title: a.headline,
                updated: a.when,
                author: a.who.map(|p| p.name),
                summary: a.summary,
            })
            .collect(),
    }
    .respond(&state)
}

async fn history_feed(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let page = load_page(&state, &slug).await?;
    let revisions = crate::pages::db::history(&state.pool, page.id, FEED_ENTRIES, 0).await?;
    let page_url = format!("/methods/{}", page.slug);
    Feed {
        id: format!("page/{}/history", page.id),
        about: format!("changes to {}", page.title),
        page: format!("{page_url}/history"),
        entries: revisions
            .into_iter()
            .map(|rev| FeedEntry {
                id: revision_id(page.id, rev.number),
                title: format!("{}: revision {}", page.title, rev.number),
                path: if rev.number > 1 {
                    format!("{page_url}/diff?from={}&to={}", rev.number - 1, rev.number)
                } else {
                    format!("{page_url}/revisions/1")
                },
                updated: rev.created_at,
                author: rev.author_name,
                summary: rev.summary,
            })
            .collect(),
    }
    .respond(&state)
}

async fn methods_feed(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let tags = tags_from_query(raw.as_deref());
    let pages = super::db::changed_pages(&state.pool, &tags, FEED_ENTRIES).await?;
    let list_url = filter_url(&tags.iter().collect::<Vec<_>>());
    let query = list_url.strip_prefix("/methods").unwrap_or_default();
    let names: Vec<&str> = tags.iter().map(|t| t.as_str()).collect();
    Feed {
        id: format!("methods{query}"),
        about: if names.is_empty() {
            "methods".to_owned()
        } else {
            format!("methods tagged {}", names.join(" + "))
        },
        page: list_url,
        entries: pages
            .into_iter()
            .map(|p| FeedEntry {
                id: revision_id(p.page_id, p.revision),
                title: if p.revision == 1 {
                    format!("New: {}", p.title)
                } else {
                    format!("{}: revision {}", p.title, p.revision)
                },
                path: format!("/methods/{}", p.slug),
                updated: p.updated_at,
                author: p.editor_name,
                summary: p.summary,
            })
            .collect(),
    }
    .respond(&state)
}
