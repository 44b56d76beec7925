//! Where everything lives inside a data directory.
//!
//! ```text
//! DATA_DIR/                  owned by the caller
//!   cluster/                 the PostgreSQL data directory (PGDATA), owned by the server account
//!     dampwatch.conf         settings rewritten at every start (port, loopback, durability)
//!     .s.PGSQL.PORT          the unix socket, unless the path would be too long
//!   postgresql.log           the server log (pg_ctl -l)
//!   dampwatch-pg.lock        held (flock) by the one live owner of this directory
//!   dampwatch-pg.owner       the owner's pid, for error messages
//!   password                 the superuser's password (0600, the caller's)
//!   logins/ROLE              the password of login ROLE (0600, the caller's; see login.rs)
//! ```

use std::path::{Path, PathBuf};

/// The file `postgresql.conf` includes, written before every start.
pub(crate) const SETTINGS_FILE: &str = "dampwatch.conf";

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    data_dir: PathBuf,
}

impl Layout {
    /// `data_dir` must be absolute: server programs run with `/` as working directory.
    pub(crate) fn new(data_dir: PathBuf) -> Self {
        Layout { data_dir }
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn cluster(&self) -> PathBuf {
        self.data_dir.join("cluster")
    }

    /// Where a new cluster is assembled before it is renamed to [`Layout::cluster`], so an
    /// interrupted initdb or copy never looks like a complete cluster.
    pub(crate) fn partial_cluster(&self) -> PathBuf {
        self.data_dir.join("cluster.partial")
    }

    pub(crate) fn log(&self) -> PathBuf {
        self.data_dir.join("postgresql.log")
    }

    pub(crate) fn lock(&self) -> PathBuf {
        self.data_dir.join("dampwatch-pg.lock")
    }

    /// The superuser's password (see [`crate::password`]).
    pub(crate) fn password(&self) -> PathBuf {
        self.data_dir.join("password")
    }

    /// Where the password of login `role` is kept (see [`crate::login`]).
    pub(crate) fn login_password(&self, role: &str) -> PathBuf {
        self.data_dir.join("logins").join(role)
    }

    pub(crate) fn owner(&self) -> PathBuf {
        self.data_dir.join("dampwatch-pg.owner")
    }

    pub(crate) fn postmaster_pid(&self) -> PathBuf {
        self.cluster().join("postmaster.pid")
    }

    /// True once initdb (or a template copy) has produced a complete cluster.
    pub(crate) fn is_initialised(&self) -> bool {
        let cluster = self.cluster();
        cluster.join("PG_VERSION").is_file() && cluster.join("global/pg_control").is_file()
    }

    /// The pid of the running postmaster, as recorded in `postmaster.pid` (first line).
    pub(crate) fn postmaster(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.postmaster_pid()).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}
