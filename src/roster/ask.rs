//! Asking a practitioner (issue 18): a signed-in member sends a question
//! to someone on a method's roster, through Cafe, by mail
//! (`GET/POST /methods/{slug}/roster/{username}/ask`).
//!
//! The recipient's address is never shown: the mail goes from the site's
//! sender address to theirs, through the outbox like every mail, with the
//! asker's confirmed address as `Reply-To`, so the answer goes straight to
//! the asker and never through Cafe. A member who has no confirmed address,
//! or turned questions off, is not asked; the form says so and points to
//! the public question on the method page. Each member may send
//! `--questions-per-hour` questions (counted across instances).

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::error::{AppError, AppResult};
use crate::mail::db as mail_db;
use crate::pages::db::Page;
use crate::pages::routes::load_page;
use crate::state::AppState;
use crate::web::context::Ctx;
use crate::web::flash;
use crate::web::throttle::Bucket;

/// Longest question, in bytes.
const QUESTION_MAX: usize = 8 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/methods/{slug}/roster/{username}/ask",
        get(ask_form).post(send),
    )
}

#[derive(Deserialize, Default)]
struct AskForm {
    #[serde(default)]
    question: String,
}

/// Why a question cannot be sent now, whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    Yourself,
    NoMail,
    NotTaking,
    NoAddress,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/ask.html")]
struct AskPage {
    ctx: Ctx,
    page: Page,
    username: String,
    name: String,
    question: String,
    blocked: Option<Blocked>,
    error: Option<String>,
    /// Where the answer will go: the asker's confirmed address.
    reply_to: String,
}

/// Who is asked, and where the question would go.
struct Asking {
    page: Page,
    username: String,
    recipient_id: i64,
    name: String,
    to: Option<String>,
    reply_to: Option<String>,
}

impl Asking {
    async fn load(state: &AppState, ctx: &Ctx, slug: &str, username: &str) -> AppResult<Asking> {
        let me = ctx.member()?.id;
        let page = load_page(state, slug).await?;
        let (recipient_id, name) = super::db::member_on_roster(&state.pool, page.id, username)
            .await?
            .ok_or(AppError::NotFound)?;
        let to = mail_db::question_address(&state.pool, recipient_id).await?;
        let mine = mail_db::settings(&state.pool, me).await?;
        let reply_to = (mine.verified && !mine.email.is_empty()).then_some(mine.email);
        Ok(Asking {
            page,
            username: username.to_owned(),
            recipient_id,
            name,
            to,
            reply_to,
        })
    }

    fn blocked(&self, state: &AppState, me: i64) -> Option<Blocked> {
        if self.recipient_id == me {
            Some(Blocked::Yourself)
        } else if !state.mail.enabled() {
            Some(Blocked::NoMail)
        } else if self.to.is_none() {
            Some(Blocked::NotTaking)
        } else if self.reply_to.is_none() {
            Some(Blocked::NoAddress)
        } else {
            None
        }
    }

    fn into_page(self, ctx: Ctx, question: String, blocked: Option<Blocked>) -> AskPage {
        AskPage {
            ctx,
            page: self.page,
            username: self.username,
            name: self.name,
            question,
            blocked,
            error: None,
            reply_to: self.reply_to.unwrap_or_default(),
        }
    }
}

async fn ask_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((slug, username)): Path<(String, String)>,
) -> AppResult<AskPage> {
    let asking = Asking::load(&state, &ctx, &slug, &username).await?;
    let blocked = asking.blocked(&state, ctx.member()?.id);
    Ok(asking.into_page(ctx, String::new(), blocked))
}

/// The form again, with what was typed, a message and a 4xx status.
fn refuse(status: StatusCode, mut page: AskPage, error: String) -> Response {
    page.error = Some(error);
    (status, page).into_response()
}

async fn send(
    State(state): State<AppState>,
    ctx: Ctx,
    session: Session,
    Path((slug, username)): Path<(String, String)>,
    Form(form): Form<AskForm>,
) -> AppResult<Response> {
    let me = ctx.member()?.clone();
    let asking = Asking::load(&state, &ctx, &slug, &username).await?;
    let blocked = asking.blocked(&state, me.id);
    let question = crate::pages::normalise_body(&form.question);
    let (recipient_id, to, reply_to) = (
        asking.recipient_id,
        asking.to.clone(),
        asking.reply_to.clone(),
    );
    let page = asking.into_page(ctx, form.question, blocked);
    if blocked.is_some() {
        // The page says why; what was typed stays in the form.
        return Ok((StatusCode::CONFLICT, page).into_response());
    }
    if question.trim().is_empty() {
        let said = "Please write your question.".to_owned();
        return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, page, said));
    }
    if question.len() > QUESTION_MAX {
        let said = "A question can be at most 8 KiB of text: shorten it.".to_owned();
        return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, page, said));
    }
    let limit = usize::try_from(state.config.questions_per_hour).unwrap_or(5);
    let reserved = state
        .throttle
        .reserve(
            Bucket::QuestionsPerMember,
            &me.id.to_string(),
            limit,
            Duration::from_secs(3600),
        )
        .await;
    if let Err(seconds) = reserved {
        let minutes = seconds.div_ceil(60).max(1);
        let said = format!(
            "You have sent {limit} questions in the last hour. Please wait about {minutes} \
             minute{} and send this one again: your text is kept below.",
            if minutes == 1 { "" } else { "s" }
        );
        let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, page, said);
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(seconds),
        );
        return Ok(response);
    }
    let (Some(to), Some(reply_to)) = (to, reply_to) else {
        return Err(AppError::NotFound);
    };
    let outgoing = Outgoing {
        recipient_id,
        to: &to,
        reply_to: &reply_to,
        question: &question,
    };
    queue(&state, &me, &page, &outgoing).await?;
    let said = format!(
        "Your question is sent to {}. Their answer will come to {reply_to}.",
        page.name
    );
    flash::set(&session, said).await;
    Ok(Redirect::to(&format!("/methods/{}#roster", page.page.slug)).into_response())
}

/// What a question mail says, in both its parts.
struct QuestionMail<'a> {
    site: &'a str,
    asker: &'a str,
    asker_url: &'a str,
    reply_to: &'a str,
    method: &'a str,
    method_url: &'a str,
    question: &'a str,
    settings_url: &'a str,
    unsubscribe_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/question.txt")]
struct QuestionText<'a>(&'a QuestionMail<'a>);

#[derive(Template)]
#[template(path = "mail/question.html")]
struct QuestionHtml<'a>(&'a QuestionMail<'a>);

/// A question on its way: to whom, and where the answer goes.
#[derive(Clone, Copy)]
struct Outgoing<'a> {
    recipient_id: i64,
    to: &'a str,
    reply_to: &'a str,
    question: &'a str,
}

/// Puts the question mail in the outbox.
async fn queue(
    state: &AppState,
    me: &crate::accounts::SessionUser,
    page: &AskPage,
    outgoing: &Outgoing<'_>,
) -> AppResult<()> {
    let Outgoing {
        recipient_id,
        to,
        reply_to,
        question,
    } = *outgoing;
    let base = state.config.base_url();
    let token = state
        .mail
        .unsubscribe
        .token(recipient_id, crate::mail::Subscription::Questions);
    let unsubscribe_url = base.join(&format!("/unsubscribe?token={token}"));
    let site = state.site.name.as_str();
    let mail = QuestionMail {
        site,
        asker: &me.display_name,
        asker_url: &base.join(&format!("/users/{}", me.username)),
        reply_to,
        method: &page.page.title,
        method_url: &base.join(&format!("/methods/{}", page.page.slug)),
        question,
        settings_url: &base.join("/account/notifications"),
        unsubscribe_url: &unsubscribe_url,
    };
    let text = QuestionText(&mail).render().map_err(anyhow::Error::from)?;
    let html = QuestionHtml(&mail).render().map_err(anyhow::Error::from)?;
    let subject: String = format!(
        "[{site}] {} asks you about {}",
        me.display_name, page.page.title
    )
    .chars()
    .map(|c| if c.is_control() { ' ' } else { c })
    .collect();
    let headers = format!(
        "Reply-To: {reply_to}\n{}",
        crate::mail::notify::unsubscribe_headers(&unsubscribe_url)
    );
    let mut tx = crate::db::begin_write(&state.pool).await?;
    mail_db::enqueue(
        &mut tx,
        &mail_db::NewMail {
            dedupe_key: &format!("question:{}", crate::auth::random_token()),
            kind: "question",
            user_id: recipient_id,
            page_id: Some(page.page.id),
            to,
            subject: &subject,
            text: &text,
            html: &html,
            headers: &headers,
            items: "[]",
            not_before: crate::mail::now_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
