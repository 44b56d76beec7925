//! Gateway counters and gauges, exposed in the Prometheus text format on `/metrics`.

use crate::refusal::Refusal;
use prometheus_client::encoding::{prometheus_text, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::time::SystemTime;

/// Metrics shared by every connection task. Each is an independent atomic (handles share it).
pub struct Metrics {
    pub connections_open: Gauge,
    pub connections_accepted: Counter,
    pub handshakes_completed: Counter,
    pub handshakes_pending: Gauge,
    pub devices_connected: Gauge,
    pub sessions_taken_over: Counter,
    pub messages_in: Counter,
    pub messages_out: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub uplinks_dropped: Counter,
    pub downlinks_dropped: Counter,
    pub upstream_reconnects: Counter,
    /// Cluster upstream: uplinks the cluster did not store, and devices whose downlinks could
    /// not be taken (each device resends).
    pub upstream_refused: Counter,
    pub crl_reloads: Counter,
    pub crl_reload_failures: Counter,
    /// 1 while the CRL file on disk was refused at the last reload (the last good one rules).
    pub crl_file_rejected: Gauge,
    /// nextUpdate of the CRL in force, in seconds since the Unix epoch; 0 if it names none.
    crl_next_update: Gauge,
    /// Every reason present from the start, so a refusal that never happened shows as 0.
    refusals: Family<[(&'static str, &'static str); 1], Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let refusals = Family::default();
        for r in Refusal::ALL {
            refusals.get_or_create_owned(&[("reason", r.as_str())]);
        }
        Metrics {
            connections_open: Gauge::default(),
            connections_accepted: Counter::default(),
            handshakes_completed: Counter::default(),
            handshakes_pending: Gauge::default(),
            devices_connected: Gauge::default(),
            sessions_taken_over: Counter::default(),
            messages_in: Counter::default(),
            messages_out: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            uplinks_dropped: Counter::default(),
            downlinks_dropped: Counter::default(),
            upstream_reconnects: Counter::default(),
            upstream_refused: Counter::default(),
            crl_reloads: Counter::default(),
            crl_reload_failures: Counter::default(),
            crl_file_rejected: Gauge::default(),
            crl_next_update: Gauge::default(),
            refusals,
        }
    }
}

/// Whether the CRL in force is past its nextUpdate, worked out at each scrape, so the metric
/// turns the moment the CRL goes stale.
#[derive(Debug)]
struct CrlStale {
    next_update: Gauge,
}

impl CrlStale {
    fn at(&self, now: SystemTime) -> bool {
        match self.next_update.get() {
            0 => false,
            secs => crate::crl::is_stale(Some(crate::crl::system_time(secs)), now),
        }
    }
}

impl EncodeMetric for CrlStale {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&i64::from(self.at(SystemTime::now())))
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

impl Metrics {
    pub fn refused(&self, r: Refusal) {
        self.refusals.get_or_create(&[("reason", r.as_str())]).inc();
    }

    pub fn refusals(&self, r: Refusal) -> u64 {
        self.refusals.get_or_create(&[("reason", r.as_str())]).get()
    }

    /// Records the nextUpdate of the CRL now in force.
    pub fn set_crl_next_update(&self, next_update: Option<SystemTime>) {
        let secs = next_update.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
        self.crl_next_update.set(secs.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    }

    /// Registers every metric under `dampwatch_gateway_` (counters get their `_total` from the
    /// encoder).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dampwatch_gateway");
        let gauges = [
            ("connections_open", "Connections open now", &self.connections_open),
            (
                "handshakes_pending",
                "Connections in their TLS handshake now (limits.max_handshakes)",
                &self.handshakes_pending,
            ),
            ("devices_connected", "Device MQTT sessions open now", &self.devices_connected),
            (
                "crl_file_rejected",
                "1 while crl.pem is missing or damaged and the last good CRL stays in force",
                &self.crl_file_rejected,
            ),
            (
                "crl_next_update_seconds",
                "nextUpdate of the CRL in force, Unix time (0: none)",
                &self.crl_next_update,
            ),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        let counters = [
            ("connections_accepted", "TCP connections accepted", &self.connections_accepted),
            (
                "handshakes_completed",
                "TLS handshakes completed with a valid client certificate",
                &self.handshakes_completed,
            ),
            (
                "sessions_taken_over",
                "Device connections replaced by a newer connection of the same device",
                &self.sessions_taken_over,
            ),
            ("messages_in", "PUBLISH packets from clients", &self.messages_in),
            ("messages_out", "PUBLISH packets to clients", &self.messages_out),
            ("bytes_in", "MQTT bytes from clients", &self.bytes_in),
            ("bytes_out", "MQTT bytes to clients", &self.bytes_out),
            (
                "uplinks_dropped",
                "QoS 0 device publishes dropped because the broker link was backed up",
                &self.uplinks_dropped,
            ),
            (
                "downlinks_dropped",
                "Downlinks dropped because the device was not reading them",
                &self.downlinks_dropped,
            ),
            (
                "upstream_reconnects",
                "Times a broker link was lost and reconnected",
                &self.upstream_reconnects,
            ),

            (
                "upstream_refused",
                "Uplinks the cluster did not store, or devices whose downlinks it could not route (each device resends)",
                &self.upstream_refused,
            ),
            ("crl_reloads", "CRL reloads applied", &self.crl_reloads),
            (
                "crl_reload_failures",
                "CRL reloads that failed (the previous CRL stays in force)",
                &self.crl_reload_failures,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        r.register(
            "crl_stale",
            "1 while the CRL in force is past its nextUpdate",
            CrlStale { next_update: self.crl_next_update.clone() },
        );
        r.register("refusals", "Connections refused or closed, by reason", self.refusals.clone());
    }

    /// The Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        text(&registry)
    }
}

/// `registry` in the Prometheus text format (version 0.0.4), as `/metrics` serves it.
pub fn text(registry: &Registry) -> String {
    let mut out = String::with_capacity(6144);
    // Writing to a String fails only if a metric's own encoding does, and none here can.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_reason_and_counter() {
        let m = Metrics::default();
        m.refused(Refusal::OtherDeviceTopic);
        m.messages_in.inc_by(3);
        let text = m.render();
        assert!(text.contains("dampwatch_gateway_refusals_total{reason=\"other_device_topic\"} 1\n"));
        for r in Refusal::ALL.into_iter().filter(|r| *r != Refusal::OtherDeviceTopic) {
            assert!(text.contains(&format!("dampwatch_gateway_refusals_total{{reason=\"{r}\"}} 0\n")), "{r}");
        }
        assert!(text.contains("dampwatch_gateway_messages_in_total 3\n"));
        assert!(text.contains("# TYPE dampwatch_gateway_messages_in_total counter\n"));
        assert!(text.contains("# TYPE dampwatch_gateway_connections_open gauge\n"));
        assert!(
            text.contains("# HELP dampwatch_gateway_bytes_in_total MQTT bytes from clients.\n"),
            "{text}"
        );
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
