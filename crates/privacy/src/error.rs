//! What can go wrong, said so that an operator knows what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("key file {}: {source}", path.display())]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error(
        "key file {} has mode {mode:04o}: others may read or change it; it must be 0600 (chmod 600)",
        path.display()
    )]
    KeyFileOpen { path: PathBuf, mode: u32 },
    #[error("key file {} does not hold 64 hexadecimal digits (32 bytes)", path.display())]
    KeyFileFormat { path: PathBuf },
    #[error("the system's random number generator failed")]
    Random,
    #[error("encryption failed")]
    Seal,
    #[error(
        "{0} needs the master key (--master-key or DAMPWATCH_MASTER_KEY_FILE): they are kept only sealed"
    )]
    MasterKeyNeeded(&'static str),
    #[error("no data key for landlord {0}")]
    NoKey(String),
    #[error("landlord {0} already has a data key")]
    KeyExists(String),
    #[error(
        "landlord {landlord}'s data keys were erased at {at}: its personal data can no longer be opened"
    )]
    KeyErased { landlord: String, at: chrono::DateTime<chrono::Utc> },
    #[error("generation {generation} of landlord {landlord}'s data key was retired and its key deleted")]
    KeyRetired { landlord: String, generation: u32 },
    #[error(
        "generation {generation} of landlord {landlord}'s data key is wrapped under master key {stored}, not the one given ({given})"
    )]
    WrongMasterKey { landlord: String, generation: u32, stored: String, given: String },
    #[error(
        "generation {generation} of landlord {landlord}'s data key does not unwrap under master key {master_key_id}: the wrapped key was changed or moved"
    )]
    UnwrapFailed { landlord: String, generation: u32, master_key_id: String },
    #[error("landlord {landlord} has no generation {generation} of its case text key")]
    NoTextKey { landlord: String, generation: u32 },
    #[error(
        "generation {generation} of landlord {landlord}'s case text key was retired and its key deleted"
    )]
    TextKeyRetired { landlord: String, generation: u32 },
    #[error(
        "generation {generation} of landlord {landlord}'s case text key is sealed under secrets key {stored}, not this service's ({given})"
    )]
    WrongSecretsKey { landlord: String, generation: u32, stored: String, given: String },
    #[error("ciphertext does not open: it was changed, or moved from another row or landlord ({0})")]
    DoesNotOpen(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("landlord {landlord} has no home with reference {reference}")]
    UnknownDwelling { landlord: String, reference: String },
    #[error("no landlord {0}")]
    UnknownLandlord(String),
    #[error("no tenancy {0}")]
    UnknownTenancy(i64),
    #[error("a consent must name its recipient and its purpose")]
    ConsentUnnamed,
    #[error("no consent {0} in force to withdraw")]
    NoOpenConsent(i64),
    #[error(
        "no consent in force to share tenancy {tenancy}'s data with {recipient:?} for {purpose:?}: refused"
    )]
    NoConsent { tenancy: i64, recipient: String, purpose: String },
    #[error("cannot write the export: {0}")]
    Export(String),
    #[error("personal data is not valid JSON after opening: {0}")]
    Json(#[from] serde_json::Error),
}
