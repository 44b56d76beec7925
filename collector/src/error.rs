//! Why the collector could not start. Each variant names the part that failed; once started,
//! a lost broker or database is retried, never returned.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure of [`crate::Collector::start`].
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    #[error("the message cluster ([upstream]): {0}")]
    Cluster(#[source] dampwatch_cluster::ClusterError),

    /// Without its downlink key the collector could confirm nothing: devices refuse unsigned
    /// acknowledgements.
    #[error("cannot load the collector's downlink signing key")]
    DownlinkKey(#[from] crate::downlink::KeyError),

    #[error("cannot start the private PostgreSQL under {}", dir.display())]
    EmbeddedPostgres { dir: PathBuf, source: dampwatch_pg::PgError },

    #[error(transparent)]
    Database(#[from] dampwatch_store::PrepareError),

    #[error(transparent)]
    Logins(#[from] dampwatch_store::roles::LoginError),

    #[error("cannot seal the TOTP secrets stored in clear")]
    SealTotpSecrets(#[source] dampwatch_accounts::totp_secret::TotpSecretError),

    #[error("cannot publish the database URL in the data directory")]
    UrlFile(#[source] std::io::Error),

    #[error("cannot build the MQTT client's TLS from the PKI")]
    MqttTls(#[from] dampwatch_pki::PkiError),

    #[error("cannot start the hazard worker")]
    Alerts(#[from] dampwatch_alerts::StartError),

    #[error("the API's deadline calendar is invalid")]
    Clock(#[from] dampwatch_clock::ConfigError),

    #[error("cannot start the API")]
    Api(#[from] dampwatch_api::StateError),

    /// An audit key that is there but unusable is refused rather than ignored: the operator
    /// meant the log to be signed.
    #[error("cannot load the audit checkpoint key")]
    AuditKey(#[source] dampwatch_audit::AuditError),

    #[error("database.url is not a PostgreSQL URL")]
    DatabaseUrl(#[source] tokio_postgres::Error),

    #[error("{key} {value:?} is not HOST:PORT")]
    ListenAddress { key: &'static str, value: String },

    #[error("cannot listen for HTTP on {addr}")]
    HttpListen { addr: SocketAddr, source: std::io::Error },

    /// The API listener serves HTTPS unless `[http] plain_http` says a proxy terminates TLS.
    #[error(
        "cannot load the API's HTTPS certificate (http.tls_cert, http.tls_key); make one with \
         `dampwatch pki issue-web --dir DIR --dns NAME --ip ADDRESS`, or set http.plain_http \
         behind a TLS-terminating proxy"
    )]
    HttpsCertificate(#[source] dampwatch_pki::PkiError),

    #[error("the API's HTTPS certificate and key do not make a TLS server")]
    HttpsConfig(#[source] rustls::Error),

    #[error("a start-up task failed")]
    Task(#[from] tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Printed with its causes (as `anyhow` and the logs print it), a failure to start says
    /// each thing once: what failed, then why, down to the operating system's reason.
    #[tokio::test]
    async fn a_start_error_names_each_cause_once() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let refused = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=nobody connect_timeout=5"),
            tokio_postgres::NoTls,
        )
        .await
        .err()
        .expect("nothing listens there");
        let error = StartError::Alerts(dampwatch_alerts::StartError::Database(refused));
        // Collector, hazard worker, PostgreSQL client, operating system.
        dampwatch_testkit::assert_causes_not_repeated(&error, 4);
    }
}
