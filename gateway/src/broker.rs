//! The embedded MQTT broker core (rumqttd), listening on loopback only.
//!
//! rumqttd's own TLS listener is never used: it runs handshakes inside its accept loop, reads
//! only the certificate's O, has no revocation and no per-client ACL. The gateway terminates
//! TLS, authorises every packet, and forwards to these plain listeners, which nothing but the
//! gateway can reach.
//!
//! Loopback is reachable by every local account, so the broker also asks every connection for a
//! username and password made at each start and held only in this process ([`BrokerLogin`]):
//! the gateway's own links send it, and a service's CONNECT is relayed with its login replaced
//! by it. A local process that finds the ports cannot connect, subscribe to downlinks or take
//! the collector's client id.

use rumqttd::{ConnectionSettings, Router, RouterConfig, Server, ServerSettings};
use std::collections::HashMap;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Broker connections: the gateway's links plus service connections.
pub const MAX_BROKER_CONNECTIONS: usize = 1024;

/// Where the broker's two loopback listeners are.
#[derive(Debug, Clone, Copy)]
pub struct BrokerAddrs {
    pub v4: SocketAddr,
    pub v5: SocketAddr,
}

/// The broker's one login, made at start. Deliberately no `Debug` of the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BrokerLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BrokerLogin {{ username: {:?}, password: *** }}", self.username)
    }
}

impl BrokerLogin {
    /// A fresh login: 192 random bits of password.
    fn generate() -> std::io::Result<BrokerLogin> {
        let mut bytes = [0u8; 24];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let password = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(BrokerLogin { username: "dampwatch-gateway".into(), password })
    }

    pub fn pair(&self) -> (&str, &str) {
        (&self.username, &self.password)
    }
}

fn loopback_port(port: u16) -> std::io::Result<SocketAddr> {
    if port != 0 {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    // rumqttd binds the address itself and does not report the port it got, so pick a free
    // one here. Only loopback is used, and a clash fails loudly at bind time.
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

fn settings(
    name: &str,
    listen: SocketAddr,
    cfg: &crate::config::Config,
    login: &BrokerLogin,
) -> ServerSettings {
    ServerSettings {
        name: name.into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            // The gateway already held the client to its own connect timeout.
            connection_timeout_ms: 10_000,
            max_payload_size: cfg.limits.max_packet_bytes,
            // Packets rumqttd reads from one connection in one batch (a link carries many
            // devices' publishes).
            max_inflight_count: 1000,
            // Compared in constant time by rumqttd.
            auth: Some(HashMap::from([(login.username.clone(), login.password.clone())])),
            external_auth: None,
            dynamic_filters: true,
        },
    }
}

/// Starts the router thread and both listeners on the current tokio runtime; returns where
/// they listen and the login they ask for.
pub fn start(cfg: &crate::config::Config) -> std::io::Result<(BrokerAddrs, BrokerLogin)> {
    let login = BrokerLogin::generate()?;
    let router_cfg = RouterConfig {
        // Devices share a few gateway links; only links and service connections (collectors)
        // reach the broker, and rumqttd preallocates per possible connection.
        max_connections: MAX_BROKER_CONNECTIONS,
        max_outgoing_packet_count: 200,
        max_segment_size: cfg.broker.max_segment_size,
        max_segment_count: cfg.broker.max_segment_count,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: Default::default(),
    };
    let addrs =
        BrokerAddrs { v4: loopback_port(cfg.broker.v4_port)?, v5: loopback_port(cfg.broker.v5_port)? };
    let router_tx = Router::new(0, router_cfg).spawn();
    let mut v4 =
        Server::new(settings("v4", addrs.v4, cfg, &login), router_tx.clone(), rumqttd::protocol::v4::V4);
    let mut v5 = Server::new(settings("v5", addrs.v5, cfg, &login), router_tx, rumqttd::protocol::v5::V5);
    tokio::spawn(async move {
        if let Err(e) = v4.start(rumqttd::LinkType::Remote).await {
            tracing::error!(error = %e, "broker v4 listener stopped");
        }
    });
    tokio::spawn(async move {
        if let Err(e) = v5.start(rumqttd::LinkType::Remote).await {
            tracing::error!(error = %e, "broker v5 listener stopped");
        }
    });
    Ok((addrs, login))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_ports_are_always_on_loopback() {
        for port in [0, 1883, 65535] {
            let addr = loopback_port(port).unwrap();
            assert!(addr.ip().is_loopback(), "{addr}");
        }
    }
}
