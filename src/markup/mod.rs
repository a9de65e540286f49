//! Text made into pages: Markdown to sanitised HTML with wiki links
//! ([`markdown`]), the slugs those links resolve to ([`slug`]), and the
//! line diffs between revisions ([`diff`]); a stored page's outline and
//! first paragraph for its view ([`outline`]); and the small text helpers
//! every domain uses on what people type and on URLs ([`text`]).

pub mod diff;
pub mod markdown;
pub mod outline;
pub mod slug;
pub mod text;
