//! One writer at a time per PKI directory. `index.json` hands out serials and `crl.pem` is
//! rewritten from its revocations, so two processes changing it at once (the demo and `sim
//! --provision`, or `devices revoke`) could reuse a serial or lose a revocation, which would
//! un-revoke a device. Every change holds an exclusive advisory lock on `DIR/.lock` from
//! loading the index to writing its results.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::PkiError;

/// Held until dropped.
#[must_use = "the lock is released when this is dropped"]
pub(crate) struct DirLock {
    _file: File,
}

/// Waits for and takes the lock of `dir`, creating the directory when `create` (only `init`).
pub(crate) fn lock(dir: &Path, create: bool) -> Result<Option<DirLock>, PkiError> {
    if create {
        std::fs::create_dir_all(dir).map_err(|e| PkiError::io("cannot create directory", dir, e))?;
    } else if !dir.is_dir() {
        // Nothing to protect: loading the index reports the missing directory.
        return Ok(None);
    }
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| PkiError::io("cannot open lock file", &path, e))?;
    fs4::FileExt::lock(&file).map_err(|e| PkiError::io("cannot lock", &path, e))?;
    Ok(Some(DirLock { _file: file }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_second_writer_waits_for_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock(dir.path(), false).expect("lock").expect("held");
        let (tx, rx) = mpsc::channel();
        let path = dir.path().to_owned();
        let waiter = std::thread::spawn(move || {
            let second = lock(&path, false).expect("lock");
            tx.send(()).expect("send");
            drop(second);
        });
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "second writer must wait");
        drop(first);
        assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok(), "and gets the lock once it is free");
        waiter.join().expect("join");
    }
}
