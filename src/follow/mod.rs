//! Following what happens: a member watches a method page, a tag (or an
//! AND filter of tags) or a member's stories, and the Following page lists
//! the changes to what they watch that they have not seen, with a count in
//! the header.
//!
//! Nothing is fanned out when something is saved: a change writes its one
//! event (`recent::db::record`) as before, and a member's list is read from
//! the events when they look ([`db::following`]), so a save costs the same
//! with one watcher or a thousand. The one write a change adds is the
//! author's own default watch ([`db::auto_watch`], in the change's
//! transaction: what you create, edit, tell a story on or join the roster
//! of, unless you turned that off).
//!
//! What the header and the watch buttons need is kept per member in memory
//! ([`Kept`]) while the content clock stands still and for at most
//! [`KEEP_FOR`], so a member's page view reads nothing more from the
//! database; their own changes drop it at once. When content changed, the
//! count is brought up to date by counting only the events after those
//! already settled ([`Mine::recount_from`]: the last few it saw are
//! counted again, for a save that commits after a later-numbered one), so
//! members reading while others save cost one short look each, not a
//! recount of their list; a full count is made at least every
//! [`KEEP_FOR`].

pub mod db;
pub mod routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use serde::{Deserialize, Serialize};

use crate::tags::Tag;
use crate::web::context::Ctx;

/// How long what is kept of a member's watches may be used without looking
/// again (it is dropped sooner when content changes or they change it): the
/// most another instance's change to their watches takes to show here.
pub const KEEP_FOR: Duration = Duration::from_secs(30);

/// The most unseen changes counted (the header shows "99+").
pub const COUNT_AT_MOST: i64 = 100;

/// How much a member follows something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Its changes are listed.
    Watching,
    /// Never listed, and not watched again by default.
    Muted,
    /// No choice made: watched once the member works on it (if their
    /// defaults say so).
    Normal,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Watching => "watching",
            Level::Muted => "muted",
            Level::Normal => "normal",
        }
    }

    fn parse(raw: &str) -> Level {
        match raw {
            "watching" => Level::Watching,
            "muted" => Level::Muted,
            _ => Level::Normal,
        }
    }
}

/// What is watched, named as the `watches.target` column names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Page(i64),
    /// Pages carrying every one of these tags (sorted, no repeats).
    Tags(Vec<String>),
    /// A member's stories and replies.
    Member(i64),
}

impl Target {
    /// Pages with all of `tags`.
    pub fn tags(tags: &[Tag]) -> Target {
        let mut names: Vec<String> = tags.iter().map(|t| t.as_str().to_owned()).collect();
        names.sort();
        names.dedup();
        Target::Tags(names)
    }

    /// `page:{id}`, `tags:{a},{b}` (a tag holds no comma), `member:{id}`.
    pub fn key(&self) -> String {
        match self {
            Target::Page(id) => format!("page:{id}"),
            Target::Tags(tags) => format!("tags:{}", tags.join(",")),
            Target::Member(id) => format!("member:{id}"),
        }
    }
}

/// What a member's pages need of their watches: the unseen count and the
/// level of each target they chose one for.
#[derive(Debug, Default)]
pub struct Mine {
    pub unseen: i64,
    /// Shared with the next count while no watch of theirs was added.
    levels: Arc<HashMap<String, Level>>,
    /// The next count counts the events after this one (the last
    /// [`db::RECOUNTED`] this one saw among them, again).
    pub recount_from: i64,
    /// The part of `unseen` among the events up to `recount_from`: final.
    settled: i64,
}

impl Mine {
    pub fn level(&self, target: &str) -> Level {
        self.levels.get(target).copied().unwrap_or(Level::Normal)
    }

    /// The header's count: none, a number, or "99+".
    pub fn badge(&self) -> Option<String> {
        match self.unseen {
            n if n <= 0 => None,
            n if n >= COUNT_AT_MOST => Some(format!("{}+", COUNT_AT_MOST - 1)),
            n => Some(n.to_string()),
        }
    }
}

/// [`Mine`] per member, with the content clock's tick it was read at.
#[derive(Default)]
pub struct Kept {
    members: Mutex<HashMap<i64, KeptMine>>,
}

/// A member's [`Mine`] with the content clock's tick and the time it was
/// read at.
type KeptMine = (i64, Instant, Arc<Mine>);

/// Members kept at most (a bound on memory; past it the map starts again).
const KEPT_AT_MOST: usize = 10_000;

impl Kept {
    /// The member's [`Mine`] if memory holds it for `tick` and it is
    /// younger than [`KEEP_FOR`] (for answers made without the database).
    pub fn peek(&self, user_id: i64, tick: i64) -> Option<Arc<Mine>> {
        let kept = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let (at, when, mine) = kept.get(&user_id)?;
        (*at == tick && when.elapsed() < KEEP_FOR).then(|| mine.clone())
    }

    /// The member's last [`Mine`], whatever tick it was read at, if younger
    /// than [`KEEP_FOR`]: what an answer to a form shows.
    pub fn latest(&self, user_id: i64) -> Option<Arc<Mine>> {
        self.to_update(user_id).map(|(_, mine)| mine)
    }

    /// What was kept of the member for another tick, younger than
    /// [`KEEP_FOR`]: the count to bring up to date, and when it was made.
    fn to_update(&self, user_id: i64) -> Option<(Instant, Arc<Mine>)> {
        let kept = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let (_, when, mine) = kept.get(&user_id)?;
        (when.elapsed() < KEEP_FOR).then(|| (*when, mine.clone()))
    }

    /// The member's [`Mine`], from memory (see [`Kept::peek`]), else from
    /// the database: counting only the newer events when memory holds an
    /// older count (keeping that count's time), else all.
    pub async fn mine(
        &self,
        pool: &crate::db::Db,
        user_id: i64,
        tick: Option<i64>,
    ) -> sqlx::Result<Arc<Mine>> {
        let Some(tick) = tick else {
            return Ok(Arc::new(db::mine(pool, user_id, None).await?));
        };
        if let Some(mine) = self.peek(user_id, tick) {
            return Ok(mine);
        }
        let (when, mine) = match self.to_update(user_id) {
            Some((when, before)) => (when, db::mine(pool, user_id, Some(&before)).await?),
            None => (Instant::now(), db::mine(pool, user_id, None).await?),
        };
        let mine = Arc::new(mine);
        let mut kept = self.members.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= KEPT_AT_MOST {
            kept.clear();
        }
        kept.insert(user_id, (tick, when, mine.clone()));
        Ok(mine)
    }

    /// Forgets a member's, after they changed their watches or saw changes.
    pub fn forget(&self, user_id: i64) {
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&user_id);
    }
}

/// A watch button: what it watches and the address its forms post to
/// (`{base}/watch`, `{base}/unwatch`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Button {
    pub target: String,
    pub base: String,
    /// What the button names: "this page", "this tag".
    pub noun: String,
    /// Whether unwatching mutes (a page: editing it will not watch it
    /// again) or forgets (a tag, a member).
    pub mutes: bool,
}

/// The watch button as a member sees it.
#[derive(Template)]
#[template(path = "follow/watch_form.html")]
struct WatchForm<'a> {
    ctx: &'a Ctx,
    button: &'a Button,
    watching: bool,
}

impl Button {
    pub fn page(id: i64, slug: &str) -> Button {
        Button {
            target: Target::Page(id).key(),
            base: format!("/methods/{slug}"),
            noun: "this page".to_owned(),
            mutes: true,
        }
    }

    pub fn tag(tag: &Tag) -> Button {
        Button {
            target: Target::tags(std::slice::from_ref(tag)).key(),
            base: crate::tags::tag_path(tag.as_str()),
            noun: "this tag".to_owned(),
            mutes: false,
        }
    }

    pub fn member(id: i64, username: &str) -> Button {
        Button {
            target: Target::Member(id).key(),
            base: format!("/users/{}", crate::markup::text::url_encode(username)),
            noun: "their stories".to_owned(),
            mutes: false,
        }
    }

    /// The form for `ctx`'s member (`None` for a visitor).
    pub fn render(&self, ctx: &Ctx) -> Option<String> {
        ctx.user.as_ref()?;
        let watching = ctx
            .follow
            .as_deref()
            .is_some_and(|mine| mine.level(&self.target) == Level::Watching);
        WatchForm {
            ctx,
            button: self,
            watching,
        }
        .render()
        .ok()
    }
}

/// The header's count of unseen changes, as HTML (empty when none).
pub fn badge_html(mine: &Mine) -> String {
    match mine.badge() {
        Some(count) => format!(
            " <span class=\"badge\">{count}<span class=\"visually-hidden\"> unseen</span></span>"
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_have_one_key_whatever_the_order_of_tags() {
        let a = Tag::parse("lkm-1").unwrap();
        let b = Tag::parse("after-action-review").unwrap();
        assert_eq!(
            Target::tags(&[a.clone(), b.clone(), a.clone()]).key(),
            Target::tags(&[b, a]).key()
        );
        assert_eq!(Target::Page(7).key(), "page:7");
        assert_eq!(Target::Member(3).key(), "member:3");
    }

    #[test]
    fn the_badge_counts_up_to_99_plus() {
        let mine = |unseen| Mine {
            unseen,
            levels: Arc::default(),
            recount_from: 0,
            settled: 0,
        };
        assert_eq!(mine(0).badge(), None);
        assert_eq!(mine(5).badge().as_deref(), Some("5"));
        assert_eq!(mine(COUNT_AT_MOST).badge().as_deref(), Some("99+"));
    }
}
