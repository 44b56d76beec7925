//! The device certificates against the CA and the CRL the pack carries: each certificate
//! chains to the CA (webpki, as a TLS server would check it), was valid when each of the
//! device's uplinks arrived, names the device and its landlord, and was not revoked at that
//! moment. The CRL lists every revocation with its date, so a certificate revoked after the
//! uplinks arrived still vouches for them, and one revoked before does not.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_pki::Identity;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use x509_parser::prelude::FromDer as _;

use crate::timestamp;

/// The CA and the revocations of its CRL.
pub struct Authority {
    anchor: TrustAnchor<'static>,
    /// Revoked serial (decimal) and when.
    revoked: BTreeMap<String, DateTime<Utc>>,
}

/// Why the CA or the CRL is unusable: (file, reason) is decided by the caller.
pub enum AuthorityError {
    Ca(String),
    Crl(String),
}

impl Authority {
    /// The CA certificate and its CRL (signed by it), both PEM.
    pub fn new(ca_pem: &[u8], crl_pem: &[u8]) -> Result<Authority, AuthorityError> {
        let ca = CertificateDer::from_pem_slice(ca_pem)
            .map_err(|e| AuthorityError::Ca(format!("not a PEM certificate: {e}")))?;
        let anchor = webpki::anchor_from_trusted_cert(&ca)
            .map_err(|e| AuthorityError::Ca(format!("not a usable CA certificate: {e}")))?
            .to_owned();
        let (_, ca_parsed) = x509_parser::certificate::X509Certificate::from_der(ca.as_ref())
            .map_err(|e| AuthorityError::Ca(format!("unreadable: {e}")))?;
        let crl = CertificateRevocationListDer::from_pem_slice(crl_pem)
            .map_err(|e| AuthorityError::Crl(format!("not a PEM CRL: {e}")))?;
        let (_, crl_parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(crl.as_ref())
            .map_err(|e| AuthorityError::Crl(format!("unreadable: {e}")))?;
        if crl_parsed.issuer().as_raw() != ca_parsed.subject().as_raw() {
            return Err(AuthorityError::Crl("not issued by the pack's CA".into()));
        }
        crl_parsed
            .verify_signature(ca_parsed.public_key())
            .map_err(|_| AuthorityError::Crl("signature does not verify with the CA's key".into()))?;
        let revoked = crl_parsed
            .iter_revoked_certificates()
            .map(|r| {
                let at = DateTime::from_timestamp(r.revocation_date.timestamp(), 0)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC);
                (r.serial().to_string(), at)
            })
            .collect();
        Ok(Authority { anchor, revoked })
    }

    /// Checks a device's certificate for `device` of `landlord` at every instant of `at`
    /// (the arrival of each of its uplinks); returns its serial (decimal).
    pub fn check_device(
        &self,
        cert_pem: &[u8],
        device: &str,
        landlord: &str,
        at: &[DateTime<Utc>],
    ) -> Result<String, String> {
        let cert =
            CertificateDer::from_pem_slice(cert_pem).map_err(|e| format!("not a PEM certificate: {e}"))?;
        let end_entity = webpki::EndEntityCert::try_from(&cert).map_err(|e| format!("unreadable: {e}"))?;
        match dampwatch_pki::identity_of(&cert) {
            Ok(Identity::Device { landlord: l, device: d }) if d == device && l == landlord => {}
            Ok(other) => return Err(format!("names {other:?}, not device {device} of {landlord}")),
            Err(e) => return Err(format!("carries no device identity: {e}")),
        }
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref())
            .map_err(|e| format!("unreadable: {e}"))?;
        let serial = parsed.serial.to_string();
        let revoked_at = self.revoked.get(&serial);
        for instant in at {
            let secs =
                u64::try_from(instant.timestamp()).map_err(|_| "an uplink predates 1970".to_owned())?;
            end_entity
                .verify_for_usage(
                    webpki::ALL_VERIFICATION_ALGS,
                    std::slice::from_ref(&self.anchor),
                    &[],
                    UnixTime::since_unix_epoch(Duration::from_secs(secs)),
                    webpki::KeyUsage::client_auth(),
                    None,
                    None,
                )
                .map_err(|e| format!("not valid from the CA at {}: {e}", timestamp::format(*instant)))?;
            if let Some(revoked_at) = revoked_at.filter(|r| **r <= *instant) {
                return Err(format!(
                    "revoked at {}, before an uplink that arrived at {}",
                    timestamp::format(*revoked_at),
                    timestamp::format(*instant)
                ));
            }
        }
        Ok(serial)
    }
}
