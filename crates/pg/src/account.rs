//! The operating-system account the server runs as.
//!
//! PostgreSQL refuses to run as root, and developer machines and CI run as root. So as root
//! every server program runs as the `postgres` user through `runuser`, and the files the server
//! must own are handed to that user. As anyone else, the server simply runs as the caller.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::binaries::find_on_path;
use crate::error::PgError;

/// The account that runs the server when the caller is root.
pub(crate) const SERVER_USER: &str = "postgres";

/// Where `runuser` (util-linux) usually lives; it is often not on a root PATH's first entries.
const RUNUSER_CANDIDATES: [&str; 3] = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"];

#[derive(Debug, Clone)]
pub(crate) enum ServerAccount {
    /// Not root: the server runs as the calling user.
    Caller,
    /// Root: the server runs as `postgres`.
    Postgres { uid: u32, gid: u32, runuser: PathBuf },
}

impl ServerAccount {
    pub(crate) fn detect() -> Result<Self, PgError> {
        if current_uid() != Some(0) {
            return Ok(ServerAccount::Caller);
        }
        let (uid, gid) = lookup_user(SERVER_USER).ok_or(PgError::NoServerUser)?;
        let runuser = RUNUSER_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
            .or_else(|| find_on_path("runuser"))
            .ok_or(PgError::ToolMissing {
                program: "runuser",
                looked: format!("{} and PATH", RUNUSER_CANDIDATES.join(", ")),
                hint: "install util-linux (`apt-get install util-linux`)",
            })?;
        Ok(ServerAccount::Postgres { uid, gid, runuser })
    }

    /// True when the server runs as a different user than the caller.
    pub(crate) fn is_separate(&self) -> bool {
        matches!(self, ServerAccount::Postgres { .. })
    }

    /// A command that runs `program` as the server account. The working directory is `/`
    /// because the caller's (say `/root/project`) may be unreadable by `postgres`, and the
    /// C locale keeps the server's messages parseable.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let mut command = match self {
            ServerAccount::Caller => Command::new(program),
            ServerAccount::Postgres { runuser, .. } => {
                let mut command = Command::new(runuser);
                command.args([
                    OsStr::new("-u"),
                    OsStr::new(SERVER_USER),
                    OsStr::new("--"),
                    program.as_os_str(),
                ]);
                command
            }
        };
        command.current_dir("/").env("LC_ALL", "C");
        command
    }

    /// Makes `path` belong to the server account (nothing to do when that is the caller).
    pub(crate) fn hand_over(&self, path: &Path) -> Result<(), PgError> {
        match self {
            ServerAccount::Caller => Ok(()),
            ServerAccount::Postgres { uid, gid, .. } => {
                std::os::unix::fs::lchown(path, Some(*uid), Some(*gid))
                    .map_err(PgError::io("hand to the postgres user", path))
            }
        }
    }

    /// Checks that the server account can walk down to `dir` (which must exist), asking the
    /// system itself so groups and ACLs count. Names the first directory that blocks it.
    pub(crate) fn check_reachable(&self, dir: &Path) -> Result<(), PgError> {
        if !self.is_separate() {
            return Ok(());
        }
        let ancestors: Vec<&Path> = dir.ancestors().collect();
        let mut command = self.command(Path::new("/bin/sh"));
        command
            .arg("-c")
            .arg(r#"for d in "$@"; do [ -x "$d" ] || { printf '%s' "$d"; exit 3; }; done"#)
            .arg("sh")
            .args(ancestors.iter().rev());
        let output =
            command.output().map_err(|source| PgError::Spawn { program: "runuser".to_owned(), source })?;
        match output.status.code() {
            Some(0) => Ok(()),
            Some(3) => Err(PgError::DataDirNotReachable {
                data_dir: dir.to_path_buf(),
                blocked: PathBuf::from(String::from_utf8_lossy(&output.stdout).into_owned()),
            }),
            _ => Err(PgError::CommandFailed {
                command: format!("runuser -u {SERVER_USER} -- /bin/sh (search permission check)"),
                status: output.status.to_string(),
                output: String::from_utf8_lossy(&output.stderr).into_owned(),
            }),
        }
    }
}

/// The effective uid of this process (owner of `/proc/self`), without `unsafe` FFI.
pub(crate) fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Whether this process runs as root, in which case the server runs as `postgres` and the data
/// directory must be reachable by that user (callers pick their default directories by it).
pub fn running_as_root() -> bool {
    current_uid() == Some(0)
}

/// Looks `name` up in `/etc/passwd`, then through NSS with `getent`.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let from_file = std::fs::read_to_string("/etc/passwd").ok().and_then(|text| passwd_entry(&text, name));
    from_file.or_else(|| {
        let output = Command::new("getent").args(["passwd", name]).output().ok()?;
        output.status.success().then(|| passwd_entry(&String::from_utf8_lossy(&output.stdout), name))?
    })
}

fn passwd_entry(text: &str, name: &str) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_uid_and_gid_from_passwd_lines() {
        let text =
            "root:x:0:0:root:/root:/bin/bash\npostgres:x:101:104:PostgreSQL:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(passwd_entry(text, "postgres"), Some((101, 104)));
        assert_eq!(passwd_entry(text, "postgre"), None);
        assert_eq!(passwd_entry("postgres:x:bad:1::/:/bin/sh", "postgres"), None);
    }
}
