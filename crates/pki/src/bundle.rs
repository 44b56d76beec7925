//! A device's provisioning bundle: what a device is given when it is provisioned, and what the
//! server does not keep. The gateway checks a device's certificate against the CA and the
//! collector its signatures against the public key in the registry, so neither needs a device's
//! private keys; kept beside the CA key they would let whoever reads the PKI directory speak
//! as every device. [`crate::issue_device`] writes them here, outside the PKI directory, for
//! the operator to copy onto the device and then delete.
//!
//! ```text
//! BUNDLES/D/ca.pem           the CA the device trusts the gateway by
//! BUNDLES/D/cert.pem         its TLS client certificate (the PKI keeps a copy)
//! BUNDLES/D/key.pem          its TLS private key (0600)
//! BUNDLES/D/signing-key.pem  its Ed25519 signing key (PKCS#8, 0600)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::client_tls::client_tls_from_files;
use crate::error::{check_id, IdKind, PkiError};
use crate::files::{self, Secrecy};
use crate::paths::Paths;
use crate::signing_key::{load_signing_seed, ED25519_KEY_LEN};

/// One device's provisioning bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    /// The bundle in its own directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Bundle { dir: dir.into() }
    }

    /// Device `device`'s bundle in the bundles directory `bundles` (`BUNDLES/D`). The id must
    /// already be validated, since it becomes a path component.
    pub fn of(bundles: &Path, device: &str) -> Self {
        Bundle::new(bundles.join(device))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    pub fn signing_key(&self) -> PathBuf {
        self.dir.join("signing-key.pem")
    }

    /// Whether the bundle holds a certificate and both private keys.
    pub fn is_complete(&self) -> bool {
        self.cert().exists() && self.key().exists() && self.signing_key().exists()
    }

    /// The device's side of mutual TLS: trusting the bundle's CA, presenting its certificate.
    pub fn client_tls(&self) -> Result<Arc<rustls::ClientConfig>, PkiError> {
        client_tls_from_files(&self.ca_cert(), Some((&self.cert(), &self.key())))
    }

    /// The device's Ed25519 signing seed.
    pub fn signing_seed(&self) -> Result<[u8; ED25519_KEY_LEN], PkiError> {
        load_signing_seed(&self.signing_key())
    }
}

/// Creates the bundles directory (0700) and refuses one inside the PKI directory, or one that
/// holds it: either way a device's private keys would end up among the server's files.
pub(crate) fn prepare(pki: &Path, bundles: &Path) -> Result<(), PkiError> {
    create_private_dir(bundles)?;
    let canonical = |p: &Path| fs::canonicalize(p).map_err(|e| PkiError::io("cannot resolve", p, e));
    let (p, b) = (canonical(pki)?, canonical(bundles)?);
    if b.starts_with(&p) || p.starts_with(&b) {
        return Err(PkiError::BundlesInsidePki { bundles: bundles.to_owned(), pki: pki.to_owned() });
    }
    Ok(())
}

/// Device `device`'s bundle under `bundles` (already [`prepare`]d), its directory made (0700) if
/// new. Refuses a symbolic link or anything but a directory there: it could lead the keys into
/// the PKI directory.
pub(crate) fn prepare_device(bundles: &Path, device: &str) -> Result<Bundle, PkiError> {
    let bundle = Bundle::of(bundles, device);
    create_private_dir(bundle.dir())?;
    let meta =
        fs::symlink_metadata(bundle.dir()).map_err(|e| PkiError::io("cannot inspect", bundle.dir(), e))?;
    if !meta.is_dir() || meta.file_type().is_symlink() {
        return Err(PkiError::UnsafeBundle { path: bundle.dir().to_owned() });
    }
    Ok(bundle)
}

/// Deletes the private keys an earlier release kept for `device` in the PKI directory, once a
/// new issue has replaced them (a later move would otherwise put the superseded keys over the
/// new ones).
pub(crate) fn remove_old_keys(paths: &Paths, device: &str) -> Result<(), PkiError> {
    for old in old_keys(paths, device) {
        match fs::remove_file(&old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PkiError::io("cannot remove", old, e)),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| PkiError::io("cannot create directory", dir, e))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|e| PkiError::io("cannot create directory", dir, e))
}

/// Writes the public half of a bundle: the CA and the device's certificate.
pub(crate) fn write_public(paths: &Paths, bundle: &Bundle, cert_pem: &[u8]) -> Result<(), PkiError> {
    let ca = files::read(&paths.ca_cert())?;
    files::write_atomic(&bundle.ca_cert(), &ca, Secrecy::Public)?;
    files::write_atomic(&bundle.cert(), cert_pem, Secrecy::Public)
}

/// The devices whose private keys still sit in the PKI directory, as an earlier release kept
/// them (`devices/D/key.pem`, `devices/D/signing-key.pem`).
pub fn device_keys_in_pki(pki: &Path) -> Result<Vec<String>, PkiError> {
    let paths = Paths::new(pki);
    Ok(crate::list::subdirectories(&paths.devices_dir())?
        .into_iter()
        .filter(|d| old_keys(&paths, d).iter().any(|k| k.exists()))
        .collect())
}

fn old_keys(paths: &Paths, device: &str) -> [PathBuf; 2] {
    let dir = paths.device_dir(device);
    [dir.join("key.pem"), dir.join("signing-key.pem")]
}

/// Moves every device private key an earlier release left in the PKI directory into that
/// device's bundle under `bundles` (with its certificate and the CA), then deletes it from the
/// PKI directory. Returns the devices moved. A device's keys are removed only after its bundle
/// is written whole, so an interrupted move is finished by running it again.
pub fn move_device_keys(pki: &Path, bundles: &Path) -> Result<Vec<String>, PkiError> {
    let _lock = crate::dir_lock::lock(pki, false)?;
    prepare(pki, bundles)?;
    let paths = Paths::new(pki);
    let devices = device_keys_in_pki(pki)?;
    for device in &devices {
        move_one(&paths, bundles, device)?;
    }
    Ok(devices)
}

/// [`move_device_keys`] for one device; `Ok(false)` when it had none in the PKI directory.
pub fn move_device_key(pki: &Path, bundles: &Path, device: &str) -> Result<bool, PkiError> {
    check_id(IdKind::Device, device)?;
    let _lock = crate::dir_lock::lock(pki, false)?;
    let paths = Paths::new(pki);
    if !old_keys(&paths, device).iter().any(|k| k.exists()) {
        return Ok(false);
    }
    prepare(pki, bundles)?;
    move_one(&paths, bundles, device)?;
    Ok(true)
}

fn move_one(paths: &Paths, bundles: &Path, device: &str) -> Result<(), PkiError> {
    let bundle = prepare_device(bundles, device)?;
    let [key, signing_key] = old_keys(paths, device);
    for (from, to) in [(&key, bundle.key()), (&signing_key, bundle.signing_key())] {
        if from.exists() {
            files::write_atomic(&to, &files::read(from)?, Secrecy::Private)?;
        }
    }
    write_public(paths, &bundle, &files::read(&paths.device_cert(device))?)?;
    remove_old_keys(paths, device)
}
