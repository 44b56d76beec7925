//! Gateway configuration: TOML with working defaults. The defaults ARE the commented file
//! below (`dampwatch-gateway print-config` prints it), so documentation and behaviour cannot
//! drift apart. Relative paths are resolved against the configuration file's directory.

pub use crate::cidr::Cidr;
pub use crate::crl::StaleCrl;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The commented default configuration of the gateway's own sections; [`default_config`] adds
/// the `[upstream]` section it shares with the collector.
pub const GATEWAY_DEFAULTS: &str = r#"# dampwatch-gateway configuration. Every key is optional; these are the defaults.

[listen]
# Where devices and services connect with mutual TLS. Use 0.0.0.0:8883 to accept devices
# from the network.
address = "127.0.0.1:8883"
# Prometheus metrics (/metrics) and health (/health) over plain HTTP. Keep it private.
metrics_address = "127.0.0.1:9883"
# TCP load balancers in front of the gateway, as addresses or CIDR ranges (e.g. "10.0.0.0/24").
# A connection from one must start with a PROXY protocol v2 header (binary), and the client
# address it carries is the one limited per source and logged; one without it is refused, and
# so is a connection from anywhere else that sends such a header. Empty: no balancer.
load_balancers = []

[tls]
# Files made by `dampwatch pki init` (relative paths are resolved against this file).
ca = "certs/ca.pem"
cert = "certs/gateway/cert.pem"
key = "certs/gateway/key.pem"
# Revoked certificates. Required: the gateway does not start without it. Re-read when the
# file changes (checked every crl_poll_interval) or on SIGHUP; live connections whose
# certificate is now revoked are closed. A file that is missing or damaged at a reload is
# refused (logged at ERROR, counted) and the last good CRL stays in force.
crl = "certs/crl.pem"
crl_poll_interval = "1s"
# Once the CRL's nextUpdate has passed it is reported stale (ERROR log, metric crl_stale) and
# still enforced. "serve": devices keep connecting; "refuse_devices": new device connections
# are refused until a current CRL arrives (services still connect).
stale_crl = "serve"
# A client that has not finished its TLS handshake by then is dropped. Handshakes run in their
# own tasks, so a slow client never delays anyone else.
handshake_timeout = "10s"

[services]
# Service certificates (by name, the certificate's CN) that may use the broker as collectors:
# subscribe to uplinks and publish acknowledgements and configuration. Holding a service
# certificate is not enough: one not named here is refused right after its TLS handshake,
# before it can take one of the connections kept for services. Several collectors may share a
# name (client ids "collector", "collector-2", ...).
collectors = ["collector"]

[limits]
# Device connections at once, counted from the end of their TLS handshake; a device beyond it
# is refused right after its handshake.
max_connections = 20000
# Connections still in their TLS handshake (anyone can open one): a budget of their own, so
# they never take a device's or service's slot. When it is full, a new connection displaces
# the oldest one still in its handshake, so silent connections cannot keep devices out.
max_handshakes = 1024
# Connections kept for services (the collector), which devices can never take.
service_connections = 16
# New connections per second from one source (token bucket with this burst). A source is an
# IPv4 address or an IPv6 /64; behind a load balancer, the client address it reports.
connections_per_second_per_source = 50
connection_burst_per_source = 200
# Time allowed between the TLS handshake and the MQTT CONNECT.
connect_timeout = "10s"
# Largest MQTT packet a client may send, in bytes (a signed uplink is at most 2048).
max_packet_bytes = 4096
# Messages per second one device may publish (token bucket with this burst), shared by all
# of a device's connections.
device_messages_per_second = 10
device_message_burst = 100
# QoS 1 publishes a device may have unacknowledged (MQTT 5 "receive maximum"); the gateway reads
# nothing more from a device that reaches it until the broker has caught up.
device_inflight = 32
# Connections one device may open per minute (reconnect storms, cloned credentials).
device_connects_per_minute = 30
# Keep-alive a device may ask for; a device that asks for none (0) is held to this. A device
# silent for 1.5 times its keep-alive is disconnected.
max_keep_alive = "20m"
# A client that does not take what the gateway writes within this time is disconnected.
write_timeout = "30s"
# Configuration messages remembered (the last one per device, handed to the device when it
# subscribes).
remembered_configurations = 100000
# On shutdown, how long connections may keep running so in-flight publishes finish.
drain_timeout = "3s"

[broker]
# The embedded MQTT broker (with [upstream] kind = "broker"; with "cluster" none runs, and
# service certificates have no role at the gateway). It listens on loopback only; 0 picks a
# free port.
v4_port = 0
v5_port = 0
# Per-subscription in-memory log: segment size in bytes and number of segments. It bounds the
# broker's memory and how far a slow collector may fall behind before it misses messages
# (devices then resend, since they keep every reading until the database has it).
max_segment_size = 4194304
max_segment_count = 8
# Device traffic shares a few gateway-to-broker connections instead of one per device (see the
# crate docs): this many for device publishes, plus one for acks and configuration.
uplinks = 2
# QoS 1 device publishes in flight to the broker per uplink (at most 65534); with the cluster,
# publishes in flight to the cluster in all.
uplink_inflight = 8192
"#;

/// The whole commented default configuration, as `print-config` prints it.
pub fn default_config() -> String {
    format!("{GATEWAY_DEFAULTS}{}", dampwatch_cluster::DEFAULT_CONFIG)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: Listen,
    pub tls: Tls,
    pub services: Services,
    pub limits: Limits,
    pub broker: Broker,
    pub upstream: dampwatch_cluster::UpstreamConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    pub collectors: Vec<String>,
}

impl Services {
    /// True if a service certificate named `name` may act as a collector.
    pub fn is_collector(&self, name: &str) -> bool {
        self.collectors.iter().any(|c| c == name)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub address: SocketAddr,
    pub metrics_address: Option<SocketAddr>,
    pub load_balancers: Vec<Cidr>,
}

impl Listen {
    /// True if `ip` is a configured load balancer's (its connections carry a PROXY header).
    pub fn is_load_balancer(&self, ip: std::net::IpAddr) -> bool {
        self.load_balancers.iter().any(|c| c.contains(ip))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub crl: PathBuf,
    #[serde(with = "humantime_serde")]
    pub crl_poll_interval: Duration,
    pub stale_crl: StaleCrl,
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_connections: usize,
    pub max_handshakes: usize,
    pub service_connections: usize,
    pub connections_per_second_per_source: f64,
    pub connection_burst_per_source: f64,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    pub max_packet_bytes: usize,
    pub device_messages_per_second: f64,
    pub device_message_burst: f64,
    pub device_inflight: u16,
    pub device_connects_per_minute: u32,
    #[serde(with = "humantime_serde")]
    pub max_keep_alive: Duration,
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    pub remembered_configurations: usize,
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    pub v4_port: u16,
    pub v5_port: u16,
    pub max_segment_size: usize,
    pub max_segment_count: usize,
    pub uplinks: usize,
    pub uplink_inflight: usize,
}

pub use dampwatch_conf::ConfigError;

impl Default for Config {
    fn default() -> Self {
        dampwatch_conf::defaults(&default_config())
    }
}

impl Config {
    /// Reads a file: its keys override the defaults, unknown keys are an error (a typo must not
    /// silently fall back to a default).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = dampwatch_conf::load(&default_config(), path)?;
        for p in [&mut cfg.tls.ca, &mut cfg.tls.cert, &mut cfg.tls.key, &mut cfg.tls.crl] {
            dampwatch_conf::resolve(p, path);
        }
        for p in [&mut cfg.upstream.password_file, &mut cfg.upstream.ca_file] {
            if !p.as_os_str().is_empty() {
                dampwatch_conf::resolve(p, path);
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML over the defaults.
    pub fn from_toml(text: &str) -> Result<Self, dampwatch_conf::ParseError> {
        dampwatch_conf::from_toml(&default_config(), text)
    }

    /// Paths of the PKI files in a `dampwatch pki init` directory.
    pub fn with_pki_dir(mut self, dir: &Path) -> Self {
        let paths = dampwatch_pki::Paths::new(dir);
        self.tls.ca = paths.ca_cert();
        self.tls.cert = paths.gateway_cert();
        self.tls.key = paths.gateway_key();
        self.tls.crl = paths.crl();
        self
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if let Some(problem) = self.upstream.problem() {
            return bad(problem);
        }
        if l.max_connections == 0 || l.max_handshakes == 0 || l.service_connections == 0 {
            return bad(
                "limits.max_connections, limits.max_handshakes and limits.service_connections must be at least 1",
            );
        }
        if l.max_packet_bytes < 64 {
            return bad("limits.max_packet_bytes must be at least 64");
        }
        if l.device_messages_per_second <= 0.0 || l.device_message_burst < 1.0 {
            return bad("limits.device_messages_per_second must be > 0 and device_message_burst >= 1");
        }
        if l.connections_per_second_per_source <= 0.0 || l.connection_burst_per_source < 1.0 {
            return bad("limits.connections_per_second_per_source must be > 0 and the burst >= 1");
        }
        if self.broker.max_segment_size < 1024 || self.broker.max_segment_count == 0 {
            return bad("broker.max_segment_size must be >= 1024 and max_segment_count >= 1");
        }
        if self.tls.handshake_timeout.is_zero() || l.connect_timeout.is_zero() || l.write_timeout.is_zero() {
            return bad(
                "tls.handshake_timeout, limits.connect_timeout and limits.write_timeout must be above zero",
            );
        }
        if l.max_keep_alive < Duration::from_secs(1) {
            return bad("limits.max_keep_alive must be at least 1s");
        }
        if l.device_inflight == 0 {
            return bad("limits.device_inflight must be at least 1");
        }
        if self.broker.uplinks == 0 || !(1..=65_534).contains(&self.broker.uplink_inflight) {
            return bad("broker.uplinks must be at least 1 and broker.uplink_inflight 1 to 65534");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_are_valid() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.listen.address.to_string(), "127.0.0.1:8883");
        assert_eq!(c.tls.handshake_timeout, Duration::from_secs(10));
        assert_eq!(c.tls.stale_crl, StaleCrl::Serve);
        assert!(c.listen.load_balancers.is_empty());
        assert!(c.services.is_collector("collector"));
        assert!(!c.services.is_collector("reporter"));
    }

    #[test]
    fn load_balancers_are_ranges() {
        let c = Config::from_toml(
            "[listen]\nload_balancers = [\"10.0.0.0/24\", \"2001:db8::7\"]\n[tls]\nstale_crl = \"refuse_devices\"\n",
        )
        .unwrap();
        assert!(c.listen.is_load_balancer("10.0.0.200".parse().unwrap()));
        assert!(c.listen.is_load_balancer("2001:db8::7".parse().unwrap()));
        assert!(!c.listen.is_load_balancer("10.0.1.1".parse().unwrap()));
        assert_eq!(c.tls.stale_crl, StaleCrl::RefuseDevices);
        let e = Config::from_toml("[listen]\nload_balancers = [\"10.0.0.0/40\"]\n").unwrap_err();
        assert!(e.to_string().contains("prefix length"), "{e}");
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let c = Config::from_toml("[limits]\nmax_connections = 5\n").unwrap();
        assert_eq!(c.limits.max_connections, 5);
        assert_eq!(c.limits.max_packet_bytes, 4096);
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let e = Config::from_toml("[limits]\nmax_conections = 5\n").unwrap_err();
        assert!(e.to_string().contains("max_conections"), "{e}");
        assert!(Config::from_toml("[tls]\nhandshake_timeout = \"soon\"\n").is_err());
        let c = Config::from_toml("[limits]\nmax_packet_bytes = 1\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("max_packet_bytes"));
    }
}
