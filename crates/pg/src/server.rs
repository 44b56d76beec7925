//! [`PrivatePostgres`]: one running private server and everything needed to stop it again.

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::account::ServerAccount;
use crate::binaries::PgBinaries;
use crate::error::PgError;
use crate::initdb::sync_to_disk;
use crate::layout::Layout;
use crate::options::PgOptions;
use crate::ownership::Ownership;
use crate::pg_ctl::{self, StartFailure, StopMode};
use crate::port::free_loopback_port;
use crate::settings::Settings;
use crate::template::{clone_fresh_cluster, remove_if_present};
use crate::watchdog::Watchdog;
use crate::{sql, url, DATABASE};

/// Free ports tried before giving up, when the caller did not fix one.
const PORT_ATTEMPTS: u32 = 5;

/// A PostgreSQL server on 127.0.0.1 run from the installed binaries, owned by this handle.
///
/// Dropping the handle stops the server (also while a panic unwinds). The API blocks; from
/// async code call it inside `tokio::task::spawn_blocking`.
#[derive(Debug)]
pub struct PrivatePostgres {
    bins: PgBinaries,
    account: ServerAccount,
    layout: Layout,
    port: u16,
    /// The superuser's password (`DATA_DIR/password`).
    password: String,
    durable: bool,
    statement_statistics: bool,
    running: bool,
    // The fields below drop in this order after `Drop::drop` has stopped the server: first the
    // watchdog, then the lock on the data directory, and last the temporary directory itself.
    watchdog: Option<Watchdog>,
    _ownership: Ownership,
    temp_dir: Option<TempDir>,
}

impl PrivatePostgres {
    /// Starts the cluster in `options.data_dir`, creating it on first use, and the database
    /// `dampwatch` in it if missing.
    ///
    /// A server left running in that directory by an owner that has died is stopped first, and
    /// the server then starts with this call's port and durability; a directory whose owner is
    /// alive gives [`PgError::ClusterInUse`].
    pub fn start(options: PgOptions) -> Result<Self, PgError> {
        Self::open(options, None)
    }

    pub(crate) fn open(options: PgOptions, temp_dir: Option<TempDir>) -> Result<Self, PgError> {
        let bins = PgBinaries::locate()?;
        let account = ServerAccount::detect()?;
        let data_dir =
            std::path::absolute(&options.data_dir).map_err(PgError::io("resolve", &options.data_dir))?;
        check_path_is_usable(&data_dir)?;
        create_data_dir(&data_dir, &account)?;
        account.check_reachable(&data_dir)?;
        let layout = Layout::new(data_dir);
        let ownership = Ownership::acquire(&layout)?;

        // From here on the handle exists, so any early return stops what was started.
        let mut pg = PrivatePostgres {
            bins,
            account,
            layout,
            port: options.port.unwrap_or(0),
            password: String::new(),
            durable: options.durable,
            statement_statistics: options.statement_statistics,
            running: false,
            watchdog: None,
            _ownership: ownership,
            temp_dir,
        };
        pg.stop_abandoned_server()?;
        let fresh = pg.prepare_cluster()?;
        pg.password = match crate::password::read(&pg.layout.password())? {
            Some(password) if !fresh => password,
            _ => crate::password::set(&pg.bins, &pg.account, &pg.layout.cluster(), &pg.layout.password())?,
        };
        pg.prepare_log()?;
        pg.launch(options.port)?;
        if !fresh {
            sql::ensure_database(&pg.bins, pg.port, &pg.password, DATABASE)?;
        }
        Ok(pg)
    }

    /// `postgres://dampwatch:PASSWORD@127.0.0.1:PORT/dampwatch`: it carries the password, so
    /// print it only through `dampwatch_store::redacted`.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The URL of database `db` on this server (percent-encoded; the database need not exist).
    pub fn url_for(&self, db: &str) -> String {
        url::url(self.port, db, &self.password)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the running server's postmaster (the parent of every backend and
    /// background process), from `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<u32> {
        self.layout.postmaster()
    }

    /// Whether the cluster syncs its writes (see [`PgOptions::durable`]).
    pub fn is_durable(&self) -> bool {
        self.durable
    }

    /// The data directory given at start (made absolute).
    pub fn data_dir(&self) -> &Path {
        self.layout.data_dir()
    }

    /// The PostgreSQL data directory proper (`DATA_DIR/cluster`).
    pub fn cluster_dir(&self) -> PathBuf {
        self.layout.cluster()
    }

    /// The server log, worth reading when a test fails.
    pub fn log_path(&self) -> PathBuf {
        self.layout.log()
    }

    /// Whether this handle has the server running.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Creates database `name` (ASCII letters, digits, `_`, `-`; at most 63) and returns its URL.
    /// Gives a test its own database on a shared server.
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        if !sql::is_plain_name(name) {
            return Err(PgError::InvalidDatabaseName { name: name.to_owned() });
        }
        if !self.running {
            return Err(PgError::NotRunning);
        }
        sql::create_database(&self.bins, self.port, &self.password, name)?;
        Ok(self.url_for(name))
    }

    /// Where this cluster keeps its files.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Stops the server (`pg_ctl -m fast -w stop`): open transactions roll back, clients are
    /// disconnected, data is checkpointed. Stopping a stopped server does nothing.
    pub fn stop(&mut self) -> Result<(), PgError> {
        self.halt(StopMode::Fast)
    }

    /// Stops the server the way a crash would (`-m immediate`: no checkpoint); the next
    /// [`restart`](Self::restart) runs crash recovery. For fault tests. On a non-durable
    /// cluster the most recent commits may be lost (synchronous commit is off there).
    pub fn kill_hard(&mut self) -> Result<(), PgError> {
        self.halt(StopMode::Immediate)
    }

    /// Stops the server if running and starts it again on the same port with the same data,
    /// so clients can reconnect to the same URL. [`PgError::PortInUse`] if the port was taken
    /// meanwhile.
    pub fn restart(&mut self) -> Result<(), PgError> {
        self.stop()?;
        self.launch(Some(self.port))
    }

    fn halt(&mut self, mode: StopMode) -> Result<(), PgError> {
        if !self.running {
            return Ok(());
        }
        pg_ctl::stop(&self.bins, &self.account, &self.layout, mode)?;
        self.running = false;
        self.watchdog = None;
        Ok(())
    }

    /// A previous owner that died (lock free) may have left its server running.
    fn stop_abandoned_server(&self) -> Result<(), PgError> {
        if !self.layout.postmaster_pid().exists()
            || !pg_ctl::is_running(&self.bins, &self.account, &self.layout)?
        {
            return Ok(());
        }
        tracing::warn!(data_dir = %self.layout.data_dir().display(), "stopping a PostgreSQL server left running by a previous owner");
        pg_ctl::stop(&self.bins, &self.account, &self.layout, StopMode::Fast)
            .or_else(|_| pg_ctl::stop(&self.bins, &self.account, &self.layout, StopMode::Immediate))
    }

    /// Makes sure a complete cluster exists; true when it was just created.
    fn prepare_cluster(&self) -> Result<bool, PgError> {
        if self.layout.is_initialised() {
            return Ok(false);
        }
        let cluster = self.layout.cluster();
        if cluster.exists() {
            let empty =
                fs::read_dir(&cluster).map_err(PgError::io("read directory", &cluster))?.next().is_none();
            if !empty {
                return Err(PgError::UnusableDataDir {
                    path: cluster,
                    reason: "it is not empty but holds no complete PostgreSQL cluster; move it away"
                        .to_owned(),
                });
            }
            fs::remove_dir(&cluster).map_err(PgError::io("remove", &cluster))?;
        }
        let partial = self.layout.partial_cluster();
        remove_if_present(&partial)?;
        clone_fresh_cluster(&self.bins, &self.account, &partial)?;
        if self.durable {
            sync_to_disk(&self.bins, &self.account, &partial)?;
        }
        fs::rename(&partial, &cluster).map_err(PgError::io("rename into place", &cluster))?;
        if self.durable {
            // Make the rename itself durable.
            let dir = self.layout.data_dir();
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(PgError::io("sync", dir))?;
        }
        Ok(true)
    }

    /// The log file sits outside the cluster, in a directory the server account cannot write,
    /// so it is created here and handed over.
    fn prepare_log(&self) -> Result<(), PgError> {
        let log = self.layout.log();
        fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&log)
            .map_err(PgError::io("create", &log))?;
        self.account.hand_over(&log)
    }

    /// Starts the server on `requested`, or on a free port with a few retries.
    fn launch(&mut self, requested: Option<u16>) -> Result<(), PgError> {
        let attempts = if requested.is_some() { 1 } else { PORT_ATTEMPTS };
        for _ in 0..attempts {
            let port = match requested {
                Some(port) => port,
                None => free_loopback_port()
                    .map_err(PgError::io("find a free port on", Path::new("127.0.0.1")))?,
            };
            Settings { port, durable: self.durable, statement_statistics: self.statement_statistics }
                .write(&self.layout.cluster(), &self.account)?;
            match pg_ctl::start(&self.bins, &self.account, &self.layout) {
                Ok(()) => {
                    self.port = port;
                    self.running = true;
                    self.watch()?;
                    return Ok(());
                }
                Err(StartFailure::AddressInUse) if requested.is_some() => {
                    return Err(PgError::PortInUse { port })
                }
                Err(StartFailure::AddressInUse) => continue,
                Err(StartFailure::Other(err)) => return Err(err),
            }
        }
        Err(PgError::NoFreePort { attempts })
    }

    fn watch(&mut self) -> Result<(), PgError> {
        let Some(postmaster) = self.layout.postmaster() else {
            tracing::warn!(data_dir = %self.layout.data_dir().display(), "no postmaster.pid after start; no watchdog");
            return Ok(());
        };
        let remove = self.temp_dir.as_ref().map(TempDir::path);
        self.watchdog = Some(Watchdog::spawn(postmaster, &self.layout.postmaster_pid(), remove)?);
        Ok(())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if !self.running {
            return;
        }
        let stopped = pg_ctl::stop(&self.bins, &self.account, &self.layout, StopMode::Fast)
            .or_else(|_| pg_ctl::stop(&self.bins, &self.account, &self.layout, StopMode::Immediate));
        if let Err(err) = stopped {
            tracing::error!(data_dir = %self.layout.data_dir().display(), error = %err, "could not stop the private PostgreSQL; its watchdog stops it when this process exits");
            // Leave the watchdog running and the directory in place: the watchdog finishes the
            // job, and deleting files under a live server helps no one.
            std::mem::forget(self.watchdog.take());
            if let Some(dir) = self.temp_dir.take() {
                let _ = dir.keep();
            }
        }
        self.running = false;
    }
}

/// `pg_ctl` puts paths inside a double-quoted shell command and the settings file inside a
/// quoted string, so refuse the few characters that would break either.
fn check_path_is_usable(path: &Path) -> Result<(), PgError> {
    let text = path.to_str().ok_or_else(|| PgError::UnusableDataDir {
        path: path.to_path_buf(),
        reason: "the path is not valid UTF-8".to_owned(),
    })?;
    if let Some(bad) = text.chars().find(|c| matches!(c, '"' | '$' | '`' | '\\' | '\n' | '\r')) {
        return Err(PgError::UnusableDataDir {
            path: path.to_path_buf(),
            reason: format!("the path contains {bad:?}, which the PostgreSQL tools cannot quote"),
        });
    }
    Ok(())
}

/// Creates the data directory and any missing parents. Directories made here (and only those)
/// are opened to the server account; existing ones are left as their owner set them.
fn create_data_dir(data_dir: &Path, account: &ServerAccount) -> Result<(), PgError> {
    let missing: Vec<&Path> = data_dir.ancestors().take_while(|dir| !dir.exists()).collect();
    fs::create_dir_all(data_dir).map_err(PgError::io("create directory", data_dir))?;
    if account.is_separate() {
        for dir in missing {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
                .map_err(PgError::io("set mode of", dir))?;
        }
    }
    Ok(())
}
