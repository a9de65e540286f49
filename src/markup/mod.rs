//! Text made into pages: Markdown to sanitised HTML with wiki links
//! ([`markdown`]), the slugs those links resolve to ([`slug`]), and the
//! line diffs between revisions ([`diff`]).

pub mod diff;
pub mod markdown;
pub mod slug;
