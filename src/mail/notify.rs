//! The mail for each change (`delivery = each`), made after the change
//! has committed, never in the request that saved it.
//!
//! One process at a time (a lease on the `mail_cursor` row) reads the
//! events after the cursor and, for each member who watches an event (the
//! rules of the Following page, `follow::db::mail_watchers`: never their
//! own change) and has a verified address, queues a mail, in one
//! transaction with moving the cursor, so a crash queues all of a batch
//! or none of it. Two rules keep mail down:
//!
//! - a change to a page for which the member has a mail still waiting in
//!   the outbox (held back for `--mail-coalesce-secs`) is added to that
//!   mail, so one member's repeated edits within that time make one mail;
//! - after a mail about a page, no other mail about it until the member
//!   has looked: at the page or anything under it (a diff, a story:
//!   [`super::looked_at`] forgets the page's `mail_page_state`), or at their
//!   Following page, marking it seen (its `follow_state.seen_event`
//!   passing the event mailed about).

use askama::Template;
use serde::{Deserialize, Serialize};

use super::db;
use crate::recent::Activity;
use crate::state::AppState;

/// Events read per round.
const BATCH: i64 = 200;

/// How long the cursor's lease lasts (a round takes far less).
const LEASE_MS: i64 = 60_000;

/// One change as a mail lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub headline: String,
    pub url: String,
    pub who: String,
    pub summary: String,
}

impl Item {
    /// An event as a mail lists it, its link on `--public-url`.
    pub fn of(base: &crate::config::PublicUrl, entry: crate::recent::db::Entry) -> Item {
        let activity = Activity::from(entry);
        Item {
            headline: activity.headline,
            url: base.join(activity.url.as_deref().unwrap_or("/following")),
            who: activity.who.map(|p| p.name).unwrap_or_default(),
            summary: activity.summary,
        }
    }
}

/// The RFC 8058 headers of a mail whose unsubscribe link is `url`.
pub fn unsubscribe_headers(url: &str) -> String {
    format!("List-Unsubscribe: <{url}>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n")
}

/// What a change mail says, in both its parts.
struct Change<'a> {
    site: &'a str,
    page_title: &'a str,
    page_url: &'a str,
    items: &'a [Item],
    following_url: &'a str,
    settings_url: &'a str,
    unsubscribe_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/change.txt")]
struct ChangeText<'a>(&'a Change<'a>);

#[derive(Template)]
#[template(path = "mail/change.html")]
struct ChangeHtml<'a>(&'a Change<'a>);

/// Subject, plain text, HTML and headers of a change mail.
struct Rendered {
    subject: String,
    text: String,
    html: String,
    headers: String,
}

fn render(
    state: &AppState,
    user_id: i64,
    page_title: &str,
    page_url: &str,
    items: &[Item],
) -> anyhow::Result<Rendered> {
    let base = state.config.base_url();
    let token = state
        .mail
        .unsubscribe
        .token(user_id, super::Subscription::Each);
    let unsubscribe_url = base.join(&format!("/unsubscribe?token={token}"));
    let following_url = base.join("/following");
    let settings_url = base.join("/account/notifications");
    let site = state.site.name.as_str();
    let change = Change {
        site,
        page_title,
        page_url,
        items,
        following_url: &following_url,
        settings_url: &settings_url,
        unsubscribe_url: &unsubscribe_url,
    };
    let text = ChangeText(&change).render()?;
    let html = ChangeHtml(&change).render()?;
    let subject = match items {
        [one] => format!("[{site}] {}", one.headline),
        more => format!("[{site}] {page_title}: {} changes", more.len()),
    };
    let headers = unsubscribe_headers(&unsubscribe_url);
    Ok(Rendered {
        subject: one_line(&subject),
        text,
        html,
        headers,
    })
}

/// A subject on one line (a title cannot hold a line break, but a
/// summary's text is never trusted to be one line).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// One round: queues the mails for the events after the cursor (a batch),
/// if no other process is doing it. How many events it handled.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let mut handled = 0;
    loop {
        let done = one_batch(state).await?;
        if done == 0 {
            return Ok(handled);
        }
        handled += done;
    }
}

async fn one_batch(state: &AppState) -> anyhow::Result<usize> {
    let pool = &state.pool;
    let owner = state.mail.owner.as_str();
    let now = super::now_ms();
    let Some(after) = db::take_cursor(pool, owner, now, now + LEASE_MS).await? else {
        return Ok(0);
    };
    let mut tx = crate::db::begin_write(pool).await?;
    let Some(upto) = db::batch_end(&mut tx, after, BATCH).await? else {
        tx.rollback().await?;
        db::release_cursor(pool, owner).await?;
        return Ok(0);
    };
    let not_before = now + i64::try_from(state.config.mail_coalesce_secs * 1000).unwrap_or(0);
    let events = db::events_between(&mut tx, after, upto).await?;
    for entry in events {
        let (Some(page_id), event_id) = (entry.page_id, entry.id) else {
            continue;
        };
        let watchers = crate::follow::db::mail_watchers(&mut tx, event_id).await?;
        if watchers.is_empty() {
            continue;
        }
        let page_title = entry.page_title.clone().unwrap_or_default();
        let page_url = state.config.base_url().join(&format!(
            "/methods/{}",
            entry.slug.clone().unwrap_or_default()
        ));
        let item = Item::of(&state.config.base_url(), entry);
        for (user_id, email) in watchers {
            if let Some(pending) = db::pending_change(&mut tx, user_id, page_id).await? {
                let mut items: Vec<Item> = serde_json::from_str(&pending.items).unwrap_or_default();
                items.push(item.clone());
                let mail = render(state, user_id, &page_title, &page_url, &items)?;
                let items = serde_json::to_string(&items)?;
                db::update_pending(
                    &mut tx,
                    pending.id,
                    &mail.subject,
                    &mail.text,
                    &mail.html,
                    &items,
                )
                .await?;
                continue;
            }
            if db::mailed_unseen(&mut tx, user_id, page_id).await? {
                continue;
            }
            let items = vec![item.clone()];
            let mail = render(state, user_id, &page_title, &page_url, &items)?;
            let items = serde_json::to_string(&items)?;
            db::enqueue(
                &mut tx,
                &db::NewMail {
                    dedupe_key: &format!("each:{user_id}:{event_id}"),
                    kind: "each",
                    user_id,
                    page_id: Some(page_id),
                    to: &email,
                    subject: &mail.subject,
                    text: &mail.text,
                    html: &mail.html,
                    headers: &mail.headers,
                    items: &items,
                    not_before,
                },
            )
            .await?;
            db::note_mailed(&mut tx, user_id, page_id, event_id).await?;
        }
    }
    if !db::advance_cursor(&mut tx, owner, upto).await? {
        // Our lease ran out and another process took over: it does this batch.
        tx.rollback().await?;
        return Ok(0);
    }
    tx.commit().await?;
    Ok(usize::try_from(upto - after).unwrap_or(1).max(1))
}
