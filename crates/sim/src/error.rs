//! Why a simulation could not start. Every message says what to do about it.

use std::path::PathBuf;

/// A failure before or while starting the devices.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    InvalidArguments(String),

    #[error("gateway address {0:?} is not HOST:PORT")]
    BadGateway(String),

    #[error("device id {id:?} (from the device prefix) {reason}")]
    BadDeviceId { id: String, reason: dampwatch_wire::IdError },

    #[error(
        "no PKI in {}: run `dampwatch demo --data-dir DIR` once (it creates DIR/pki), \
         or `dampwatch pki init --dir {}`",
        dir.display(), dir.display()
    )]
    NoPki { dir: PathBuf },

    #[error(
        "--provision needs the device registry's database: pass --database-url, or start \
         `dampwatch demo` with this data directory (it writes the URL to {})",
        file.display()
    )]
    NoDatabaseUrl { file: PathBuf },

    #[error("device {device} has no credentials in {}; run again with --provision", dir.display())]
    NotProvisioned { device: String, dir: PathBuf },

    #[error(
        "device {device}'s certificate names landlord {found:?}, not {wanted:?}; pass --landlord {found} \
         or another --device-prefix"
    )]
    WrongLandlord { device: String, found: String, wanted: String },

    #[error(
        "device {device} is revoked, or registered with a different signing key or landlord than {}; \
         its uplinks would be refused. Use another --device-prefix, or revoke the device and \
         provision it again",
        path.display()
    )]
    RegistryMismatch { device: String, path: PathBuf },

    #[error("device {device}: {source}")]
    Certificate { device: String, source: dampwatch_pki::IdentityError },

    #[error("device {device}: cannot build its TLS client: {source}")]
    Tls { device: String, source: rustls::Error },

    #[error("device {device}: {source}")]
    Identity { device: String, source: dampwatch_firmware::IdentityError },

    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    #[error(transparent)]
    Pki(#[from] dampwatch_pki::PkiError),

    #[error("the collector's downlink keys in the PKI cannot be given to a device: {0}")]
    CollectorKeys(dampwatch_firmware::CollectorKeysError),

    #[error("device registry: {0}")]
    Registry(#[from] dampwatch_store::RegistryError),

    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),

    #[error("cannot prepare the database: {0}")]
    Schema(#[from] dampwatch_store::MigrateError),

    #[error("a setup task failed: {0}")]
    Task(#[from] tokio::task::JoinError),

    #[error("{failed} device tasks failed (first: {first}); the summary misses them")]
    DeviceTasks { failed: usize, first: String },

    #[error("cannot write progress: {0}")]
    Output(#[from] std::io::Error),
}
