//! 503 at once while the database cannot be reached
//! ([`crate::db::health`]), instead of each request waiting out the pool's
//! timeout for every statement it needs.
//!
//! While the last probe failed, every request but `/healthz` (the process
//! itself is alive) and the static files (which need no database) is
//! answered 503 with `Retry-After` before anything reads the database. A
//! request already under way when a probe fails is ended the same way: it
//! can only be waiting for a connection that will not come, and whatever it
//! had begun to write is rolled back with its connection (nothing it did is
//! acknowledged). When a probe succeeds again, requests go through again.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::AppError;
use crate::state::AppState;
use crate::web::context;

/// Whether `path` is answered without the database (`/healthz` and the
/// cache's counters, the static files): these neither wait for it nor are
/// refused without it.
pub fn needs_no_database(path: &str) -> bool {
    path == "/healthz" || path == "/healthz/cache" || path.starts_with("/static/")
}

/// The middleware (see the module documentation).
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let health = &state.health;
    if !health.watched() || needs_no_database(request.uri().path()) {
        return next.run(request).await;
    }
    if health.is_down() {
        return context::error_page(&state, AppError::Unreachable);
    }
    tokio::select! {
        response = next.run(request) => response,
        () = health.gone_down() => context::error_page(&state, AppError::Unreachable),
    }
}
