//! Collector counters, gauges and histograms. [`Metrics::register`] puts them in the service's
//! Prometheus registry, beside the hazard worker's and the API's, for `/metrics`.

use crate::reject::Reason;
use dampwatch_alerts::metrics::{counters_by, render, Label};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

const SECONDS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const UPLINKS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];
const READINGS: [f64; 9] = [1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0];

/// Tables the retention job deletes from.
pub const RETENTION_TABLES: [&str; 8] = [
    "readings",
    "uplinks",
    "reading_keys",
    "readings_hourly_totals",
    "rejected_messages",
    "device_hourly_intake",
    "webhook_deliveries",
    "email_attempts",
];

pub struct Metrics {
    pub uplinks_received: Counter,
    pub uplinks_verified: Counter,
    pub readings_received: Counter,
    pub readings_stored: Counter,
    pub readings_duplicate: Counter,
    pub commits: Counter,
    pub commit_failures: Counter,
    /// Failed attempts to reach or use the database (connects, registry reads, commits).
    pub database_errors: Counter,
    /// Batches split because the database refused something in them.
    pub batch_splits: Counter,
    /// Messages that could not even be quarantined (logged with their bytes instead).
    pub unstorable: Counter,
    pub acks_published: Counter,
    /// Uplinks the message layer delivered again (taken before by a collector that did not
    /// acknowledge them: it died, or its database stalled past the acknowledgement wait).
    pub uplinks_redelivered: Counter,
    /// Acknowledgements the cluster did not confirm (the uplink comes again).
    pub upstream_ack_failures: Counter,
    /// 1 while the collector is connected to its message layer (broker or cluster).
    pub upstream_connected: Gauge,
    /// Cluster only, read from the cluster every few seconds: uplinks stored that no collector
    /// has taken yet, taken and not yet acknowledged, and the stream's size.
    pub cluster_pending: Gauge,
    pub cluster_ack_pending: Gauge,
    pub cluster_stream_messages: Gauge,
    pub cluster_stream_bytes: Gauge,
    /// Messages received and not yet acknowledged or abandoned.
    pub uplinks_pending: Gauge,
    /// Batches checked and not yet taken up for storing: one queued, and at most one more
    /// waiting to be queued.
    pub checked_batches_waiting: Gauge,
    pub db_connected: Gauge,
    pub last_commit_unix_seconds: Gauge,
    rejected: Family<Label, Counter>,
    /// Of those, past their device's quarantine quota (counted, no quarantine row).
    suppressed: Family<Label, Counter>,
    retention_deleted: Family<Label, Counter>,
    /// Uplinks per committed batch.
    pub batch_uplinks: Histogram,
    /// Readings per committed batch.
    pub batch_readings: Histogram,
    /// Duration of the database transaction.
    pub commit_seconds: Histogram,
    /// From arrival at the collector to commit: how far behind the collector runs.
    pub lag_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let reasons = || Reason::ALL.map(Reason::as_str);
        Metrics {
            uplinks_received: Counter::default(),
            uplinks_verified: Counter::default(),
            readings_received: Counter::default(),
            readings_stored: Counter::default(),
            readings_duplicate: Counter::default(),
            commits: Counter::default(),
            commit_failures: Counter::default(),
            database_errors: Counter::default(),
            batch_splits: Counter::default(),
            unstorable: Counter::default(),
            acks_published: Counter::default(),
            uplinks_redelivered: Counter::default(),
            upstream_ack_failures: Counter::default(),
            upstream_connected: Gauge::default(),
            cluster_pending: Gauge::default(),
            cluster_ack_pending: Gauge::default(),
            cluster_stream_messages: Gauge::default(),
            cluster_stream_bytes: Gauge::default(),
            uplinks_pending: Gauge::default(),
            checked_batches_waiting: Gauge::default(),
            db_connected: Gauge::default(),
            last_commit_unix_seconds: Gauge::default(),
            rejected: counters_by("reason", reasons()),
            suppressed: counters_by("reason", reasons()),
            retention_deleted: counters_by("table", RETENTION_TABLES),
            batch_uplinks: Histogram::new(UPLINKS),
            batch_readings: Histogram::new(READINGS),
            commit_seconds: Histogram::new(SECONDS),
            lag_seconds: Histogram::new(SECONDS),
        }
    }
}

impl Metrics {
    pub fn rejected(&self, r: Reason, n: u64) {
        self.rejected.get_or_create(&[("reason", r.as_str())]).inc_by(n);
    }

    pub fn rejected_count(&self, r: Reason) -> u64 {
        self.rejected.get_or_create(&[("reason", r.as_str())]).get()
    }

    pub fn quarantine_suppressed(&self, r: Reason, n: u64) {
        self.suppressed.get_or_create(&[("reason", r.as_str())]).inc_by(n);
    }

    pub fn quarantine_suppressed_count(&self, r: Reason) -> u64 {
        self.suppressed.get_or_create(&[("reason", r.as_str())]).get()
    }

    pub fn retention_deleted(&self, table: &str, n: u64) {
        if let Some(t) = RETENTION_TABLES.iter().find(|t| **t == table) {
            self.retention_deleted.get_or_create(&[("table", *t)]).inc_by(n);
        }
    }

    /// Registers every metric under `dampwatch_collector_` (counters get their `_total` from
    /// the encoder).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dampwatch_collector");
        let counters = [
            ("uplinks_received", "Uplink messages received from the broker", &self.uplinks_received),
            ("uplinks_verified", "Uplinks whose signature verified and that decoded", &self.uplinks_verified),
            ("readings_received", "Readings in verified uplinks", &self.readings_received),
            ("readings_stored", "Readings committed to the database", &self.readings_stored),
            ("readings_duplicate", "Readings received again and not stored twice", &self.readings_duplicate),
            ("commits", "Batches committed", &self.commits),
            ("commit_failures", "Batch transactions that failed (and were retried)", &self.commit_failures),
            (
                "database_errors",
                "Failed attempts to reach or use the database (all retried)",
                &self.database_errors,
            ),
            ("batch_splits", "Batches split to isolate a message the database refused", &self.batch_splits),
            (
                "unstorable",
                "Messages that could not even be quarantined (logged with their bytes)",
                &self.unstorable,
            ),
            ("acks_published", "Commit positions published to devices", &self.acks_published),
            (
                "uplinks_redelivered",
                "Uplinks delivered again by the message layer (stored once all the same)",
                &self.uplinks_redelivered,
            ),
            (
                "upstream_ack_failures",
                "Acknowledgements the cluster did not confirm (the uplink comes again)",
                &self.upstream_ack_failures,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        let gauges = [
            ("last_commit_timestamp_seconds", "Unix time of the last commit", &self.last_commit_unix_seconds),
            (
                "uplinks_pending",
                "Uplinks received and not yet acknowledged (bounded by the broker's window, or by about five batches from the cluster)",
                &self.uplinks_pending,
            ),
            (
                "checked_batches_waiting",
                "Batches checked and waiting for the batch before them to be stored (at most 2)",
                &self.checked_batches_waiting,
            ),
            ("database_connected", "1 while the intake has a database session", &self.db_connected),
            ("upstream_connected", "1 while connected to the message layer", &self.upstream_connected),
            (
                "cluster_pending",
                "Cluster: uplinks stored that no collector has taken yet (the group's lag)",
                &self.cluster_pending,
            ),
            (
                "cluster_ack_pending",
                "Cluster: uplinks taken by a collector and not yet acknowledged",
                &self.cluster_ack_pending,
            ),
            ("cluster_stream_messages", "Cluster: uplinks in the stream", &self.cluster_stream_messages),
            ("cluster_stream_bytes", "Cluster: bytes in the uplink stream", &self.cluster_stream_bytes),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        let families = [
            ("rejected", "Messages quarantined or flagged, by reason", &self.rejected),
            (
                "quarantine_suppressed",
                "Messages refused past their device's hourly quarantine quota: counted, and per device \
                 in `dampwatch devices list`, without a quarantine row",
                &self.suppressed,
            ),
            ("retention_deleted", "Rows deleted by the retention job", &self.retention_deleted),
        ];
        for (name, help, family) in families {
            r.register(name, help, family.clone());
        }
        let histograms = [
            ("batch_uplinks", "Uplinks per committed batch", &self.batch_uplinks),
            ("batch_readings", "Readings per committed batch", &self.batch_readings),
            ("commit_seconds", "Duration of the batch transaction", &self.commit_seconds),
            ("lag_seconds", "From arrival at the collector to commit", &self.lag_seconds),
        ];
        for (name, help, histogram) in histograms {
            r.register(name, help, histogram.clone());
        }
    }

    /// These metrics alone in the Prometheus text format.
    pub fn render(&self) -> String {
        render(|r| self.register(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_every_reason_and_cumulative_buckets() {
        let m = Metrics::default();
        m.readings_stored.inc_by(7);
        m.rejected(Reason::BadSignature, 2);
        m.quarantine_suppressed(Reason::OverBudget, 4);
        m.retention_deleted("readings", 3);
        m.commit_seconds.observe(0.003);
        m.commit_seconds.observe(0.2);
        let t = m.render();
        assert!(t.contains("# TYPE dampwatch_collector_readings_stored_total counter\n"), "{t}");
        assert!(t.contains("dampwatch_collector_readings_stored_total 7\n"), "{t}");
        assert!(t.contains("dampwatch_collector_rejected_total{reason=\"bad_signature\"} 2\n"));
        assert!(t.contains("dampwatch_collector_quarantine_suppressed_total{reason=\"over_budget\"} 4\n"));
        assert!(t.contains("dampwatch_collector_retention_deleted_total{table=\"readings\"} 3\n"));
        for r in Reason::ALL {
            assert!(t.contains(&format!("dampwatch_collector_rejected_total{{reason=\"{r}\"}} ")), "{r}");
            assert!(
                t.contains(&format!("dampwatch_collector_quarantine_suppressed_total{{reason=\"{r}\"}} "))
            );
        }
        for table in RETENTION_TABLES {
            assert!(t.contains(&format!("dampwatch_collector_retention_deleted_total{{table=\"{table}\"}} ")));
        }
        assert!(t.contains("dampwatch_collector_commit_seconds_bucket{le=\"0.001\"} 0\n"), "{t}");
        assert!(t.contains("dampwatch_collector_commit_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(t.contains("dampwatch_collector_commit_seconds_bucket{le=\"0.25\"} 2\n"));
        assert!(t.contains("dampwatch_collector_commit_seconds_bucket{le=\"30\"} 2\n"));
        assert!(t.contains("dampwatch_collector_commit_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(t.contains("dampwatch_collector_commit_seconds_count 2\n"));
        assert!(t.contains("# TYPE dampwatch_collector_last_commit_timestamp_seconds gauge\n"));
        assert!(t.contains("# HELP dampwatch_collector_commits_total Batches committed.\n"), "{t}");
    }
}
