//! The key that seals the services' own secrets in the database: webhook endpoints' signing
//! secrets, which the sender needs in clear to sign and which anyone reading the table (a
//! backup, a stolen dump, a role with SELECT) could otherwise use to forge alerts to a
//! landlord's systems. Unlike personal data it belongs to no landlord, is read by a running
//! service on every delivery, and is never erased by landlord: one key, kept beside the PKI in
//! a 0600 file ([`crate::key_file`]), made at first use. A value is [`crate::seal`]ed, bound
//! to its landlord, table, column and row, so a sealed secret copied to another endpoint does
//! not open.
//!
//! Losing the file makes every sealed secret unreadable: deliveries then fail with that reason
//! and the landlord's endpoints must be registered again. Back it up with the PKI directory.

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::PrivacyError;
use crate::master::DataKey;
use crate::seal::{self, Place};

/// Where the services keep the secrets key, relative to their PKI directory.
pub const KEY_FILE: &str = "secrets/sealing.key";

/// The one generation the secrets key has: it is not rotated in place.
const GENERATION: u32 = 1;

/// The secrets key, loaded.
pub struct SecretsKey {
    key: DataKey,
    id: String,
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl SecretsKey {
    /// Reads the key at `path`, refusing a file others may read or write.
    pub fn open(path: &Path) -> Result<Self, PrivacyError> {
        crate::key_file::read(path).map(Self::from_key)
    }

    /// Reads the key at `path`, first making it (and its directory, 0700) if there is none.
    /// Two processes making it at once end with the same key: the one that loses reads the
    /// winner's.
    pub fn open_or_create(path: &Path) -> Result<Self, PrivacyError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|source| PrivacyError::KeyFile { path: dir.to_owned(), source })?;
        }
        match crate::key_file::write_new(path) {
            Ok(key) => Ok(Self::from_key(key)),
            Err(PrivacyError::KeyFile { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Self::open(path)
            }
            Err(e) => Err(e),
        }
    }

    fn from_key(key: Zeroizing<[u8; crate::master::KEY_LEN]>) -> Self {
        let id = crate::key_file::id_of(&key);
        SecretsKey { key: DataKey::from_bytes(key), id }
    }

    /// Names the key without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `secret` sealed for `place`.
    pub fn seal(&self, place: &Place<'_>, secret: &[u8]) -> Result<Vec<u8>, PrivacyError> {
        seal::seal(&self.key, GENERATION, place, secret)
    }

    /// The secret sealed for `place`; [`PrivacyError::DoesNotOpen`] under another key or in
    /// another place.
    pub fn open_sealed(&self, place: &Place<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, PrivacyError> {
        seal::open(&self.key, place, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(row_id: i64) -> Place<'static> {
        Place { landlord_id: "north-homes", table: "webhook_endpoints", column: "secret_sealed", row_id }
    }

    #[test]
    fn a_key_made_once_opens_what_it_sealed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets/sealing.key");
        let key = SecretsKey::open_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let sealed = key.seal(&place(4), b"0123456789abcdef0123").unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"01234567"));
        // The same file again: the same key, not a new one.
        let again = SecretsKey::open_or_create(&path).unwrap();
        assert_eq!(again.id(), key.id());
        assert_eq!(again.open_sealed(&place(4), &sealed).unwrap().as_slice(), b"0123456789abcdef0123");
        assert!(matches!(again.open_sealed(&place(5), &sealed), Err(PrivacyError::DoesNotOpen(_))));
        let other = SecretsKey::open_or_create(&dir.path().join("other.key")).unwrap();
        assert!(matches!(other.open_sealed(&place(4), &sealed), Err(PrivacyError::DoesNotOpen(_))));
    }
}
