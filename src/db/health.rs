//! Whether the PostgreSQL server can be reached, watched from one side
//! connection of its own, so that requests need not find out by waiting.
//!
//! Without it, a database that stopped made every request wait for the
//! pool's acquire timeout, once for each statement it needed (the content
//! clock twice, then the page: thirty seconds for a visitor's page), and
//! then answered "busy". [`Health`] probes the server with `SELECT 1` on a
//! connection outside the pool every [`PERIOD`] (a quarter of that while it
//! is down); the web layer (`web::unreachable`) answers every request 503
//! at once while the last probe failed, and ends the requests still waiting
//! when a probe fails. A probe that succeeds opens the way again: the
//! pool's dead connections fail its ping before use and are replaced, so an
//! instance recovers by itself, without a restart.
//!
//! On SQLite (a file this process opens) nothing is watched and the web
//! layer lets everything through.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _, PgPool};
use tokio::sync::watch;

/// How often the server is probed while it answers.
pub const PERIOD: Duration = Duration::from_secs(1);

/// How often while it does not (a returning server is used again within
/// this).
const RETRY: Duration = Duration::from_millis(250);

/// How long a probe (connecting if needed, and `SELECT 1`) may take before
/// the server counts as unreachable: a server that drops packets rather
/// than refusing them is noticed after this.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the database can be reached (see the module documentation).
/// Cheap to share; the watch ends when the last holder is dropped.
pub struct Health {
    /// Whether a watch runs at all (PostgreSQL).
    watched: bool,
    down: watch::Sender<bool>,
}

impl Health {
    /// Nothing watched: never down (a SQLite file).
    pub fn unwatched() -> Arc<Health> {
        Arc::new(Health {
            watched: false,
            down: watch::Sender::new(false),
        })
    }

    /// Watches the server `pool` connects to, from a task of its own on the
    /// current runtime.
    pub fn watch(pool: &PgPool) -> Arc<Health> {
        let health = Arc::new(Health {
            watched: true,
            down: watch::Sender::new(false),
        });
        // The probe's statements are not the site's: they stay out of the
        // statement log (and out of the tests that count statements).
        let options = (*pool.connect_options())
            .clone()
            .disable_statement_logging();
        tokio::spawn(watch_server(options, Arc::downgrade(&health)));
        health
    }

    /// Whether anything is watched (else [`Health::is_down`] is always false).
    pub fn watched(&self) -> bool {
        self.watched
    }

    /// Whether the last probe failed.
    pub fn is_down(&self) -> bool {
        *self.down.borrow()
    }

    /// Ends when a probe fails (at once if the last one did).
    pub async fn gone_down(&self) {
        let mut down = self.down.subscribe();
        let _ = down.wait_for(|down| *down).await;
    }

    fn set_down(&self, now: bool) {
        let was = self.down.send_replace(now);
        match (was, now) {
            (false, true) => {
                tracing::error!("the database cannot be reached: answering 503 until it can")
            }
            (true, false) => tracing::warn!("the database can be reached again"),
            _ => {}
        }
    }
}

/// Probes until the [`Health`] it reports to is dropped.
async fn watch_server(options: PgConnectOptions, health: Weak<Health>) {
    let mut conn = None;
    loop {
        let reached = probe(&mut conn, &options).await;
        let Some(health) = health.upgrade() else {
            break;
        };
        health.set_down(!reached);
        drop(health);
        tokio::time::sleep(if reached { PERIOD } else { RETRY }).await;
    }
    if let Some(conn) = conn {
        let _ = conn.close().await;
    }
}

/// `SELECT 1` on the kept connection; if that fails (the server may have
/// restarted since: the connection is gone, the server is not), once more on
/// a new one. Whether the server answered.
async fn probe(conn: &mut Option<PgConnection>, options: &PgConnectOptions) -> bool {
    if let Some(kept) = conn.as_mut() {
        if select_one(kept).await {
            return true;
        }
        *conn = None;
    }
    let connected = tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(options)).await;
    let Ok(Ok(mut fresh)) = connected else {
        return false;
    };
    let reached = select_one(&mut fresh).await;
    if reached {
        *conn = Some(fresh);
    }
    reached
}

async fn select_one(conn: &mut PgConnection) -> bool {
    let query = sqlx::query("SELECT 1").execute(&mut *conn);
    matches!(tokio::time::timeout(PROBE_TIMEOUT, query).await, Ok(Ok(_)))
}
