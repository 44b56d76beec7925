//! The certificate revocation list the gateway enforces: loaded from `crl.pem`, which must
//! exist (a gateway without it would admit every revoked device), with the serial numbers it
//! revokes and the time its issuer promised the next one by (nextUpdate).
//!
//! A CRL past its nextUpdate is stale: revocations made since may be missing. It still revokes
//! everything it lists, so the gateway keeps enforcing it; whether devices are admitted at all
//! meanwhile is the operator's choice (`tls.stale_crl`).

use crate::tls::TlsError;
use rustls_pki_types::CertificateRevocationListDer;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// A parsed `crl.pem`.
pub struct Crl {
    pub lists: Vec<CertificateRevocationListDer<'static>>,
    pub revoked_serials: HashSet<Vec<u8>>,
    /// The earliest nextUpdate of the lists in the file; `None` if none names one.
    pub next_update: Option<SystemTime>,
}

impl Crl {
    /// Reads the file; a missing, empty or unparseable one is an error, never "nothing revoked".
    pub fn load(path: &Path) -> Result<Crl, TlsError> {
        if !path.exists() {
            return Err(TlsError::CrlMissing(path.to_owned()));
        }
        let lists = dampwatch_pki::load_crls(path)?;
        let mut revoked_serials = HashSet::new();
        let mut next_update: Option<SystemTime> = None;
        for der in &lists {
            let (_, list) = CertificateRevocationList::from_der(der.as_ref())
                .map_err(|e| TlsError::Crl(format!("{}: {e}", path.display())))?;
            revoked_serials.extend(list.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()));
            if let Some(t) = list.next_update() {
                let t = system_time(t.timestamp());
                next_update = Some(next_update.map_or(t, |n| n.min(t)));
            }
        }
        Ok(Crl { lists, revoked_serials, next_update })
    }
}

/// True if a CRL with this nextUpdate is past it at `now`.
pub fn is_stale(next_update: Option<SystemTime>, now: SystemTime) -> bool {
    next_update.is_some_and(|t| now > t)
}

/// Seconds since the Unix epoch (as certificates and CRLs count) as a `SystemTime`; times
/// before 1970 are taken as 1970.
pub fn system_time(unix_seconds: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_seconds).unwrap_or(0))
}

/// What to do while the CRL in force is past its nextUpdate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleCrl {
    /// Keep admitting devices, still refusing every one the CRL revokes, and report it.
    Serve,
    /// Refuse new device connections until a current CRL arrives (services still connect).
    RefuseDevices,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crl_is_stale_only_after_its_next_update() {
        let t = system_time(1_700_000_000);
        assert!(!is_stale(Some(t), t));
        assert!(is_stale(Some(t), t + Duration::from_secs(1)));
        assert!(!is_stale(None, t), "a CRL that promises no update is never stale");
    }

    #[test]
    fn a_missing_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crl.pem");
        let e = Crl::load(&path).err().expect("refused");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        std::fs::write(&path, "not a CRL").unwrap();
        assert!(Crl::load(&path).is_err(), "garbage is not an empty list");
    }
}
