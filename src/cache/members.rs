//! Members' pages from a shared skeleton.
//!
//! A signed-in member's method page, lists, tags, search and history differ
//! from a visitor's only in what is theirs: their name in the header, their
//! session's CSRF token in each form, their own roster entry, and what their
//! role may do (the edit link, admin buttons, hidden stories). So such a page
//! is rendered once per role with a stand-in member (a [`skeleton_ctx`])
//! whose name and token are markers, kept like a visitor's page under a key
//! of its own role ([`key`]), and each member is sent the skeleton with the
//! markers replaced by what is theirs ([`personalise`]): a copy and a scan of
//! a few kilobytes instead of a statement and a template.
//!
//! The markers hold a random nonce made at start, so no content can contain
//! one: a page's text is stored before the server knows its nonce. They are
//! letters and digits only, which HTML escaping leaves as they are; what
//! replaces them is escaped here as the template would have escaped it.
//!
//! The roster form is the one part that depends on the member's data (their
//! tip and location, and whether they are on the roster): the skeleton holds
//! a slot with the page's roster entries (public on the page anyway), and
//! the form is rendered for the member from them.

use std::sync::LazyLock;

use askama::Template;
use serde::{Deserialize, Serialize};

use crate::accounts::SessionUser;
use crate::roster::routes::RosterForm;
use crate::web::context::Ctx;

/// The routes whose members' pages are made from a skeleton: those whose
/// handlers use the member only through the [`Ctx`] their templates read
/// (and the roster slot). Others, such as a story's thread (whose author sees
/// an edit link) and every form, render for the member each time.
const SKELETON_ROUTES: [&str; 9] = [
    "/",
    "/methods",
    "/methods/{slug}",
    "/methods/{slug}/history",
    "/tags",
    "/tags/{tag}",
    "/search",
    "/recent",
    "/indicators",
];

/// Whether a member's GET of the route matched as `route` is served from a
/// skeleton.
pub fn serves(route: &str) -> bool {
    SKELETON_ROUTES.contains(&route)
}

/// This process's markers: one random prefix, then a letter for what it
/// stands for.
struct Markers {
    prefix: String,
}

static MARKERS: LazyLock<Markers> = LazyLock::new(|| Markers {
    prefix: format!("cafe{}", &crate::auth::random_token()[..24]),
});

const USERNAME: u8 = b'u';
const DISPLAY_NAME: u8 = b'd';
const CSRF: u8 = b'c';
const ROSTER: u8 = b'r';
const END: u8 = b'e';
const FOLLOWING: u8 = b'f';
const WATCH: u8 = b'w';
const ASK: u8 = b'a';

fn marker(kind: u8) -> String {
    format!("{}{}", MARKERS.prefix, char::from(kind))
}

/// The stand-in member a skeleton is rendered for: an id no member has, and
/// markers for name, display name and token. Its role is the member's.
pub fn skeleton_ctx(ctx: &Ctx, is_admin: bool) -> Ctx {
    Ctx {
        user: Some(SessionUser {
            id: SKELETON_ID,
            username: marker(USERNAME),
            display_name: marker(DISPLAY_NAME),
            is_admin,
        }),
        csrf: marker(CSRF),
        site: ctx.site.clone(),
        path: ctx.path.clone(),
        flash: None,
        follow: None,
    }
}

/// Where a skeleton's header shows the member's unseen count.
pub fn following_marker() -> String {
    marker(FOLLOWING)
}

/// A skeleton's slot for a watch button: markers around the button's
/// target and address (hex JSON, as the roster slot).
pub fn watch_slot(button: &crate::follow::Button) -> String {
    let json = serde_json::to_string(button).unwrap_or_default();
    format!(
        "{}{}{}",
        marker(WATCH),
        crate::auth::hex(json.as_bytes()),
        marker(END)
    )
}

/// A roster entry's "Ask … a question" link: every entry but the member's
/// own (there is no one to ask there). A visitor sees each one; the link
/// asks them to sign in.
#[derive(Serialize, Deserialize)]
pub struct AskLink {
    pub slug: String,
    pub username: String,
    pub display_name: String,
}

impl AskLink {
    /// The link (HTML) as `ctx`'s member sees it: nothing on their own entry.
    pub fn render(&self, ctx: &Ctx) -> String {
        if ctx
            .user
            .as_ref()
            .is_some_and(|u| u.username == self.username)
        {
            return String::new();
        }
        format!(
            " <span class=\"roster-ask\"><a href=\"/methods/{}/roster/{}/ask\">Ask {} a question</a></span>",
            escaped(&self.slug),
            escaped(&self.username),
            escaped(&self.display_name)
        )
    }

    /// A skeleton's slot for the link (hex JSON, as the roster slot): whose
    /// entry it is becomes known only when the skeleton is personalised.
    pub fn slot(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!(
            "{}{}{}",
            marker(ASK),
            crate::auth::hex(json.as_bytes()),
            marker(END)
        )
    }
}

/// The text between a slot's marker and its end marker, and where the
/// skeleton goes on after it.
fn slot<'s>(rest: &'s [u8], finder: &memchr::memmem::Finder<'_>) -> Option<(&'s [u8], usize)> {
    let prefix = MARKERS.prefix.len();
    let end = finder.find(rest)?;
    if rest.get(end + prefix) != Some(&END) {
        return None;
    }
    Some((&rest[..end], end + prefix + 1))
}

/// The id of the stand-in member: no row has it.
const SKELETON_ID: i64 = i64::MIN;

/// Whether `ctx` is a skeleton's stand-in (its templates then leave slots).
pub fn is_skeleton(ctx: &Ctx) -> bool {
    ctx.user.as_ref().is_some_and(|u| u.id == SKELETON_ID)
}

/// The key a role's skeleton of `path` is kept under: never a path, so no
/// visitor's look can find it.
pub fn key(path: &str, is_admin: bool) -> String {
    let role = if is_admin { "admin" } else { "member" };
    format!("\0{role}\0{path}")
}

/// One roster entry as the slot keeps it.
#[derive(Serialize, Deserialize)]
struct SlotEntry {
    user_id: i64,
    tip: String,
    location: String,
    current: bool,
}

/// What the roster slot holds: the page and its roster.
#[derive(Serialize, Deserialize)]
struct Slot {
    slug: String,
    title: String,
    entries: Vec<SlotEntry>,
}

/// The roster slot for a skeleton of the method page `slug`: markers around
/// the page's roster as JSON (hex-escaped so it holds no `<`, `&` or quote).
pub fn roster_slot(
    slug: &str,
    title: &str,
    roster: &[crate::pages::db::RosterEntry],
    cutoff: Option<&str>,
) -> String {
    let slot = Slot {
        slug: slug.to_owned(),
        title: title.to_owned(),
        entries: roster
            .iter()
            .map(|e| SlotEntry {
                user_id: e.user_id,
                tip: e.tip.clone(),
                location: e.location.clone(),
                current: e.is_current(cutoff),
            })
            .collect(),
    };
    let json = serde_json::to_string(&slot).unwrap_or_default();
    format!(
        "{}{}{}",
        marker(ROSTER),
        crate::auth::hex(json.as_bytes()),
        marker(END)
    )
}

/// The roster form as a member sees it on a method page.
#[derive(Template)]
#[template(path = "pages/roster_form.html")]
struct RosterFormPart<'a> {
    ctx: &'a Ctx,
    page: PageSlug,
    roster_form: RosterForm,
    on_roster: bool,
    my_entry_current: bool,
    roster_errors: Vec<crate::web::field_errors::FieldError>,
}

/// The part of a page the roster form's template reads.
struct PageSlug {
    slug: String,
    title: String,
}

/// Renders the roster form for `ctx`'s member from a slot's hex JSON.
fn roster_form(ctx: &Ctx, hex_json: &[u8]) -> Option<String> {
    let json = crate::auth::unhex(std::str::from_utf8(hex_json).ok()?)?;
    let slot: Slot = serde_json::from_slice(&json).ok()?;
    let user = ctx.user.as_ref()?;
    let mine = slot.entries.iter().find(|e| e.user_id == user.id);
    RosterFormPart {
        ctx,
        page: PageSlug {
            slug: slot.slug,
            title: slot.title,
        },
        roster_form: RosterForm {
            tip: mine.map(|e| e.tip.clone()).unwrap_or_default(),
            location: mine.map(|e| e.location.clone()).unwrap_or_default(),
        },
        on_roster: mine.is_some(),
        my_entry_current: mine.is_none_or(|e| e.current),
        roster_errors: Vec::new(),
    }
    .render()
    .ok()
}

fn escaped(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|safe| safe.to_string())
        .unwrap_or_default()
}

/// The skeleton with every marker replaced by what is `ctx`'s member's.
/// `None` if it is not a skeleton this process made whole (then the page
/// is rendered for the member instead).
pub fn personalise(skeleton: &[u8], ctx: &Ctx) -> Option<Vec<u8>> {
    let user = ctx.user.as_ref()?;
    let prefix = MARKERS.prefix.as_bytes();
    let finder = memchr::memmem::Finder::new(prefix);
    let username = escaped(&user.username);
    let display_name = escaped(&user.display_name);
    let csrf = escaped(&ctx.csrf);
    let mut out = Vec::with_capacity(skeleton.len() + 256);
    let mut at = 0;
    while let Some(found) = finder.find(&skeleton[at..]) {
        let start = at + found;
        out.extend_from_slice(&skeleton[at..start]);
        let kind_at = start + prefix.len();
        let kind = *skeleton.get(kind_at)?;
        at = kind_at + 1;
        match kind {
            USERNAME => out.extend_from_slice(username.as_bytes()),
            DISPLAY_NAME => out.extend_from_slice(display_name.as_bytes()),
            CSRF => out.extend_from_slice(csrf.as_bytes()),
            ROSTER => {
                let (inside, after) = slot(&skeleton[at..], &finder)?;
                out.extend_from_slice(roster_form(ctx, inside)?.as_bytes());
                at += after;
            }
            WATCH => {
                let (inside, after) = slot(&skeleton[at..], &finder)?;
                let json = crate::auth::unhex(std::str::from_utf8(inside).ok()?)?;
                let button: crate::follow::Button = serde_json::from_slice(&json).ok()?;
                out.extend_from_slice(button.render(ctx)?.as_bytes());
                at += after;
            }
            ASK => {
                let (inside, after) = slot(&skeleton[at..], &finder)?;
                let json = crate::auth::unhex(std::str::from_utf8(inside).ok()?)?;
                let link: AskLink = serde_json::from_slice(&json).ok()?;
                out.extend_from_slice(link.render(ctx).as_bytes());
                at += after;
            }
            FOLLOWING => {
                out.extend_from_slice(crate::follow::badge_html(ctx.follow.as_deref()?).as_bytes())
            }
            _ => return None,
        }
    }
    out.extend_from_slice(&skeleton[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Site;
    use std::sync::Arc;

    fn member(id: i64, username: &str, display_name: &str, csrf: &str) -> Ctx {
        Ctx {
            user: Some(SessionUser {
                id,
                username: username.into(),
                display_name: display_name.into(),
                is_admin: false,
            }),
            csrf: csrf.into(),
            site: Arc::new(Site {
                name: "Cafe".into(),
                org: "Org".into(),
            }),
            path: "/methods/a".into(),
            flash: None,
            follow: Some(Default::default()),
        }
    }

    #[test]
    fn markers_become_the_members_escaped_name_and_token() {
        let ctx = member(7, "alice", "Alice <&> \"A\"", "tok123");
        let stand_in = skeleton_ctx(&ctx, false);
        let user = stand_in.user.as_ref().expect("a stand-in");
        let skeleton = format!(
            "<a href=\"/users/{}\">{}</a><input value=\"{}\">",
            user.username, user.display_name, stand_in.csrf
        );
        let page = personalise(skeleton.as_bytes(), &ctx).expect("personalised");
        assert_eq!(
            String::from_utf8(page).expect("utf-8"),
            "<a href=\"/users/alice\">Alice &#60;&#38;&#62; &#34;A&#34;</a><input value=\"tok123\">"
        );
        assert!(is_skeleton(&stand_in) && !is_skeleton(&ctx));
    }

    #[test]
    fn the_roster_slot_shows_each_member_their_own_entry() {
        let entry = |user_id: i64, tip: &str| crate::pages::db::RosterEntry {
            user_id,
            username: format!("u{user_id}"),
            display_name: format!("U{user_id}"),
            tip: tip.into(),
            location: "Dakar".into(),
            created_at: String::new(),
            confirmed_at: String::new(),
        };
        let slot = roster_slot(
            "peer-assist",
            "Peer Assist",
            &[entry(7, "Ask <early>"), entry(8, "Bob's tip")],
            None,
        );
        let skeleton = format!("<section>{slot}</section>");
        let alice = personalise(skeleton.as_bytes(), &member(7, "alice", "Alice", "t7"))
            .map(String::from_utf8)
            .expect("personalised")
            .expect("utf-8");
        assert!(alice.contains("Ask &#60;early&#62;"), "{alice}");
        assert!(alice.contains("Update my entry") && alice.contains("value=\"t7\""));
        assert!(!alice.contains("Bob"), "{alice}");
        let carol = personalise(skeleton.as_bytes(), &member(9, "carol", "Carol", "t9"))
            .map(String::from_utf8)
            .expect("personalised")
            .expect("utf-8");
        assert!(carol.contains("Add my name") && !carol.contains("Remove my name"));
        assert!(!carol.contains("Ask") && !carol.contains("t7"), "{carol}");
        assert!(carol.contains("/methods/peer-assist/roster"));
    }

    #[test]
    fn a_page_without_markers_is_sent_as_it_is_and_a_broken_slot_is_refused() {
        let ctx = member(1, "a", "A", "t");
        assert_eq!(
            personalise(b"<p>plain</p>", &ctx).as_deref(),
            Some(&b"<p>plain</p>"[..])
        );
        let broken = format!("<p>{}zz</p>", marker(ROSTER));
        assert!(personalise(broken.as_bytes(), &ctx).is_none());
    }
}
