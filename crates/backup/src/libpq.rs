//! Running `pg_dump` and `pg_restore` against the database a URL names, without putting the
//! URL on their command line: another user of the host can read any process's arguments
//! (`/proc/PID/cmdline`), but only the owner reads its environment. The URL is parsed as the
//! services parse it and handed over as libpq's environment variables.
//!
//! TLS keeps the services' rule: `sslmode=require` means a verified server (libpq's
//! `verify-full`, against `PGSSLROOTCERT` when set), never libpq's unverified `require`.

use std::path::PathBuf;
use std::process::Command;

use tokio_postgres::config::{Host, SslMode};

use crate::error::BackupError;

/// A PostgreSQL client program and the connection it is given.
pub struct ClientProgram {
    pub program: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl ClientProgram {
    /// `name` (`pg_dump`, `pg_restore`) from the installed PostgreSQL, connected as `url` says.
    pub fn new(name: &str, url: &str) -> Result<Self, BackupError> {
        let binaries = dampwatch_pg::PgBinaries::locate()?;
        let program = binaries.bindir().join(name);
        if !program.is_file() {
            return Err(BackupError::MissingProgram(program));
        }
        Ok(ClientProgram { program, env: environment(url)? })
    }

    /// The command with its connection in the environment and nothing inherited that could
    /// point it elsewhere (`PGSERVICE`, `PGHOST`, ... of the caller's shell).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("PG") && k != "PGSSLROOTCERT") {
                cmd.env_remove(&key);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        cmd
    }
}

/// libpq's environment for `url`.
pub fn environment(url: &str) -> Result<Vec<(&'static str, String)>, BackupError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|e| BackupError::BadUrl(format!("{}: {e}", dampwatch_store::redacted(url))))?;
    let mut env = Vec::new();
    if let Some(host) = config.get_hosts().first() {
        let host = match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => dir.display().to_string(),
        };
        env.push(("PGHOST", host));
    }
    if let Some(port) = config.get_ports().first() {
        env.push(("PGPORT", port.to_string()));
    }
    if let Some(user) = config.get_user() {
        env.push(("PGUSER", user.to_owned()));
    }
    if let Some(password) = config.get_password() {
        let password = String::from_utf8(password.to_vec())
            .map_err(|_| BackupError::BadUrl("the password is not UTF-8".into()))?;
        env.push(("PGPASSWORD", password));
    }
    if let Some(db) = config.get_dbname() {
        env.push(("PGDATABASE", db.to_owned()));
    }
    let sslmode = if config.get_ssl_mode() == SslMode::Require { "verify-full" } else { "disable" };
    env.push(("PGSSLMODE", sslmode.to_owned()));
    // Never wait for a password on a terminal: a missing one is an error to report.
    env.push(("PGCONNECT_TIMEOUT", "30".to_owned()));
    Ok(env)
}

/// `url` naming database `db` instead (the maintenance database, or a restore's target).
pub fn with_database(url: &str, db: &str) -> Result<String, BackupError> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| BackupError::BadUrl(format!("{}: {e}", dampwatch_store::redacted(url))))?;
    config.dbname(db);
    Ok(to_url(&config))
}

/// The database a URL names.
pub fn database_name(url: &str) -> Result<String, BackupError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|e| BackupError::BadUrl(format!("{}: {e}", dampwatch_store::redacted(url))))?;
    config
        .get_dbname()
        .map(str::to_owned)
        .ok_or_else(|| BackupError::BadUrl(format!("{} names no database", dampwatch_store::redacted(url))))
}

/// A key-value connection string for `config` (what `tokio_postgres` parses back).
fn to_url(config: &tokio_postgres::Config) -> String {
    fn quoted(v: &str) -> String {
        format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
    }
    let mut parts = Vec::new();
    if let Some(host) = config.get_hosts().first() {
        let host = match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => dir.display().to_string(),
        };
        parts.push(format!("host={}", quoted(&host)));
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={}", quoted(user)));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!("password={}", quoted(&String::from_utf8_lossy(password))));
    }
    if let Some(db) = config.get_dbname() {
        parts.push(format!("dbname={}", quoted(db)));
    }
    let sslmode = if config.get_ssl_mode() == SslMode::Require { "require" } else { "disable" };
    parts.push(format!("sslmode={sslmode}"));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_to_the_environment_and_require_means_verified() {
        let env = environment("postgres://app:s3cret@db.example:6432/dampwatch?sslmode=require").unwrap();
        let get = |k: &str| env.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PGPASSWORD"), Some("s3cret"));
        assert_eq!(get("PGHOST"), Some("db.example"));
        assert_eq!(get("PGPORT"), Some("6432"));
        assert_eq!(get("PGDATABASE"), Some("dampwatch"));
        assert_eq!(get("PGSSLMODE"), Some("verify-full"));
    }

    #[test]
    fn another_database_on_the_same_server_keeps_everything_else() {
        let url = with_database("postgres://app:pw@127.0.0.1:5433/dampwatch", "postgres").unwrap();
        let env = environment(&url).unwrap();
        let get = |k: &str| env.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PGDATABASE"), Some("postgres"));
        assert_eq!(get("PGPASSWORD"), Some("pw"));
        assert_eq!(get("PGPORT"), Some("5433"));
        assert_eq!(database_name("postgres://app@h/restored").unwrap(), "restored");
    }
}
