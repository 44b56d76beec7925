use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Pg(#[from] dampwatch_pg::PgError),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("bad database URL: {0}")]
    BadUrl(String),
    #[error("{} is not installed (it comes with the PostgreSQL client package)", .0.display())]
    MissingProgram(PathBuf),
    #[error("{program} failed: {status}{}", if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    Program { program: String, status: String, stderr: String },
    #[error("backup key {}: {reason}", .path.display())]
    Key { path: PathBuf, reason: String },
    #[error("{}: {reason}", .path.display())]
    NotABackup { path: PathBuf, reason: String },
    #[error("cannot decrypt {}: {reason}", .path.display())]
    Decrypt { path: PathBuf, reason: String },
    #[error("the backup has schema version {found}, newer than this release knows ({known}); restore it with a newer Dampwatch")]
    TooNew { found: i32, known: i32 },
    #[error("database {0:?} already exists: restore into a new database (drop it first, or name another)")]
    TargetExists(String),
    #[error("the restored database differs from the backup: {0}")]
    CountMismatch(String),
}
