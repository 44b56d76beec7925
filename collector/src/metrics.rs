//! Collector counters, gauges and histograms, exposed in the Prometheus text format.

use crate::reject::Reason;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// A histogram with fixed upper bounds (cumulative buckets, as Prometheus expects).
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i].fetch_add(1, Relaxed);
        }
        self.sum_micros.fetch_add((v.max(0.0) * 1e6) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cum += c.load(Relaxed);
            let _ = writeln!(s, "{name}_bucket{{le=\"{b}\"}} {cum}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(s, "{name}_sum {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(s, "{name}_count {count}");
    }
}

const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const UPLINKS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];
const READINGS: &[f64] = &[1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0];

/// Tables the retention job deletes from.
pub const RETENTION_TABLES: [&str; 6] = [
    "readings",
    "uplinks",
    "reading_keys",
    "readings_hourly_totals",
    "rejected_messages",
    "device_hourly_intake",
];

pub struct Metrics {
    pub uplinks_received: AtomicU64,
    pub uplinks_verified: AtomicU64,
    pub readings_received: AtomicU64,
    pub readings_stored: AtomicU64,
    pub readings_duplicate: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    /// Failed attempts to reach or use the database (connects, registry reads, commits).
    pub database_errors: AtomicU64,
    /// Batches split because the database refused something in them.
    pub batch_splits: AtomicU64,
    /// Messages that could not even be quarantined (logged with their bytes instead).
    pub unstorable: AtomicU64,
    pub acks_published: AtomicU64,
    /// Messages received and not yet acknowledged or abandoned.
    pub uplinks_pending: AtomicI64,
    pub db_connected: AtomicI64,
    pub last_commit_unix_seconds: AtomicU64,
    rejected: [AtomicU64; Reason::ALL.len()],
    /// Of those, past their device's quarantine quota (counted, no quarantine row).
    suppressed: [AtomicU64; Reason::ALL.len()],
    retention_deleted: [AtomicU64; RETENTION_TABLES.len()],
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
        Metrics {
            uplinks_received: AtomicU64::new(0),
            uplinks_verified: AtomicU64::new(0),
            readings_received: AtomicU64::new(0),
            readings_stored: AtomicU64::new(0),
            readings_duplicate: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            database_errors: AtomicU64::new(0),
            batch_splits: AtomicU64::new(0),
            unstorable: AtomicU64::new(0),
            acks_published: AtomicU64::new(0),
            uplinks_pending: AtomicI64::new(0),
            db_connected: AtomicI64::new(0),
            last_commit_unix_seconds: AtomicU64::new(0),
            rejected: Default::default(),
            suppressed: Default::default(),
            retention_deleted: Default::default(),
            batch_uplinks: Histogram::new(UPLINKS),
            batch_readings: Histogram::new(READINGS),
            commit_seconds: Histogram::new(SECONDS),
            lag_seconds: Histogram::new(SECONDS),
        }
    }
}

impl Metrics {
    pub fn rejected(&self, r: Reason, n: u64) {
        self.rejected[r as usize].fetch_add(n, Relaxed);
    }

    pub fn rejected_count(&self, r: Reason) -> u64 {
        self.rejected[r as usize].load(Relaxed)
    }

    pub fn quarantine_suppressed(&self, r: Reason, n: u64) {
        self.suppressed[r as usize].fetch_add(n, Relaxed);
    }

    pub fn quarantine_suppressed_count(&self, r: Reason) -> u64 {
        self.suppressed[r as usize].load(Relaxed)
    }

    pub fn retention_deleted(&self, table: &str, n: u64) {
        if let Some(i) = RETENTION_TABLES.iter().position(|t| *t == table) {
            self.retention_deleted[i].fetch_add(n, Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::with_capacity(8192);
        let counters: [(&str, &str, &AtomicU64); 12] = [
            ("uplinks_received_total", "Uplink messages received from the broker.", &self.uplinks_received),
            (
                "uplinks_verified_total",
                "Uplinks whose signature verified and that decoded.",
                &self.uplinks_verified,
            ),
            ("readings_received_total", "Readings in verified uplinks.", &self.readings_received),
            ("readings_stored_total", "Readings committed to the database.", &self.readings_stored),
            (
                "readings_duplicate_total",
                "Readings received again and not stored twice.",
                &self.readings_duplicate,
            ),
            ("commits_total", "Batches committed.", &self.commits),
            (
                "commit_failures_total",
                "Batch transactions that failed (and were retried).",
                &self.commit_failures,
            ),
            (
                "database_errors_total",
                "Failed attempts to reach or use the database (all retried).",
                &self.database_errors,
            ),
            (
                "batch_splits_total",
                "Batches split to isolate a message the database refused.",
                &self.batch_splits,
            ),
            (
                "unstorable_total",
                "Messages that could not even be quarantined (logged with their bytes).",
                &self.unstorable,
            ),
            ("acks_published_total", "Commit positions published to devices.", &self.acks_published),
            (
                "last_commit_timestamp_seconds",
                "Unix time of the last commit.",
                &self.last_commit_unix_seconds,
            ),
        ];
        for (name, help, v) in counters {
            let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
            let _ = writeln!(
                s,
                "# HELP dampwatch_collector_{name} {help}\n# TYPE dampwatch_collector_{name} {kind}\ndampwatch_collector_{name} {}",
                v.load(Relaxed)
            );
        }
        let gauges: [(&str, &str, &AtomicI64); 2] = [
            (
                "uplinks_pending",
                "Uplinks received and not yet acknowledged (bounded by the broker's window).",
                &self.uplinks_pending,
            ),
            ("database_connected", "1 while the intake has a database session.", &self.db_connected),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(
                s,
                "# HELP dampwatch_collector_{name} {help}\n# TYPE dampwatch_collector_{name} gauge\ndampwatch_collector_{name} {}",
                v.load(Relaxed)
            );
        }
        let _ = writeln!(s, "# HELP dampwatch_collector_rejected_total Messages quarantined or flagged, by reason.\n# TYPE dampwatch_collector_rejected_total counter");
        for r in Reason::ALL {
            let _ = writeln!(
                s,
                "dampwatch_collector_rejected_total{{reason=\"{r}\"}} {}",
                self.rejected_count(r)
            );
        }
        let _ = writeln!(s, "# HELP dampwatch_collector_quarantine_suppressed_total Messages refused past their device's hourly quarantine quota: counted, and per device in `dampwatch devices list`, without a quarantine row.\n# TYPE dampwatch_collector_quarantine_suppressed_total counter");
        for r in Reason::ALL {
            let _ = writeln!(
                s,
                "dampwatch_collector_quarantine_suppressed_total{{reason=\"{r}\"}} {}",
                self.quarantine_suppressed_count(r)
            );
        }
        let _ = writeln!(s, "# HELP dampwatch_collector_retention_deleted_total Rows deleted by the retention job.\n# TYPE dampwatch_collector_retention_deleted_total counter");
        for (t, v) in RETENTION_TABLES.iter().zip(&self.retention_deleted) {
            let _ = writeln!(
                s,
                "dampwatch_collector_retention_deleted_total{{table=\"{t}\"}} {}",
                v.load(Relaxed)
            );
        }
        self.batch_uplinks.render(
            &mut s,
            "dampwatch_collector_batch_uplinks",
            "Uplinks per committed batch.",
        );
        self.batch_readings.render(
            &mut s,
            "dampwatch_collector_batch_readings",
            "Readings per committed batch.",
        );
        self.commit_seconds.render(
            &mut s,
            "dampwatch_collector_commit_seconds",
            "Duration of the batch transaction.",
        );
        self.lag_seconds.render(
            &mut s,
            "dampwatch_collector_lag_seconds",
            "From arrival at the collector to commit.",
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_reasons_and_cumulative_buckets() {
        let m = Metrics::default();
        m.readings_stored.fetch_add(7, Relaxed);
        m.rejected(Reason::BadSignature, 2);
        m.quarantine_suppressed(Reason::OverBudget, 4);
        m.retention_deleted("readings", 3);
        m.commit_seconds.observe(0.003);
        m.commit_seconds.observe(0.2);
        let t = m.render();
        assert!(t.contains("dampwatch_collector_readings_stored_total 7\n"), "{t}");
        assert!(t.contains("dampwatch_collector_rejected_total{reason=\"bad_signature\"} 2\n"));
        assert!(t.contains("dampwatch_collector_quarantine_suppressed_total{reason=\"over_budget\"} 4\n"));
        assert!(t.contains("dampwatch_collector_retention_deleted_total{table=\"readings\"} 3\n"));
        assert!(t.contains("dampwatch_collector_commit_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(t.contains("dampwatch_collector_commit_seconds_bucket{le=\"0.25\"} 2\n"));
        assert!(t.contains("dampwatch_collector_commit_seconds_count 2\n"));
        assert!(t.contains("# TYPE dampwatch_collector_last_commit_timestamp_seconds gauge"));
    }
}
