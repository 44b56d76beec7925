//! What the API refused and why, and what its guards spent, as counters an operator can graph
//! and alert on, registered in the hosting service's Prometheus registry (its `/metrics`).

use dampwatch_alerts::metrics::{counters_by, Label};
use deadpool_postgres::Pool;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

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

/// The counters, by the labels they are exported under. Every one only grows, except
/// `bodies_in_progress`.
#[derive(Debug)]
pub struct ApiStats {
    /// By `limit`: [`LimitScope::as_str`].
    rate_limited: Family<Label, Counter>,
    /// By `reason`: missing, invalid.
    unauthenticated: Family<Label, Counter>,
    /// By `source`: cache, database, unavailable.
    key_resolutions: Family<Label, Counter>,
    /// By `reason`: timeout, too_large, unreadable.
    bodies_refused: Family<Label, Counter>,
    bodies_in_progress: Gauge,
    /// Tenancy shares third parties' clients asked for, by `outcome`: [`ShareOutcome::as_str`].
    shares: Family<Label, Counter>,
}

/// How a third party's request for a tenancy's share ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareOutcome {
    Sent,
    /// No consent in force for the client's recipient and that purpose (403).
    NoConsent,
    /// No such tenancy of the client's landlord (404).
    UnknownTenancy,
}

impl ShareOutcome {
    pub const ALL: [ShareOutcome; 3] =
        [ShareOutcome::Sent, ShareOutcome::NoConsent, ShareOutcome::UnknownTenancy];

    pub fn as_str(self) -> &'static str {
        match self {
            ShareOutcome::Sent => "sent",
            ShareOutcome::NoConsent => "no_consent",
            ShareOutcome::UnknownTenancy => "unknown_tenancy",
        }
    }
}

impl Default for ApiStats {
    fn default() -> Self {
        let scopes = [LimitScope::Key, LimitScope::Source, LimitScope::FailedAuth].map(LimitScope::as_str);
        ApiStats {
            rate_limited: counters_by("limit", scopes),
            unauthenticated: counters_by("reason", ["missing", "invalid"]),
            key_resolutions: counters_by("source", ["cache", "database", "unavailable"]),
            bodies_refused: counters_by("reason", ["timeout", "too_large", "unreadable"]),
            bodies_in_progress: Gauge::default(),
            shares: counters_by("outcome", ShareOutcome::ALL.map(ShareOutcome::as_str)),
        }
    }
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
    /// Tenancy shares sent to third parties' clients.
    pub shares_sent: u64,
    /// Tenancy shares refused for want of a consent in force.
    pub shares_without_consent: u64,
    /// Tenancy shares refused for want of the tenancy (another landlord's, or none).
    pub shares_of_unknown_tenancies: u64,
}

fn counter(family: &Family<Label, Counter>, key: &'static str, value: &'static str) -> Counter {
    family.get_or_create_owned(&[(key, value)])
}

impl ApiStats {
    pub fn rate_limited(&self, scope: LimitScope) {
        counter(&self.rate_limited, "limit", scope.as_str()).inc();
    }

    pub fn missing_credentials(&self) {
        counter(&self.unauthenticated, "reason", "missing").inc();
    }

    pub fn invalid_key(&self) {
        counter(&self.unauthenticated, "reason", "invalid").inc();
    }

    pub fn key_cache_hit(&self) {
        counter(&self.key_resolutions, "source", "cache").inc();
    }

    pub fn key_lookup(&self) {
        counter(&self.key_resolutions, "source", "database").inc();
    }

    pub fn key_lookup_unavailable(&self) {
        counter(&self.key_resolutions, "source", "unavailable").inc();
    }

    pub fn body_timeout(&self) {
        counter(&self.bodies_refused, "reason", "timeout").inc();
    }

    pub fn body_too_large(&self) {
        counter(&self.bodies_refused, "reason", "too_large").inc();
    }

    pub fn body_unreadable(&self) {
        counter(&self.bodies_refused, "reason", "unreadable").inc();
    }

    pub fn share(&self, outcome: ShareOutcome) {
        counter(&self.shares, "outcome", outcome.as_str()).inc();
    }

    /// Counts a body as being received until the returned guard is dropped.
    pub fn body_started(&self) -> BodyInProgress<'_> {
        self.bodies_in_progress.inc();
        BodyInProgress(&self.bodies_in_progress)
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |family, key, value| counter(family, key, value).get();
        StatsSnapshot {
            rate_limited_key: get(&self.rate_limited, "limit", LimitScope::Key.as_str()),
            rate_limited_source: get(&self.rate_limited, "limit", LimitScope::Source.as_str()),
            rate_limited_failed_auth: get(&self.rate_limited, "limit", LimitScope::FailedAuth.as_str()),
            missing_credentials: get(&self.unauthenticated, "reason", "missing"),
            invalid_keys: get(&self.unauthenticated, "reason", "invalid"),
            key_cache_hits: get(&self.key_resolutions, "source", "cache"),
            key_lookups: get(&self.key_resolutions, "source", "database"),
            key_lookups_unavailable: get(&self.key_resolutions, "source", "unavailable"),
            body_timeouts: get(&self.bodies_refused, "reason", "timeout"),
            bodies_too_large: get(&self.bodies_refused, "reason", "too_large"),
            bodies_unreadable: get(&self.bodies_refused, "reason", "unreadable"),
            bodies_in_progress: self.bodies_in_progress.get(),
            shares_sent: get(&self.shares, "outcome", ShareOutcome::Sent.as_str()),
            shares_without_consent: get(&self.shares, "outcome", ShareOutcome::NoConsent.as_str()),
            shares_of_unknown_tenancies: get(&self.shares, "outcome", ShareOutcome::UnknownTenancy.as_str()),
        }
    }

    /// Registers the counters and both pools' occupancy (read at each scrape) under
    /// `dampwatch_api_`.
    pub fn register(&self, registry: &mut Registry, tenant_pool: &Pool, key_pool: &Pool) {
        let r = registry.sub_registry_with_prefix("dampwatch_api");
        let families = [
            ("rate_limited", "Requests answered 429, by the bucket that was empty", &self.rate_limited),
            (
                "unauthenticated",
                "Requests answered 401: no key, or a malformed, unknown or revoked one",
                &self.unauthenticated,
            ),
            (
                "key_resolutions",
                "Presented keys resolved from memory or looked up in the database; unavailable: the \
                 lookup waited too long (503)",
                &self.key_resolutions,
            ),
            (
                "bodies_refused",
                "Request bodies refused: too slow (408), too large (413), broken off (400)",
                &self.bodies_refused,
            ),
            (
                "tenancy_shares",
                "Tenancy shares third parties' clients asked for: sent, or refused for want of a consent in \
                 force (403) or of the tenancy (404)",
                &self.shares,
            ),
        ];
        for (name, help, family) in families {
            r.register(name, help, family.clone());
        }
        r.register(
            "bodies_in_progress",
            "Request bodies being received (no database connection is held meanwhile)",
            self.bodies_in_progress.clone(),
        );
        r.register(
            "db_connections",
            "The API's database connections: tenant (request handlers) and key_lookup (authentication)",
            PoolConnections { pools: [("tenant", tenant_pool.clone()), ("key_lookup", key_pool.clone())] },
        );
    }
}

/// The pools' connections by state, read when scraped.
struct PoolConnections {
    pools: [(&'static str, Pool); 2],
}

impl std::fmt::Debug for PoolConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.pools.iter().map(|(name, _)| name)).finish()
    }
}

impl EncodeMetric for PoolConnections {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (pool, p) in &self.pools {
            let status = p.status();
            let size = i64::try_from(status.size).unwrap_or(i64::MAX);
            let idle = i64::try_from(status.available).unwrap_or(i64::MAX);
            let waiting = i64::try_from(status.waiting).unwrap_or(i64::MAX);
            for (state, n) in [("in_use", size - idle), ("idle", idle), ("waiting", waiting)] {
                encoder.encode_family(&[("pool", *pool), ("state", state)])?.encode_gauge(&n)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// A body being received; see [`ApiStats::body_started`].
pub struct BodyInProgress<'a>(&'a Gauge);

impl Drop for BodyInProgress<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};

    fn idle_pool() -> Pool {
        // Never connected: building a pool opens no connection.
        let pg: tokio_postgres::Config = "host=127.0.0.1 port=1".parse().expect("a config");
        let manager = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        Pool::builder(manager).max_size(2).build().expect("a pool")
    }

    #[test]
    fn every_label_is_rendered_and_the_pools_are_read_when_scraped() {
        let stats = ApiStats::default();
        stats.rate_limited(LimitScope::FailedAuth);
        stats.invalid_key();
        let _body = stats.body_started();
        let mut registry = Registry::default();
        stats.register(&mut registry, &idle_pool(), &idle_pool());
        let text = dampwatch_alerts::metrics::text(&registry);
        for line in [
            "dampwatch_api_rate_limited_total{limit=\"failed_auth\"} 1\n",
            "dampwatch_api_rate_limited_total{limit=\"key\"} 0\n",
            "dampwatch_api_rate_limited_total{limit=\"source\"} 0\n",
            "dampwatch_api_unauthenticated_total{reason=\"invalid\"} 1\n",
            "dampwatch_api_unauthenticated_total{reason=\"missing\"} 0\n",
            "dampwatch_api_key_resolutions_total{source=\"unavailable\"} 0\n",
            "dampwatch_api_bodies_refused_total{reason=\"too_large\"} 0\n",
            "# TYPE dampwatch_api_bodies_in_progress gauge\n",
            "dampwatch_api_bodies_in_progress 1\n",
            "# TYPE dampwatch_api_db_connections gauge\n",
            "dampwatch_api_db_connections{pool=\"tenant\",state=\"idle\"} 0\n",
            "dampwatch_api_db_connections{pool=\"key_lookup\",state=\"waiting\"} 0\n",
        ] {
            assert!(text.contains(line), "{line}in\n{text}");
        }
        assert_eq!(stats.snapshot().rate_limited_failed_auth, 1);
    }
}
