//! Watch and unwatch (`POST /methods/{slug}/watch|unwatch`,
//! `/tags/{tag}/watch|unwatch`, `/users/{username}/watch|unwatch`), the
//! Following page (`GET /following`), marking it seen (`POST
//! /following/seen`) and the default watches (`POST /following/defaults`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::db::{self, Defaults, Watch};
use super::{Level, Target};
use crate::accounts::Username;
use crate::error::{AppError, AppResult};
use crate::recent::Activity;
use crate::state::AppState;
use crate::tags::Tag;
use crate::web::context::Ctx;
use crate::web::flash;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/following", get(following))
        .route("/following/seen", post(seen))
        .route("/following/defaults", post(save_defaults))
        .route("/methods/{slug}/watch", post(watch_page))
        .route("/methods/{slug}/unwatch", post(unwatch_page))
        .route("/tags/{tag}/watch", post(watch_tags))
        .route("/tags/{tag}/unwatch", post(unwatch_tags))
        .route("/users/{username}/watch", post(watch_member))
        .route("/users/{username}/unwatch", post(unwatch_member))
}

/// Changes shown on the Following page.
const LISTED: i64 = 100;

/// The form of a watch button: where to come back to.
#[derive(Deserialize, Default)]
struct Back {
    /// A local path (`/methods/x`); anything else goes to the Following page.
    #[serde(default)]
    back: String,
    /// Further tags of an AND filter, for `/tags/{tag}/watch` (`a,b`).
    #[serde(default)]
    and: String,
}

impl Back {
    fn to(&self) -> Redirect {
        let back = crate::accounts::routes::safe_next(&self.back);
        Redirect::to(if back == "/" { "/following" } else { back })
    }
}

async fn set_level(
    state: &AppState,
    ctx: &Ctx,
    session: &Session,
    target: Target,
    level: Level,
    said: &str,
) -> AppResult<()> {
    let me = ctx.member()?;
    db::set(&state.pool, me.id, &target, level).await?;
    state.follow.forget(me.id);
    flash::set(session, said).await;
    Ok(())
}

async fn page_target(state: &AppState, slug: &str) -> AppResult<(Target, String)> {
    let page = crate::pages::routes::load_page(state, slug).await?;
    Ok((Target::Page(page.id), page.title))
}

async fn watch_page(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
    Form(back): Form<Back>,
) -> AppResult<Redirect> {
    let (target, title) = page_target(&state, &slug).await?;
    let said = format!("You are watching “{title}”: its changes show on your Following page.");
    set_level(&state, &ctx, &session, target, Level::Watching, &said).await?;
    Ok(back.to())
}

async fn unwatch_page(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(slug): Path<String>,
    Form(back): Form<Back>,
) -> AppResult<Redirect> {
    let (target, title) = page_target(&state, &slug).await?;
    let said = format!("You no longer watch “{title}”, and editing it will not watch it again.");
    set_level(&state, &ctx, &session, target, Level::Muted, &said).await?;
    Ok(back.to())
}

/// The tags of `/tags/{tag}` and the form's `and`: an AND filter.
fn tag_target(tag: &str, and: &str) -> AppResult<(Target, String)> {
    let mut tags = vec![Tag::parse(tag).map_err(|_| AppError::NotFound)?];
    for more in and.split(',').filter(|t| !t.trim().is_empty()) {
        tags.push(Tag::parse(more).map_err(|_| AppError::BadRequest("That is not a tag."))?);
    }
    if tags.len() > 10 {
        return Err(AppError::BadRequest("Watch at most ten tags at once."));
    }
    let target = Target::tags(&tags);
    let Target::Tags(names) = &target else {
        return Err(AppError::NotFound);
    };
    let named = names.join(" + ");
    Ok((target, named))
}

async fn watch_tags(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(tag): Path<String>,
    Form(back): Form<Back>,
) -> AppResult<Redirect> {
    let (target, named) = tag_target(&tag, &back.and)?;
    let said = format!("You are watching the methods tagged {named}.");
    set_level(&state, &ctx, &session, target, Level::Watching, &said).await?;
    Ok(back.to())
}

async fn unwatch_tags(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(tag): Path<String>,
    Form(back): Form<Back>,
) -> AppResult<Redirect> {
    let (target, named) = tag_target(&tag, &back.and)?;
    let said = format!("You no longer watch the methods tagged {named}.");
    set_level(&state, &ctx, &session, target, Level::Normal, &said).await?;
    Ok(back.to())
}

async fn member_target(state: &AppState, username: &str) -> AppResult<(Target, String)> {
    let name = Username::parse(username).map_err(|_| AppError::NotFound)?;
    let profile = crate::accounts::db::profile(&state.pool, name.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((Target::Member(profile.id), profile.display_name))
}

async fn watch_member(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(username): Path<String>,
    Form(back): Form<Back>,
) -> AppResult<Redirect> {
    let (target, name) = member_target(&state, &username).await?;
    if target == Target::Member(ctx.member()?.id) {
        return Err(AppError::BadRequest(
            "Your own stories are not listed for you.",
        ));
    }
    let said = format!("You are watching {name}'s stories and replies.");
    set_level(&state, &ctx, &session, target, Level::Watching, &said).await?;
    Ok(back.to())
}

async fn unwatch_member(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path(username): Path<String>,
    Form(back): Form<Back>,
) -> AppResult<Redirect> {
    let (target, name) = member_target(&state, &username).await?;
    let said = format!("You no longer watch {name}'s stories.");
    set_level(&state, &ctx, &session, target, Level::Normal, &said).await?;
    Ok(back.to())
}

#[derive(Template, WebTemplate)]
#[template(path = "follow/following.html")]
struct FollowingPage {
    ctx: Ctx,
    /// Changes, newest first, with whether each is new to the member.
    changes: Vec<(Activity, bool)>,
    /// The newest change listed, which "Mark as seen" marks up to.
    newest: i64,
    unseen: usize,
    watches: Vec<Watch>,
    defaults: Defaults,
    /// The member's roster entries not confirmed lately: "Still using …?"
    unconfirmed: Vec<crate::roster::db::Unconfirmed>,
}

async fn following(State(state): State<AppState>, ctx: Ctx) -> AppResult<FollowingPage> {
    let me = ctx.member()?.id;
    let (entries, seen) = db::following(&state.pool, me, LISTED).await?;
    let newest = entries.first().map_or(seen, |e| e.id.max(seen));
    let changes: Vec<(Activity, bool)> = entries
        .into_iter()
        .map(|e| {
            let new = e.id > seen;
            (Activity::from(e), new)
        })
        .collect();
    let unseen = changes.iter().filter(|(_, new)| *new).count();
    let unconfirmed = match state.config.roster_cutoff() {
        Some(cutoff) => crate::roster::db::unconfirmed_of(&state.pool, me, &cutoff).await?,
        None => Vec::new(),
    };
    Ok(FollowingPage {
        unconfirmed,
        ctx,
        changes,
        newest,
        unseen,
        watches: db::watches_of(&state.pool, me).await?,
        defaults: db::defaults(&state.pool, me).await?,
    })
}

#[derive(Deserialize)]
struct SeenForm {
    upto: i64,
}

async fn seen(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(form): Form<SeenForm>,
) -> AppResult<Redirect> {
    let me = ctx.member()?.id;
    db::mark_seen(&state.pool, me, form.upto).await?;
    state.follow.forget(me);
    flash::set(&session, "Marked as seen.").await;
    Ok(Redirect::to("/following"))
}

/// Checkboxes: present when ticked.
#[derive(Deserialize)]
struct DefaultsForm {
    #[serde(default)]
    auto_created: Option<String>,
    #[serde(default)]
    auto_edited: Option<String>,
    #[serde(default)]
    auto_stories: Option<String>,
    #[serde(default)]
    auto_roster: Option<String>,
}

async fn save_defaults(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(form): Form<DefaultsForm>,
) -> AppResult<Redirect> {
    let me = ctx.member()?.id;
    let defaults = Defaults {
        auto_created: form.auto_created.is_some(),
        auto_edited: form.auto_edited.is_some(),
        auto_stories: form.auto_stories.is_some(),
        auto_roster: form.auto_roster.is_some(),
    };
    db::set_defaults(&state.pool, me, &defaults).await?;
    flash::set(&session, "Your default watches are saved.").await;
    Ok(Redirect::to("/following#defaults"))
}
