//! Encrypted backups that restore, and the drill that proves it.
//!
//! [`backup`](create::backup) takes one consistent `pg_dump` (custom format) in a read-only
//! snapshot and encrypts it as it streams, in the age format, to recipients of a key kept
//! apart from every other key of the system ([`key`]); no plaintext touches the disk. The
//! plaintext opens with a manifest ([`manifest`]) holding every table's row count in that
//! same snapshot. [`restore`](restore::restore) decrypts, creates a new database, restores
//! into it in one transaction and compares every table's rows with the manifest; on any
//! failure (a wrong key, a flipped byte, a truncated file, a refused statement) the new
//! database is dropped again, so a half-restored database is never left under the name the
//! services would use. [`verify`](verify::verify) then re-checks the evidence on the restored
//! database: every stored uplink's digest and device signature, that every reading points at
//! a stored uplink, every case's event chain and, given the audit keys, the audit log's chain
//! and signed checkpoints.
//!
//! It must never: write a backup's plaintext to disk, put a database password on a command
//! line, leave a partly restored database behind, or restore over an existing database.

pub mod create;
mod error;
pub mod key;
mod libpq;
pub mod manifest;
pub mod restore;
mod stream;
pub mod verify;

pub use create::{backup, BackupOptions, BackupSummary};
pub use error::BackupError;
pub use manifest::Manifest;
pub use restore::{restore, RestoreOptions, RestoreSummary};
pub use verify::{verify, AuditCheck, VerifyReport};

/// Called with the bytes of plaintext dumped or restored so far, every few seconds.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// How often long work reports its progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
