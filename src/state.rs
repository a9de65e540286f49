//! The state every handler shares ([`AppState`]) and the names the layers
//! agree on (the session cookie, visitors' `Cache-Control`). A leaf: it
//! imports no route module, so any handler or middleware may import it.

use std::sync::Arc;

use sqlx::SqlitePool;
use tower_sessions_sqlx_store::SqliteStore;

use crate::auth::CsrfKey;
use crate::cache::{Freshness, PageCache};
use crate::config::ServeArgs;
use crate::group_commit::GroupCommit;
use crate::pages::ListCache;
use crate::web::throttle::Throttle;

/// Everything handlers share: one reference count to move per clone, as
/// every request clones it once per layer that takes state.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub pool: SqlitePool,
    pub config: Arc<ServeArgs>,
    pub site: Arc<Site>,
    pub throttle: Arc<Throttle>,
    pub sessions: SqliteStore,
    /// Sessions and their members kept in memory (see `cache::sessions`).
    pub session_records: crate::cache::sessions::Records,
    pub session_members: crate::cache::sessions::Members,
    /// Method pages kept rendered for visitors (see [`PageCache`]).
    pub page_cache: Arc<PageCache>,
    /// Recent pages of search results (see `search::cache`).
    pub search_cache: Arc<crate::search::Cache>,
    /// Page saves go through here to share commits ([`GroupCommit`]).
    pub saves: GroupCommit,
    /// Counts and pages of the method lists shown lately (see [`ListCache`]).
    pub lists: Arc<ListCache>,
    /// Signs the sign-in and join forms' tokens for visitors without a session.
    pub csrf_key: CsrfKey,
}

impl AppState {
    /// Builds the state over a migrated pool and makes sure the session
    /// table exists.
    pub async fn new(pool: SqlitePool, config: ServeArgs) -> anyhow::Result<AppState> {
        let sessions = SqliteStore::new(pool.clone());
        sessions.migrate().await?;
        let db = pool.connect_options();
        let file = db.get_filename();
        let on_disk = file.as_os_str() != ":memory:";
        let wal = on_disk.then(|| {
            let mut wal = file.as_os_str().to_owned();
            wal.push("-wal");
            std::path::PathBuf::from(wal)
        });
        let freshness = Arc::new(Freshness::new(pool.clone(), wal));
        let page_cache = Arc::new(PageCache::new(
            config.page_cache_mib << 20,
            config.page_cache_disk_mib << 20,
            on_disk.then_some(file),
            freshness,
        ));
        let csrf_key = CsrfKey::load(&pool).await?;
        let saves = GroupCommit::start(pool.clone());
        Ok(AppState(Arc::new(Shared {
            site: Arc::new(Site {
                name: config.site_name.clone(),
                org: config.org.clone(),
            }),
            pool,
            config: Arc::new(config),
            throttle: Arc::new(Throttle::default()),
            sessions,
            session_records: Default::default(),
            session_members: Default::default(),
            page_cache,
            search_cache: Arc::default(),
            saves,
            lists: Arc::new(ListCache::default()),
            csrf_key,
        })))
    }
}

/// Names shown in the layout.
#[derive(Debug)]
pub struct Site {
    pub name: String,
    pub org: String,
}

/// What caches may do with visitors' pages (not signed in, no form with a
/// token): keep them, but ask again before each use, and only in the
/// visitor's own browser, never a shared cache. Members' pages and the
/// forms get `no-store` (see `web::context::middleware`); static assets keep
/// their own year-long header.
pub const VISITOR_CACHE_CONTROL: &str = "private, no-cache";

/// What anything sent to a signed-in member carries, and the sign-in and
/// join forms (see `web::context::middleware`).
pub const MEMBER_CACHE_CONTROL: &str = "no-store";

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cafe_session";
