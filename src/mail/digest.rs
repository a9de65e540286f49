//! Daily and weekly digests: one mail per member listing the changes to
//! what they watch that they have not seen and that no earlier digest
//! listed (the Following page's list, `follow::db::following`).
//!
//! The server makes them on a schedule ([`super::spawn`]: a member's daily
//! digest is due a day after their last, a weekly one a week after);
//! `cafe digest send` makes every digest at once. A digest's dedupe key is
//! the member and the last event it lists, so two instances making digests
//! at the same moment queue one.
//!
//! A digest also asks "Still using …?" of each roster entry of the member's
//! not confirmed since `--roster-confirm-months`, linking to the method
//! page's roster (where one button confirms and the form updates) and to
//! the removal page. Only digests that go out for changes ask, so the
//! question alone never makes a mail every day.

use askama::Template;

use super::db;
use super::notify::Item;
use crate::state::AppState;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The most changes one digest lists.
const LISTED: i64 = 100;

/// What a digest says, in both its parts.
struct Digest<'a> {
    site: &'a str,
    items: &'a [Item],
    /// Roster entries to confirm: (method, its roster's address, the
    /// address that removes the entry).
    still: &'a [(String, String, String)],
    following_url: &'a str,
    settings_url: &'a str,
    unsubscribe_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/digest.txt")]
struct DigestText<'a>(&'a Digest<'a>);

#[derive(Template)]
#[template(path = "mail/digest.html")]
struct DigestHtml<'a>(&'a Digest<'a>);

/// Queues the digests that are due (all of them with `every`); how many.
pub async fn send(state: &AppState, every: bool) -> anyhow::Result<usize> {
    let now = super::now_ms();
    let (day_before, week_before) = if every {
        (i64::MAX, i64::MAX)
    } else {
        (now - DAY_MS, now - 7 * DAY_MS)
    };
    let base = state.config.base_url();
    let site = state.site.name.as_str();
    let mut queued = 0;
    for member in db::digests_due(&state.pool, day_before, week_before).await? {
        let (entries, seen) =
            crate::follow::db::following(&state.pool, member.user_id, LISTED).await?;
        let after = seen.max(member.digest_event);
        let fresh: Vec<_> = entries.into_iter().filter(|e| e.id > after).collect();
        let upto = fresh
            .iter()
            .map(|e| e.id)
            .max()
            .unwrap_or(member.digest_event);
        let mut tx = crate::db::begin_write(&state.pool).await?;
        if !fresh.is_empty() {
            let items: Vec<Item> = fresh
                .into_iter()
                .rev()
                .map(|entry| Item::of(&base, entry))
                .collect();
            let token = state
                .mail
                .unsubscribe
                .token(member.user_id, super::Subscription::Digest);
            let unsubscribe_url = base.join(&format!("/unsubscribe?token={token}"));
            let still = match state.config.roster_cutoff() {
                Some(cutoff) => {
                    crate::roster::db::unconfirmed_of(&state.pool, member.user_id, &cutoff).await?
                }
                None => Vec::new(),
            };
            let still: Vec<(String, String, String)> = still
                .into_iter()
                .map(|entry| {
                    let page = format!("/methods/{}", entry.slug);
                    let roster = base.join(&format!("{page}#roster"));
                    (
                        entry.title,
                        roster,
                        base.join(&format!("{page}/roster/remove")),
                    )
                })
                .collect();
            let digest = Digest {
                site,
                items: &items,
                still: &still,
                following_url: &base.join("/following"),
                settings_url: &base.join("/account/notifications"),
                unsubscribe_url: &unsubscribe_url,
            };
            let text = DigestText(&digest).render()?;
            let html = DigestHtml(&digest).render()?;
            let period = if member.delivery == "weekly" {
                "weekly"
            } else {
                "daily"
            };
            let subject = match items.len() {
                1 => format!("[{site}] Your {period} digest: 1 change"),
                n => format!("[{site}] Your {period} digest: {n} changes"),
            };
            let headers = super::notify::unsubscribe_headers(&unsubscribe_url);
            db::enqueue(
                &mut tx,
                &db::NewMail {
                    dedupe_key: &format!("digest:{}:{upto}", member.user_id),
                    kind: "digest",
                    user_id: member.user_id,
                    page_id: None,
                    to: &member.email,
                    subject: &subject,
                    text: &text,
                    html: &html,
                    headers: &headers,
                    items: "[]",
                    not_before: now,
                },
            )
            .await?;
            queued += 1;
        }
        db::note_digest(&mut tx, member.user_id, upto, now).await?;
        tx.commit().await?;
    }
    Ok(queued)
}
