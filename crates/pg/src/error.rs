//! The one error type of this crate: every variant says what the operator can do about it.

use std::io;
use std::path::{Path, PathBuf};

/// Why a private PostgreSQL could not be found, set up, started, stopped or used.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// `initdb`, `pg_ctl` or `postgres` is missing.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; searched {searched}. \
         Install the server: `apt-get install postgresql` on Debian/Ubuntu, or the \
         `postgresql-server` package on other distributions (or set DAMPWATCH_PG_BINDIR to its bin \
         directory)"
    )]
    ServerNotInstalled {
        /// The places looked at, in order.
        searched: String,
    },

    /// A helper program other than the server itself is missing.
    #[error("`{program}` not found (looked in {looked}); {hint}")]
    ToolMissing {
        /// The program, e.g. `psql` or `runuser`.
        program: &'static str,
        /// Where it was looked for.
        looked: String,
        /// Which package provides it.
        hint: &'static str,
    },

    /// Running as root, but there is no `postgres` account to run the server as.
    #[error(
        "running as root, so the server must run as the `postgres` user, but that user does not exist; \
         install the server package (it creates the user) or `adduser --system --group postgres`, \
         or run as an ordinary user"
    )]
    NoServerUser,

    /// Some directory above the data directory does not let the `postgres` user through.
    #[error(
        "the `postgres` user cannot reach {}: it has no search permission on {}. Choose a data \
         directory under /var/lib (e.g. /var/lib/dampwatch) or under /tmp, or grant `postgres` \
         search permission on {} yourself",
        .data_dir.display(), .blocked.display(), .blocked.display()
    )]
    DataDirNotReachable {
        /// The data directory asked for.
        data_dir: PathBuf,
        /// The first directory on the way down that blocks `postgres`.
        blocked: PathBuf,
    },

    /// The data directory path or contents cannot be used.
    #[error("cannot use {} as a PostgreSQL data directory: {reason}", .path.display())]
    UnusableDataDir {
        /// The offending path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Another live process already runs a server on this data directory.
    #[error("the PostgreSQL cluster in {} is in use by another process{}", .data_dir.display(), owner_text(*.owner_pid))]
    ClusterInUse {
        /// The data directory.
        data_dir: PathBuf,
        /// The owning process, if it recorded itself.
        owner_pid: Option<u32>,
    },

    /// A fixed port was asked for (or kept across a restart) and something else holds it.
    #[error("port {port} on 127.0.0.1 is already in use")]
    PortInUse {
        /// The port.
        port: u16,
    },

    /// Every free port tried was taken before the server could bind it.
    #[error("PostgreSQL could not bind a free port on 127.0.0.1 after {attempts} attempts")]
    NoFreePort {
        /// How many ports were tried.
        attempts: u32,
    },

    /// The server is stopped, so it cannot answer.
    #[error("the private PostgreSQL server is not running")]
    NotRunning,

    /// A database name this crate refuses (it must also be safe inside a URL).
    #[error("invalid database name {name:?}: use 1 to 63 ASCII letters, digits, `_` or `-`")]
    InvalidDatabaseName {
        /// The rejected name.
        name: String,
    },

    /// A login role name this crate refuses (it must also be safe inside a URL).
    #[error("invalid role name {name:?}: use 1 to 63 ASCII letters, digits, `_` or `-`")]
    InvalidRoleName {
        /// The rejected name.
        name: String,
    },

    /// A PostgreSQL tool ran and failed.
    #[error("`{command}` failed ({status}): {output}")]
    CommandFailed {
        /// The command line, for the operator to re-run.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed, and the tail of the server log when relevant.
        output: String,
    },

    /// A program could not be started at all.
    #[error("could not run `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// A file system operation failed.
    #[error("could not {action} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn owner_text(owner_pid: Option<u32>) -> String {
    match owner_pid {
        Some(pid) => format!(" (pid {pid})"),
        None => String::new(),
    }
}

impl PgError {
    /// Maps an `io::Error` on `path` to [`PgError::Io`].
    pub(crate) fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PgError + 'a {
        move |source| PgError::Io { action, path: path.to_path_buf(), source }
    }
}
