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
///
/// With `--trust-proxy HEADER` the address is read from that header: the
/// right-most entry of its last line, the one the trusted proxy appended
/// (entries to its left are whatever the client sent). A missing header or
/// one that is not an IP address falls back to the peer's address. Without
/// the flag no header is read, so a client cannot pick its own bucket.
pub struct ClientAddr(pub String);

impl ClientAddr {
    fn from_request(
        headers: &axum::http::HeaderMap,
        peer: Option<std::net::IpAddr>,
        trusted: Option<&axum::http::HeaderName>,
    ) -> ClientAddr {
        let forwarded = trusted
            .and_then(|name| headers.get_all(name).iter().next_back())
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<std::net::IpAddr>()
                    .ok()
                    .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
            });
        ClientAddr(
            forwarded
                .or(peer)
                .map_or_else(|| "local".to_owned(), |ip| ip.to_string()),
        )
    }
}

impl axum::extract::FromRequestParts<crate::AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(ClientAddr::from_request(
            &parts.headers,
            peer,
            state.config.trust_proxy.as_ref(),
        ))
    }
}

#[cfg(test)]
mod client_addr_tests {
    use axum::http::{HeaderMap, HeaderName, HeaderValue};

    use super::ClientAddr;

    fn addr(forwarded: &[&str], trusted: Option<&str>) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).expect("value"));
        }
        let trusted = trusted.map(HeaderName::from_static);
        let peer = "192.0.2.7".parse().ok();
        ClientAddr::from_request(&headers, peer, trusted.as_ref()).0
    }

    #[test]
    fn without_trust_proxy_forwarded_for_is_ignored() {
        assert_eq!(addr(&["10.0.0.1"], None), "192.0.2.7");
    }

    #[test]
    fn with_trust_proxy_the_entry_the_proxy_appended_counts() {
        let xff = Some("x-forwarded-for");
        assert_eq!(addr(&["10.0.0.1, 198.51.100.4"], xff), "198.51.100.4");
        assert_eq!(addr(&["10.0.0.1", "198.51.100.5"], xff), "198.51.100.5");
        assert_eq!(addr(&["[2001:db8::1]:4711"], xff), "2001:db8::1");
    }

    #[test]
    fn a_missing_or_unreadable_proxy_header_falls_back_to_the_peer() {
        let xff = Some("x-forwarded-for");
        assert_eq!(addr(&[], xff), "192.0.2.7");
        assert_eq!(addr(&["10.0.0.1, not-an-ip"], xff), "192.0.2.7");
        assert_eq!(addr(&["10.0.0.1"], Some("x-real-ip")), "192.0.2.7");
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
