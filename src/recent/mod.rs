//! Recent changes: every edit, new page, story, reply, roster join and admin
//! action is recorded as an event, listed at `/recent` and on the home page,
//! and followed in Atom feeds (`feed`): `/recent.atom`, a page's
//! `/methods/{slug}/history.atom`, and `/methods.atom?tag=…`.

pub mod db;
pub mod feed;
pub mod routes;

use crate::db::Db;

use crate::config::PublicUrl;

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Edit,
    Story,
    Reply,
    Roster,
    File,
    Admin,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Page,
        Kind::Edit,
        Kind::Story,
        Kind::Reply,
        Kind::Roster,
        Kind::File,
        Kind::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::Edit => "edit",
            Kind::Story => "story",
            Kind::Reply => "reply",
            Kind::Roster => "roster",
            Kind::File => "file",
            Kind::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The badge before an entry.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Page => "new page",
            Kind::Edit => "edit",
            Kind::Story => "story",
            Kind::Reply => "reply",
            Kind::Roster => "roster",
            Kind::File => "file",
            Kind::Admin => "admin",
        }
    }

    /// The filter's name on `/recent`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Page => "New pages",
            Kind::Edit => "Edits",
            Kind::Story => "Stories",
            Kind::Reply => "Replies",
            Kind::Roster => "Roster",
            Kind::File => "Files",
            Kind::Admin => "Administration",
        }
    }
}

/// One thing that happened, ready to show or to put in a feed.
pub struct Activity {
    /// A stable, unique id for feeds, after the site's [`tag_prefix`]: a
    /// page revision has the same id in every feed it appears in.
    pub id: String,
    pub kind: String,
    /// The kind as a badge: "edit", "new page"…
    pub kind_noun: &'static str,
    /// What happened, in a few words (plain text).
    pub headline: String,
    /// Where to see it: the diff, the story, or the page.
    pub url: Option<String>,
    pub who: Option<Person>,
    pub when: String,
    pub summary: String,
}

/// Someone who did something.
pub struct Person {
    pub username: String,
    pub name: String,
}

/// Prefix of every id Cafe gives a feed or an entry: an RFC 4151 tag URI
/// on the site's own host, so two installations never share an id. The
/// date only has to be one on which the host was the site's; 2026 is when
/// Cafe began minting these, and it must not change (ids are permanent).
pub fn tag_prefix(site: &PublicUrl) -> String {
    format!("tag:{},2026:", site.tag_authority())
}

/// The part of a page revision's feed id after [`tag_prefix`].
pub fn revision_id(page_id: i64, number: i64) -> String {
    format!("page/{page_id}/revision/{number}")
}

impl From<db::Entry> for Activity {
    fn from(e: db::Entry) -> Activity {
        let page = e.page_title.clone().unwrap_or_default();
        let story = e.story_title.clone().unwrap_or_default();
        let page_url = e.slug.as_ref().map(|slug| format!("/methods/{slug}"));
        let story_url = match (&page_url, e.story_id) {
            (Some(page_url), Some(id)) => Some(format!("{page_url}/stories/{id}")),
            _ => None,
        };
        let (headline, url) = match Kind::parse(&e.kind) {
            Some(Kind::Page) => (format!("New page: {page}"), page_url),
            Some(Kind::Edit) => (
                match e.revision {
                    Some(n) => format!("{page}: revision {n}"),
                    None => format!("{page}: edited"),
                },
                match (&e.slug, e.revision) {
                    (Some(slug), Some(n)) if n > 1 => {
                        Some(format!("/methods/{slug}/diff?from={}&to={n}", n - 1))
                    }
                    _ => page_url,
                },
            ),
            Some(Kind::Story) if e.story_outcome.as_deref() == Some("question") => (
                match e.revision {
                    Some(n) if n > 1 => format!("Question “{story}” on {page}: revision {n}"),
                    _ => format!("Question “{story}” on {page}"),
                },
                story_url.or(page_url),
            ),
            Some(Kind::Story) => (
                match e.revision {
                    Some(n) if n > 1 => format!("Story “{story}” on {page}: revision {n}"),
                    _ => format!("Story “{story}” on {page}"),
                },
                story_url.or(page_url),
            ),
            Some(Kind::Reply) => (
                format!("Reply to “{story}” on {page}"),
                story_url.or(page_url),
            ),
            Some(Kind::Roster) => (format!("Who is using {page}"), page_url),
            Some(Kind::File) => (
                format!("Files on {page}"),
                story_url
                    .map(|url| format!("{url}/files"))
                    .or_else(|| page_url.map(|url| format!("{url}/files"))),
            ),
            Some(Kind::Admin) if e.page_title.is_some() => {
                (format!("Administration: {page}"), page_url)
            }
            _ => ("Administration".to_owned(), None),
        };
        let id = match (Kind::parse(&e.kind), e.page_id, e.revision) {
            (Some(Kind::Page | Kind::Edit), Some(page_id), Some(n)) => revision_id(page_id, n),
            _ => format!("event/{}", e.id),
        };
        let who = e.actor_username.map(|username| Person {
            name: e.actor_name.unwrap_or_else(|| username.clone()),
            username,
        });
        Activity {
            id,
            kind_noun: Kind::parse(&e.kind).map_or("change", Kind::noun),
            kind: e.kind,
            headline,
            url,
            who,
            when: e.created_at,
            summary: e.summary,
        }
    }
}

/// Events newest first (all kinds, or one), ready to show.
pub async fn activity(
    pool: &Db,
    kind: Option<Kind>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Activity>> {
    Ok(db::latest(pool, kind, limit, offset)
        .await?
        .into_iter()
        .map(Activity::from)
        .collect())
}
