//! Collector counters and histograms, exposed in the Prometheus text format.

use crate::reject::Reason;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
        self.sum_micros.fetch_add((v * 1e6) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
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

const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const SIZES: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

pub struct Metrics {
    pub uplinks_received: AtomicU64,
    pub uplinks_verified: AtomicU64,
    pub readings_stored: AtomicU64,
    pub readings_duplicate: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub acks_published: AtomicU64,
    rejected: [AtomicU64; Reason::ALL.len()],
    /// Uplinks per committed batch.
    pub batch_uplinks: Histogram,
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
            readings_stored: AtomicU64::new(0),
            readings_duplicate: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            acks_published: AtomicU64::new(0),
            rejected: Default::default(),
            batch_uplinks: Histogram::new(SIZES),
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

    pub fn render(&self) -> String {
        let mut s = String::with_capacity(8192);
        let counters: [(&str, &str, &AtomicU64); 7] = [
            ("uplinks_received_total", "Uplink messages received from the broker.", &self.uplinks_received),
            (
                "uplinks_verified_total",
                "Uplinks whose signature verified and that decoded.",
                &self.uplinks_verified,
            ),
            ("readings_stored_total", "Readings committed to the database.", &self.readings_stored),
            (
                "readings_duplicate_total",
                "Readings received again and not stored twice.",
                &self.readings_duplicate,
            ),
            ("commits_total", "Batches committed.", &self.commits),
            ("commit_failures_total", "Batch transactions that failed (retried).", &self.commit_failures),
            ("acks_published_total", "Commit positions published to devices.", &self.acks_published),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                s,
                "# HELP dampwatch_collector_{name} {help}\n# TYPE dampwatch_collector_{name} counter\ndampwatch_collector_{name} {}",
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
        self.batch_uplinks.render(
            &mut s,
            "dampwatch_collector_batch_uplinks",
            "Uplinks per committed batch.",
        );
        self.commit_seconds.render(
            &mut s,
            "dampwatch_collector_commit_seconds",
            "Duration of the batch transaction.",
        );
        self.lag_seconds.render(&mut s, "dampwatch_collector_lag_seconds", "From arrival to commit.");
        s
    }
}
