//! What every request passes through on its way to a handler: the request
//! context ([`context::Ctx`]) and the middleware that builds it, has every
//! POST's CSRF token checked ([`csrf`]) and renders error pages; and the
//! sign-in throttle with the client address it keys on. The visitors'
//! cache, which answers before these, is in [`crate::cache`].

pub mod context;
pub mod csrf;
pub mod field_errors;
pub mod flash;
pub mod shared_throttle;
pub mod throttle;
pub mod unreachable;

/// Largest request body accepted (1 MiB): more is a 413.
pub const MAX_BODY: usize = 1024 * 1024;
