//! Throw-away clusters for tests and benchmarks, and the clean-up of ones whose owner died.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Once;

use crate::account::{current_uid, ServerAccount};
use crate::binaries::PgBinaries;
use crate::error::PgError;
use crate::layout::Layout;
use crate::options::PgOptions;
use crate::ownership::Ownership;
use crate::pg_ctl::{self, StopMode};
use crate::scratch::{scratch_dir, scratch_dirs};
use crate::server::PrivatePostgres;

/// Name prefix of temporary cluster directories in the scratch directory.
pub const TEMPORARY_PREFIX: &str = "dampwatch-pg-tmp-";

impl PrivatePostgres {
    /// A fresh, non-durable cluster in a new directory in memory (`/dev/shm`) or else under the
    /// system temp directory (see [`SCRATCH_DIR_ENV`](crate::SCRATCH_DIR_ENV)), on a free port,
    /// with an empty `dampwatch` database. Stopped and deleted on drop.
    ///
    /// Made for tests that run in parallel, one cluster each: the cluster is copied from a
    /// per-machine template built once, so a start costs a copy plus the server start. The
    /// first call in each process also stops and deletes temporary clusters whose owning
    /// process has died (see [`reap_abandoned_temporary_clusters`]).
    pub fn temporary() -> Result<Self, PgError> {
        Self::temporary_with(Temporary::default())
    }

    /// A fresh throw-away cluster as `kind` says: [`temporary`](Self::temporary) or
    /// [`temporary_durable`](Self::temporary_durable), optionally with statement statistics.
    pub fn temporary_with(kind: Temporary) -> Result<Self, PgError> {
        if kind.durable {
            return Self::temporary_on_disk(kind.statement_statistics);
        }
        static REAP_ONCE: Once = Once::new();
        REAP_ONCE.call_once(|| {
            reap_abandoned_temporary_clusters();
        });
        let account = ServerAccount::detect()?;
        let scratch = scratch_dir();
        let dir = tempfile::Builder::new()
            .prefix(TEMPORARY_PREFIX)
            .tempdir_in(&scratch)
            .map_err(PgError::io("create a directory in", &scratch))?;
        if account.is_separate() {
            // Whatever the umask made it, the server account needs to pass through, no more.
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711))
                .map_err(PgError::io("set mode of", dir.path()))?;
        }
        let options = PgOptions {
            data_dir: dir.path().to_path_buf(),
            port: None,
            durable: false,
            statement_statistics: kind.statement_statistics,
        };
        Self::open(options, Some(dir))
    }

    /// A fresh cluster with the product's own durability (fsync, synchronous commit and
    /// full-page writes on) in a new directory on disk under the system temp directory, on a
    /// free port; stopped and deleted on drop. For benchmarks whose figures must hold for a
    /// database that survives a crash: a cluster in memory would flatter them.
    pub fn temporary_durable() -> Result<Self, PgError> {
        Self::temporary_on_disk(false)
    }

    fn temporary_on_disk(statement_statistics: bool) -> Result<Self, PgError> {
        let account = ServerAccount::detect()?;
        let parent = std::env::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix("dampwatch-pg-durable-")
            .tempdir_in(&parent)
            .map_err(PgError::io("create a directory in", &parent))?;
        if account.is_separate() {
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711))
                .map_err(PgError::io("set mode of", dir.path()))?;
        }
        Self::open(PgOptions { statement_statistics, ..PgOptions::new(dir.path()) }, Some(dir))
    }
}

/// What a throw-away cluster is made with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Temporary {
    /// On disk with fsync on (see [`PrivatePostgres::temporary_durable`]) rather than in memory.
    pub durable: bool,
    /// See [`PgOptions::statement_statistics`].
    pub statement_statistics: bool,
}

/// Stops and deletes this user's temporary clusters whose owning process has died without
/// cleaning up (killed, aborted), and returns how many were removed. Live ones are untouched:
/// their owner holds the directory's lock. Normally each server's watchdog does this within a
/// second; this catches the rest (say, the watchdog was killed along with its owner).
pub fn reap_abandoned_temporary_clusters() -> usize {
    let mut tools = None;
    scratch_dirs().iter().map(|dir| reap_in(dir, &mut tools)).sum()
}

/// The server tools, looked up only when a server needs stopping; `None` inside when missing.
type Tools = Option<(PgBinaries, ServerAccount)>;

fn reap_in(scratch: &Path, tools: &mut Option<Tools>) -> usize {
    let Ok(entries) = fs::read_dir(scratch) else {
        return 0;
    };
    let mut reaped = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && Some(m.uid()) == current_uid());
        if !ours || !entry.file_name().to_string_lossy().starts_with(TEMPORARY_PREFIX) {
            continue;
        }
        let layout = Layout::new(path.clone());
        // No owner record yet: a cluster still being set up by a live process.
        if !layout.owner().exists() {
            continue;
        }
        let Ok(Some(ownership)) = Ownership::try_acquire(&layout) else {
            continue;
        };
        if layout.postmaster_pid().exists() {
            let tools = tools
                .get_or_insert_with(|| Some((PgBinaries::locate().ok()?, ServerAccount::detect().ok()?)));
            let Some((bins, account)) = tools else {
                continue;
            };
            if let Err(err) = pg_ctl::stop(bins, account, &layout, StopMode::Immediate) {
                tracing::warn!(dir = %path.display(), error = %err, "could not stop an abandoned temporary PostgreSQL");
                continue;
            }
        }
        drop(ownership);
        if remove(&path) {
            tracing::info!(dir = %path.display(), "removed an abandoned temporary PostgreSQL cluster");
            reaped += 1;
        }
    }
    reaped
}

/// Another reaper or the dead owner's watchdog may be removing the same directory.
fn remove(path: &Path) -> bool {
    match fs::remove_dir_all(path) {
        Ok(()) => true,
        Err(err) => err.kind() == std::io::ErrorKind::NotFound,
    }
}
