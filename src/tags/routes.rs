//! Cafe Tags (`/tags`), one tag's pages (`/tags/{tag}`), and the CCASS
//! indicator table (`/indicators`, edited by admins).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::db::{self, Indicator};
use super::indicators::IndicatorRow;
use super::{Tag, TagLink, TagList};
use crate::error::{AppError, AppResult};
use crate::pages::db::PageSummary;
use crate::state::AppState;
use crate::web::context::Ctx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tags", get(index))
        .route("/tags/{tag}", get(one_tag))
        .route("/indicators", get(indicators).post(create_indicator))
        .route("/indicators/new", get(new_indicator))
        .route(
            "/indicators/{code}/edit",
            get(edit_indicator_form).post(edit_indicator),
        )
}

/// Indicators of one group.
pub struct Group {
    pub name: String,
    pub items: Vec<db::Covered>,
}

/// Indicators with their coverage, grouped (they come by group), and the
/// free tags with their pages.
async fn coverage(state: &AppState, since: &str) -> AppResult<(Vec<Group>, Vec<(String, i64)>)> {
    let coverage = db::coverage(&state.pool, since).await?;
    let mut groups: Vec<Group> = Vec::new();
    for item in coverage.indicators {
        match groups.last_mut() {
            Some(group) if group.name == item.indicator.grp => group.items.push(item),
            _ => groups.push(Group {
                name: item.indicator.grp.clone(),
                items: vec![item],
            }),
        }
    }
    Ok((groups, coverage.free))
}

#[derive(Template, WebTemplate)]
#[template(path = "tags/index.html")]
struct IndexPage {
    ctx: Ctx,
    groups: Vec<Group>,
    free: Vec<(String, i64)>,
}

async fn index(State(state): State<AppState>, ctx: Ctx) -> AppResult<IndexPage> {
    let (groups, free) = coverage(&state, "").await?;
    Ok(IndexPage { ctx, groups, free })
}

#[derive(Template, WebTemplate)]
#[template(path = "tags/tag.html")]
struct TagPage {
    ctx: Ctx,
    tag: Tag,
    indicator: Option<Indicator>,
    pages: Vec<(PageSummary, Vec<TagLink>)>,
    filter_url: String,
}

async fn one_tag(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(raw): Path<String>,
) -> AppResult<TagPage> {
    let tag = Tag::parse(&raw).map_err(|_| AppError::NotFound)?;
    let pages = crate::pages::db::list(&state.pool, std::slice::from_ref(&tag)).await?;
    let labels = db::labels(&state.pool).await?;
    let pages = pages
        .into_iter()
        .map(|p| {
            let links = TagLink::within_filter(
                &TagList::from_stored(&p.tags),
                &labels,
                std::slice::from_ref(&tag),
            );
            (p, links)
        })
        .collect();
    let indicator = db::indicators(&state.pool)
        .await?
        .into_iter()
        .find(|i| i.tag == tag.as_str());
    let filter_url = crate::pages::routes::filter_url(&[&tag]);
    Ok(TagPage {
        ctx,
        tag,
        indicator,
        pages,
        filter_url,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "tags/indicators.html")]
struct IndicatorsPage {
    ctx: Ctx,
    groups: Vec<Group>,
    /// People counted are only those who confirmed their entry lately.
    current_only: bool,
    /// Whether entries can be unconfirmed at all (`--roster-confirm-months`).
    can_filter: bool,
}

#[derive(Deserialize, Default)]
struct IndicatorsQuery {
    /// `1`: count only practitioners who confirmed their roster entry
    /// within `--roster-confirm-months`.
    #[serde(default)]
    current: Option<String>,
}

async fn indicators(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<IndicatorsQuery>,
) -> AppResult<IndicatorsPage> {
    let cutoff = state.config.roster_cutoff();
    let current_only = q.current.as_deref() == Some("1") && cutoff.is_some();
    let since = if current_only {
        cutoff.as_deref().unwrap_or_default()
    } else {
        ""
    };
    let (groups, _) = coverage(&state, since).await?;
    Ok(IndicatorsPage {
        ctx,
        groups,
        current_only,
        can_filter: cutoff.is_some(),
    })
}

/// The indicator form's fields.
#[derive(Debug, Default, Deserialize)]
struct IndicatorForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    retired: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "tags/indicator_form.html")]
struct IndicatorFormPage {
    ctx: Ctx,
    /// `Some(code)` when editing an existing indicator.
    editing: Option<String>,
    form: IndicatorForm,
    errors: Vec<String>,
}

async fn new_indicator(ctx: Ctx) -> AppResult<IndicatorFormPage> {
    ctx.admin()?;
    Ok(IndicatorFormPage {
        ctx,
        editing: None,
        form: IndicatorForm::default(),
        errors: Vec::new(),
    })
}

fn reshow(ctx: Ctx, editing: Option<String>, form: IndicatorForm, errors: Vec<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        IndicatorFormPage {
            ctx,
            editing,
            form,
            errors,
        },
    )
        .into_response()
}

fn parse_form(form: &IndicatorForm) -> Result<IndicatorRow, Vec<String>> {
    IndicatorRow::parse(
        &form.code,
        &form.name,
        &form.description,
        &form.group,
        &form.sort,
        form.retired.is_some(),
    )
}

async fn create_indicator(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<IndicatorForm>,
) -> AppResult<Response> {
    let admin = ctx.admin()?.id;
    let row = match parse_form(&form) {
        Ok(row) => row,
        Err(errors) => return Ok(reshow(ctx, None, form, errors)),
    };
    if db::indicator(&state.pool, &row.code).await?.is_some() {
        let errors = vec![format!(
            "An indicator with the code {} exists already.",
            row.code
        )];
        return Ok(reshow(ctx, None, form, errors));
    }
    db::save_indicator(
        &state.pool,
        &row,
        admin,
        &format!("Added indicator {} ({})", row.code, row.name),
    )
    .await?;
    Ok(Redirect::to("/indicators").into_response())
}

async fn edit_indicator_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> AppResult<IndicatorFormPage> {
    ctx.admin()?;
    let found = db::indicator(&state.pool, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = IndicatorForm {
        code: found.code.clone(),
        name: found.name,
        description: found.description,
        group: found.grp,
        sort: found.sort.to_string(),
        retired: found.retired.then(|| "1".to_owned()),
    };
    Ok(IndicatorFormPage {
        ctx,
        editing: Some(found.code),
        form,
        errors: Vec::new(),
    })
}

/// Edits keep the code: it is the tag pages carry, so renaming or retiring
/// an indicator never detaches it from its pages.
async fn edit_indicator(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    Form(form): Form<IndicatorForm>,
) -> AppResult<Response> {
    let admin = ctx.admin()?.id;
    let found = db::indicator(&state.pool, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let editing = Some(found.code.clone());
    let mut row = match parse_form(&form) {
        Ok(row) => row,
        Err(errors) => return Ok(reshow(ctx, editing, form, errors)),
    };
    if !row.code.eq_ignore_ascii_case(&found.code) {
        let errors = vec!["The code of an indicator cannot change (pages carry it as their tag); add a new indicator instead.".to_owned()];
        return Ok(reshow(ctx, editing, form, errors));
    }
    row.code = found.code;
    db::save_indicator(
        &state.pool,
        &row,
        admin,
        &format!("Edited indicator {} ({})", row.code, row.name),
    )
    .await?;
    Ok(Redirect::to("/indicators").into_response())
}
