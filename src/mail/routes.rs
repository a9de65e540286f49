//! A member's mail settings (`GET/POST /account/notifications`), the
//! address check (`GET /account/email/verify?token=…`) and one-click
//! unsubscribe (`GET/POST /unsubscribe?token=…`, RFC 8058: the POST needs
//! no session and no form token, the link's own MAC is the proof).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::{Delivery, EmailAddress, db};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::context::Ctx;
use crate::web::flash;

/// The unsubscribe path, which the CSRF check leaves to the link's MAC.
pub const UNSUBSCRIBE: &str = "/unsubscribe";

/// How long a verification link works.
const VERIFY_FOR_MS: i64 = 24 * 3600 * 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/account/notifications",
            get(settings_form).post(save_settings),
        )
        .route("/account/email/verify", get(verify))
        .route(UNSUBSCRIBE, get(unsubscribe_page).post(unsubscribe))
}

#[derive(Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    delivery: String,
    /// The "members may send me questions" checkbox: present when ticked.
    #[serde(default)]
    questions: Option<String>,
    /// Sent with the checkbox, so that a form without it (an older page,
    /// a script) keeps the member's choice instead of turning it off.
    #[serde(default)]
    questions_shown: Option<String>,
}

impl SettingsForm {
    /// The questions choice this form makes, or `current` if it has none.
    fn questions(&self, current: bool) -> bool {
        match self.questions_shown {
            Some(_) => self.questions.is_some(),
            None => current,
        }
    }
}

/// One delivery choice as a radio button.
struct Choice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "mail/settings.html")]
struct SettingsPage {
    ctx: Ctx,
    email: String,
    verified: bool,
    choices: Vec<Choice>,
    error: Option<&'static str>,
    enabled: bool,
    failed: Vec<db::Failed>,
    questions: bool,
}

fn choices(chosen: &str) -> Vec<Choice> {
    Delivery::ALL
        .into_iter()
        .map(|d| Choice {
            value: d.as_str(),
            label: d.label(),
            checked: d.as_str() == chosen,
        })
        .collect()
}

async fn settings_form(State(state): State<AppState>, ctx: Ctx) -> AppResult<SettingsPage> {
    let me = ctx.member()?.id;
    let settings = db::settings(&state.pool, me).await?;
    let failed = db::failed(&state.pool, me).await?;
    Ok(SettingsPage {
        ctx,
        verified: settings.verified,
        email: settings.email,
        choices: choices(&settings.delivery),
        error: None,
        enabled: state.mail.enabled(),
        failed,
        questions: settings.questions,
    })
}

/// Saves the address and delivery; a new address gets a verification
/// mail (the only mail an unverified address is sent). A bad address or
/// delivery re-shows the form with what was typed (422).
async fn save_settings(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let me = ctx.member()?.clone();
    let delivery = Delivery::parse(&form.delivery);
    let email = EmailAddress::parse(&form.email);
    let (email, delivery) = match (email, delivery) {
        (Ok(email), Some(delivery)) => (email, delivery),
        (email, delivery) => {
            let error = match email {
                Err(message) => message,
                Ok(_) => "Choose how often you want mail.",
            };
            let failed = db::failed(&state.pool, me.id).await?;
            let current = db::settings(&state.pool, me.id).await?.delivery;
            let chosen = delivery.map_or(current, |d| d.as_str().to_owned());
            let questions = form.questions(true);
            let page = SettingsPage {
                ctx,
                email: form.email,
                verified: false,
                choices: choices(&chosen),
                error: Some(error),
                enabled: state.mail.enabled(),
                failed,
                questions,
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let address = email.as_ref().map_or("", EmailAddress::as_str);
    let current = db::settings(&state.pool, me.id).await?;
    let changed = address != current.email && !address.is_empty();
    let token = crate::auth::random_token();
    let hash = super::token_hash(&token);
    let until = super::now_ms() + VERIFY_FOR_MS;
    let mut tx = crate::db::begin_write(&state.pool).await?;
    db::save_settings(
        &mut tx,
        me.id,
        address,
        delivery.as_str(),
        form.questions(current.questions),
        changed.then_some((hash.as_str(), until)),
    )
    .await?;
    if changed && state.mail.enabled() {
        let link = state
            .config
            .base_url()
            .join(&format!("/account/email/verify?token={token}"));
        let site = state.site.name.as_str();
        let text = VerifyText { site, link: &link }
            .render()
            .map_err(anyhow::Error::from)?;
        let html = VerifyHtml { site, link: &link }
            .render()
            .map_err(anyhow::Error::from)?;
        db::enqueue(
            &mut tx,
            &db::NewMail {
                dedupe_key: &format!("verify:{}:{hash}", me.id),
                kind: "verify",
                user_id: me.id,
                page_id: None,
                to: address,
                subject: &format!("[{site}] Confirm your e-mail address"),
                text: &text,
                html: &html,
                headers: "",
                items: "[]",
                not_before: super::now_ms(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    let said = match (changed, state.mail.enabled()) {
        (true, true) => format!(
            "Saved. We sent a link to {address}: open it (signed in) to confirm the address."
        ),
        (true, false) => {
            "Saved. This site sends no mail yet, so the address cannot be confirmed.".to_owned()
        }
        _ => "Your mail settings are saved.".to_owned(),
    };
    flash::set(&session, said).await;
    Ok(Redirect::to("/account/notifications").into_response())
}

#[derive(Template)]
#[template(path = "mail/verify.txt")]
struct VerifyText<'a> {
    site: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/verify.html")]
struct VerifyHtml<'a> {
    site: &'a str,
    link: &'a str,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// Confirms the address whose link this is, for the member signed in.
async fn verify(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Query(query): Query<TokenQuery>,
) -> AppResult<Redirect> {
    let me = ctx.member()?.id;
    let hash = super::token_hash(&query.token);
    if query.token.is_empty() || !db::verify(&state.pool, me, &hash, super::now_ms()).await? {
        return Err(AppError::BadRequest(
            "That confirmation link does not work: it is old, used, or for another \
             address or member. Save your address again for a new one.",
        ));
    }
    flash::set(&session, "Your e-mail address is confirmed.").await;
    Ok(Redirect::to("/account/notifications"))
}

#[derive(Template, WebTemplate)]
#[template(path = "mail/unsubscribe.html")]
struct UnsubscribePage {
    ctx: Ctx,
    token: String,
    what: &'static str,
    done: bool,
}

fn what(subscription: super::Subscription) -> &'static str {
    match subscription {
        super::Subscription::Each => "the mail for each change",
        super::Subscription::Digest => "the digests",
        super::Subscription::Questions => "the questions members send you through Cafe",
    }
}

/// Asks before unsubscribing: a link scanner's GET changes nothing.
async fn unsubscribe_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<TokenQuery>,
) -> AppResult<UnsubscribePage> {
    let (_, subscription) = unsubscribe_token(&state, &query.token)?;
    Ok(UnsubscribePage {
        ctx,
        token: query.token,
        what: what(subscription),
        done: false,
    })
}

/// The member and subscription of a link this site made; else 400.
fn unsubscribe_token(state: &AppState, token: &str) -> AppResult<(i64, super::Subscription)> {
    state
        .mail
        .unsubscribe
        .verify(token)
        .ok_or(AppError::BadRequest("That unsubscribe link is not valid."))
}

/// Turns off that member's subscription, whoever is signed in (or nobody).
async fn unsubscribe(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<TokenQuery>,
) -> AppResult<UnsubscribePage> {
    let (user_id, subscription) = unsubscribe_token(&state, &query.token)?;
    match subscription {
        super::Subscription::Questions => db::refuse_questions(&state.pool, user_id).await?,
        _ => db::unsubscribe(&state.pool, user_id, subscription.deliveries()).await?,
    };
    Ok(UnsubscribePage {
        ctx,
        token: query.token,
        what: what(subscription),
        done: true,
    })
}
