//! The `[upstream]` section both the gateway and the collector read: which message layer they
//! use, and for the cluster how to reach it and as whom.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::ClusterError;

/// The commented default `[upstream]` section, appended to the gateway's and the collector's
/// default configuration files.
pub const DEFAULT_CONFIG: &str = r#"
[upstream]
# The message layer between gateways and collectors. "broker": the gateway's embedded MQTT
# broker, one machine (the collector reaches it through the gateway, see [mqtt]). "cluster": a
# NATS JetStream cluster that several gateways and collectors share and that keeps accepted
# uplinks when a node dies (docs/message-layer.md).
kind = "broker"
# kind = "cluster": the client URLs of the cluster's nodes; the client fails over between them.
servers = ["nats://127.0.0.1:4222"]
# Copies kept of the uplink stream and of the configuration bucket, when this service is the
# first to make them: 3 survives the loss of any one node (at most the number of nodes).
replicas = 3
# This service's user in the cluster and the file holding its password (keep it 0600). The
# gateways and the collectors have a user each, allowed only the subjects their role needs
# (docs/message-layer.md). Empty user: connect without credentials (a cluster that asks for
# none trusts anyone who can reach it: only for a test on one machine).
user = ""
password_file = ""
# The CA that signed the nodes' certificates (PEM). Set: the connection must be TLS and the
# node's certificate must chain to it and name the address in servers. Empty: plain TCP, for a
# cluster on one machine only (passwords and uplinks would cross the network in clear).
ca_file = ""
# The most the uplink stream holds, in bytes, when this service is the first to make it: once
# full, the cluster refuses new uplinks (the gateways then disconnect the devices, which keep
# their readings and resend) rather than dropping stored ones. It fills only while no
# collector takes uplinks: 10 GiB holds about 24 million signed uplinks of one reading.
max_stream_bytes = 10737418240
# Collectors: an uplink taken but not acknowledged within this time (its collector died or its
# database stalled) goes to a collector again.
ack_wait = "30s"
"#;

/// Which message layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    /// The gateway's embedded MQTT broker.
    Broker,
    /// A NATS JetStream cluster.
    Cluster,
}

/// `[upstream]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub kind: UpstreamKind,
    pub servers: Vec<String>,
    pub replicas: usize,
    pub user: String,
    pub password_file: PathBuf,
    pub ca_file: PathBuf,
    pub max_stream_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
}

impl UpstreamConfig {
    /// What is wrong with the section, if anything (only a cluster's settings matter).
    pub fn problem(&self) -> Option<&'static str> {
        if self.kind == UpstreamKind::Broker {
            return None;
        }
        if self.servers.is_empty() {
            return Some("upstream.servers must name at least one node when upstream.kind is \"cluster\"");
        }
        if !(1..=5).contains(&self.replicas) {
            return Some("upstream.replicas must be 1 to 5 (JetStream's limit)");
        }
        if self.user.is_empty() != self.password_file.as_os_str().is_empty() {
            return Some("upstream.user and upstream.password_file go together");
        }
        if self.max_stream_bytes < 1 << 20 || self.max_stream_bytes > i64::MAX as u64 {
            return Some("upstream.max_stream_bytes must be at least 1 MiB");
        }
        if self.ack_wait < Duration::from_secs(1) {
            return Some("upstream.ack_wait must be at least 1s");
        }
        if self.ca_file.as_os_str().is_empty() && !self.servers.iter().all(|s| is_loopback(s)) {
            return Some(
                "upstream.ca_file is required for servers beyond this machine: passwords and uplinks \
                 must not cross a network in clear",
            );
        }
        None
    }

    /// Connects to the cluster as this service's user (`name` shows in the server's connection
    /// list). Replies come to an inbox prefix of the user's own, so that the cluster can keep
    /// each user's replies from the others.
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client, ClusterError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect();
        if !self.user.is_empty() {
            let password = std::fs::read_to_string(&self.password_file)
                .map_err(|e| ClusterError::PasswordFile(self.password_file.clone(), e))?;
            options = options
                .user_and_password(self.user.clone(), password.trim_end().to_owned())
                .custom_inbox_prefix(inbox_prefix(&self.user));
        }
        if !self.ca_file.as_os_str().is_empty() {
            options = options.add_root_certificates(self.ca_file.clone()).require_tls(true);
        }
        let client = options.connect(self.servers.as_slice()).await?;
        // With `retry_on_initial_connect` the client connects in the background and keeps
        // trying; a service should still say at start when no node answers.
        wait_connected(&client, Duration::from_secs(10)).await?;
        Ok(client)
    }
}

/// Whether a server URL (`nats://host:port`, `tls://...`, or `host:port`) names this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => rest.split([':', '/']).next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The inbox prefix of `user`: replies to its requests arrive under it.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// Waits for the client's first connection.
async fn wait_connected(client: &async_nats::Client, limit: Duration) -> Result<(), ClusterError> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut events = tokio::time::interval(Duration::from_millis(20));
    while !crate::downlinks::is_connected(client) {
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::Unreachable(limit));
        }
        events.tick().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(servers: &[&str], ca_file: &str) -> UpstreamConfig {
        UpstreamConfig {
            kind: UpstreamKind::Cluster,
            servers: servers.iter().map(|s| s.to_string()).collect(),
            replicas: 3,
            user: "gateway".into(),
            password_file: "p".into(),
            ca_file: ca_file.into(),
            max_stream_bytes: 1 << 30,
            ack_wait: Duration::from_secs(30),
        }
    }

    #[test]
    fn a_cluster_beyond_this_machine_needs_tls() {
        for local in ["nats://127.0.0.1:4222", "nats://localhost:4222", "tls://[::1]:4222", "127.0.0.2:4222"]
        {
            assert_eq!(cluster(&[local], "").problem(), None, "{local}");
        }
        let remote = cluster(&["nats://127.0.0.1:4222", "nats://10.0.0.2:4222"], "");
        assert!(remote.problem().is_some_and(|p| p.contains("ca_file")));
        assert!(cluster(&["nats://user:pw@nats.example:4222"], "").problem().is_some());
        assert_eq!(cluster(&["nats://10.0.0.2:4222"], "ca.pem").problem(), None);
    }

    #[test]
    fn the_embedded_broker_needs_no_cluster_settings() {
        let broker = UpstreamConfig { kind: UpstreamKind::Broker, servers: vec![], ..cluster(&[], "") };
        assert_eq!(broker.problem(), None);
        assert!(cluster(&[], "").problem().is_some());
    }
}
