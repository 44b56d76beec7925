//! One live owner per data directory.
//!
//! The owner holds an exclusive flock on `dampwatch-pg.lock` for as long as its
//! [`PrivatePostgres`](crate::PrivatePostgres) lives. The kernel drops the lock when the owning
//! process dies however it dies, so "lock free but server running" means the server was
//! abandoned and may be stopped, and "lock held" means hands off.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use crate::error::PgError;
use crate::layout::Layout;

#[derive(Debug)]
pub(crate) struct Ownership {
    // Never read: holding the open file is what holds the lock.
    _lock: File,
}

impl Ownership {
    /// Becomes the owner of `layout`'s data directory, or says who is.
    pub(crate) fn acquire(layout: &Layout) -> Result<Self, PgError> {
        let lock = Self::try_acquire(layout)?.ok_or_else(|| PgError::ClusterInUse {
            data_dir: layout.data_dir().to_path_buf(),
            owner_pid: std::fs::read_to_string(layout.owner()).ok().and_then(|t| t.trim().parse().ok()),
        })?;
        let owner = layout.owner();
        std::fs::write(&owner, format!("{}\n", std::process::id())).map_err(PgError::io("write", &owner))?;
        Ok(lock)
    }

    /// `None` when another open lock (any process, this one included) holds the directory.
    pub(crate) fn try_acquire(layout: &Layout) -> Result<Option<Self>, PgError> {
        let path = layout.lock();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(PgError::io("open", &path))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(Some(Ownership { _lock: file })),
            Err(fs4::TryLockError::WouldBlock) => Ok(None),
            Err(fs4::TryLockError::Error(err)) => Err(PgError::io("lock", &path)(err)),
        }
    }
}
