//! What a caller chooses about a private server.

use std::path::PathBuf;

/// Options for [`PrivatePostgres::start`](crate::PrivatePostgres::start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The directory that holds the cluster (`DATA_DIR/cluster`), its log and its lock. Created
    /// if missing. When running as root, every directory above it must let the `postgres` user
    /// through.
    pub data_dir: PathBuf,
    /// The TCP port on 127.0.0.1; `None` picks a free one. The port is kept across
    /// [`restart`](crate::PrivatePostgres::restart).
    pub port: Option<u16>,
    /// `false` turns off fsync, synchronous commit and full-page writes: much faster, and a
    /// machine crash may lose or corrupt the data, and even a server crash
    /// ([`kill_hard`](crate::PrivatePostgres::kill_hard)) may lose the last fraction of a
    /// second of commits. For tests and benchmarks only; fault tests that check no
    /// acknowledged commit is lost across a server crash need `true`.
    pub durable: bool,
    /// Loads `pg_stat_statements`, which counts every statement's calls and time (a profile of
    /// where the server's time goes, for benchmarks; it costs a little on every statement).
    pub statement_statistics: bool,
}

impl PgOptions {
    /// A durable cluster in `data_dir` on a free port: what a long-running service wants.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        PgOptions { data_dir: data_dir.into(), port: None, durable: true, statement_statistics: false }
    }
}
