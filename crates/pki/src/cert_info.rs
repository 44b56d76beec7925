//! The few facts `list` and `revoke` read back from a certificate file.

use std::path::Path;

use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::PkiError;
use crate::validity::from_asn1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    pub serial: u64,
    /// As `openssl` would print it, e.g. `CN=dev-1, O=landlord-1`.
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

pub(crate) fn read(path: &Path) -> Result<CertInfo, PkiError> {
    let bad = |reason: String| PkiError::BadCertificate { path: path.to_owned(), reason };
    let der = CertificateDer::from_pem_file(path)
        .map_err(|source| PkiError::Pem { path: path.to_owned(), source })?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| bad(e.to_string()))?;
    let serial =
        serial_u64(cert.raw_serial()).ok_or_else(|| bad("serial number longer than 64 bits".into()))?;
    let validity = cert.validity();
    let not_before = from_asn1(validity.not_before).ok_or_else(|| bad("notBefore out of range".into()))?;
    let not_after = from_asn1(validity.not_after).ok_or_else(|| bad("notAfter out of range".into()))?;
    Ok(CertInfo { serial, subject: cert.subject().to_string(), not_before, not_after })
}

/// A DER INTEGER's content bytes as `u64`. Every serial this PKI issues fits; DER may add one
/// leading zero byte to keep the number positive.
fn serial_u64(bytes: &[u8]) -> Option<u64> {
    let significant = match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None => &[],
    };
    if significant.len() > 8 {
        return None;
    }
    Some(significant.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::serial_u64;

    #[test]
    fn serials_decode_from_der_integers() {
        assert_eq!(serial_u64(&[0x01]), Some(1));
        assert_eq!(serial_u64(&[0x00, 0x80]), Some(128));
        assert_eq!(serial_u64(&[0x00, 0xff, 0, 0, 0, 0, 0, 0, 0x01]), Some(0xff00_0000_0000_0001));
        assert_eq!(serial_u64(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }
}
