//! The simulated devices' persisted boot counters: one small file per device under the data
//! directory (`DIR/sim/boot/<device>`), the simulator's stand-in for a flash page. Each run is
//! a new boot, so its readings never collide with an earlier run's `(boot, seq)` numbers in
//! the database: a collision would be taken for a duplicate and silently not stored.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use dampwatch_firmware::{next_boot, BootError, BootStorage};

use crate::error::SimError;

/// Boot counter storage in a file.
pub struct FileBootStorage {
    path: PathBuf,
}

impl FileBootStorage {
    pub fn new(dir: &Path, device: &str) -> Self {
        FileBootStorage { path: dir.join(device) }
    }
}

impl BootStorage for FileBootStorage {
    type Error = std::io::Error;

    fn load_boot(&mut self) -> Result<Option<u32>, std::io::Error> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                text.trim().parse::<u32>().map(Some).map_err(|e| {
                    std::io::Error::new(ErrorKind::InvalidData, format!("not a boot counter: {e}"))
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Written to a temporary file and renamed over the old one, so a crash leaves either the
    /// old or the new counter, never a torn one.
    fn store_boot(&mut self, boot: u32) -> Result<(), std::io::Error> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, format!("{boot}\n"))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }
}

/// Assigns the next boot number of each device, persisting it before any reading is numbered.
/// Blocking: call from a blocking task.
pub fn next_boots(dir: &Path, devices: &[String]) -> Result<Vec<u32>, SimError> {
    std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
        action: "cannot create the boot counter directory",
        path: dir.to_owned(),
        source,
    })?;
    devices
        .iter()
        .map(|d| {
            next_boot(&mut FileBootStorage::new(dir, d)).map_err(|e| {
                let source = match e {
                    BootError::Storage(io) => io,
                    BootError::Exhausted => std::io::Error::other("boot counter exhausted"),
                };
                SimError::Io { action: "cannot advance the boot counter", path: dir.join(d), source }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_is_a_new_boot() {
        let dir = tempfile::tempdir().unwrap();
        let ids = vec!["sim-00001".to_string(), "sim-00002".to_string()];
        assert_eq!(next_boots(dir.path(), &ids).unwrap(), vec![1, 1]);
        assert_eq!(next_boots(dir.path(), &ids[..1]).unwrap(), vec![2]);
        assert_eq!(next_boots(dir.path(), &ids).unwrap(), vec![3, 2]);
        std::fs::write(dir.path().join("sim-00001"), "garbage").unwrap();
        assert!(next_boots(dir.path(), &ids).unwrap_err().to_string().contains("boot counter"));
    }
}
