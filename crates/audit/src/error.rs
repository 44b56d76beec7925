//! What can go wrong writing, signing or exporting the log (verification has its own
//! [`crate::Break`]: a broken log is a finding, not a failure of the tool).

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A landlord's request tried to write an entry of another landlord (or of the platform).
    #[error("a landlord's request cannot write another landlord's audit entries: {0}")]
    OtherLandlord(String),
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("the audit details cannot be written as JSON: {0}")]
    Details(serde_json::Error),
    #[error("a stored audit row is unreadable: {0}")]
    BadRow(String),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Key(#[from] dampwatch_pki::PkiError),
    #[error("the audit key {0} is not a usable Ed25519 key")]
    UnusableKey(String),
}
