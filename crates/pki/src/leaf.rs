//! The four kinds of end-entity certificate and what goes into each. All keys are ECDSA P-256:
//! small enough for a sensor's TLS stack, supported everywhere.

use std::path::Path;

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};

use crate::error::PkiError;
use crate::files::{self, Secrecy};
use crate::identity::{DAMPWATCH_ORGANIZATION, SERVICE_UNIT};
use crate::validity::Validity;

/// The names the development gateway answers to: it listens on loopback.
pub const GATEWAY_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
pub(crate) const GATEWAY_COMMON_NAME: &str = "gateway";
pub(crate) const WEB_COMMON_NAME: &str = "web";

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Profile<'a> {
    /// TLS server of the gateway.
    Gateway,
    /// HTTPS server of the landlord API listener, for the host names and addresses clients use.
    Web { names: &'a crate::web::WebNames },
    /// TLS client of a Dampwatch service (the collector, ...).
    Service { name: &'a str },
    /// TLS client of one device of one landlord.
    Device { landlord: &'a str, device: &'a str },
}

impl Profile<'_> {
    fn params(&self) -> Result<CertificateParams, PkiError> {
        let mut params;
        match *self {
            Profile::Gateway => {
                params = CertificateParams::new(GATEWAY_NAMES.map(String::from).to_vec())?;
                params.distinguished_name.push(DnType::CommonName, GATEWAY_COMMON_NAME);
                params.distinguished_name.push(DnType::OrganizationName, DAMPWATCH_ORGANIZATION);
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }
            Profile::Web { names } => {
                params = CertificateParams::new(Vec::<String>::new())?;
                params.subject_alt_names = names.subject_alt_names()?;
                params.distinguished_name.push(DnType::CommonName, WEB_COMMON_NAME);
                params.distinguished_name.push(DnType::OrganizationName, DAMPWATCH_ORGANIZATION);
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }
            Profile::Service { name } => {
                params = CertificateParams::new(Vec::<String>::new())?;
                params.distinguished_name.push(DnType::CommonName, name);
                params.distinguished_name.push(DnType::OrganizationName, DAMPWATCH_ORGANIZATION);
                params.distinguished_name.push(DnType::OrganizationalUnitName, SERVICE_UNIT);
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            Profile::Device { landlord, device } => {
                params = CertificateParams::new(Vec::<String>::new())?;
                params.distinguished_name.push(DnType::CommonName, device);
                params.distinguished_name.push(DnType::OrganizationName, landlord);
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
        }
        // ECDSA keys only sign (the TLS handshake); they never encipher keys.
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }
}

/// A new key and a certificate for it, signed by the CA, written as `cert_path` and
/// `key_path` (0600). The key is written first: a certificate without its key is useless, a key
/// without its certificate is merely re-issued.
pub(crate) fn issue(
    profile: Profile<'_>,
    serial: u64,
    validity: Validity,
    ca: &Issuer<'_, KeyPair>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), PkiError> {
    let mut params = profile.params()?;
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.signed_by(&key, ca)?;
    files::write_atomic(key_path, key.serialize_pem().as_bytes(), Secrecy::Private)?;
    files::write_atomic(cert_path, cert.pem().as_bytes(), Secrecy::Public)
}
