//! A private PostgreSQL for Dampwatch: the collector, `dampwatch demo` and the tests run their
//! own cluster from the installed server binaries, with no system service and no downloads.
//!
//! - [`PrivatePostgres::start`] runs a cluster in a data directory of the caller's choosing:
//!   `initdb` on first use (superuser `dampwatch` with a password of its own in
//!   `DATA_DIR/password`, `scram-sha-256` on every connection, UTF-8), database `dampwatch`, a free or fixed port on 127.0.0.1.
//! - [`PrivatePostgres::temporary`] gives each test its own throw-away cluster, fast enough to
//!   use one per test in parallel (a copy of a per-machine template, not an initdb).
//! - When the caller is root (developer machines and CI), the server runs as the `postgres`
//!   user through `runuser`, because PostgreSQL refuses to run as root.
//! - Dropping the handle stops the server; a watchdog process stops it if the owner dies
//!   without dropping it, and [`reap_abandoned_temporary_clusters`] removes what is left.
//!
//! The API blocks (it runs `initdb`, `pg_ctl` and `psql` as child processes); from async code
//! call it inside `tokio::task::spawn_blocking`. Linux only (it reads `/proc`).
//!
//! Environment: [`BINDIR_ENV`] (`DAMPWATCH_PG_BINDIR`) names the server's bin directory;
//! [`SCRATCH_DIR_ENV`] (`DAMPWATCH_PG_TMPDIR`) where temporary clusters and the template go
//! (default `/dev/shm`, else the system temp directory).
//!
//! What this crate must never do: listen anywhere but 127.0.0.1, accept a connection without
//! the password (any local account reaches loopback), run the server as root, change the permissions of directories it did not create, touch a
//! cluster whose owner is alive, or fetch anything from the network. Missing server binaries
//! are an error naming the package to install, not a download.

mod account;
mod binaries;
mod command;
mod copy_tree;
mod error;
mod initdb;
mod layout;
mod login;
mod options;
mod ownership;
mod password;
mod pg_ctl;
mod port;
mod scratch;
mod server;
mod settings;
mod sql;
mod template;
mod temporary;
mod url;
mod watchdog;

pub use account::running_as_root;
pub use binaries::{PgBinaries, BINDIR_ENV};
pub use error::PgError;
pub use login::Login;
pub use options::PgOptions;
pub use scratch::SCRATCH_DIR_ENV;
pub use server::PrivatePostgres;
pub use temporary::{reap_abandoned_temporary_clusters, Temporary, TEMPORARY_PREFIX};

/// The superuser every private cluster is created with.
pub const SUPERUSER: &str = "dampwatch";

/// The database created in every private cluster.
pub const DATABASE: &str = "dampwatch";
