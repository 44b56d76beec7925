//! Finding the installed PostgreSQL server binaries.
//!
//! Order: `DAMPWATCH_PG_BINDIR` (and nothing else when it is set, so an operator's choice is
//! never silently replaced), `pg_config --bindir`, the highest `/usr/lib/postgresql/*/bin`
//! (Debian and Ubuntu keep the server off PATH there), then PATH.

use std::env;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::PgError;

/// Environment variable naming the directory that holds `initdb`, `pg_ctl` and `postgres`.
pub const BINDIR_ENV: &str = "DAMPWATCH_PG_BINDIR";

/// Where Debian-style packages install each server major version.
const DEBIAN_LIB_ROOT: &str = "/usr/lib/postgresql";

/// The programs without which no cluster can be created or run.
const SERVER_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A directory holding the PostgreSQL server programs, and the server version found there.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    bindir: PathBuf,
    version: String,
}

impl PgBinaries {
    /// Finds the server binaries (see the module docs for the order) and reads their version.
    ///
    /// The error names the package to install when nothing usable is found.
    pub fn locate() -> Result<Self, PgError> {
        Self::locate_with(env::var_os(BINDIR_ENV))
    }

    fn locate_with(bindir_override: Option<OsString>) -> Result<Self, PgError> {
        let mut searched = Vec::new();
        let bindir = match bindir_override.filter(|dir| !dir.is_empty()) {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                searched.push(format!("{BINDIR_ENV}={}", dir.display()));
                has_server(&dir).then_some(dir)
            }
            None => find_bindir(&mut searched),
        };
        let bindir = bindir.ok_or_else(|| PgError::ServerNotInstalled { searched: searched.join(", ") })?;
        let version = server_version(&bindir.join("postgres"))?;
        Ok(PgBinaries { bindir, version })
    }

    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The server version, e.g. `15.18`.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub(crate) fn initdb(&self) -> PathBuf {
        self.bindir.join("initdb")
    }

    pub(crate) fn pg_ctl(&self) -> PathBuf {
        self.bindir.join("pg_ctl")
    }

    pub(crate) fn postgres(&self) -> PathBuf {
        self.bindir.join("postgres")
    }

    /// `psql`, next to the server or else on PATH; the server package normally pulls it in.
    pub(crate) fn psql(&self) -> Result<PathBuf, PgError> {
        let beside = self.bindir.join("psql");
        if is_executable(&beside) {
            return Ok(beside);
        }
        find_on_path("psql").ok_or(PgError::ToolMissing {
            program: "psql",
            looked: format!("{} and PATH", self.bindir.display()),
            hint: "install the PostgreSQL client (`apt-get install postgresql-client-15` on Debian/Ubuntu)",
        })
    }
}

fn find_bindir(searched: &mut Vec<String>) -> Option<PathBuf> {
    searched.push("pg_config --bindir".to_owned());
    if let Some(dir) = pg_config_bindir().filter(|dir| has_server(dir)) {
        return Some(dir);
    }
    searched.push(format!("{DEBIAN_LIB_ROOT}/*/bin"));
    if let Some(dir) = highest_debian_bindir(Path::new(DEBIAN_LIB_ROOT)) {
        return Some(dir);
    }
    searched.push("PATH".to_owned());
    let initdb = find_on_path("initdb")?;
    // A PATH entry is often a symlink farm (/usr/local/bin); pg_ctl locates `postgres` next to
    // its own resolved path, so use the directory the real binaries live in.
    let real_dir = initdb.canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf));
    let path_dir = initdb.parent().map(Path::to_path_buf);
    [real_dir, path_dir].into_iter().flatten().find(|dir| has_server(dir))
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The `bin` directory of the highest major version under `root` that has a full server.
fn highest_debian_bindir(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .flatten()
        .filter_map(|entry| {
            let version = version_key(entry.file_name().to_str()?)?;
            let bindir = entry.path().join("bin");
            has_server(&bindir).then_some((version, bindir))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bindir)| bindir)
}

/// "15" -> [15], "9.6" -> [9, 6]; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn has_server(dir: &Path) -> bool {
    SERVER_PROGRAMS.iter().all(|program| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

pub(crate) fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
}

/// Reads `postgres --version`: "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18".
fn server_version(postgres: &Path) -> Result<String, PgError> {
    let output = Command::new(postgres)
        .arg("--version")
        .output()
        .map_err(|source| PgError::Spawn { program: postgres.display().to_string(), source })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(PgError::CommandFailed {
            command: format!("{} --version", postgres.display()),
            status: output.status.to_string(),
            output: format!("{text}{}", String::from_utf8_lossy(&output.stderr)),
        });
    }
    Ok(parse_version(&text).unwrap_or_else(|| "unknown".to_owned()))
}

fn parse_version(text: &str) -> Option<String> {
    let after = text.split_once("(PostgreSQL)")?.1;
    let token = after.split_whitespace().next()?;
    let clean: String = token.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
    (!clean.is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_version_line() {
        let line = "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n";
        assert_eq!(parse_version(line).as_deref(), Some("15.18"));
        assert_eq!(parse_version("postgres (PostgreSQL) 17beta1").as_deref(), Some("17beta1"));
        assert_eq!(parse_version("something else"), None);
    }

    #[test]
    fn version_directories_order_numerically() {
        assert!(version_key("15") > version_key("9.6"));
        assert!(version_key("16") > version_key("15"));
        assert_eq!(version_key("common"), None);
    }

    #[test]
    fn override_to_empty_dir_names_the_package() {
        let empty = tempfile::tempdir().expect("tempdir");
        let err = PgBinaries::locate_with(Some(empty.path().into())).expect_err("no binaries there");
        let text = err.to_string();
        assert!(text.contains("apt-get install postgresql"), "{text}");
        assert!(text.contains("postgresql-server"), "{text}");
        assert!(text.contains(&empty.path().display().to_string()), "{text}");
    }

    #[test]
    fn highest_version_wins() {
        let root = tempfile::tempdir().expect("tempdir");
        for version in ["9.6", "15", "13"] {
            let bin = root.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).expect("mkdir");
            for program in SERVER_PROGRAMS {
                let path = bin.join(program);
                std::fs::write(&path, "#!/bin/sh\n").expect("write");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            }
        }
        // A higher version without a full server must not be chosen.
        std::fs::create_dir_all(root.path().join("16/bin")).expect("mkdir");
        assert_eq!(highest_debian_bindir(root.path()), Some(root.path().join("15/bin")));
    }
}
