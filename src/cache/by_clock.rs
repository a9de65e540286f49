//! One value read from the database and kept while the clock's `lists`
//! and `everything` stand (see [`super::freshness`]): what every edit form
//! offers, the tag vocabulary, changes only when tags come and go or the
//! indicators change, yet was read for each form.

use std::sync::{Arc, Mutex, PoisonError};

use super::freshness::Clock;

/// The clock's `lists` and `everything` a value was read at.
type ReadAt = (i64, i64);

/// The value and the clock it was read at. What it hands out is an `Arc`.
pub struct ByClock<T>(Mutex<Option<(ReadAt, Arc<T>)>>);

impl<T> Default for ByClock<T> {
    fn default() -> ByClock<T> {
        ByClock(Mutex::new(None))
    }
}

fn key(clock: Clock) -> ReadAt {
    (clock.lists, clock.everything)
}

impl<T> ByClock<T> {
    /// The value kept at `now`'s lists and everything, if any.
    pub fn get(&self, now: Clock) -> Option<Arc<T>> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.as_ref()
            .filter(|(at, _)| *at == key(now))
            .map(|(_, value)| Arc::clone(value))
    }

    /// Keeps `value`, read after the clock said `read_at`: a write
    /// committed meanwhile moved the clock past it, so the value is not
    /// served once that write is seen.
    pub fn put(&self, read_at: Clock, value: Arc<T>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((key(read_at), value));
    }

    /// The value kept at `now`, or else `read`'s, kept at `now` when there
    /// is one (with no clock, nothing may be served from memory nor kept).
    pub async fn get_or_read<E>(
        &self,
        now: Option<Clock>,
        read: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<Arc<T>, E> {
        if let Some(kept) = now.and_then(|now| self.get(now)) {
            return Ok(kept);
        }
        let read = Arc::new(read.await?);
        if let Some(now) = now {
            self.put(now, Arc::clone(&read));
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock some value was read at.
    const AT: Clock = Clock {
        tick: 7,
        lists: 3,
        everything: 1,
        accounts: 0,
    };

    #[test]
    fn a_value_is_kept_only_while_lists_and_everything_stand() {
        let kept = ByClock::default();
        assert!(kept.get(AT).is_none());
        kept.put(AT, Arc::new("vocabulary"));
        let later_save = Clock { tick: 8, ..AT };
        assert_eq!(kept.get(later_save).as_deref(), Some(&"vocabulary"));
        assert!(kept.get(Clock { lists: 4, ..AT }).is_none());
        assert!(
            kept.get(Clock {
                everything: 2,
                ..AT
            })
            .is_none()
        );
    }

    #[tokio::test]
    async fn get_or_read_reads_once_per_clock_and_keeps_nothing_without_one() {
        let kept = ByClock::default();
        let first = kept.get_or_read(Some(AT), async { Ok::<_, ()>(1) }).await;
        let again = kept.get_or_read(Some(AT), async { Ok::<_, ()>(2) }).await;
        assert_eq!((*first.unwrap(), *again.unwrap()), (1, 1));
        let moved = Clock { lists: 4, ..AT };
        let read = kept
            .get_or_read(Some(moved), async { Ok::<_, ()>(3) })
            .await;
        assert_eq!(*read.unwrap(), 3);
        let blind = kept.get_or_read(None, async { Ok::<_, ()>(4) }).await;
        assert_eq!(*blind.unwrap(), 4);
        assert_eq!(
            kept.get(moved).as_deref(),
            Some(&3),
            "a blind read keeps nothing"
        );
        let failed = kept
            .get_or_read(Some(AT), async { Err::<i32, _>("down") })
            .await;
        assert_eq!(failed, Err("down"));
    }
}
