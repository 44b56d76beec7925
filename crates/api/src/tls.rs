//! HTTPS for the API's listener: the server configuration built from a certificate chain and
//! its key, and what a failed handshake leaves behind (a counter by reason, a debug line).
//!
//! The listener offers TLS 1.3 and 1.2 only (rustls implements nothing older) and HTTP/1.1 by
//! ALPN. Each handshake runs in its connection's own task under a time limit
//! (`[http] handshake_timeout` of the collector), so a client that opens a connection and sends
//! nothing, or a byte at a time, holds a task only that long and never delays other clients.

use std::sync::Arc;

use dampwatch_alerts::metrics::{counters_by, Label};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS server configuration for `chain` (leaf first) and its `key`: TLS 1.3 and 1.2 with the
/// ring provider, no client certificates, HTTP/1.1.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Why a connection never got past its TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The client did not finish it within the handshake timeout.
    Timeout,
    /// It failed: not TLS (plain HTTP to the HTTPS port), a protocol version or cipher the
    /// server does not offer, a client that does not trust the certificate, a broken
    /// connection.
    Error,
}

impl HandshakeFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Error => "error",
        }
    }
}

/// The listener's counters, registered in the hosting service's Prometheus registry.
#[derive(Debug)]
pub struct ListenerStats {
    /// By `reason`: [`HandshakeFailure::as_str`].
    handshakes_failed: Family<Label, Counter>,
}

impl Default for ListenerStats {
    fn default() -> Self {
        let reasons = [HandshakeFailure::Timeout, HandshakeFailure::Error].map(HandshakeFailure::as_str);
        ListenerStats { handshakes_failed: counters_by("reason", reasons) }
    }
}

impl ListenerStats {
    pub fn handshake_failed(&self, reason: HandshakeFailure) {
        self.handshakes_failed.get_or_create_owned(&[("reason", reason.as_str())]).inc();
    }

    /// Handshakes that failed for `reason` so far.
    pub fn handshakes_failed(&self, reason: HandshakeFailure) -> u64 {
        self.handshakes_failed.get_or_create_owned(&[("reason", reason.as_str())]).get()
    }

    /// Registers `dampwatch_api_tls_handshakes_failed_total{reason}`.
    pub fn register(&self, registry: &mut Registry) {
        registry.sub_registry_with_prefix("dampwatch_api").register(
            "tls_handshakes_failed",
            "Connections to the API's HTTPS listener that did not complete the TLS handshake: \
             timeout (nothing or too little sent in time) or error (not TLS, an old protocol \
             version, a client that does not trust the certificate)",
            self.handshakes_failed.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_reasons_are_rendered_from_the_start() {
        let stats = ListenerStats::default();
        stats.handshake_failed(HandshakeFailure::Timeout);
        let text = dampwatch_alerts::metrics::render(|r| stats.register(r));
        for line in [
            "dampwatch_api_tls_handshakes_failed_total{reason=\"timeout\"} 1\n",
            "dampwatch_api_tls_handshakes_failed_total{reason=\"error\"} 0\n",
        ] {
            assert!(text.contains(line), "{line}in\n{text}");
        }
        assert_eq!(stats.handshakes_failed(HandshakeFailure::Timeout), 1);
    }
}
