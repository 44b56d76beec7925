//! The superuser's password. Every private cluster authenticates with `scram-sha-256`, on
//! loopback TCP and on its socket alike, so reaching the port (any local account can) proves
//! nothing: a client needs the password, kept in `DATA_DIR/password` (mode 0600, owned by the
//! caller, never in the cluster the server account owns).
//!
//! Each cluster gets its own password at its first start, set in single-user mode before the
//! server listens (so the template's throwaway password, or an older cluster's `trust`, is
//! never reachable over the network). A cluster made before passwords were required has its
//! `pg_hba.conf` rewritten the same way.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::account::ServerAccount;
use crate::binaries::PgBinaries;
use crate::command::run;
use crate::error::PgError;
use crate::SUPERUSER;

/// The authentication method of every line of a private cluster's `pg_hba.conf`.
pub(crate) const AUTH_METHOD: &str = "scram-sha-256";

/// 24 random bytes in hex: URL-safe, 192 bits.
pub(crate) fn generate() -> Result<String, PgError> {
    let path = Path::new("/dev/urandom");
    let mut bytes = [0u8; 24];
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut bytes)).map_err(PgError::io("read", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The password of the cluster in `data_dir`, if it has been given one.
pub(crate) fn read(file: &Path) -> Result<Option<String>, PgError> {
    match fs::read_to_string(file) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PgError::io("read", file)(e)),
    }
}

/// Gives the stopped cluster `cluster` a new password, requires it on every connection, and
/// keeps it in `file` (0600). Returns the password.
pub(crate) fn set(
    bins: &PgBinaries,
    account: &ServerAccount,
    cluster: &Path,
    file: &Path,
) -> Result<String, PgError> {
    let password = generate()?;
    // Single-user mode: no port is open while the password changes. The statement goes in on
    // stdin, never on a command line.
    let mut single = account.command(&bins.postgres());
    single.arg("--single").arg("-D").arg(cluster).args(["-c", "exit_on_error=true", "postgres"]);
    run(&mut single, "postgres --single", Some(&format!("ALTER ROLE {SUPERUSER} PASSWORD '{password}';\n")))?;
    require_password(cluster)?;
    keep(file, &password)?;
    Ok(password)
}

/// Writes `password` to `file` (0600, the caller's), replacing it whole or not at all.
pub(crate) fn keep(file: &Path, password: &str) -> Result<(), PgError> {
    let partial = file.with_extension("partial");
    let _ = fs::remove_file(&partial);
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(PgError::io("create", &partial))?;
    out.write_all(format!("{password}\n").as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(PgError::io("write", &partial))?;
    fs::rename(&partial, file).map_err(PgError::io("rename into place", file))
}

/// Rewrites `pg_hba.conf` so every line requires the password (an older cluster said `trust`).
fn require_password(cluster: &Path) -> Result<(), PgError> {
    let hba = cluster.join("pg_hba.conf");
    let text = fs::read_to_string(&hba).map_err(PgError::io("read", &hba))?;
    let rewritten: String = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let is_rule = matches!(fields.first(), Some(&"local" | &"host" | &"hostssl" | &"hostnossl"));
            if is_rule && fields.last() == Some(&"trust") {
                let cut = line.rfind("trust").expect("the last field");
                format!("{}{AUTH_METHOD}\n", &line[..cut])
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    if rewritten != text {
        // Written in place: the file keeps its owner (the server account) and mode.
        let mode = fs::metadata(&hba).map_err(PgError::io("read", &hba))?.permissions().mode();
        fs::write(&hba, rewritten).map_err(PgError::io("write", &hba))?;
        fs::set_permissions(&hba, fs::Permissions::from_mode(mode))
            .map_err(PgError::io("set mode of", &hba))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_random_and_url_safe() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn trust_lines_become_password_lines_and_comments_stay() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("pg_hba.conf"),
            "# TYPE DATABASE USER ADDRESS METHOD\n# trust here is a comment\nlocal all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 scram-sha-256\n",
        )
        .unwrap();
        require_password(dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join("pg_hba.conf")).unwrap();
        assert_eq!(
            text,
            "# TYPE DATABASE USER ADDRESS METHOD\n# trust here is a comment\nlocal all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"
        );
    }
}
