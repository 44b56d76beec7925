//! Admission limits: token buckets per source address and per device, and a per-device
//! connection churn window. A violation closes only the offending connection.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// A token bucket: `rate` tokens a second up to `burst`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn full(burst: f64, now: Instant) -> Self {
        TokenBucket { tokens: burst, last: now }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Buckets keyed by something (a source address, a device id), bounded in size: when full,
/// buckets that have refilled completely are forgotten (they carry no information).
pub struct KeyedBuckets<K> {
    rate: f64,
    burst: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<K, TokenBucket>>,
}

impl<K: Eq + Hash> KeyedBuckets<K> {
    pub fn new(rate: f64, burst: f64, max_keys: usize) -> Self {
        KeyedBuckets { rate, burst, max_keys, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token from `key`'s bucket (a new key starts full).
    pub fn try_take<Q>(&self, key: &Q, now: Instant) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let (rate, burst) = (self.rate, self.burst);
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = map.get_mut(key) {
            return bucket.try_take(rate, burst, now);
        }
        if map.len() >= self.max_keys {
            map.retain(|_, b| {
                let refilled = b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate;
                refilled < burst
            });
        }
        let mut bucket = TokenBucket::full(burst, now);
        let taken = bucket.try_take(rate, burst, now);
        map.insert(key.to_owned(), bucket);
        taken
    }
}

/// Messages per device, shared by all of a device's connections.
pub type DeviceMessageLimiter = KeyedBuckets<String>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(3.0, t0);
        assert!((0..3).all(|_| b.try_take(1.0, 3.0, t0)));
        assert!(!b.try_take(1.0, 3.0, t0));
        assert!(b.try_take(1.0, 3.0, t0 + Duration::from_millis(1001)));
        assert!(!b.try_take(1.0, 3.0, t0 + Duration::from_millis(1002)));
    }

    #[test]
    fn keys_are_independent_and_bounded() {
        let t0 = Instant::now();
        let l: KeyedBuckets<String> = KeyedBuckets::new(1.0, 1.0, 2);
        assert!(l.try_take("a", t0));
        assert!(!l.try_take("a", t0));
        assert!(l.try_take("b", t0));
        // Table full: "a" and "b" are still empty buckets, so "c" still gets its own.
        assert!(l.try_take("c", t0));
        assert!(!l.try_take("a", t0), "a's empty bucket was kept");
        // Once refilled, a bucket carries no information and may be forgotten.
        let later = t0 + Duration::from_secs(5);
        assert!(l.try_take("d", later));
        assert!(l.buckets.lock().unwrap().len() <= 2, "full buckets were dropped");
    }
}
