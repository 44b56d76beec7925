//! Why the gateway could not start. Once started, a lost broker link is retried, never returned.

use std::net::SocketAddr;

/// A failure of [`crate::Gateway::start`].
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),

    #[error("cannot start the embedded broker: {0}")]
    Broker(std::io::Error),

    #[error("the embedded broker did not start listening on {0}")]
    BrokerNotListening(SocketAddr),

    #[error("cannot connect to the embedded broker on {0}")]
    BrokerUnreachable(SocketAddr),

    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },

    #[error("cannot listen for metrics on {addr}: {source}")]
    MetricsListen { addr: SocketAddr, source: std::io::Error },
}
