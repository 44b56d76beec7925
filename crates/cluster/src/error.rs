//! Errors at the crate's boundary.

/// Why a message-layer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot start nats-server (is it installed? `scripts/setup.sh` installs it): {0}")]
    Spawn(#[source] std::io::Error),
    #[error("the cluster's files: {0}")]
    Files(#[source] std::io::Error),
    #[error("node {node} was not ready within {limit:?}: {last}")]
    NotReady { node: String, limit: std::time::Duration, last: String },
    #[error("cannot read the cluster password file {0}: {1}")]
    PasswordFile(std::path::PathBuf, #[source] std::io::Error),
    #[error("no node of the cluster accepted a connection within {0:?} (check upstream.servers, user and password_file)")]
    Unreachable(std::time::Duration),
    #[error("connecting to the cluster: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("the uplink stream: {0}")]
    Stream(String),
    #[error("publishing an uplink: {0}")]
    Publish(String),
    #[error("consuming uplinks: {0}")]
    Consume(String),
}

impl ClusterError {
    pub(crate) fn stream(e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Stream(e.to_string())
    }
    pub(crate) fn publish(e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Publish(e.to_string())
    }
    pub(crate) fn consume(e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Consume(e.to_string())
    }
}
