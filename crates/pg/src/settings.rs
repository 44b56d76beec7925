//! The server settings this crate controls, written to `cluster/dampwatch.conf` before every
//! start. A file rather than `-c` options because `pg_ctl -o` goes through a shell, and because
//! a cluster started by hand with `pg_ctl start` then behaves the same way.

use std::path::Path;

use crate::account::ServerAccount;
use crate::error::PgError;
use crate::layout::SETTINGS_FILE;

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// What one start of the server needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) port: u16,
    pub(crate) durable: bool,
    pub(crate) statement_statistics: bool,
}

/// What a durable server (the one a deployment keeps) is given beyond PostgreSQL's defaults,
/// which are sized for a small shared machine. With 128 MB of shared buffers the collector's
/// own backends kept evicting dirty pages of the readings' indexes, and each such write first
/// waits for the WAL to be flushed to disk; and each first change to a page after a checkpoint
/// writes the whole page to the WAL, so checkpoints are spaced further apart. Neither touches
/// durability: every commit is still on disk before it is acknowledged.
const DURABLE_WORKING_SET: &str = "shared_buffers = 512MB\n\
                                   max_wal_size = 4GB\n\
                                   checkpoint_timeout = 15min\n";

/// How often autovacuum looks at each database. The hazard inbox (every row deleted moments
/// after it is written) and the rooms' hazard states (every row rewritten with each reading its
/// room takes) leave dead rows at the rate readings arrive, and a table is vacuumed at most once
/// per look: at the default of a minute, the inbox's index held a hundred or more dead entries
/// per device by the time it came, which every take of the inbox stepped over. Looking at a
/// table that needs nothing costs almost nothing.
const CHURNED_TABLES_VACUUM: &str = "autovacuum_naptime = 10s\n";

impl Settings {
    fn render(&self, cluster: &Path) -> String {
        let durability = if self.durable { "on" } else { "off" };
        let socket_dir = socket_dir(cluster, self.port).unwrap_or_default();
        format!(
            "# Written by dampwatch-pg before every start; edits here are overwritten.\n\
             # Only loopback, and every connection must give the cluster's password.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket}'\n\
             # off for tests and benchmarks only: a crash of the machine may lose or corrupt data.\n\
             fsync = {durability}\n\
             synchronous_commit = {durability}\n\
             full_page_writes = {durability}\n{vacuum}{memory}{statements}",
            port = self.port,
            socket = quote(&socket_dir),
            vacuum = CHURNED_TABLES_VACUUM,
            memory = if self.durable { DURABLE_WORKING_SET } else { "" },
            statements = if self.statement_statistics {
                "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n"
            } else {
                ""
            },
        )
    }

    /// Writes the settings file into the cluster directory `cluster`.
    pub(crate) fn write(&self, cluster: &Path, account: &ServerAccount) -> Result<(), PgError> {
        let path = cluster.join(SETTINGS_FILE);
        std::fs::write(&path, self.render(cluster)).map_err(PgError::io("write", &path))?;
        account.hand_over(&path)
    }
}

/// The cluster directory itself holds the socket, unless the socket path would be too long
/// (or the directory name would confuse the comma-separated setting); then only TCP is used.
fn socket_dir(cluster: &Path, port: u16) -> Option<String> {
    let dir = cluster.to_str()?;
    let socket_len = dir.len() + "/.s.PGSQL.".len() + port.to_string().len();
    (socket_len <= MAX_SOCKET_PATH && !dir.contains(',')).then(|| dir.to_owned())
}

/// A postgresql.conf string literal body. Paths with backslashes were refused earlier.
fn quote(value: &str) -> String {
    value.replace('\'', "''")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_durable_turns_off_syncing_and_listens_on_loopback() {
        let text = Settings { port: 5999, durable: false, statement_statistics: false }
            .render(Path::new("/tmp/x/cluster"));
        for line in [
            "listen_addresses = '127.0.0.1'",
            "port = 5999",
            "unix_socket_directories = '/tmp/x/cluster'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "autovacuum_naptime = 10s",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        let durable = Settings { port: 5999, durable: true, statement_statistics: false }
            .render(Path::new("/tmp/x/cluster"));
        assert!(durable.lines().any(|l| l == "fsync = on"));
    }

    #[test]
    fn long_paths_disable_the_unix_socket() {
        let long = format!("/tmp/{}/cluster", "d".repeat(100));
        let text =
            Settings { port: 5999, durable: false, statement_statistics: false }.render(Path::new(&long));
        assert!(text.lines().any(|l| l == "unix_socket_directories = ''"), "{text}");
        assert_eq!(socket_dir(Path::new("/tmp/a,b"), 5432), None);
    }

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote("/tmp/it's"), "/tmp/it''s");
    }
}
