//! What the webhook sender reports to operators' monitoring: attempts by outcome, failed
//! attempts by reason (a fixed set of labels), and the queue as last seen (pending, and dead
//! letters waiting for an operator).

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::delivery::DeliveryRound;
use crate::failure::FailureReason;

#[derive(Debug, Default)]
pub struct WebhookStats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Failed attempts, in [`FailureReason::ALL`] order.
    pub failed: [AtomicU64; FailureReason::ALL.len()],
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
        for (counter, (_, n)) in self.failed.iter().zip(round.failures.iter()) {
            counter.fetch_add(n as u64, Relaxed);
        }
    }

    /// Failed attempts counted for `reason`.
    pub fn failed(&self, reason: FailureReason) -> u64 {
        FailureReason::ALL.iter().position(|r| *r == reason).map_or(0, |i| self.failed[i].load(Relaxed))
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
        let _ = writeln!(
            s,
            "# HELP dampwatch_webhooks_failed_total Failed attempts by reason (refused_address: the receiver's \
             host is or resolves to an address webhooks may not reach).\n# TYPE dampwatch_webhooks_failed_total counter"
        );
        for (reason, counter) in FailureReason::ALL.iter().zip(&self.failed) {
            let _ = writeln!(
                s,
                "dampwatch_webhooks_failed_total{{reason=\"{}\"}} {}",
                reason.label(),
                counter.load(Relaxed)
            );
        }
        s
    }
}
