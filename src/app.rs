//! The application: the one router used by `main` and by the tests (its
//! shared state is in [`crate::state`]). Each domain exports its own
//! router; they are merged here with sessions, the request context,
//! security headers and limits.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate as _};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{CachingSessionStore, Expiry, SessionManagerLayer};

use crate::error::AppError;
use crate::state::{AppState, SESSION_COOKIE, VISITOR_CACHE_CONTROL};
use crate::web::context;

/// The Content-Security-Policy: no inline script or style, nothing framed,
/// images only from the site (and `data:`), so a page cannot embed a tracking
/// image from anywhere; [`csp`] adds the hosts an operator allows.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// [`CSP`] with `https://HOST` in `img-src` for each of `--image-hosts`.
pub fn csp(image_hosts: &[crate::config::ImageHost]) -> String {
    let mut img_src = "img-src 'self' data:".to_owned();
    for host in image_hosts {
        img_src.push_str(" https://");
        img_src.push_str(host.as_str());
    }
    CSP.replacen("img-src 'self' data:", &img_src, 1)
}

/// How long browsers are told to use HTTPS only, with `--secure-cookies`.
const HSTS: &str = "max-age=31536000";

/// The kept answers' hits and misses since start, as one JSON object: the
/// benchmark's hit rate. Counts only, nothing about what was asked for.
async fn cache_stats(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    let (hits, misses) = state.page_cache.stats();
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"hits\":{hits},\"misses\":{misses}}}\n"),
    )
}

/// The whole web application.
pub fn app(state: AppState) -> Router {
    let store = CachingSessionStore::new(state.session_records.clone(), state.sessions.clone());
    let sessions = SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::minutes(state.config.session_idle_minutes),
        ));
    // The hosts were checked at start (`ImageHost`), so the header is valid.
    let csp_header = HeaderValue::from_str(&csp(&state.config.image_hosts))
        .unwrap_or_else(|_| HeaderValue::from_static(CSP));
    let hsts = state
        .config
        .secure_cookies
        .then(|| HeaderValue::from_static(HSTS));
    let statics: Router<AppState> = match &state.config.static_dir {
        Some(dir) => Router::new().nest_service("/static", ServeDir::new(dir)),
        None => Router::new().route("/static/{name}", get(crate::static_files::serve)),
    };
    // What visitors read is served from the page cache; accounts are not
    // (sign-in and join forms carry each visitor's CSRF token).
    let reading: Router<AppState> = Router::new()
        .merge(crate::pages::routes::router())
        .merge(crate::stories::routes::router())
        .merge(crate::roster::routes::router())
        .merge(crate::roster::ask::router())
        .merge(crate::tags::routes::router())
        .merge(crate::search::routes::router())
        .merge(crate::recent::routes::router())
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::cache::visitors::serve_visitors,
        ))
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::pages::routes::follow_old_slugs,
        ));
    // Files are not kept by the visitors' cache (large, binary, and with
    // their own caching by content hash), but old slugs lead to them too.
    let files: Router<AppState> = crate::files::routes::router().route_layer(from_fn_with_state(
        state.clone(),
        crate::pages::routes::follow_old_slugs,
    ));
    Router::new()
        .merge(reading)
        .merge(files)
        .merge(crate::accounts::routes::router())
        .merge(crate::oidc::routes::router())
        .merge(crate::follow::routes::router())
        .merge(crate::mail::routes::router())
        .merge(statics)
        .route("/healthz", get(|| async { "ok" }))
        .route("/healthz/cache", get(cache_stats))
        .fallback(|| async { AppError::NotFound })
        .layer(from_fn_with_state(state.clone(), crate::server::limit_body))
        .layer(from_fn_with_state(state.clone(), context::middleware))
        .layer(sessions)
        .layer(from_fn_with_state(
            state.clone(),
            crate::cache::visitors::serve_sessionless,
        ))
        // Before anything that reads the database (a kept page's freshness
        // too): while it cannot be reached, 503 at once.
        .layer(from_fn_with_state(
            state.clone(),
            crate::web::unreachable::gate,
        ))
        // Last default: the visitors' cache answers before the context
        // middleware, which sets it on everything else.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static(VISITOR_CACHE_CONTROL),
        ))
        // A file answer brings its own, stricter policy (`files::serve`).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp_header,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Files are sent as stored, so that byte ranges and lengths hold
        // (most are compressed already).
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(
                |_: axum::http::StatusCode,
                 _: axum::http::Version,
                 headers: &axum::http::HeaderMap,
                 _: &axum::http::Extensions| {
                    !headers.contains_key(header::ACCEPT_RANGES)
                },
            )),
        )
        .layer(TraceLayer::new_for_http())
        // Outermost, so no layer waits for a body declared too large.
        .layer(from_fn_with_state(
            state.clone(),
            crate::server::refuse_declared_oversize,
        ))
        .with_state(state)
}
