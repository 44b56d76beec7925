//! `revoke`: puts a device's certificates on the CRL.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::error::{check_id, IdKind, PkiError};
use crate::index::{subject_key, Index, Revoked};
use crate::paths::Paths;
use crate::{ca, cert_info, crl};

/// What [`revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// These serials were added to the CRL (the current certificate and any superseded one
    /// that was still unrevoked).
    Revoked { device: String, serials: Vec<u64>, at: DateTime<Utc> },
    /// Nothing to do: every certificate of the device was already on the CRL.
    AlreadyRevoked { device: String, serial: u64, at: DateTime<Utc> },
}

/// Revokes every certificate ever issued to `device` in `dir` (after a rotation the superseded
/// one must not stay usable either), rewrites `crl.pem` with a new CRL number, and records the
/// time. Revoking again is harmless and reports [`Revocation::AlreadyRevoked`].
pub fn revoke(dir: &Path, device: &str) -> Result<Revocation, PkiError> {
    revoke_at(dir, device, Utc::now())
}

pub(crate) fn revoke_at(dir: &Path, device: &str, now: DateTime<Utc>) -> Result<Revocation, PkiError> {
    check_id(IdKind::Device, device)?;
    let paths = Paths::new(dir);
    let _lock = crate::dir_lock::lock(dir, false)?;
    let ca = ca::load(&paths)?;
    let mut index = Index::load(&paths.index())?;
    let subject = subject_key("device", Some(device));

    let mut serials: Vec<u64> = index.serials_of(&subject).collect();
    let cert_path = paths.device_cert(device);
    let current = if cert_path.exists() { Some(cert_info::read(&cert_path)?.serial) } else { None };
    // The certificate on disk is what the device presents; it counts even if the index
    // somehow lost track of it.
    if let Some(current) = current.filter(|c| !serials.contains(c)) {
        serials.push(current);
    }
    let Some(&latest) = current.as_ref().or(serials.last()) else {
        return Err(PkiError::UnknownDevice { device: device.to_owned(), dir: dir.to_owned() });
    };

    let fresh: Vec<u64> = serials.into_iter().filter(|s| index.revocation(*s).is_none()).collect();
    if fresh.is_empty() {
        let at = index.revocation(latest).map_or(now, |r| r.revoked_at);
        return Ok(Revocation::AlreadyRevoked { device: device.to_owned(), serial: latest, at });
    }
    for &serial in &fresh {
        index.revoked.push(Revoked { serial, subject: subject.clone(), revoked_at: now });
    }
    // The CRL goes first: if saving the index then fails, the revocation is already in force
    // and running `revoke` again simply writes it once more.
    crl::write(&paths, &mut index, &ca, now)?;
    index.save(&paths.index())?;
    Ok(Revocation::Revoked { device: device.to_owned(), serials: fresh, at: now })
}
