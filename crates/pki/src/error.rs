//! The one error type of the crate: every failure names the file or the id it is about.

use std::fmt;
use std::path::PathBuf;

use dampwatch_wire::IdError;

use crate::paths::Paths;

/// Which kind of id failed validation, so the message can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Landlord,
    Device,
    Service,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Landlord => "landlord id",
            IdKind::Device => "device id",
            IdKind::Service => "service name",
        })
    }
}

/// Why a PKI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// `{id:?}` quotes and escapes the id, so control characters cannot garble the message.
    #[error("{kind} {id:?} {reason}")]
    InvalidId { kind: IdKind, id: String, reason: IdError },

    #[error("certificate validity must be between 1 and {max} days, got {days}")]
    InvalidValidity { days: u32, max: u32 },

    #[error(
        "a CA already exists at {}; pass --force to replace it \
         (every certificate it signed stops being trusted)",
        path.display()
    )]
    CaExists { path: PathBuf },

    #[error("no CA at {}; run `dampwatch pki init --dir {}` first", ca.display(), dir.display())]
    NotInitialized { dir: PathBuf, ca: PathBuf },

    #[error("{kind} {name:?} already has a certificate at {}; pass --force to re-issue it", path.display())]
    AlreadyIssued { kind: IdKind, name: String, path: PathBuf },

    #[error(
        "the API listener already has a certificate at {}; pass --force to re-issue it",
        path.display()
    )]
    WebAlreadyIssued { path: PathBuf },

    /// `{name:?}` quotes and escapes the name, as for ids.
    #[error("host name {name:?} {reason}")]
    InvalidHostName { name: String, reason: &'static str },

    #[error("no certificate has been issued to device {device:?} in {}", dir.display())]
    UnknownDevice { device: String, dir: PathBuf },

    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },

    #[error("cannot read PEM from {}: {source}", path.display())]
    Pem { path: PathBuf, source: rustls_pki_types::pem::Error },

    #[error("{} holds no {what}", path.display())]
    Empty { path: PathBuf, what: &'static str },

    #[error("{} is not a usable certificate: {reason}", path.display())]
    BadCertificate { path: PathBuf, reason: String },

    #[error("{} is not a usable key: {reason}", path.display())]
    BadKey { path: PathBuf, reason: String },

    #[error(
        "{} is missing: without it serial numbers could repeat; restore it, or start over with \
         `dampwatch pki init --force`",
        path.display()
    )]
    MissingIndex { path: PathBuf },

    #[error("the PKI state file {} is unreadable: {source}", path.display())]
    BadIndex { path: PathBuf, source: serde_json::Error },

    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),

    #[error("key generation failed: {0}")]
    KeyGeneration(&'static str),

    #[error("time {0} cannot be written in a certificate")]
    TimeOutOfRange(chrono::DateTime<chrono::Utc>),

    #[error("the serial number space of {} is exhausted", path.display())]
    SerialsExhausted { path: PathBuf },

    #[error(
        "no downlink signing key in {}; create one with `dampwatch pki rotate-downlink-key --dir {}`",
        Paths::new(dir).downlink_dir().display(),
        dir.display()
    )]
    NoDownlinkKey { dir: PathBuf },

    #[error(
        "no audit checkpoint key in {}; create one with `dampwatch pki rotate-audit-key --dir {}`",
        Paths::new(dir).audit_dir().display(),
        dir.display()
    )]
    NoAuditKey { dir: PathBuf },

    #[error(
        "device bundles cannot be written to {} inside the PKI directory {}: the server keeps no \
         device's private keys; choose a directory outside it",
        bundles.display(),
        pki.display()
    )]
    BundlesInsidePki { bundles: PathBuf, pki: PathBuf },

    #[error(
        "device {device:?} has a certificate in {} but no provisioning bundle in {} and no private \
         keys to move there; re-issue it with --force (and register its new signing key)",
        pki.display(),
        bundle.display()
    )]
    NoBundle { device: String, pki: PathBuf, bundle: PathBuf },

    #[error("{} is a symbolic link or not a directory: a device's bundle is written only into a plain directory", path.display())]
    UnsafeBundle { path: PathBuf },
}

impl PkiError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PkiError::Io { action, path: path.into(), source }
    }
}

/// Checks an id against the shared id rule, saying which id was wrong.
pub(crate) fn check_id(kind: IdKind, id: &str) -> Result<(), PkiError> {
    let checked = match kind {
        IdKind::Landlord => dampwatch_wire::validate_landlord_id(id),
        // Service names become directory names and subjects just like device ids, so the same
        // rule keeps them safe.
        IdKind::Device | IdKind::Service => dampwatch_wire::validate_device_id(id),
    };
    checked.map_err(|reason| PkiError::InvalidId { kind, id: id.to_owned(), reason })
}
