//! The backup key: an age X25519 identity of its own, never derived from or stored with the
//! data keys, the PKI or the database's credentials. The machine that takes backups needs only
//! its public half (the recipient, `age1...`); the secret half (`AGE-SECRET-KEY-1...`) is
//! needed only to restore and belongs offline. The identity file is the one `age-keygen`
//! writes, so the standard `age` tool opens a backup too.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::str::FromStr as _;

use age::secrecy::ExposeSecret as _;
use age::x25519::{Identity, Recipient};

use crate::error::BackupError;

fn key_error(path: &Path, reason: impl Into<String>) -> BackupError {
    BackupError::Key { path: path.to_owned(), reason: reason.into() }
}

/// Writes a new identity to `path` (mode 0600; an existing file is never replaced) and returns
/// its recipient.
pub fn generate(path: &Path) -> Result<Recipient, BackupError> {
    let identity = Identity::generate();
    let recipient = identity.to_public();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| key_error(path, format!("cannot create it: {e}")))?;
    let text = format!(
        "# created: {}\n# public key: {recipient}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        identity.to_string().expose_secret()
    );
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| key_error(path, e.to_string()))?;
    Ok(recipient)
}

/// The identities of an identity file. A file others may read is refused: whoever reads it
/// reads every backup.
pub fn load_identities(path: &Path) -> Result<Vec<Identity>, BackupError> {
    let meta = std::fs::metadata(path).map_err(|e| key_error(path, format!("cannot read it: {e}")))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(key_error(
            path,
            format!("it is readable by others (mode {:o}): chmod 600 it", meta.permissions().mode() & 0o777),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| key_error(path, format!("cannot read it: {e}")))?;
    let identities = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, line)| {
            Identity::from_str(line)
                .map_err(|_| key_error(path, format!("key {} is not an age X25519 secret key", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if identities.is_empty() {
        return Err(key_error(path, "it holds no key"));
    }
    Ok(identities)
}

/// A recipient as `age1...`, or the public key line of an identity file given instead.
pub fn parse_recipient(text: &str) -> Result<Recipient, String> {
    Recipient::from_str(text.trim())
        .map_err(|e| format!("{:?} is not an age X25519 recipient: {e}", text.trim()))
}

/// The recipients of a recipients file (one `age1...` per line, `#` comments).
pub fn load_recipients(path: &Path) -> Result<Vec<Recipient>, BackupError> {
    let text = std::fs::read_to_string(path).map_err(|e| key_error(path, format!("cannot read it: {e}")))?;
    let recipients = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_recipient(l).map_err(|e| key_error(path, e)))
        .collect::<Result<Vec<_>, _>>()?;
    if recipients.is_empty() {
        return Err(key_error(path, "it holds no recipient"));
    }
    Ok(recipients)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_private_reads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup-key.txt");
        let recipient = generate(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let identities = load_identities(&path).unwrap();
        assert_eq!(identities[0].to_public().to_string(), recipient.to_string());
        let err = generate(&path).unwrap_err().to_string();
        assert!(err.contains("cannot create it"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_identities(&path).err().expect("refused").to_string();
        assert!(err.contains("readable by others"), "{err}");
    }

    #[test]
    fn a_recipient_that_is_not_one_is_named() {
        let err = parse_recipient("AGE-SECRET-KEY-1XYZ").unwrap_err();
        assert!(err.contains("not an age X25519 recipient"), "{err}");
    }
}
