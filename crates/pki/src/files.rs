//! Writing files so that a crash never leaves half a key or half a state file behind, and a
//! private key is never readable by anyone else, not even for an instant.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::PkiError;

/// Who may read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secrecy {
    /// Certificates, CRLs, public keys, the state file: 0644.
    Public,
    /// Private keys: 0600, set when the file is created, so there is no moment in which the key
    /// sits in a file with looser permissions.
    Private,
}

/// Writes `contents` to `path` by writing a temporary file next to it and renaming it over the
/// target, so readers see either the old or the new file, never a torn one.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], secrecy: Secrecy) -> Result<(), PkiError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| PkiError::io("cannot create directory", parent, e))?;
    }
    let tmp = temp_path(path);
    let written = write_new(&tmp, contents, secrecy)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| PkiError::io("cannot replace", path, e)));
    if written.is_err() {
        // Best effort: a stray temporary file is only clutter, the error that matters is above.
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write_new(tmp: &Path, contents: &[u8], secrecy: Secrecy) -> Result<(), PkiError> {
    let mut file = open_new(tmp, secrecy).map_err(|e| PkiError::io("cannot create", tmp, e))?;
    file.write_all(contents).map_err(|e| PkiError::io("cannot write", tmp, e))?;
    file.sync_all().map_err(|e| PkiError::io("cannot flush", tmp, e))
}

#[cfg(unix)]
fn open_new(path: &Path, secrecy: Secrecy) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = match secrecy {
        Secrecy::Public => 0o644,
        Secrecy::Private => 0o600,
    };
    OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
}

#[cfg(not(unix))]
fn open_new(path: &Path, _secrecy: Secrecy) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// A temporary name in the same directory (so the rename stays on one file system), unique
/// within this process and across processes.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, PkiError> {
    fs::read(path).map_err(|e| PkiError::io("cannot read", path, e))
}

pub(crate) fn read_to_string(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|e| PkiError::io("cannot read", path, e))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
    }

    #[test]
    fn private_files_are_0600_and_replace_looser_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("sub/key.pem");
        fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        fs::write(&key, b"old").expect("write");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");

        write_atomic(&key, b"new", Secrecy::Private).expect("write key");

        assert_eq!(mode(&key), 0o600);
        assert_eq!(fs::read(&key).expect("read"), b"new");
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("sub")).expect("ls").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn public_files_create_missing_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("a/b/cert.pem");
        write_atomic(&cert, b"cert", Secrecy::Public).expect("write cert");
        assert_eq!(fs::read(&cert).expect("read"), b"cert");
    }
}
