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

    #[error("device {device} has no provisioning bundle in {}; run again with --provision", dir.display())]
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

    #[error("device {device}: its certificate carries no usable identity")]
    Certificate { device: String, source: dampwatch_pki::IdentityError },

    #[error("device {device}: cannot build its TLS client")]
    Tls { device: String, source: rustls::Error },

    #[error("device {device}: its signing identity is invalid")]
    Identity { device: String, source: dampwatch_firmware::IdentityError },

    #[error("{action} {}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    #[error(transparent)]
    Pki(#[from] dampwatch_pki::PkiError),

    #[error("the collector's downlink keys in the PKI cannot be given to a device")]
    CollectorKeys(#[source] dampwatch_firmware::CollectorKeysError),

    #[error("device registry")]
    Registry(#[from] dampwatch_store::RegistryError),

    #[error("database")]
    Database(#[from] tokio_postgres::Error),

    #[error("cannot prepare the database")]
    Schema(#[from] dampwatch_store::MigrateError),

    #[error("a setup task failed")]
    Task(#[from] tokio::task::JoinError),

    #[error("{failed} device tasks failed (first: {first}); the summary misses them")]
    DeviceTasks { failed: usize, first: String },

    #[error("cannot write progress")]
    Output(#[from] std::io::Error),
}
