//! Cafe's PostgreSQL pool: what it checks, and when it talks to the server.
//! The pool takes back a connection without a round trip when nothing is
//! outstanding on it (vendor/README.md: sqlx's ping on release, seven round
//! trips per edit and save), still leaves no cancelled query's reply for
//! the next request, and still replaces a connection that died while idle
//! before a request gets it (`src/db/postgres.rs`, the check of connections
//! idle for a second or more).
//!
//! These need PostgreSQL (`CAFE_TEST_POSTGRES`); without it each says it
//! was skipped (and under `CI=true` the run fails, see `support::backend`).

use std::time::Duration;

use cafe::db::{Db, DbOptions};
use sqlx::Connection as _;
use sqlx::postgres::PgPool;

use crate::support::backend;

/// A pool of one connection on a new database, as `cafe serve` opens it;
/// `None` (and a note) without PostgreSQL.
async fn one_connection(test: &str) -> Option<(PgPool, tempfile::TempDir)> {
    if backend::skipped_without_postgres(&format!("db_pool::{test}")) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = backend::fresh(dir.path()).await;
    let options = DbOptions {
        pool_size: 1,
        ..DbOptions::default()
    };
    match cafe::db::connect_with(&url, options).await.unwrap() {
        Db::Postgres(pool) => Some((pool, dir)),
        Db::Sqlite(_) => unreachable!("a PostgreSQL URL opened SQLite"),
    }
}

/// Ends the server's process behind `pid` from a connection of its own, as
/// a database restart or an administrator would.
async fn end_backend(pool: &PgPool, pid: i32) {
    let mut other = sqlx::postgres::PgConnection::connect_with(&*pool.connect_options())
        .await
        .unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert!(ended, "backend {pid} was not ended");
}

#[tokio::test]
async fn a_connection_with_nothing_outstanding_is_taken_back_without_a_round_trip() {
    let Some((pool, _dir)) =
        one_connection("a_connection_with_nothing_outstanding_is_taken_back_without_a_round_trip")
            .await
    else {
        return;
    };
    let mut conn = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    end_backend(&pool, pid).await;
    // The ping the pool runs on every connection it takes back does not
    // reach the server: it succeeds though the server's end is gone.
    conn.ping()
        .await
        .expect("the ping went to the server (a round trip on every release)");
    // The connection itself is dead: a statement does reach the server.
    assert!(
        sqlx::query("SELECT 1").execute(&mut *conn).await.is_err(),
        "the connection outlived its server process"
    );
}

#[tokio::test]
async fn a_cancelled_query_leaves_nothing_for_the_next_request() {
    let Some((pool, _dir)) =
        one_connection("a_cancelled_query_leaves_nothing_for_the_next_request").await
    else {
        return;
    };
    {
        let mut conn = pool.acquire().await.unwrap();
        let slow =
            sqlx::query_scalar::<_, i32>("SELECT 41 FROM pg_sleep(0.3)").fetch_one(&mut *conn);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slow)
                .await
                .is_err(),
            "the slow query was not cut short"
        );
        // Back to the pool with the query's reply still to come.
    }
    let mut conn = pool.acquire().await.unwrap();
    let answer: i32 = sqlx::query_scalar("SELECT 42")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        answer, 42,
        "the next request read the cancelled query's reply"
    );
}

#[tokio::test]
async fn a_connection_that_died_while_idle_is_replaced_before_a_request_gets_it() {
    let Some((pool, _dir)) =
        one_connection("a_connection_that_died_while_idle_is_replaced_before_a_request_gets_it")
            .await
    else {
        return;
    };
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    end_backend(&pool, pid).await;
    // Idle for longer than the pool's check waits for (one second).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let now: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .expect("a request got the dead connection");
    assert_ne!(now, pid, "the same server process answered");
}
