//! Gateway counters, exposed in the Prometheus text format on `/metrics`.

use crate::refusal::Refusal;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters shared by every connection task. Relaxed atomics: each is independent.
#[derive(Default)]
pub struct Metrics {
    pub connections_open: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub handshakes_completed: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub crl_reloads: AtomicU64,
    pub crl_reload_failures: AtomicU64,
    refusals: [AtomicU64; Refusal::ALL.len()],
}

impl Metrics {
    pub fn refused(&self, r: Refusal) {
        self.refusals[r as usize].fetch_add(1, Relaxed);
    }

    pub fn refusals(&self, r: Refusal) -> u64 {
        self.refusals[r as usize].load(Relaxed)
    }

    pub fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        let mut metric = |name: &str, kind: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}", v.load(Relaxed));
        };
        metric(
            "dampwatch_gateway_connections_open",
            "gauge",
            "Connections open now.",
            &self.connections_open,
        );
        metric(
            "dampwatch_gateway_connections_accepted_total",
            "counter",
            "TCP connections accepted.",
            &self.connections_accepted,
        );
        metric(
            "dampwatch_gateway_handshakes_completed_total",
            "counter",
            "TLS handshakes completed with a valid client certificate.",
            &self.handshakes_completed,
        );
        metric(
            "dampwatch_gateway_messages_in_total",
            "counter",
            "PUBLISH packets from clients.",
            &self.messages_in,
        );
        metric(
            "dampwatch_gateway_messages_out_total",
            "counter",
            "PUBLISH packets to clients.",
            &self.messages_out,
        );
        metric("dampwatch_gateway_bytes_in_total", "counter", "MQTT bytes from clients.", &self.bytes_in);
        metric("dampwatch_gateway_bytes_out_total", "counter", "MQTT bytes to clients.", &self.bytes_out);
        metric("dampwatch_gateway_crl_reloads_total", "counter", "CRL reloads applied.", &self.crl_reloads);
        metric(
            "dampwatch_gateway_crl_reload_failures_total",
            "counter",
            "CRL reloads that failed (the previous CRL stays in force).",
            &self.crl_reload_failures,
        );
        let _ = writeln!(
            s,
            "# HELP dampwatch_gateway_refusals_total Connections refused or closed, by reason.\n# TYPE dampwatch_gateway_refusals_total counter"
        );
        for r in Refusal::ALL {
            let _ = writeln!(s, "dampwatch_gateway_refusals_total{{reason=\"{r}\"}} {}", self.refusals(r));
        }
        s
    }
}
