//! Gateway counters, exposed in the Prometheus text format on `/metrics`.

use crate::refusal::Refusal;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::SystemTime;

/// Counters shared by every connection task. Relaxed atomics: each is independent.
#[derive(Default)]
pub struct Metrics {
    pub connections_open: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub handshakes_completed: AtomicU64,
    pub handshakes_pending: AtomicU64,
    pub devices_connected: AtomicU64,
    pub sessions_taken_over: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub uplinks_dropped: AtomicU64,
    pub downlinks_dropped: AtomicU64,
    pub upstream_reconnects: AtomicU64,
    pub crl_reloads: AtomicU64,
    pub crl_reload_failures: AtomicU64,
    /// 1 while the CRL file on disk was refused at the last reload (the last good one rules).
    pub crl_file_rejected: AtomicU64,
    /// nextUpdate of the CRL in force, in seconds since the Unix epoch; 0 if it names none.
    pub crl_next_update: AtomicU64,
    refusals: RefusalCounts,
}

/// One counter per refusal reason (a struct of its own: arrays this long have no `Default`).
struct RefusalCounts([AtomicU64; Refusal::ALL.len()]);

impl Default for RefusalCounts {
    fn default() -> Self {
        RefusalCounts(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Metrics {
    pub fn refused(&self, r: Refusal) {
        self.refusals.0[r as usize].fetch_add(1, Relaxed);
    }

    pub fn refusals(&self, r: Refusal) -> u64 {
        self.refusals.0[r as usize].load(Relaxed)
    }

    /// Records the nextUpdate of the CRL now in force.
    pub fn set_crl_next_update(&self, next_update: Option<SystemTime>) {
        let secs = next_update.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
        self.crl_next_update.store(secs.map_or(0, |d| d.as_secs()), Relaxed);
    }

    /// True if the CRL in force is past its nextUpdate at `now` (worked out when asked, so the
    /// metric turns the moment the CRL goes stale).
    pub fn crl_stale(&self, now: SystemTime) -> bool {
        match self.crl_next_update.load(Relaxed) {
            0 => false,
            secs => crate::crl::is_stale(Some(crate::crl::system_time(secs as i64)), now),
        }
    }

    /// Every metric with its name, type and help text.
    fn table(&self) -> [(&'static str, &'static str, &'static str, &AtomicU64); 17] {
        [
            ("connections_open", "gauge", "Connections open now.", &self.connections_open),
            (
                "connections_accepted_total",
                "counter",
                "TCP connections accepted.",
                &self.connections_accepted,
            ),
            (
                "handshakes_completed_total",
                "counter",
                "TLS handshakes completed with a valid client certificate.",
                &self.handshakes_completed,
            ),
            (
                "handshakes_pending",
                "gauge",
                "Connections in their TLS handshake now (limits.max_handshakes).",
                &self.handshakes_pending,
            ),
            ("devices_connected", "gauge", "Device MQTT sessions open now.", &self.devices_connected),
            (
                "sessions_taken_over_total",
                "counter",
                "Device connections replaced by a newer connection of the same device.",
                &self.sessions_taken_over,
            ),
            ("messages_in_total", "counter", "PUBLISH packets from clients.", &self.messages_in),
            ("messages_out_total", "counter", "PUBLISH packets to clients.", &self.messages_out),
            ("bytes_in_total", "counter", "MQTT bytes from clients.", &self.bytes_in),
            ("bytes_out_total", "counter", "MQTT bytes to clients.", &self.bytes_out),
            (
                "uplinks_dropped_total",
                "counter",
                "QoS 0 device publishes dropped because the broker link was backed up.",
                &self.uplinks_dropped,
            ),
            (
                "downlinks_dropped_total",
                "counter",
                "Downlinks dropped because the device was not reading them.",
                &self.downlinks_dropped,
            ),
            (
                "upstream_reconnects_total",
                "counter",
                "Times a broker link was lost and reconnected.",
                &self.upstream_reconnects,
            ),
            ("crl_reloads_total", "counter", "CRL reloads applied.", &self.crl_reloads),
            (
                "crl_reload_failures_total",
                "counter",
                "CRL reloads that failed (the previous CRL stays in force).",
                &self.crl_reload_failures,
            ),
            (
                "crl_file_rejected",
                "gauge",
                "1 while crl.pem is missing or damaged and the last good CRL stays in force.",
                &self.crl_file_rejected,
            ),
            (
                "crl_next_update_seconds",
                "gauge",
                "nextUpdate of the CRL in force, Unix time (0: none).",
                &self.crl_next_update,
            ),
        ]
    }

    pub fn render(&self) -> String {
        let mut s = String::with_capacity(6144);
        for (name, kind, help, v) in self.table() {
            let _ = writeln!(
                s,
                "# HELP dampwatch_gateway_{name} {help}\n# TYPE dampwatch_gateway_{name} {kind}\ndampwatch_gateway_{name} {}",
                v.load(Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP dampwatch_gateway_crl_stale 1 while the CRL in force is past its nextUpdate.\n# TYPE dampwatch_gateway_crl_stale gauge\ndampwatch_gateway_crl_stale {}",
            u8::from(self.crl_stale(SystemTime::now()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_reason_and_counter() {
        let m = Metrics::default();
        m.refused(Refusal::OtherDeviceTopic);
        m.messages_in.fetch_add(3, Relaxed);
        let text = m.render();
        assert!(text.contains("dampwatch_gateway_refusals_total{reason=\"other_device_topic\"} 1\n"));
        assert!(text.contains("dampwatch_gateway_refusals_total{reason=\"qos2\"} 0\n"));
        assert!(text.contains("dampwatch_gateway_messages_in_total 3\n"));
        assert!(text.contains("# TYPE dampwatch_gateway_connections_open gauge\n"));
        assert!(text.contains("dampwatch_gateway_crl_stale 0\n"));
    }

    #[test]
    fn a_crl_past_its_next_update_shows_as_stale() {
        let m = Metrics::default();
        let next = SystemTime::now() - std::time::Duration::from_secs(60);
        m.set_crl_next_update(Some(next));
        assert!(m.render().contains("dampwatch_gateway_crl_stale 1\n"));
        m.set_crl_next_update(Some(next + std::time::Duration::from_secs(3600)));
        assert!(m.render().contains("dampwatch_gateway_crl_stale 0\n"));
    }
}
