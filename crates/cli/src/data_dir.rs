//! Where the demo (and the simulator, to find the demo) keeps its state.
//!
//! The private PostgreSQL server runs as the `postgres` user when Dampwatch runs as root, and
//! that user must be able to reach the data directory. Home directories of root are closed to
//! it, so root's default is under /var/lib; other users get their XDG data directory.

use std::path::PathBuf;

/// The default data directory for this user.
pub fn default_data_dir() -> PathBuf {
    if dampwatch_pg::running_as_root() {
        return PathBuf::from("/var/lib/dampwatch");
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("dampwatch");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/dampwatch"),
        None => PathBuf::from("dampwatch-data"),
    }
}

/// The file in which a running demo publishes its database URL (for `dampwatch sim`).
pub const DATABASE_URL_FILE: &str = "database-url";
