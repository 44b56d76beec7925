//! Where throw-away clusters and the template live.
//!
//! Temporary clusters are never durable, so they belong in memory: on this project's machines
//! copying a cluster to tmpfs (`/dev/shm`) takes about 0.2 s where the same copy to the ext4
//! system temp directory took 2 to 3 s while other builds were running. `/dev/shm` is used when
//! it is a world-writable sticky directory (so the `postgres` user can pass through) with room
//! to spare; otherwise the system temp directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Environment variable choosing the directory for temporary clusters and the template.
pub const SCRATCH_DIR_ENV: &str = "DAMPWATCH_PG_TMPDIR";

const SHARED_MEMORY_DIR: &str = "/dev/shm";

/// Free space `/dev/shm` must have to be chosen: a fresh cluster takes about 50 MB, and tests
/// run several at once and write into them.
const MIN_FREE_MEMORY_FS: u64 = 1 << 30;

/// The directory temporary clusters and the template go in.
pub(crate) fn scratch_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(SCRATCH_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let shm = Path::new(SHARED_MEMORY_DIR);
    if is_shared_tmp(shm) && fs4::available_space(shm).is_ok_and(|free| free >= MIN_FREE_MEMORY_FS) {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// Every place a temporary cluster may have been put, for the clean-up of abandoned ones.
pub(crate) fn scratch_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![scratch_dir()];
    for dir in [PathBuf::from(SHARED_MEMORY_DIR), std::env::temp_dir()] {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Mode 1777 like /tmp: anyone may create entries, only owners may remove them.
fn is_shared_tmp(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o1777 == 0o1777)
}
