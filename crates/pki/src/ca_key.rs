//! The CA's private key at rest: `ca-key.pem` (mode 0600) or, when `init` was given a
//! passphrase, `ca-key.pem.age`, the same PEM encrypted with the age format's passphrase
//! recipient (scrypt), so a copy of the PKI directory alone signs nothing. Whoever issues or
//! revokes then gives the passphrase in `DAMPWATCH_CA_PASSPHRASE` (the environment: never a
//! command line). `age --decrypt ca-key.pem.age` opens it with the standard tool too.

use std::io::{Read, Write};
use std::path::Path;

use age::secrecy::SecretString;

use crate::error::PkiError;
use crate::files::{self, Secrecy};
use crate::paths::Paths;

/// The environment variable that holds the CA key's passphrase.
pub const CA_PASSPHRASE_ENV: &str = "DAMPWATCH_CA_PASSPHRASE";

/// Shortest passphrase accepted: scrypt slows guessing, it cannot save a short secret.
const MIN_PASSPHRASE_CHARS: usize = 12;

fn bad(path: &Path, reason: impl Into<String>) -> PkiError {
    PkiError::BadKey { path: path.to_owned(), reason: reason.into() }
}

/// Writes the CA key: sealed under `passphrase` when given (and the plain file removed), plain
/// (0600) otherwise.
pub(crate) fn write(paths: &Paths, pem: &str, passphrase: Option<&str>) -> Result<(), PkiError> {
    let sealed_path = paths.ca_key_sealed();
    let Some(passphrase) = passphrase else {
        files::write_atomic(&paths.ca_key(), pem.as_bytes(), Secrecy::Private)?;
        let _ = std::fs::remove_file(&sealed_path);
        return Ok(());
    };
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(bad(
            &sealed_path,
            format!("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"),
        ));
    }
    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(passphrase.to_owned()));
    let mut sealed = Vec::new();
    let mut writer = encryptor.wrap_output(&mut sealed).map_err(|e| bad(&sealed_path, e.to_string()))?;
    writer.write_all(pem.as_bytes()).map_err(|e| bad(&sealed_path, e.to_string()))?;
    writer.finish().map_err(|e| bad(&sealed_path, e.to_string()))?;
    files::write_atomic(&sealed_path, &sealed, Secrecy::Private)?;
    // No plain copy may stay beside it.
    match std::fs::remove_file(paths.ca_key()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(bad(&paths.ca_key(), e.to_string())),
        _ => Ok(()),
    }
}

/// Reads the CA key's PEM, opening the sealed file with the passphrase from
/// [`CA_PASSPHRASE_ENV`].
pub(crate) fn read(paths: &Paths) -> Result<String, PkiError> {
    let sealed_path = paths.ca_key_sealed();
    if !sealed_path.exists() {
        return files::read_to_string(&paths.ca_key());
    }
    let passphrase = std::env::var(CA_PASSPHRASE_ENV).map_err(|_| {
        bad(&sealed_path, format!("the CA key is protected by a passphrase: give it in {CA_PASSPHRASE_ENV}"))
    })?;
    let sealed = std::fs::read(&sealed_path).map_err(|e| bad(&sealed_path, e.to_string()))?;
    let decryptor =
        age::Decryptor::new_buffered(&sealed[..]).map_err(|e| bad(&sealed_path, e.to_string()))?;
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase));
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| bad(&sealed_path, format!("the passphrase in {CA_PASSPHRASE_ENV} does not open it")))?;
    let mut pem = String::new();
    reader.read_to_string(&mut pem).map_err(|e| bad(&sealed_path, e.to_string()))?;
    Ok(pem)
}
