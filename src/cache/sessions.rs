//! Who a signed-in request comes from, kept in memory.
//!
//! Without these, every page a member reads costs two statements before any
//! page is looked at: the session's row and its member's. Both change
//! rarely, and every change goes through a path that tells the cache:
//!
//! - [`Records`] is the memory half of tower-sessions' `CachingSessionStore`
//!   over the database store: a session is written to both, deleted from
//!   both (sign-out, a cycled id), and read from memory when it is there.
//!   On SQLite one process owns its sessions, so that is all; instances
//!   sharing PostgreSQL keep a session only while they have heard of no
//!   change to any session (see [`Records`]).
//! - [`Members`] keeps each session member's row with the accounts clock it
//!   was read at (`migrations/sqlite/0010_accounts_clock.sql`): any change to an
//!   account, by this process or another, moves that clock, so a password
//!   change, a block or a new role is seen by the next request.

use std::sync::Arc;

use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::freshness::SessionSigns;
use crate::accounts::SessionUser;
use crate::auth;
use crate::state::AppState;
use crate::web::context;

/// How many sessions and members are kept; beyond that the least used go
/// (and are read from the database again when they return).
const KEPT: usize = 10_000;

/// Sessions in memory (see the module documentation). Clones share them.
#[derive(Clone)]
pub struct Records(Arc<Kept>);

struct Kept {
    /// Each session with the generation of [`Kept::signs`] it was kept at.
    records: quick_cache::sync::Cache<Id, (Record, u64)>,
    /// PostgreSQL: what this instance heard of sessions changing on any
    /// instance (the session table's trigger and `LISTEN`): a kept session
    /// is served only while the generation it was kept at stands, and
    /// none while nothing is heard. `None` for a process that owns its
    /// sessions (SQLite), whose every change passes through here.
    signs: Option<SessionSigns>,
    /// The generation when a session was looked for here and missed: the
    /// record then read from the database is kept at that generation, so
    /// a change heard while it was being read makes it stale at once.
    missed: quick_cache::sync::Cache<Id, u64>,
}

impl Default for Records {
    fn default() -> Records {
        Records::with_signs(None)
    }
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Records({} kept)", self.0.records.len())
    }
}

impl Records {
    /// Sessions kept while `signs` say nothing changed (instances sharing
    /// a PostgreSQL database).
    pub fn shared(signs: SessionSigns) -> Records {
        Records::with_signs(Some(signs))
    }

    fn with_signs(signs: Option<SessionSigns>) -> Records {
        Records(Arc::new(Kept {
            records: quick_cache::sync::Cache::new(KEPT),
            signs,
            missed: quick_cache::sync::Cache::new(KEPT),
        }))
    }

    /// The generation kept sessions must have been kept at; `None` when
    /// none may be served.
    fn generation(&self) -> Option<u64> {
        match &self.0.signs {
            Some(signs) => signs.generation(),
            None => Some(0),
        }
    }

    /// The session `id` if it is kept, current and has not expired (an
    /// expired or stale one is forgotten).
    pub fn get(&self, id: &Id) -> Option<Record> {
        let generation = self.generation()?;
        let now = time::OffsetDateTime::now_utc();
        match self.0.records.get(id) {
            Some((record, kept_at)) if kept_at == generation && record.expiry_date > now => {
                Some(record)
            }
            Some(_) => {
                self.0.records.remove(id);
                None
            }
            None => None,
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for Records {
    /// The database store has already chosen an id no session has.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.save(record).await
    }

    /// Keeps `record`: at the generation of the miss that had it read from
    /// the database, or, for a session being written (which the caching
    /// store asks of this before the database's write is done), now.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let Some(now) = self.generation() else {
            return Ok(());
        };
        let kept_at = self
            .0
            .missed
            .remove(&record.id)
            .map_or(now, |(_, missed_at)| missed_at);
        self.0.records.insert(record.id, (record.clone(), kept_at));
        Ok(())
    }

    /// On SQLite, the kept session. Instances sharing PostgreSQL answer
    /// none here, so that every request that goes through the session
    /// layer (every form sent, every page not kept) reads the database's
    /// row: a session ended on another instance can never act here, even
    /// in the moment before its notice arrives. Only kept pages, served
    /// before the session layer ([`signed_in_member`]), use the copy kept
    /// when that row was read.
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let found = if self.0.signs.is_some() {
            None
        } else {
            self.get(id)
        };
        if found.is_none()
            && let Some(generation) = self.generation()
        {
            self.0.missed.insert(*id, generation);
        }
        Ok(found)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.records.remove(id);
        self.0.missed.remove(id);
        Ok(())
    }
}

/// The database half of the session store, on whichever backend the site
/// is: tower-sessions' own store for each.
#[derive(Clone, Debug)]
pub enum Stored {
    Sqlite(tower_sessions_sqlx_store::SqliteStore),
    Postgres(tower_sessions_sqlx_store::PostgresStore),
}

impl Stored {
    /// The store over `db`, its table created if missing.
    pub async fn open(db: &crate::db::Db) -> session_store::Result<Stored> {
        Ok(match db {
            crate::db::Db::Sqlite(pool) => {
                let store = tower_sessions_sqlx_store::SqliteStore::new(pool.clone());
                store.migrate().await.map_err(backend)?;
                Stored::Sqlite(store)
            }
            crate::db::Db::Postgres(pool) => {
                let store = tower_sessions_sqlx_store::PostgresStore::new(pool.clone());
                store.migrate().await.map_err(backend)?;
                // Every instance hears of a session changed or ended on any
                // of them (`Records`); the function is Cafe's migration's.
                sqlx::query(
                    "CREATE OR REPLACE TRIGGER cafe_sessions_changed
                     AFTER UPDATE OR DELETE ON tower_sessions.session
                     FOR EACH STATEMENT EXECUTE FUNCTION public.cafe_sessions_changed()",
                )
                .execute(pool)
                .await
                .map_err(backend)?;
                Stored::Postgres(store)
            }
        })
    }
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

#[async_trait::async_trait]
impl SessionStore for Stored {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Stored::Sqlite(store) => store.create(record).await,
            Stored::Postgres(store) => store.create(record).await,
        }
    }

    /// A change to an existing session (a flash shown, an expiry moved)
    /// that a full SQLite disk refuses is let go: the page asked for is
    /// answered (reads go on while the disk is full) and the change is
    /// lost, which costs at most a flash shown twice. A new session
    /// ([`SessionStore::create`], signing in) still fails.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let saved = match self {
            Stored::Sqlite(store) => store.save(record).await,
            Stored::Postgres(store) => store.save(record).await,
        };
        match saved {
            Err(session_store::Error::Backend(why)) if why.contains("(code: 13)") => {
                tracing::warn!(
                    error = why,
                    "a session's change was not written: the disk is full"
                );
                Ok(())
            }
            other => other,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Stored::Sqlite(store) => store.load(id).await,
            Stored::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Stored::Sqlite(store) => store.delete(id).await,
            Stored::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait::async_trait]
impl tower_sessions::session_store::ExpiredDeletion for Stored {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Stored::Sqlite(store) => store.delete_expired().await,
            Stored::Postgres(store) => store.delete_expired().await,
        }
    }
}

/// The member the session `id` (its cookie's value) is signed in as and
/// the session's CSRF token, from memory alone: the session kept in
/// [`Records`], its member in [`Members`] at the accounts clock `accounts`.
/// `None` when anything would need the session layer: the session or the
/// member not in memory, a sign-in too old or from before the member's
/// last password change, or a re-save due (`context::keep_alive`). The
/// caller then takes the usual way, which decides the same questions.
pub fn signed_in_member(
    state: &AppState,
    id: &str,
    accounts: i64,
) -> Option<(SessionUser, String)> {
    let record = state.session_records.get(&id.parse::<Id>().ok()?)?;
    let number = |key: &str| record.data.get(key).and_then(serde_json::Value::as_i64);
    let (user, epoch) = state
        .session_members
        .get(number(auth::USER_ID)?, accounts)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let current = number(auth::AUTH_EPOCH) == Some(epoch)
        && context::sign_in_is_fresh(&state.config, number(auth::SIGNED_IN_AT)?, now)
        && !context::keep_alive_is_due(&state.config, number(auth::SEEN_AT).unwrap_or(0), now);
    let csrf = record.data.get(auth::CSRF)?.as_str()?;
    current.then(|| (user, csrf.to_owned()))
}

/// A member's row as a session reads it, and the accounts clock it was
/// read at.
#[derive(Clone)]
struct Member {
    user: SessionUser,
    auth_epoch: i64,
    accounts: i64,
}

/// Session members by id (see the module documentation).
pub struct Members(quick_cache::sync::Cache<i64, Member>);

impl Default for Members {
    fn default() -> Members {
        Members(quick_cache::sync::Cache::new(KEPT))
    }
}

impl Members {
    /// The member `id` and their `auth_epoch`, if read while the accounts
    /// clock stood at `accounts`.
    pub fn get(&self, id: i64, accounts: i64) -> Option<(SessionUser, i64)> {
        self.0
            .get(&id)
            .filter(|kept| kept.accounts == accounts)
            .map(|kept| (kept.user, kept.auth_epoch))
    }

    /// Keeps what was read of member `user` with the accounts clock read
    /// before the statement (so a change meanwhile makes it stale).
    pub fn put(&self, user: SessionUser, auth_epoch: i64, accounts: i64) {
        let member = Member {
            user,
            auth_epoch,
            accounts,
        };
        self.0.insert(member.user.id, member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> SessionUser {
        SessionUser {
            id,
            username: format!("u{id}"),
            display_name: format!("U{id}"),
            is_admin: false,
        }
    }

    #[test]
    fn a_member_is_kept_only_while_the_accounts_clock_stands_still() {
        let members = Members::default();
        members.put(user(3), 7, 40);
        assert_eq!(members.get(3, 40).map(|(u, e)| (u.id, e)), Some((3, 7)));
        assert!(members.get(3, 41).is_none(), "an account changed since");
        assert!(members.get(4, 40).is_none());
    }

    #[tokio::test]
    async fn a_session_is_served_until_it_expires_or_is_deleted() {
        let records = Records::default();
        let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let mut record = Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: later,
        };
        records.create(&mut record).await.expect("create");
        let loaded = records.load(&record.id).await.expect("load");
        assert_eq!(loaded.map(|r| r.id), Some(record.id));
        records.delete(&record.id).await.expect("delete");
        assert!(records.load(&record.id).await.expect("load").is_none());

        record.expiry_date = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
        records.save(&record).await.expect("save");
        assert!(records.load(&record.id).await.expect("load").is_none());
    }
}
