//! `issue-device`: a device's TLS client certificate (CN = device id, O = landlord id) and its
//! Ed25519 signing key. The private keys go into the device's provisioning bundle
//! ([`Bundle`]), outside the PKI directory; the PKI keeps the certificate and the public key.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::bundle::{self, Bundle};
use crate::ca;
use crate::error::{check_id, IdKind, PkiError};
use crate::index::{subject_key, Index};
use crate::leaf::{self, Profile};
use crate::paths::Paths;
use crate::service::IssueOptions;
use crate::signing_key::{SigningKey, ED25519_KEY_LEN};
use crate::validity::{check_days, validity};

/// What was issued to a device. Holds no private key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedDevice {
    pub landlord: String,
    pub device: String,
    pub serial: u64,
    /// The certificate this one replaced (`force`), still valid until revoked or expired.
    pub superseded_serial: Option<u64>,
    /// The Ed25519 public key the collector verifies this device's uplinks with.
    pub signing_public_key: [u8; ED25519_KEY_LEN],
    /// The PKI's copy of the certificate.
    pub cert: PathBuf,
    pub signing_public_key_file: PathBuf,
    /// Where the device's private keys were written, for the device and nobody else.
    pub bundle: Bundle,
}

impl IssuedDevice {
    /// The signing public key as 64 lowercase hex digits (as in `signing-key.pub`).
    pub fn signing_public_key_hex(&self) -> String {
        hex::encode(self.signing_public_key)
    }
}

/// Issues a TLS client certificate (ECDSA P-256, clientAuth) and an Ed25519 signing key. The
/// device's provisioning bundle `BUNDLES/D/` gets both private keys, its certificate and the CA;
/// the PKI directory `DIR/devices/D/` keeps `cert.pem` and `signing-key.pub` only. `bundles`
/// must lie outside `dir`. Refuses to replace an existing device unless `options.force`; a
/// forced re-issue makes new keys of both kinds (rotation), and the old serial stays recorded
/// so `revoke` still covers the superseded certificate.
pub fn issue_device(
    dir: &Path,
    bundles: &Path,
    landlord: &str,
    device: &str,
    options: IssueOptions,
) -> Result<IssuedDevice, PkiError> {
    issue_device_at(dir, bundles, landlord, device, options, Utc::now())
}

pub(crate) fn issue_device_at(
    dir: &Path,
    bundles: &Path,
    landlord: &str,
    device: &str,
    options: IssueOptions,
    now: DateTime<Utc>,
) -> Result<IssuedDevice, PkiError> {
    check_id(IdKind::Landlord, landlord)?;
    check_id(IdKind::Device, device)?;
    check_days(options.validity_days)?;
    let _lock = crate::dir_lock::lock(dir, false)?;
    let paths = Paths::new(dir);
    let ca = ca::load(&paths)?;
    bundle::prepare(dir, bundles)?;
    let cert = paths.device_cert(device);
    if cert.exists() && !options.force {
        return Err(PkiError::AlreadyIssued { kind: IdKind::Device, name: device.to_owned(), path: cert });
    }

    let index_path = paths.index();
    let mut index = Index::load(&index_path)?;
    let subject = subject_key("device", Some(device));
    let superseded_serial = index.serials_of(&subject).last();
    let serial = index.issue(&subject, now, &index_path)?;
    // Reserved before anything is written: a crash can waste a serial, never repeat one.
    index.save(&index_path)?;

    // The PKI's certificate is written last: until it exists the device counts as not issued,
    // so an interrupted issue is simply repeated.
    let bundle = bundle::prepare_device(bundles, device)?;
    let signing = SigningKey::generate()?;
    let signing_public_key_file = paths.device_signing_public_key(device);
    signing.write(&bundle.signing_key(), &signing_public_key_file)?;
    leaf::issue(
        Profile::Device { landlord, device },
        serial,
        validity(now, options.validity_days)?,
        &ca,
        &bundle.cert(),
        &bundle.key(),
    )?;
    let cert_pem = crate::files::read(&bundle.cert())?;
    bundle::write_public(&paths, &bundle, &cert_pem)?;
    crate::files::write_atomic(&cert, &cert_pem, crate::files::Secrecy::Public)?;
    bundle::remove_old_keys(&paths, device)?;

    Ok(IssuedDevice {
        landlord: landlord.to_owned(),
        device: device.to_owned(),
        serial,
        superseded_serial,
        signing_public_key: signing.public_key(),
        cert,
        signing_public_key_file,
        bundle,
    })
}
