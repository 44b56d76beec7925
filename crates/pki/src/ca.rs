//! The development root CA: created by `init`, loaded back from `ca.pem` + `ca-key.pem` (or its
//! passphrase-sealed `ca-key.pem.age`, see [`crate::ca_key`]) to sign
//! every later certificate and CRL.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber, PKCS_ECDSA_P256_SHA256,
};

use crate::error::PkiError;
use crate::files;
use crate::identity::DAMPWATCH_ORGANIZATION;
use crate::paths::Paths;
use crate::validity::Validity;

pub(crate) const CA_COMMON_NAME: &str = "Dampwatch Development CA";

/// A new self-signed CA with its key.
pub(crate) fn create(serial: u64, validity: Validity) -> Result<CertifiedIssuer<'static, KeyPair>, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    // Path length 0: this CA signs leaves only, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name.push(DnType::OrganizationName, DAMPWATCH_ORGANIZATION);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    Ok(CertifiedIssuer::self_signed(params, key)?)
}

/// The CA of an initialised directory, ready to sign.
pub(crate) fn load(paths: &Paths) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let ca_path = paths.ca_cert();
    if !ca_path.exists() {
        return Err(PkiError::NotInitialized { dir: paths.dir().to_owned(), ca: ca_path });
    }
    let ca_pem = files::read_to_string(&ca_path)?;
    let key_path = paths.ca_key();
    let key_pem = crate::ca_key::read(paths)?;
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|e| PkiError::BadKey { path: key_path.clone(), reason: e.to_string() })?;
    Issuer::from_ca_cert_pem(&ca_pem, key)
        .map_err(|e| PkiError::BadCertificate { path: ca_path, reason: e.to_string() })
}
