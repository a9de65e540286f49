//! Recent changes: every edit, new page, story, reply, roster join and admin
//! action is recorded as an event, listed at `/recent` and in Atom feeds.

pub mod db;

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Edit,
    Story,
    Reply,
    Roster,
    Admin,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Page, Kind::Edit, Kind::Story, Kind::Reply, Kind::Roster, Kind::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::Edit => "edit",
            Kind::Story => "story",
            Kind::Reply => "reply",
            Kind::Roster => "roster",
            Kind::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}
