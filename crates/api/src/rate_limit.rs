//! Token buckets (governor's GCRA, which behaves as a token bucket) per API key and per source
//! address. A request that finds its bucket empty is answered 429 with `Retry-After`, the
//! whole seconds until the bucket holds a request again.
//!
//! Failed authentication has a bucket of its own per source, much smaller: each 401 takes a
//! request from it, and a source that finds it empty is blocked until it refills, answered 429
//! without its key even being looked up. Only failures count, so a valid key that has to be
//! looked up again (its cache entry expired) costs its source nothing, however many keys share
//! one address.
//!
//! The buckets live in memory, per process: several API processes each allow the configured
//! rate. Idle buckets are swept now and then, so a flood of sources does not grow the maps
//! without end.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::caller::Bucket;
use crate::config::RateLimitConfig;
use crate::problem::ApiError;
use crate::stats::{ApiStats, LimitScope};

/// Checks between two sweeps of idle buckets.
const SWEEP_EVERY: u64 = 4096;

/// The API's rate limits.
pub struct RateLimits {
    per_key: DefaultKeyedRateLimiter<Bucket>,
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    failed_auth: DefaultKeyedRateLimiter<IpAddr>,
    /// Sources whose failed-authentication bucket is empty, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    checks: AtomicU64,
    warned_no_source: AtomicBool,
    stats: Arc<ApiStats>,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    // Zero is refused by ApiConfig::validate; one is the safe reading of it regardless.
    let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(at_least_one(per_minute)).allow_burst(at_least_one(burst))
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig, stats: Arc<ApiStats>) -> Self {
        RateLimits {
            per_key: RateLimiter::keyed(quota(config.key_per_minute, config.key_burst)),
            per_source: RateLimiter::keyed(quota(config.source_per_minute, config.source_burst)),
            failed_auth: RateLimiter::keyed(quota(config.failed_auth_per_minute, config.failed_auth_burst)),
            blocked: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
            warned_no_source: AtomicBool::new(false),
            stats,
        }
    }

    /// Takes one request from the key's bucket.
    pub fn check_key(&self, bucket: Bucket) -> Result<(), ApiError> {
        self.check(&self.per_key, &bucket, LimitScope::Key)
    }

    /// Takes one request from the source's bucket.
    pub fn check_source(&self, source: IpAddr) -> Result<(), ApiError> {
        self.check(&self.per_source, &source, LimitScope::Source)
    }

    /// Refuses a source blocked for failing authentication, before its key is looked up.
    pub fn check_not_blocked(&self, source: IpAddr) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut blocked = self.blocked();
        match blocked.get(&source) {
            Some(until) if *until > now => {
                let wait = *until - now;
                drop(blocked);
                Err(self.refuse(LimitScope::FailedAuth, wait))
            }
            Some(_) => {
                blocked.remove(&source);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Takes one request from the source's failed-authentication bucket, after a request from
    /// it failed authentication. When the bucket is empty the source is blocked until it
    /// holds a request again, and this request too is answered 429.
    pub fn charge_failed_auth(&self, source: IpAddr) -> Result<(), ApiError> {
        self.take(&self.failed_auth, &source).map_err(|wait| {
            self.blocked().insert(source, Instant::now() + wait);
            self.refuse(LimitScope::FailedAuth, wait)
        })
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        // Every operation on the map is a single insert or remove: a panic elsewhere while
        // holding the lock leaves it consistent.
        self.blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes, once, that requests arrive without a peer address, so per-source limits cannot
    /// apply (the router is served by a server that does not give one).
    pub fn no_source(&self) {
        if !self.warned_no_source.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "API requests carry no peer address: per-source rate limits are off; serve the router \
                 with dampwatch_api::spawn_server"
            );
        }
    }

    fn check<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
        scope: LimitScope,
    ) -> Result<(), ApiError> {
        self.take(limiter, key).map_err(|wait| self.refuse(scope, wait))
    }

    /// Takes one request from `key`'s bucket, or says how long until it holds one.
    fn take<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    fn refuse(&self, scope: LimitScope, wait: Duration) -> ApiError {
        self.stats.rate_limited(scope);
        ApiError::RateLimited { scope, retry_after: retry_after_seconds(wait) }
    }

    /// Forgets buckets that are full again (as good as new).
    fn sweep(&self) {
        self.per_key.retain_recent();
        self.per_source.retain_recent();
        self.failed_auth.retain_recent();
        self.per_key.shrink_to_fit();
        self.per_source.shrink_to_fit();
        self.failed_auth.shrink_to_fit();
        let now = Instant::now();
        self.blocked().retain(|_, until| *until > now);
    }
}

/// `Retry-After` is whole seconds: rounded up, so a client that waits that long finds a
/// request in its bucket; at least one.
fn retry_after_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(key_burst: u32, failed_auth_burst: u32) -> RateLimits {
        let config = RateLimitConfig {
            key_per_minute: 60,
            key_burst,
            source_per_minute: 600,
            source_burst: 100,
            failed_auth_per_minute: 6,
            failed_auth_burst,
            trusted_proxies: vec![],
        };
        RateLimits::new(&config, Arc::new(ApiStats::default()))
    }

    #[test]
    fn a_bucket_allows_its_burst_then_says_when_to_retry() {
        let l = limits(3, 1);
        for _ in 0..3 {
            l.check_key(Bucket::Key(7)).unwrap();
        }
        match l.check_key(Bucket::Key(7)) {
            // 60 a minute: one comes back every second.
            Err(ApiError::RateLimited { scope: LimitScope::Key, retry_after }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        l.check_key(Bucket::Key(8)).expect("another key has its own bucket");
        assert_eq!(l.stats.snapshot().rate_limited_key, 1);
    }

    #[test]
    fn failed_authentication_blocks_its_source_once_its_bucket_is_empty() {
        let l = limits(100, 2);
        let source: IpAddr = "192.0.2.1".parse().unwrap();
        l.check_not_blocked(source).unwrap();
        l.charge_failed_auth(source).unwrap();
        l.charge_failed_auth(source).unwrap();
        l.check_not_blocked(source).expect("two failures fit the burst");
        match l.charge_failed_auth(source) {
            // 6 a minute: one every ten seconds.
            Err(ApiError::RateLimited { scope: LimitScope::FailedAuth, retry_after }) => {
                assert!((9..=10).contains(&retry_after), "{retry_after}")
            }
            other => panic!("{other:?}"),
        }
        match l.check_not_blocked(source) {
            Err(ApiError::RateLimited { scope: LimitScope::FailedAuth, retry_after }) => {
                assert!((9..=10).contains(&retry_after), "{retry_after}")
            }
            other => panic!("blocked before any lookup: {other:?}"),
        }
        l.check_source(source).expect("the general bucket is separate");
        l.check_not_blocked("192.0.2.2".parse().unwrap()).expect("another source");
        assert_eq!(l.stats.snapshot().rate_limited_failed_auth, 2);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(10)), 10);
    }
}
