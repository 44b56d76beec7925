//! `crl.pem`: the list of revoked serials, signed by the CA. Rewritten whole from the index on
//! every change, so it can never drift from what the index says was revoked.

use chrono::{DateTime, Duration, Utc};
use rcgen::{CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber};

use crate::error::PkiError;
use crate::files::{self, Secrecy};
use crate::index::Index;
use crate::paths::Paths;
use crate::validity::to_asn1;

/// A CRL promises its next update within a week: long enough for a development setup left alone
/// over a weekend, short enough that a verifier enforcing expiry notices a stalled PKI.
pub const CRL_NEXT_UPDATE: Duration = Duration::days(7);

/// Signs a CRL of everything `index` lists as revoked with the next CRL number and writes it.
/// The caller saves the index afterwards (it holds the new CRL number).
pub(crate) fn write(
    paths: &Paths,
    index: &mut Index,
    ca: &Issuer<'_, KeyPair>,
    now: DateTime<Utc>,
) -> Result<(), PkiError> {
    let revoked_certs = index
        .revoked
        .iter()
        .map(|r| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from(r.serial),
                revocation_time: to_asn1(r.revoked_at)?,
                reason_code: None,
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    let params = CertificateRevocationListParams {
        this_update: to_asn1(now)?,
        next_update: to_asn1(now + CRL_NEXT_UPDATE)?,
        crl_number: SerialNumber::from(index.next_crl_number()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(ca)?;
    files::write_atomic(&paths.crl(), crl.pem()?.as_bytes(), Secrecy::Public)
}
