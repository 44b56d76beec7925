//! Recently resolved keys, by the SHA-256 of what was presented: which landlord a key belongs
//! to, or that it belongs to nobody. Most requests then authenticate without the database, and
//! a stream of wrong guesses repeating one key costs one lookup per TTL.
//!
//! The price is the TTL: a key revoked in the database keeps working here until its entry
//! expires. Entries are only ever trusted for `ttl` after they were fetched; nothing renews
//! them but a new lookup.
//!
//! Time is passed in by the caller, so the expiry rules are tested without waiting.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::keys::KeyOwner;

/// What the cache knows of a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// A valid key of this owner, fetched less than the TTL ago.
    Valid(KeyOwner),
    /// Unknown or revoked when fetched less than the TTL ago.
    Invalid,
    /// Not known (never fetched, or expired): look it up.
    Unknown,
}

struct Entry {
    owner: Option<KeyOwner>,
    fetched_at: Instant,
}

/// A bounded map of key hash to owner with a time to live.
pub struct KeyCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl KeyCache {
    /// A cache trusting entries for `ttl` (zero: never) and holding at most `capacity`.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        KeyCache { ttl, capacity: capacity.max(1), entries: Mutex::new(HashMap::new()) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        // A panic while holding the lock leaves a map that is still consistent (every
        // operation is a single insert, remove or field write).
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fresh(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.fetched_at) < self.ttl
    }

    /// What is known of `hash` at `now`.
    pub fn get(&self, hash: &[u8; 32], now: Instant) -> Cached {
        let mut entries = self.entries();
        match entries.get(hash) {
            Some(entry) if self.fresh(entry, now) => match &entry.owner {
                Some(owner) => Cached::Valid(owner.clone()),
                None => Cached::Invalid,
            },
            Some(_) => {
                entries.remove(hash);
                Cached::Unknown
            }
            None => Cached::Unknown,
        }
    }

    /// Records what a lookup at `now` found. When full, expired entries go first, then the
    /// remembered invalid keys (guesses are what fills a cache), then everything: an entry
    /// lost is only a lookup more.
    pub fn put(&self, hash: [u8; 32], owner: Option<KeyOwner>, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(&hash) {
            entries.retain(|_, e| now.saturating_duration_since(e.fetched_at) < self.ttl);
            if entries.len() >= self.capacity {
                entries.retain(|_, e| e.owner.is_some());
            }
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(hash, Entry { owner, fetched_at: now });
    }

    /// Notes that the key was used at `at`, so the next few uses do not record it again.
    pub fn mark_used(&self, hash: &[u8; 32], at: DateTime<Utc>) {
        if let Some(Entry { owner: Some(owner), .. }) = self.entries().get_mut(hash) {
            owner.last_used_at = Some(at);
        }
    }

    /// Entries held (fresh or not yet swept).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(id: i64) -> KeyOwner {
        KeyOwner {
            key_id: id,
            landlord_id: "north-homes".into(),
            last_used_at: None,
            write: true,
            expires_at: None,
            credential: crate::keys::Credential::ApiKey,
            share_recipient: None,
        }
    }

    #[test]
    fn entries_are_trusted_for_the_ttl_and_not_a_moment_longer() {
        let cache = KeyCache::new(Duration::from_secs(30), 100);
        let t0 = Instant::now();
        cache.put([1; 32], Some(owner(1)), t0);
        cache.put([2; 32], None, t0);
        let just_before = t0 + Duration::from_secs(30) - Duration::from_millis(1);
        assert_eq!(cache.get(&[1; 32], just_before), Cached::Valid(owner(1)));
        assert_eq!(cache.get(&[2; 32], just_before), Cached::Invalid);
        let at_ttl = t0 + Duration::from_secs(30);
        assert_eq!(cache.get(&[1; 32], at_ttl), Cached::Unknown, "a revoked key stops within the TTL");
        assert_eq!(cache.get(&[2; 32], at_ttl), Cached::Unknown);
        assert!(cache.is_empty(), "expired entries are dropped when seen");
    }

    #[test]
    fn a_zero_ttl_remembers_nothing() {
        let cache = KeyCache::new(Duration::ZERO, 100);
        let now = Instant::now();
        cache.put([1; 32], Some(owner(1)), now);
        assert_eq!(cache.get(&[1; 32], now), Cached::Unknown);
    }

    #[test]
    fn a_full_cache_drops_expired_then_invalid_entries_before_valid_ones() {
        let cache = KeyCache::new(Duration::from_secs(30), 3);
        let t0 = Instant::now();
        cache.put([1; 32], Some(owner(1)), t0);
        cache.put([2; 32], None, t0 + Duration::from_secs(20));
        cache.put([3; 32], None, t0 + Duration::from_secs(20));
        // [1] has expired by then: it makes room.
        let t1 = t0 + Duration::from_secs(31);
        cache.put([4; 32], Some(owner(4)), t1);
        assert_eq!(cache.len(), 3);
        // Full of fresh entries: the invalid ones make room, the valid one stays.
        cache.put([5; 32], Some(owner(5)), t1);
        assert_eq!(cache.get(&[4; 32], t1), Cached::Valid(owner(4)));
        assert_eq!(cache.get(&[5; 32], t1), Cached::Valid(owner(5)));
        assert_eq!(cache.get(&[2; 32], t1), Cached::Unknown);
        assert!(cache.len() <= 3);
    }

    #[test]
    fn use_is_remembered_on_valid_entries() {
        let cache = KeyCache::new(Duration::from_secs(30), 10);
        let now = Instant::now();
        cache.put([1; 32], Some(owner(1)), now);
        let at = Utc::now();
        cache.mark_used(&[1; 32], at);
        match cache.get(&[1; 32], now) {
            Cached::Valid(o) => assert_eq!(o.last_used_at, Some(at)),
            other => panic!("{other:?}"),
        }
    }
}
