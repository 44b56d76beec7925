//! A device's MQTT connection: rumqttc over mutual TLS with the device's own certificate,
//! client id = device id, to the gateway.
//!
//! Sizes are cut to what a sensor needs, because a load-generating run holds thousands of these
//! at once: a few requests queued, a few publishes in flight, packets no larger than an uplink,
//! and a TLS session cache of two entries instead of rustls' default 256 per configuration.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, EventLoop, MqttOptions, TlsConfiguration, Transport};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::error::SimError;

/// Largest MQTT packet either way, bytes: an uplink is at most 2 048 bytes plus its topic;
/// the gateway refuses anything above 4 096.
const MAX_PACKET_BYTES: usize = 4096;
/// Requests queued for the event loop (publishes, subscribes) before `try_publish` refuses.
pub const REQUEST_QUEUE: usize = 8;
/// Publishes awaiting the broker's PUBACK.
const INFLIGHT: u16 = 8;
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// TCP connect, TLS handshake and CONNACK together; generous, since under load thousands of
/// handshakes share a couple of cores.
pub const CONNECT_TIMEOUT_S: u64 = 20;

/// Where the gateway listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayAddr {
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for GatewayAddr {
    type Err = SimError;

    /// `HOST:PORT`; an IPv6 host goes in brackets (`[::1]:8883`).
    fn from_str(s: &str) -> Result<Self, SimError> {
        let bad = || SimError::BadGateway(s.to_owned());
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let port = port.parse::<u16>().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(GatewayAddr { host: host.to_owned(), port })
    }
}

impl std::fmt::Display for GatewayAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The TLS client configuration of one device.
pub fn tls_config(
    provider: &Arc<CryptoProvider>,
    roots: &Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(chain, key)?;
    config.resumption = Resumption::in_memory_sessions(2);
    Ok(Arc::new(config))
}

/// One device's client and its event loop (not yet connected: the first poll connects).
pub struct Link {
    pub client: AsyncClient,
    pub events: EventLoop,
}

impl Link {
    pub fn new(device_id: &str, gateway: &GatewayAddr, tls: Arc<ClientConfig>) -> Link {
        let (client, mut events) = AsyncClient::new(mqtt_options(device_id, gateway, tls), REQUEST_QUEUE);
        limit_connect_time(&mut events);
        Link { client, events }
    }
}

/// A device's MQTT options: mutual TLS with `tls`, client id = device id, a clean session
/// (the core resends whatever is unconfirmed after every connect, so nothing is kept on the
/// broker), and the small queues above. Shared by the async [`Link`] and the blocking
/// [`crate::blocking_transport::MqttTransport`].
pub fn mqtt_options(device_id: &str, gateway: &GatewayAddr, tls: Arc<ClientConfig>) -> MqttOptions {
    let mut opts = MqttOptions::new(device_id, gateway.host.clone(), gateway.port);
    opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)))
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
        .set_inflight(INFLIGHT);
    opts
}

/// Bounds TCP connect, TLS handshake and CONNACK of every connection attempt of `events`.
pub fn limit_connect_time(events: &mut EventLoop) {
    let mut net = events.network_options();
    net.set_connection_timeout(CONNECT_TIMEOUT_S);
    events.set_network_options(net);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_addresses_parse() {
        let g: GatewayAddr = "127.0.0.1:8883".parse().unwrap();
        assert_eq!((g.host.as_str(), g.port), ("127.0.0.1", 8883));
        let g: GatewayAddr = "[::1]:9000".parse().unwrap();
        assert_eq!((g.host.as_str(), g.port, g.to_string().as_str()), ("::1", 9000, "[::1]:9000"));
        for bad in ["localhost", ":8883", "host:0", "host:x"] {
            assert!(bad.parse::<GatewayAddr>().is_err(), "{bad}");
        }
    }
}
