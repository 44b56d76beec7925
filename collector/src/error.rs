//! Why the collector could not start. Each variant names the part that failed; once started,
//! a lost broker or database is retried, never returned.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure of [`crate::Collector::start`].
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// Without its downlink key the collector could confirm nothing: devices refuse unsigned
    /// acknowledgements.
    #[error("cannot load the collector's downlink signing key: {0}")]
    DownlinkKey(#[from] crate::downlink::KeyError),

    #[error("cannot start the private PostgreSQL under {}: {source}", dir.display())]
    EmbeddedPostgres { dir: PathBuf, source: dampwatch_pg::PgError },

    #[error(transparent)]
    Database(#[from] dampwatch_store::PrepareError),

    #[error("cannot publish the database URL in the data directory: {0}")]
    UrlFile(std::io::Error),

    #[error("cannot build the MQTT client's TLS from the PKI: {0}")]
    MqttTls(#[from] dampwatch_pki::PkiError),

    #[error("cannot start the hazard worker: {0}")]
    Alerts(#[from] dampwatch_alerts::StartError),

    #[error("the API's deadline calendar: {0}")]
    Clock(#[from] dampwatch_clock::ConfigError),

    #[error("cannot start the API: {0}")]
    Api(#[from] dampwatch_api::StateError),

    #[error("http.address {0:?} is not HOST:PORT")]
    HttpAddress(String),

    #[error("cannot listen for HTTP on {addr}: {source}")]
    HttpListen { addr: SocketAddr, source: std::io::Error },

    #[error("a start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
