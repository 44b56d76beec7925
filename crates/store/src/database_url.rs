//! Where a private cluster's URL is written, so that `dampwatch devices --data-dir` and
//! `dampwatch sim --data-dir` find the database a running demo or collector started.

use std::path::{Path, PathBuf};

/// Name of the file, in the data directory, that holds the URL of its private cluster.
pub const DATABASE_URL_FILE: &str = "database-url";

/// A private cluster's URL in `DATA_DIR/database-url`; removed when dropped.
pub struct DatabaseUrlFile(PathBuf);

impl DatabaseUrlFile {
    pub fn write(data_dir: &Path, url: &str) -> std::io::Result<DatabaseUrlFile> {
        let file = data_dir.join(DATABASE_URL_FILE);
        std::fs::write(&file, format!("{url}\n"))
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot write {}: {e}", file.display())))?;
        Ok(DatabaseUrlFile(file))
    }
}

impl Drop for DatabaseUrlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
