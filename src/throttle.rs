//! In-memory sliding-window counters for sign-in failures and sign-ups.
//! Kept in the process: a restart forgets them, which only gives an attacker
//! one more window, and it keeps every request free of extra writes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Wrong passwords for one (normalised) username.
    FailuresPerUser,
    /// Failed sign-ins from one client address.
    FailuresPerAddr,
    /// Accounts created from one client address.
    JoinsPerAddr,
}

/// Counters keyed by bucket and key (a username or an address).
#[derive(Default)]
pub struct Throttle {
    hits: Mutex<HashMap<(Bucket, String), VecDeque<Instant>>>,
}

impl Throttle {
    /// `Err(seconds)` when `key` already has `limit` hits within `window`:
    /// the caller answers 429 and says when to retry.
    pub fn check(
        &self,
        bucket: Bucket,
        key: &str,
        limit: usize,
        window: Duration,
    ) -> Result<(), u64> {
        let now = Instant::now();
        let mut hits = self
            .hits
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let Some(times) = hits.get_mut(&(bucket, key.to_owned())) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() < limit {
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        let wait = window.saturating_sub(now.duration_since(oldest));
        Err(wait.as_secs().max(1))
    }

    /// Counts one hit for `key`.
    pub fn record(&self, bucket: Bucket, key: &str) {
        let now = Instant::now();
        let mut hits = self
            .hits
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if hits.len() > 50_000 {
            // Drop keys whose newest hit is over an hour old, so the map stays small.
            hits.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(3600))
            });
        }
        hits.entry((bucket, key.to_owned()))
            .or_default()
            .push_back(now);
    }

    /// Forgets the hits of `key` (a successful sign-in clears its failures).
    pub fn clear(&self, bucket: Bucket, key: &str) {
        let mut hits = self
            .hits
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        hits.remove(&(bucket, key.to_owned()));
    }
}

/// The client's address as the throttles key it ("local" when the server
/// was not started with connection info, as in router tests).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "local".to_owned(), |info| info.0.ip().to_string());
        Ok(ClientAddr(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hit_after_the_limit_is_refused_with_a_wait() {
        let throttle = Throttle::default();
        let window = Duration::from_secs(900);
        for _ in 0..5 {
            assert!(
                throttle
                    .check(Bucket::FailuresPerUser, "alice", 5, window)
                    .is_ok()
            );
            throttle.record(Bucket::FailuresPerUser, "alice");
        }
        let wait = throttle
            .check(Bucket::FailuresPerUser, "alice", 5, window)
            .unwrap_err();
        assert!(wait > 800 && wait <= 900, "{wait}");
        assert!(
            throttle
                .check(Bucket::FailuresPerUser, "bob", 5, window)
                .is_ok()
        );
        throttle.clear(Bucket::FailuresPerUser, "alice");
        assert!(
            throttle
                .check(Bucket::FailuresPerUser, "alice", 5, window)
                .is_ok()
        );
    }
}
