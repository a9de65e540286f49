//! `/search?q=…&page=N`: full-text search over pages and stories.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;

use super::{Hit, MAX_PAGES, PER_PAGE, Query};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::context::Ctx;

pub fn router() -> Router<AppState> {
    Router::new().route("/search", get(search))
}

#[derive(Template, WebTemplate)]
#[template(path = "search/results.html")]
struct SearchPage {
    ctx: Ctx,
    /// What was typed, for the search box.
    q: String,
    /// Whether anything was typed at all (an empty box shows only the help).
    asked: bool,
    problem: Option<String>,
    notes: Vec<String>,
    hits: Vec<Hit>,
    total: i64,
    /// The number of the first result on this page.
    first: i64,
    number: i64,
    last: i64,
    /// Files whose name and description hold every word (first page only).
    files: Vec<crate::files::routes::ListedView>,
}

/// `n` with its thousands set apart: 1,000.
fn grouped(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) && c.is_ascii_digit() {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Results offered in all, over every page: past these, "more than".
const OFFERED: i64 = PER_PAGE * MAX_PAGES;

impl SearchPage {
    /// "1 result", "20 results", or "More than 1,000 results" when there
    /// are more than the pager offers (PostgreSQL stops counting there:
    /// `search/db/postgres.rs`).
    fn how_many(&self) -> String {
        match self.total {
            1 => "1 result".to_owned(),
            _ if self.more_than_offered() => format!("More than {} results", grouped(OFFERED)),
            n => format!("{} results", grouped(n)),
        }
    }

    /// The query as typed, in quotes, unless it holds quotes of its own
    /// (a phrase): `“peer learning”`, `"after action"`, never `“"after action"”`.
    fn quoted(&self) -> String {
        let q = self.q.trim();
        if q.contains('"') {
            q.to_owned()
        } else {
            format!("“{q}”")
        }
    }

    fn more_than_offered(&self) -> bool {
        self.total > OFFERED
    }

    /// The link to another page of the same results.
    fn page_url(&self, number: i64) -> String {
        format!(
            "/search?q={}&page={number}",
            crate::markup::text::url_encode(&self.q)
        )
    }
}

/// `q` and `page` read leniently: a repeated, missing or malformed value is
/// never a 400, only a search for what could be read.
fn params(raw: Option<&str>) -> (String, i64) {
    let mut q = None;
    let mut page = None;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*key {
            "q" if q.is_none() => q = Some(value.into_owned()),
            "page" if page.is_none() => page = value.parse::<i64>().ok(),
            _ => {}
        }
    }
    (q.unwrap_or_default(), page.unwrap_or(1).clamp(1, MAX_PAGES))
}

async fn search(
    State(state): State<AppState>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> AppResult<SearchPage> {
    let (q, number) = params(raw.as_deref());
    let asked = !q.trim().is_empty();
    let query = Query::parse(&q);
    let (hits, total) = match (&query.problem, asked) {
        (None, true) => {
            let results = super::run(&state.pool, &state.search_cache, &query, number).await?;
            (results.hits.clone(), results.total)
        }
        _ => (Vec::new(), 0),
    };
    let last = ((total + PER_PAGE - 1) / PER_PAGE).clamp(1, MAX_PAGES);
    let problem = if asked { query.problem.clone() } else { None };
    let files = if asked && number == 1 && problem.is_none() {
        matching_files(&state, &query).await?
    } else {
        Vec::new()
    };
    let q: String = q.chars().take(super::MAX_QUERY_CHARS).collect();
    let first = (number - 1) * PER_PAGE + 1;
    Ok(SearchPage {
        ctx,
        q,
        asked,
        problem,
        notes: query.notes,
        hits,
        total,
        first,
        number,
        last,
        files,
    })
}

/// Files found by name and description: each term's text, lower-cased,
/// must appear in them (a prefix as it is, a phrase whole). Exclusions
/// drop nothing here, and a `tag:` or `outcome:` filter finds no file:
/// files have neither (docs/finding.md).
async fn matching_files(
    state: &AppState,
    query: &Query,
) -> AppResult<Vec<crate::files::routes::ListedView>> {
    if !query.tags.is_empty() || !query.outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let words: Vec<String> = query
        .include
        .iter()
        .map(|t| t.text.to_lowercase())
        .collect();
    let found = crate::files::db::search(&state.pool, &words).await?;
    Ok(found.into_iter().map(Into::into).collect())
}
