//! What the webhook sender reports to operators' monitoring: attempts by outcome, and the
//! queue as last seen (pending, and dead letters waiting for an operator).

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::delivery::DeliveryRound;

#[derive(Debug, Default)]
pub struct WebhookStats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Webhooks waiting to be sent (-1 until the queue is first read).
    pub pending: AtomicI64,
    /// Dead letters waiting for an operator (`dampwatch webhooks dead`).
    pub dead: AtomicI64,
}

impl WebhookStats {
    pub fn new() -> Self {
        WebhookStats { pending: AtomicI64::new(-1), dead: AtomicI64::new(-1), ..Default::default() }
    }

    pub fn add(&self, round: &DeliveryRound) {
        self.delivered.fetch_add(round.delivered as u64, Relaxed);
        self.retried.fetch_add(round.retrying as u64, Relaxed);
        self.dead_lettered.fetch_add(round.dead as u64, Relaxed);
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let rows: [(&str, &str, &str, i64); 5] = [
            (
                "delivered_total",
                "counter",
                "Webhooks the receiver accepted (2xx).",
                self.delivered.load(Relaxed) as i64,
            ),
            (
                "retried_total",
                "counter",
                "Failed attempts scheduled to be tried again.",
                self.retried.load(Relaxed) as i64,
            ),
            (
                "dead_lettered_total",
                "counter",
                "Webhooks that failed their last attempt.",
                self.dead_lettered.load(Relaxed) as i64,
            ),
            (
                "pending",
                "gauge",
                "Webhooks waiting to be sent (-1: not read yet).",
                self.pending.load(Relaxed),
            ),
            (
                "dead",
                "gauge",
                "Dead letters waiting for an operator (-1: not read yet).",
                self.dead.load(Relaxed),
            ),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(
                s,
                "# HELP dampwatch_webhooks_{name} {help}\n# TYPE dampwatch_webhooks_{name} {kind}\ndampwatch_webhooks_{name} {v}"
            );
        }
        s
    }
}
