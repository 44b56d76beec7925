//! The few SQL statements this crate itself runs, through `psql` over TCP (the unix socket may
//! be disabled when the path is too long). Names travel as psql variables, never spliced into
//! SQL text.

use std::path::Path;

use crate::binaries::PgBinaries;
use crate::command::run;
use crate::error::PgError;
use crate::SUPERUSER;

/// Creates database `name`; an error if it exists.
pub(crate) fn create_database(
    bins: &PgBinaries,
    port: u16,
    password: &str,
    name: &str,
) -> Result<(), PgError> {
    psql(bins, port, password, name, "CREATE DATABASE :\"db\";\n")
}

/// Creates database `name` unless it exists.
pub(crate) fn ensure_database(
    bins: &PgBinaries,
    port: u16,
    password: &str,
    name: &str,
) -> Result<(), PgError> {
    psql(
        bins,
        port,
        password,
        name,
        "SELECT format('CREATE DATABASE %I', :'db') \
         WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec\n",
    )
}

fn psql(bins: &PgBinaries, port: u16, password: &str, db: &str, script: &str) -> Result<(), PgError> {
    let psql = bins.psql()?;
    // Explicit connection parameters beat any PGHOST/PGSSLMODE/... in the caller's environment.
    let conninfo = format!(
        "host=127.0.0.1 port={port} user={SUPERUSER} dbname=postgres sslmode=disable connect_timeout=10"
    );
    let mut command = std::process::Command::new(psql);
    command
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v"])
        .arg(format!("db={db}"))
        .arg("-d")
        .arg(conninfo)
        .current_dir(Path::new("/"))
        // In the environment (which only this user reads), never on the command line.
        .env("PGPASSWORD", password);
    run(&mut command, "psql", Some(script)).map(drop)
}

/// Names this crate accepts for databases and logins: plain identifiers that need no escaping
/// in a URL or a file name either.
pub(crate) fn is_plain_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names() {
        assert!(is_plain_name("readings_test-1"));
        assert!(!is_plain_name(""));
        assert!(!is_plain_name("a;drop"));
        assert!(!is_plain_name(&"a".repeat(64)));
    }
}
