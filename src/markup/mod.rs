//! Text made into pages: Markdown to sanitised HTML with wiki links
//! ([`markdown`]), the slugs those links resolve to ([`slug`]), and the
//! line diffs between revisions ([`diff`]); a stored page's outline and
//! first paragraph for its view ([`outline`]).

pub mod diff;
pub mod markdown;
pub mod outline;
pub mod slug;
