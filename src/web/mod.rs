//! What every request passes through on its way to a handler: the request
//! context ([`context::Ctx`]) and the middleware that builds it, checks CSRF
//! on every POST and renders error pages; and the sign-in throttle with the
//! client address it keys on. The visitors' cache, which answers before
//! these, is in [`crate::cache`].

pub mod context;
pub mod field_errors;
pub mod flash;
pub mod shared_throttle;
pub mod throttle;
pub mod unreachable;
