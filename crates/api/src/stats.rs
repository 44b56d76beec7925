//! What the API refused and why, and what its guards spent, as counters an operator can graph
//! and alert on (Prometheus text format, appended to the hosting service's `/metrics`).

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use deadpool_postgres::Pool;

/// Which token bucket turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// The API key's own bucket.
    Key,
    /// The source address's bucket for every request.
    Source,
    /// The source address's bucket for requests without a key known to be valid.
    FailedAuth,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Key => "key",
            LimitScope::Source => "source",
            LimitScope::FailedAuth => "failed_auth",
        }
    }
}

/// The counters. Every field only grows, except `bodies_in_progress`.
#[derive(Debug, Default)]
pub struct ApiStats {
    rate_limited_key: AtomicU64,
    rate_limited_source: AtomicU64,
    rate_limited_failed_auth: AtomicU64,
    missing_credentials: AtomicU64,
    invalid_keys: AtomicU64,
    key_cache_hits: AtomicU64,
    key_lookups: AtomicU64,
    key_lookups_unavailable: AtomicU64,
    body_timeouts: AtomicU64,
    bodies_too_large: AtomicU64,
    bodies_unreadable: AtomicU64,
    bodies_in_progress: AtomicI64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub rate_limited_key: u64,
    pub rate_limited_source: u64,
    pub rate_limited_failed_auth: u64,
    /// Requests without an `Authorization: Bearer` header.
    pub missing_credentials: u64,
    /// Requests with a malformed, unknown or revoked key.
    pub invalid_keys: u64,
    /// Keys resolved from memory, without the database.
    pub key_cache_hits: u64,
    /// Keys looked up in the database.
    pub key_lookups: u64,
    /// Key lookups that could not get a connection or an answer in time (answered 503).
    pub key_lookups_unavailable: u64,
    /// Bodies that did not arrive within `body_timeout` (answered 408).
    pub body_timeouts: u64,
    pub bodies_too_large: u64,
    /// Bodies the client broke off.
    pub bodies_unreadable: u64,
    /// Bodies being received right now.
    pub bodies_in_progress: i64,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl ApiStats {
    pub fn rate_limited(&self, scope: LimitScope) {
        add(match scope {
            LimitScope::Key => &self.rate_limited_key,
            LimitScope::Source => &self.rate_limited_source,
            LimitScope::FailedAuth => &self.rate_limited_failed_auth,
        });
    }

    pub fn missing_credentials(&self) {
        add(&self.missing_credentials);
    }

    pub fn invalid_key(&self) {
        add(&self.invalid_keys);
    }

    pub fn key_cache_hit(&self) {
        add(&self.key_cache_hits);
    }

    pub fn key_lookup(&self) {
        add(&self.key_lookups);
    }

    pub fn key_lookup_unavailable(&self) {
        add(&self.key_lookups_unavailable);
    }

    pub fn body_timeout(&self) {
        add(&self.body_timeouts);
    }

    pub fn body_too_large(&self) {
        add(&self.bodies_too_large);
    }

    pub fn body_unreadable(&self) {
        add(&self.bodies_unreadable);
    }

    /// Counts a body as being received until the returned guard is dropped.
    pub fn body_started(&self) -> BodyInProgress<'_> {
        self.bodies_in_progress.fetch_add(1, Ordering::Relaxed);
        BodyInProgress(&self.bodies_in_progress)
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            rate_limited_key: get(&self.rate_limited_key),
            rate_limited_source: get(&self.rate_limited_source),
            rate_limited_failed_auth: get(&self.rate_limited_failed_auth),
            missing_credentials: get(&self.missing_credentials),
            invalid_keys: get(&self.invalid_keys),
            key_cache_hits: get(&self.key_cache_hits),
            key_lookups: get(&self.key_lookups),
            key_lookups_unavailable: get(&self.key_lookups_unavailable),
            body_timeouts: get(&self.body_timeouts),
            bodies_too_large: get(&self.bodies_too_large),
            bodies_unreadable: get(&self.bodies_unreadable),
            bodies_in_progress: self.bodies_in_progress.load(Ordering::Relaxed),
        }
    }

    /// The counters and both pools' occupancy in Prometheus text format.
    pub fn render(&self, tenant_pool: &Pool, key_pool: &Pool) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, i64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        family(
            "dampwatch_api_rate_limited_total",
            "counter",
            "Requests answered 429, by the bucket that was empty.",
            &[
                ("{limit=\"key\"}", n(s.rate_limited_key)),
                ("{limit=\"source\"}", n(s.rate_limited_source)),
                ("{limit=\"failed_auth\"}", n(s.rate_limited_failed_auth)),
            ],
        );
        family(
            "dampwatch_api_unauthenticated_total",
            "counter",
            "Requests answered 401: no key, or a malformed, unknown or revoked one.",
            &[
                ("{reason=\"missing\"}", n(s.missing_credentials)),
                ("{reason=\"invalid\"}", n(s.invalid_keys)),
            ],
        );
        family(
            "dampwatch_api_key_resolutions_total",
            "counter",
            "Presented keys resolved from memory or looked up in the database; unavailable: the lookup waited too long (503).",
            &[
                ("{source=\"cache\"}", n(s.key_cache_hits)),
                ("{source=\"database\"}", n(s.key_lookups)),
                ("{source=\"unavailable\"}", n(s.key_lookups_unavailable)),
            ],
        );
        family(
            "dampwatch_api_bodies_refused_total",
            "counter",
            "Request bodies refused: too slow (408), too large (413), broken off (400).",
            &[
                ("{reason=\"timeout\"}", n(s.body_timeouts)),
                ("{reason=\"too_large\"}", n(s.bodies_too_large)),
                ("{reason=\"unreadable\"}", n(s.bodies_unreadable)),
            ],
        );
        family(
            "dampwatch_api_bodies_in_progress",
            "gauge",
            "Request bodies being received (no database connection is held meanwhile).",
            &[("", s.bodies_in_progress)],
        );
        let mut pool_samples = Vec::new();
        let labels = [
            (
                "{pool=\"tenant\",state=\"in_use\"}",
                "{pool=\"tenant\",state=\"idle\"}",
                "{pool=\"tenant\",state=\"waiting\"}",
            ),
            (
                "{pool=\"key_lookup\",state=\"in_use\"}",
                "{pool=\"key_lookup\",state=\"idle\"}",
                "{pool=\"key_lookup\",state=\"waiting\"}",
            ),
        ];
        for (pool, (in_use, idle, waiting)) in [tenant_pool, key_pool].into_iter().zip(labels) {
            let status = pool.status();
            let size = i64::try_from(status.size).unwrap_or(i64::MAX);
            let available = i64::try_from(status.available).unwrap_or(i64::MAX);
            let queued = i64::try_from(status.waiting).unwrap_or(i64::MAX);
            pool_samples.extend([(in_use, size - available), (idle, available), (waiting, queued)]);
        }
        family(
            "dampwatch_api_db_connections",
            "gauge",
            "The API's database connections: tenant (request handlers) and key_lookup (authentication).",
            &pool_samples,
        );
        out
    }
}

/// A body being received; see [`ApiStats::body_started`].
pub struct BodyInProgress<'a>(&'a AtomicI64);

impl Drop for BodyInProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
