//! A key kept in a file: 64 hexadecimal digits (32 random bytes), readable and writable by its
//! owner only (mode 0600; anything more open is refused). The master key and the secrets key
//! are kept this way.

use std::io::Write;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::PrivacyError;
use crate::master::KEY_LEN;

/// Writes a new random key to `path`, which must not exist yet, with mode 0600. The key is
/// written whole to a file of its own first and then linked into place, so another process
/// never reads a half-written key: it finds either no file or the whole one (and `path`
/// existing already is an error of kind `AlreadyExists`).
pub(crate) fn write_new(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, PrivacyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    SystemRandom::new().fill(key.as_mut()).map_err(|_| PrivacyError::Random)?;
    let io = |source| PrivacyError::KeyFile { path: path.to_owned(), source };
    let mut suffix = [0u8; 8];
    SystemRandom::new().fill(&mut suffix).map_err(|_| PrivacyError::Random)?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}.partial", hex::encode(suffix)));
    let partial = std::path::PathBuf::from(partial);
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial)?;
        let mut text = Zeroizing::new(hex::encode(key.as_ref()));
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&partial, path)
    })();
    let _ = std::fs::remove_file(&partial);
    written.map_err(io)?;
    Ok(key)
}

/// Reads a key file, refusing one that others may read or write.
pub(crate) fn read(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, PrivacyError> {
    let io = |source| PrivacyError::KeyFile { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PrivacyError::KeyFileOpen { path: path.to_owned(), mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    let digits = text.trim();
    if digits.len() != 2 * KEY_LEN || hex::decode_to_slice(digits, key.as_mut()).is_err() {
        return Err(PrivacyError::KeyFileFormat { path: path.to_owned() });
    }
    Ok(key)
}

/// Names a key without revealing it: a prefix of its SHA-256.
pub(crate) fn id_of(key: &[u8; KEY_LEN]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    format!("file:{}", hex::encode(&digest.as_ref()[..8]))
}
