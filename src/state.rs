//! The state every handler shares ([`AppState`]) and the names the layers
//! agree on (the session cookie, visitors' `Cache-Control`). A leaf: it
//! imports no route module, so any handler or middleware may import it.

use std::sync::Arc;

use crate::cache::sessions::Stored;
use crate::db::Db;
use crate::db::health::Health;

use crate::auth::CsrfKey;
use crate::cache::{Freshness, PageCache};
use crate::config::ServeArgs;
use crate::group_commit::GroupCommit;
use crate::pages::ListCache;
use crate::web::shared_throttle::Throttles;
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
    pub pool: Db,
    pub config: Arc<ServeArgs>,
    pub site: Arc<Site>,
    pub throttle: Arc<Throttles>,
    pub sessions: Stored,
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
    /// Whether the database can be reached (watched on PostgreSQL only).
    pub health: Arc<Health>,
    /// The organisation's OpenID Connect provider, when configured.
    pub oidc: Option<Arc<crate::oidc::Provider>>,
    /// What members' pages need of their watches (see `follow`).
    pub follow: crate::follow::Kept,
    /// The SMTP server and the unsubscribe key (see `mail`).
    pub mail: crate::mail::Mail,
    /// Seals the one-time confirmations' cookie (see `web::flash`).
    pub flash_key: crate::web::flash::FlashKey,
    /// The edit form's tag suggestions (see `cache::by_clock`).
    pub vocabulary: crate::cache::by_clock::ByClock<Vec<(String, String, String)>>,
    /// The method list's indicator names (see `cache::by_clock`).
    pub list_labels: crate::cache::by_clock::ByClock<crate::pages::db::Labels>,
}

impl AppState {
    /// Builds the state over a migrated pool and makes sure the session
    /// table exists.
    pub async fn new(pool: Db, config: ServeArgs) -> anyhow::Result<AppState> {
        let sessions = Stored::open(&pool).await?;
        // The database file, beside which the file tier of the page cache
        // lives; PostgreSQL's instances keep theirs in the temporary folder.
        // Either way the tier's files are unnamed, each process's own
        // (`O_TMPFILE`, see `cache::disk`): instances on one machine share
        // the folder, never a file.
        let file = pool
            .as_sqlite()
            .map(|sqlite| sqlite.connect_options().get_filename().to_path_buf());
        let file = file.filter(|file| file.as_os_str() != ":memory:");
        let wal = file.as_ref().map(|file| {
            let mut wal = file.as_os_str().to_owned();
            wal.push("-wal");
            std::path::PathBuf::from(wal)
        });
        let on_disk = match &pool {
            Db::Sqlite(_) => file,
            // `PageCache` takes a database file and uses its folder.
            Db::Postgres(_) => Some(std::env::temp_dir().join("cafe-page-cache")),
        };

        // One process owns a SQLite site and counts in memory; instances
        // sharing PostgreSQL count in the database, together.
        let throttle = match &pool {
            Db::Sqlite(_) => Throttles::Memory(Throttle::default()),
            Db::Postgres(pg) => Throttles::Shared(pg.clone()),
        };
        let freshness = Arc::new(Freshness::new(pool.clone(), wal));
        // Instances sharing PostgreSQL keep sessions while they hear that
        // none changed; one process owning its SQLite file keeps them all.
        let session_records = match freshness.session_signs() {
            Some(signs) => crate::cache::sessions::Records::shared(signs),
            None => crate::cache::sessions::Records::default(),
        };
        let page_cache = Arc::new(PageCache::new(
            config.page_cache_mib << 20,
            config.page_cache_disk_mib << 20,
            on_disk.as_deref(),
            freshness,
        ));
        let oidc = match crate::oidc::Settings::from_config(&config)? {
            Some(settings) => Some(Arc::new(crate::oidc::Provider::new(settings)?)),
            None => None,
        };
        let csrf_key = CsrfKey::load(&pool).await?;
        let flash_key = crate::web::flash::FlashKey::load(&pool).await?;
        let mail = crate::mail::Mail::new(&pool, &config).await?;
        let saves = GroupCommit::start(pool.clone());
        let health = match &pool {
            Db::Sqlite(_) => Health::unwatched(),
            Db::Postgres(pg) => Health::watch(pg),
        };
        Ok(AppState(Arc::new(Shared {
            site: Arc::new(Site {
                name: config.site_name.clone(),
                org: config.org.clone(),
            }),
            pool,
            config: Arc::new(config),
            throttle: Arc::new(throttle),
            sessions,
            session_records,
            session_members: Default::default(),
            page_cache,
            search_cache: Arc::default(),
            saves,
            lists: Arc::new(ListCache::default()),
            csrf_key,
            health,
            oidc,
            follow: Default::default(),
            mail,
            flash_key,
            vocabulary: Default::default(),
            list_labels: Default::default(),
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
