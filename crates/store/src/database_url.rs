//! Where a private cluster's URL is written, so that `dampwatch devices --data-dir` and
//! `dampwatch sim --data-dir` find the database a running demo or collector started.

use std::path::{Path, PathBuf};

/// Name of the file, in the data directory, that holds the URL of its private cluster.
pub const DATABASE_URL_FILE: &str = "database-url";

/// A private cluster's URL in `DATA_DIR/database-url`; removed when dropped.
pub struct DatabaseUrlFile(PathBuf);

impl DatabaseUrlFile {
    /// Writes it readable by its owner alone: the URL carries the cluster's password.
    pub fn write(data_dir: &Path, url: &str) -> std::io::Result<DatabaseUrlFile> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = data_dir.join(DATABASE_URL_FILE);
        let cannot = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("cannot write {}: {e}", file.display()))
        };
        // A file left by an earlier run (perhaps with a wider mode) is replaced, not reused.
        let _ = std::fs::remove_file(&file);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .and_then(|mut f| f.write_all(format!("{url}\n").as_bytes()))
            .map_err(cannot)?;
        Ok(DatabaseUrlFile(file))
    }
}

impl Drop for DatabaseUrlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
