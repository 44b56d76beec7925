//! What can stop an export (verification has its own [`crate::Tampered`]: a broken pack is a
//! finding, not a failure of the tool).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("no case {0}")]
    NoSuchCase(i64),
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("a stored row is unreadable: {0}")]
    BadRow(String),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write the pack: {0}")]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Key(#[from] dampwatch_pki::PkiError),
    #[error("the audit key {0} is not a usable Ed25519 key")]
    UnusableKey(String),
    #[error("the law data: {0}")]
    Law(String),
    #[error(
        "deadline {step} was computed under law {rules_version} and calendar {calendar_version}, which this \
         clock configuration does not give ({known}); export with the configuration it was computed under"
    )]
    OtherLaw { step: String, rules_version: String, calendar_version: String, known: String },
    #[error("the readings window runs outside the supported time range")]
    Window,
}
