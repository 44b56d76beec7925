//! What the webhook sender reports to operators' monitoring: attempts by outcome, failed
//! attempts by reason (a fixed set of labels), and the queue as last seen (pending, and dead
//! letters waiting for an operator). The hosting service registers it in its Prometheus
//! registry ([`WebhookStats::register`]).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::delivery::DeliveryRound;
use crate::failure::FailureReason;
use crate::metrics::{counters_by, render, Label};

#[derive(Debug)]
pub struct WebhookStats {
    pub delivered: Counter,
    pub retried: Counter,
    pub dead_lettered: Counter,
    /// Failed attempts, by [`FailureReason::label`].
    failed: Family<Label, Counter>,
    /// Webhooks waiting to be sent (-1 until the queue is first read).
    pub pending: Gauge,
    /// Dead letters waiting for an operator (`dampwatch webhooks dead`).
    pub dead: Gauge,
}

impl Default for WebhookStats {
    fn default() -> Self {
        Self::new()
    }
}

impl WebhookStats {
    pub fn new() -> Self {
        let (pending, dead) = (Gauge::default(), Gauge::default());
        pending.set(-1);
        dead.set(-1);
        WebhookStats {
            delivered: Counter::default(),
            retried: Counter::default(),
            dead_lettered: Counter::default(),
            failed: counters_by("reason", FailureReason::ALL.map(FailureReason::label)),
            pending,
            dead,
        }
    }

    pub fn add(&self, round: &DeliveryRound) {
        self.delivered.inc_by(round.delivered as u64);
        self.retried.inc_by(round.retrying as u64);
        self.dead_lettered.inc_by(round.dead as u64);
        for (reason, n) in round.failures.iter() {
            self.failed.get_or_create(&[("reason", reason.label())]).inc_by(n as u64);
        }
    }

    /// Failed attempts counted for `reason`.
    pub fn failed(&self, reason: FailureReason) -> u64 {
        self.failed.get_or_create(&[("reason", reason.label())]).get()
    }

    /// Registers every metric under `dampwatch_webhooks_`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dampwatch_webhooks");
        r.register("delivered", "Webhooks the receiver accepted (2xx)", self.delivered.clone());
        r.register("retried", "Failed attempts scheduled to be tried again", self.retried.clone());
        r.register("dead_lettered", "Webhooks that failed their last attempt", self.dead_lettered.clone());
        r.register("pending", "Webhooks waiting to be sent (-1: not read yet)", self.pending.clone());
        r.register("dead", "Dead letters waiting for an operator (-1: not read yet)", self.dead.clone());
        r.register(
            "failed",
            "Failed attempts by reason (refused_address: the receiver's host is or resolves to an \
             address webhooks may not reach)",
            self.failed.clone(),
        );
    }

    /// These metrics alone in the Prometheus text format.
    pub fn render(&self) -> String {
        render(|r| self.register(r))
    }
}
