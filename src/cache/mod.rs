//! Every answer Cafe keeps to send again, and the one rule that says when
//! it is stale ([`freshness`]): the visitors' rendered pages ([`visitors`],
//! in memory and in a file, [`disk`]), pages of search results
//! ([`search`]), and the method lists' counts and rows
//! (`pages::ListCache`, which reads the same clock in its statement).

pub mod by_clock;
pub mod disk;
pub mod freshness;
pub mod members;
pub mod search;
pub mod sessions;
pub mod visitors;

pub use freshness::Freshness;
pub use visitors::PageCache;
