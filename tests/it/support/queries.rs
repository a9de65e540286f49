//! Counting the SQL statements this process runs, through a process-wide
//! tracing subscriber (sqlx logs each statement, target `sqlx::query`, on
//! its connection's worker thread). Other tests of this binary run queries
//! too, so a test that counts runs alone in a process of its own
//! ([`super::alone`]) and installs the subscriber there.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Statements but the pragmas the pool runs when it opens a connection
/// (that happens whenever the pool grows, not because of the request
/// measured).
static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// Those of [`STATEMENTS`] that are not the caches' look at the content
/// clock (at most once a second, or after a write: `cafe::cache::freshness`).
static PAGE_STATEMENTS: AtomicUsize = AtomicUsize::new(0);

struct CountQueries;

/// Reads an event's `summary` field (the statement's start).
#[derive(Default)]
struct Summary(String);

impl tracing::field::Visit for Summary {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "summary" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for CountQueries {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut summary = Summary::default();
        event.record(&mut summary);
        let statement = summary.0.trim_start_matches('"');
        if statement.starts_with("PRAGMA") {
            return;
        }
        STATEMENTS.fetch_add(1, Ordering::SeqCst);
        let clock = ["SELECT tick, lists, everything", "SELECT slug, tick FROM"]
            .iter()
            .any(|start| statement.starts_with(start));
        if !clock {
            PAGE_STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Installs the counting subscriber (once per process).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(CountQueries);
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only subscriber in this process");
    });
}

/// Starts both counts again from zero.
pub fn reset() {
    STATEMENTS.store(0, Ordering::SeqCst);
    PAGE_STATEMENTS.store(0, Ordering::SeqCst);
}

/// Statements run since [`reset`], pragmas left out.
pub fn statements() -> usize {
    STATEMENTS.load(Ordering::SeqCst)
}

/// Statements run since [`reset`], pragmas and the content clock's left out.
pub fn page_statements() -> usize {
    PAGE_STATEMENTS.load(Ordering::SeqCst)
}
