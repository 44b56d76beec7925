//! Why the gateway could not start. Once started, a lost broker link is retried, never returned.

use std::net::SocketAddr;

/// A failure of [`crate::Gateway::start`].
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),

    #[error("cannot start the embedded broker")]
    Broker(#[source] std::io::Error),

    #[error("the embedded broker did not start listening on {0}")]
    BrokerNotListening(SocketAddr),

    #[error("cannot connect to the embedded broker on {0}")]
    BrokerUnreachable(SocketAddr),

    #[error("the message cluster ([upstream])")]
    Cluster(#[source] dampwatch_cluster::ClusterError),

    #[error("cannot listen on {addr}")]
    Listen { addr: SocketAddr, source: std::io::Error },

    #[error("cannot listen for metrics on {addr}")]
    MetricsListen { addr: SocketAddr, source: std::io::Error },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_failure_names_the_address_and_then_the_reason_once() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let source = std::net::TcpListener::bind(addr).expect_err("the address is taken");
        let error = StartError::Listen { addr, source };
        assert!(error.to_string().contains(&addr.to_string()));
        dampwatch_testkit::assert_causes_not_repeated(&error, 2);
    }
}
