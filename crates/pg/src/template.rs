//! A per-machine template cluster, so a fresh cluster is a directory copy (about a tenth of a
//! second) instead of initdb plus database creation (most of a second of CPU).
//!
//! The template lives in the scratch directory (see [`crate::scratch`]), keyed by server version, server binary
//! directory and user. A shared flock lets many test processes copy it at once; the exclusive
//! lock is taken only to build it, which happens once, and the build goes to a side directory
//! renamed into place when complete, so a crash mid-build never leaves a half template.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::account::{current_uid, ServerAccount};
use crate::binaries::PgBinaries;
use crate::copy_tree::copy_tree;
use crate::error::PgError;
use crate::initdb::create_cluster;
use crate::layout::Layout;
use crate::scratch::scratch_dir;

/// Bump when what `create_cluster` produces changes, so old templates are not reused.
const TEMPLATE_FORMAT: u32 = 2;

/// Written last into a finished template.
const READY_MARKER: &str = "READY";

struct Template {
    dir: PathBuf,
    lock: PathBuf,
}

/// Fills `dest` (a cluster directory that must not exist) with a fresh cluster, not yet synced
/// to disk.
pub(crate) fn clone_fresh_cluster(
    bins: &PgBinaries,
    account: &ServerAccount,
    dest: &Path,
) -> Result<(), PgError> {
    let template = Template::for_server(bins, &scratch_dir());
    // Two rounds suffice: build if missing, then copy. A third means something removes the
    // template as fast as it is built (a temp cleaner), which is worth an error.
    for _ in 0..3 {
        let lock = template.open_lock()?;
        fs4::FileExt::lock_shared(&lock).map_err(PgError::io("lock", &template.lock))?;
        if template.is_ready()? {
            return copy_tree(&Layout::new(template.dir.clone()).cluster(), dest, account);
        }
        drop(lock);

        let lock = template.open_lock()?;
        fs4::FileExt::lock(&lock).map_err(PgError::io("lock", &template.lock))?;
        if !template.is_ready()? {
            template.build(bins, account)?;
        }
        drop(lock);
    }
    Err(PgError::UnusableDataDir {
        path: template.dir,
        reason: "the template cluster disappears as soon as it is built".to_owned(),
    })
}

impl Template {
    fn for_server(bins: &PgBinaries, temp_dir: &Path) -> Self {
        let uid = current_uid().unwrap_or(u32::MAX);
        let bindir_hash = fnv1a(bins.bindir().as_os_str().as_encoded_bytes());
        let name =
            format!("dampwatch-pg-template-v{TEMPLATE_FORMAT}-pg{}-{bindir_hash:08x}-u{uid}", bins.version());
        Template { dir: temp_dir.join(&name), lock: temp_dir.join(format!("{name}.lock")) }
    }

    fn open_lock(&self) -> Result<File, PgError> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock)
            .map_err(PgError::io("open", &self.lock))
    }

    /// A usable template is complete and ours: the scratch directory is shared with other users.
    fn is_ready(&self) -> Result<bool, PgError> {
        let meta = match fs::symlink_metadata(&self.dir) {
            Ok(meta) => meta,
            Err(_) => return Ok(false),
        };
        if !meta.is_dir() || Some(meta.uid()) != current_uid() {
            return Err(PgError::UnusableDataDir {
                path: self.dir.clone(),
                reason: "the template cluster path is not a directory of this user; remove it".to_owned(),
            });
        }
        Ok(self.dir.join(READY_MARKER).is_file() && Layout::new(self.dir.clone()).is_initialised())
    }

    fn build(&self, bins: &PgBinaries, account: &ServerAccount) -> Result<(), PgError> {
        remove_if_present(&self.dir)?;
        let building = self.dir.with_extension("building");
        remove_if_present(&building)?;
        fs::create_dir(&building).map_err(PgError::io("create directory", &building))?;
        if account.is_separate() {
            // Our own fresh directory: let the server account through, nothing more.
            fs::set_permissions(&building, fs::Permissions::from_mode(0o711))
                .map_err(PgError::io("set mode of", &building))?;
        }
        account.check_reachable(&building)?;
        create_cluster(bins, account, &Layout::new(building.clone()).cluster())?;
        let marker = building.join(READY_MARKER);
        fs::write(&marker, b"").map_err(PgError::io("write", &marker))?;
        fs::rename(&building, &self.dir).map_err(PgError::io("rename into place", &self.dir))
    }
}

pub(crate) fn remove_if_present(dir: &Path) -> Result<(), PgError> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(PgError::io("remove", dir)(err)),
        _ => Ok(()),
    }
}

/// A stable hash (unlike `DefaultHasher`) so the template key survives toolchain updates.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
    }
}
