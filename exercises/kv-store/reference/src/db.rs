//! The keyspace: string keys to string values with optional deadlines.
//!
//! Deadlines are absolute wall-clock times in milliseconds since the Unix
//! epoch, as in Redis, so that they mean the same thing after a restart.
//! A key is expired once `now > deadline` (Redis' rule: at the deadline
//! itself the key still exists, with a TTL of 0).
//!
//! Expired keys are removed two ways, like Redis:
//! * lazily: every read or write of a key first drops it if it has expired,
//!   so no command ever observes an expired key;
//! * actively: [`Keyspace::expire_due`], called periodically, pops deadlines
//!   from a min-heap so memory is reclaimed for keys nobody touches again.
//!
//! The heap is never updated in place: overwriting or persisting a key
//! leaves a stale heap entry, which is recognised (its deadline no longer
//! matches the key's) and skipped when popped. The heap is rebuilt when
//! stale entries outnumber live ones, bounding its memory.
//!
//! This type knows nothing about locking or the log; callers hold the lock
//! and log the mutations the methods report.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Milliseconds since the Unix epoch, the unit of every deadline.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Bytes,
    pub deadline: Option<i64>,
}

/// Result of [`Keyspace::incr_by`].
#[derive(Debug, PartialEq, Eq)]
pub enum IncrError {
    NotAnInteger,
    Overflow,
}

#[derive(Debug, Default)]
pub struct Keyspace {
    map: HashMap<Bytes, Entry>,
    /// Min-heap of (deadline, key); may hold stale entries, see module docs.
    deadlines: BinaryHeap<Reverse<(i64, Bytes)>>,
    /// Number of keys in `map` that have a deadline.
    with_deadline: usize,
}

impl Keyspace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys held, including expired keys not yet reclaimed
    /// (Redis' DBSIZE counts those too).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Iterates over live and not-yet-reclaimed entries (for log rewrite).
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.map.iter()
    }

    /// Drops `key` if it has expired. Every access goes through here first.
    fn purge_if_expired(&mut self, key: &[u8], now: i64) {
        let expired =
            matches!(self.map.get(key), Some(Entry { deadline: Some(d), .. }) if now > *d);
        if expired {
            self.remove(key);
        }
    }

    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.map.remove(key)?;
        if old.deadline.is_some() {
            self.with_deadline -= 1;
        }
        Some(old)
    }

    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.purge_if_expired(key, now);
        self.map.get(key)
    }

    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        self.get(key, now).is_some()
    }

    /// Stores `value` under `key` with `deadline`, replacing any previous
    /// value and deadline. Values are copied out of the request buffer so a
    /// small key never pins a large network buffer in memory.
    pub fn set(&mut self, key: &[u8], value: &[u8], deadline: Option<i64>) {
        let key = Bytes::copy_from_slice(key);
        if let Some(d) = deadline {
            self.with_deadline += 1;
            self.deadlines.push(Reverse((d, key.clone())));
            self.maybe_rebuild_heap();
        }
        let entry = Entry {
            value: Bytes::copy_from_slice(value),
            deadline,
        };
        if let Some(old) = self.map.insert(key, entry) {
            if old.deadline.is_some() {
                self.with_deadline -= 1;
            }
        }
    }

    /// Removes `key`; true if it existed (and had not expired).
    pub fn del(&mut self, key: &[u8], now: i64) -> bool {
        self.purge_if_expired(key, now);
        self.remove(key).is_some()
    }

    /// Adds `delta` to the integer stored at `key` (0 if missing), keeping
    /// its deadline. Returns the new value and the deadline to log.
    pub fn incr_by(
        &mut self,
        key: &[u8],
        delta: i64,
        now: i64,
    ) -> Result<(i64, Option<i64>), IncrError> {
        let (current, deadline) = match self.get(key, now) {
            None => (0, None),
            Some(e) => (
                crate::resp::parse_i64(&e.value).ok_or(IncrError::NotAnInteger)?,
                e.deadline,
            ),
        };
        let new = current.checked_add(delta).ok_or(IncrError::Overflow)?;
        let text = new.to_string();
        match self.map.get_mut(key) {
            // Keep the existing entry (and its heap record) in place.
            Some(e) => e.value = Bytes::from(text.into_bytes()),
            None => self.set(key, text.as_bytes(), None),
        }
        Ok((new, deadline))
    }

    /// Sets the deadline of an existing, live key. Returns false if the key
    /// does not exist.
    pub fn set_deadline(&mut self, key: &[u8], deadline: i64, now: i64) -> bool {
        self.purge_if_expired(key, now);
        let Some(entry) = self.map.get_mut(key) else {
            return false;
        };
        if entry.deadline.is_none() {
            self.with_deadline += 1;
        }
        entry.deadline = Some(deadline);
        let key = Bytes::copy_from_slice(key);
        self.deadlines.push(Reverse((deadline, key)));
        self.maybe_rebuild_heap();
        true
    }

    /// Active expiry: removes up to `budget` keys whose deadline has passed.
    /// Returns how many were removed. The budget keeps each call (made with
    /// the keyspace lock held) short even when many keys expire at once.
    pub fn expire_due(&mut self, now: i64, budget: usize) -> usize {
        let mut removed = 0;
        while removed < budget {
            match self.deadlines.peek() {
                Some(Reverse((d, _))) if now > *d => {}
                _ => break,
            }
            let Reverse((d, key)) = self.deadlines.pop().expect("peeked");
            // Skip stale heap entries: the key was deleted, overwritten or
            // given another deadline since this entry was pushed.
            if self.map.get(&key).and_then(|e| e.deadline) == Some(d) {
                self.remove(&key);
                removed += 1;
            }
        }
        removed
    }

    /// Rebuilds the heap from live deadlines once most of it is stale, so
    /// rewriting the TTL of the same keys over and over cannot grow it
    /// without bound. Amortised O(1) per push.
    fn maybe_rebuild_heap(&mut self) {
        if self.deadlines.len() > 1024 && self.deadlines.len() > 2 * self.with_deadline {
            self.deadlines = self
                .map
                .iter()
                .filter_map(|(k, e)| e.deadline.map(|d| Reverse((d, k.clone()))))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_expiry_uses_strictly_after_deadline() {
        let mut ks = Keyspace::new();
        ks.set(b"k", b"v", Some(100));
        assert!(ks.contains(b"k", 100));
        assert!(!ks.contains(b"k", 101));
        assert_eq!(ks.len(), 0);
    }

    #[test]
    fn active_expiry_skips_stale_heap_entries() {
        let mut ks = Keyspace::new();
        ks.set(b"a", b"1", Some(10));
        ks.set(b"a", b"2", Some(1000)); // stale entry at 10 remains in heap
        ks.set(b"b", b"1", Some(20));
        assert_eq!(ks.expire_due(50, 100), 1);
        assert!(ks.contains(b"a", 50));
        assert!(!ks.contains(b"b", 50));
    }

    #[test]
    fn heap_stays_bounded() {
        let mut ks = Keyspace::new();
        for i in 0..100_000 {
            ks.set(b"k", b"v", Some(1_000_000 + i));
        }
        assert!(ks.deadlines.len() <= 2048);
    }

    #[test]
    fn incr_keeps_deadline() {
        let mut ks = Keyspace::new();
        ks.set(b"n", b"41", Some(5000));
        assert_eq!(ks.incr_by(b"n", 1, 0), Ok((42, Some(5000))));
        assert_eq!(ks.get(b"n", 0).unwrap().deadline, Some(5000));
        ks.set(b"s", b"x", None);
        assert_eq!(ks.incr_by(b"s", 1, 0), Err(IncrError::NotAnInteger));
        ks.set(b"m", i64::MAX.to_string().as_bytes(), None);
        assert_eq!(ks.incr_by(b"m", 1, 0), Err(IncrError::Overflow));
    }
}
