//! In-memory sliding-window counters for sign-in failures and sign-ups.
//! Kept in the process: a restart forgets them, which only gives an attacker
//! one more window, and it keeps every request free of extra writes.
//!
//! An attempt is *reserved* when it is checked, under one lock, so requests
//! that arrive together cannot all pass the check before any of them is
//! counted; the caller gives the reservation back when the attempt turns out
//! not to count (a right password, a refused form).
//!
//! Memory is bounded whatever clients send: a key is kept as text only up to
//! [`MAX_KEY_BYTES`] (longer ones are kept as a keyed 64-bit hash), a key
//! holds at most its bucket's limit of times (a refused attempt adds none),
//! keys are dropped once their newest time is older than their window, and
//! there are at most [`MAX_KEYS`] of them (past that the least recently used
//! are dropped first). So the map holds at most `MAX_KEYS × (~250 bytes +
//! 16 bytes × limit)` for limits up to 64: with the default limits (5, 30,
//! 20) about 35 MiB at the very worst, a few KiB in ordinary use.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys held at once, over all buckets.
pub const MAX_KEYS: usize = 50_000;

/// Longest key kept as text: a normalised username (32 characters, at most
/// 128 bytes of UTF-8 but usually 32) or an IPv6 address fits; anything
/// longer is kept as a hash.
pub const MAX_KEY_BYTES: usize = 64;

/// How often, at most, the map is swept for keys past their window.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Wrong passwords for one (normalised) username.
    FailuresPerUser,
    /// Failed sign-ins from one client address.
    FailuresPerAddr,
    /// Accounts created from one client address.
    JoinsPerAddr,
    /// Upload requests of one member (by user id).
    UploadsPerMember,
    /// Questions sent to practitioners by one member (by user id).
    QuestionsPerMember,
    /// OpenID Connect sign-ins started from one client address.
    OidcStartsPerAddr,
}

/// A key as stored: short text as is, long text as a keyed hash (the key is
/// random per process, so nobody can pick names that collide).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Text(Box<str>),
    Hashed(u64),
}

/// The times counted for one key, and the window they count in (so the key
/// can be dropped by age).
struct Entry {
    window: Duration,
    times: VecDeque<Instant>,
}

impl Entry {
    /// Drops the times that have left the window.
    fn expire(&mut self, now: Instant) {
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.times.pop_front();
        }
    }

    /// Whether the newest time has left the window: the key counts nothing.
    fn is_stale(&self, now: Instant) -> bool {
        self.times
            .back()
            .is_none_or(|t| now.duration_since(*t) >= self.window)
    }
}

struct Inner {
    hits: HashMap<(Bucket, Key), Entry>,
    swept: Instant,
}

/// Counters keyed by bucket and key (a username or an address).
pub struct Throttle {
    inner: Mutex<Inner>,
    hasher: RandomState,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            inner: Mutex::new(Inner {
                hits: HashMap::new(),
                swept: Instant::now(),
            }),
            hasher: RandomState::new(),
        }
    }
}

/// One counted attempt, to give back with [`Throttle::give_back`] when it
/// should not count after all. Dropping it keeps it counted.
#[derive(Debug)]
pub struct Reservation {
    bucket: Bucket,
    key: Key,
    at: Instant,
}

impl Throttle {
    fn key(&self, key: &str) -> Key {
        if key.len() <= MAX_KEY_BYTES {
            Key::Text(key.into())
        } else {
            Key::Hashed(self.hasher.hash_one(key))
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Counts one attempt for `key` if it has fewer than `limit` within
    /// `window`, in the same step as the check. `Err(seconds)` when it has
    /// not: nothing is counted, the caller answers 429 and says when to retry.
    pub fn reserve(
        &self,
        bucket: Bucket,
        key: &str,
        limit: usize,
        window: Duration,
    ) -> Result<Reservation, u64> {
        let now = Instant::now();
        let key = self.key(key);
        let mut inner = self.lock();
        inner.sweep(now);
        let map_key = (bucket, key);
        if let Some(entry) = inner.hits.get_mut(&map_key) {
            entry.window = entry.window.max(window);
            entry.expire(now);
            if entry.times.len() >= limit {
                let oldest = entry.times.front().copied().unwrap_or(now);
                let wait = window.saturating_sub(now.duration_since(oldest));
                return Err(wait.as_secs().max(1));
            }
            entry.times.push_back(now);
        } else {
            if limit == 0 {
                return Err(window.as_secs().max(1));
            }
            inner.make_room(now);
            inner.hits.insert(
                map_key.clone(),
                Entry {
                    window,
                    times: {
                        let mut times = VecDeque::with_capacity(limit.min(64));
                        times.push_back(now);
                        times
                    },
                },
            );
        }
        let (bucket, key) = map_key;
        Ok(Reservation {
            bucket,
            key,
            at: now,
        })
    }

    /// Uncounts a reserved attempt (a right password, a form refused before
    /// anything was created).
    pub fn give_back(&self, reservation: Reservation) {
        let mut inner = self.lock();
        let map_key = (reservation.bucket, reservation.key);
        let Some(entry) = inner.hits.get_mut(&map_key) else {
            return;
        };
        if let Some(i) = entry.times.iter().rposition(|t| *t == reservation.at) {
            entry.times.remove(i);
        }
        if entry.times.is_empty() {
            inner.hits.remove(&map_key);
        }
    }

    /// Forgets the hits of `key` (a successful sign-in clears its failures).
    pub fn clear(&self, bucket: Bucket, key: &str) {
        let key = self.key(key);
        self.lock().hits.remove(&(bucket, key));
    }

    /// How many keys are held, over all buckets.
    pub fn len(&self) -> usize {
        self.lock().hits.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Drops the keys past their window, at most once per [`SWEEP_EVERY`],
    /// so memory goes back down after a burst without a scan per request.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.swept) < SWEEP_EVERY {
            return;
        }
        self.swept = now;
        self.hits.retain(|_, entry| !entry.is_stale(now));
    }

    /// Makes room for one more key below [`MAX_KEYS`]: first the keys past
    /// their window, then the eighth of the keys used least recently (one
    /// scan for many inserts). An attacker who floods new keys to push out
    /// a victim's failures must first spend `MAX_KEYS / 8` failed sign-ins,
    /// each a password hash and each counted against their address.
    fn make_room(&mut self, now: Instant) {
        if self.hits.len() < MAX_KEYS {
            return;
        }
        self.swept = now;
        self.hits.retain(|_, entry| !entry.is_stale(now));
        if self.hits.len() < MAX_KEYS {
            return;
        }
        let mut newest: Vec<Instant> = self
            .hits
            .values()
            .map(|e| e.times.back().copied().unwrap_or(now))
            .collect();
        let cut = MAX_KEYS / 8;
        let (_, threshold, _) = newest.select_nth_unstable(cut);
        let threshold = *threshold;
        self.hits
            .retain(|_, entry| entry.times.back().is_some_and(|t| *t > threshold));
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

    fn addr(forwarded: &[&str], trusted: Option<&'static str>) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_str(value).expect("value"),
            );
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

    const WINDOW: Duration = Duration::from_secs(900);

    #[test]
    fn the_attempt_after_the_limit_is_refused_with_a_wait() {
        let throttle = Throttle::default();
        for _ in 0..5 {
            assert!(
                throttle
                    .reserve(Bucket::FailuresPerUser, "alice", 5, WINDOW)
                    .is_ok()
            );
        }
        let wait = throttle
            .reserve(Bucket::FailuresPerUser, "alice", 5, WINDOW)
            .unwrap_err();
        assert!(wait > 800 && wait <= 900, "{wait}");
        assert!(
            throttle
                .reserve(Bucket::FailuresPerUser, "bob", 5, WINDOW)
                .is_ok()
        );
        throttle.clear(Bucket::FailuresPerUser, "alice");
        assert!(
            throttle
                .reserve(Bucket::FailuresPerUser, "alice", 5, WINDOW)
                .is_ok()
        );
    }

    #[test]
    fn a_reservation_given_back_no_longer_counts() {
        let throttle = Throttle::default();
        for _ in 0..4 {
            throttle
                .reserve(Bucket::JoinsPerAddr, "192.0.2.1", 5, WINDOW)
                .unwrap();
        }
        let fifth = throttle
            .reserve(Bucket::JoinsPerAddr, "192.0.2.1", 5, WINDOW)
            .unwrap();
        assert!(
            throttle
                .reserve(Bucket::JoinsPerAddr, "192.0.2.1", 5, WINDOW)
                .is_err()
        );
        throttle.give_back(fifth);
        assert!(
            throttle
                .reserve(Bucket::JoinsPerAddr, "192.0.2.1", 5, WINDOW)
                .is_ok()
        );
    }

    #[test]
    fn simultaneous_reservations_never_pass_the_limit() {
        let throttle = std::sync::Arc::new(Throttle::default());
        let threads: Vec<_> = (0..40)
            .map(|_| {
                let throttle = throttle.clone();
                std::thread::spawn(move || {
                    throttle
                        .reserve(Bucket::FailuresPerUser, "alice", 5, WINDOW)
                        .is_ok()
                })
            })
            .collect();
        let granted = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(granted, 5);
    }

    #[test]
    fn a_key_longer_than_the_rules_is_held_as_a_small_hash_and_still_counts() {
        let throttle = Throttle::default();
        let long = "x".repeat(1_000_000);
        for _ in 0..5 {
            throttle
                .reserve(Bucket::FailuresPerUser, &long, 5, WINDOW)
                .unwrap();
        }
        assert!(
            throttle
                .reserve(Bucket::FailuresPerUser, &long, 5, WINDOW)
                .is_err()
        );
        let inner = throttle.lock();
        assert_eq!(inner.hits.len(), 1);
        assert!(
            inner
                .hits
                .keys()
                .all(|(_, key)| matches!(key, Key::Hashed(_))),
            "the long name itself is not kept"
        );
    }

    #[test]
    fn keys_past_their_window_are_dropped() {
        let throttle = Throttle::default();
        let short = Duration::from_millis(20);
        for n in 0..100 {
            throttle
                .reserve(
                    Bucket::FailuresPerAddr,
                    &format!("198.51.100.{n}"),
                    5,
                    short,
                )
                .unwrap();
        }
        throttle
            .reserve(Bucket::FailuresPerUser, "alice", 5, WINDOW)
            .unwrap();
        std::thread::sleep(short * 2);
        // As if the last sweep was over a minute ago.
        {
            let mut inner = throttle.lock();
            inner.swept = Instant::now()
                .checked_sub(SWEEP_EVERY * 2)
                .unwrap_or(inner.swept);
        }
        throttle
            .reserve(Bucket::FailuresPerUser, "bob", 5, WINDOW)
            .unwrap();
        assert_eq!(throttle.len(), 2, "only alice and bob are left");
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let throttle = Throttle::default();
        for n in 0..MAX_KEYS + 1000 {
            throttle
                .reserve(Bucket::FailuresPerUser, &format!("user{n}"), 5, WINDOW)
                .unwrap();
        }
        assert!(throttle.len() <= MAX_KEYS, "{} keys", throttle.len());
        // The newest keys are the ones kept.
        assert!(
            throttle
                .reserve(
                    Bucket::FailuresPerUser,
                    &format!("user{}", MAX_KEYS + 999),
                    1,
                    WINDOW
                )
                .is_err()
        );
    }
}
