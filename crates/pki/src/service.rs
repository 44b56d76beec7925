//! Service client certificates (CN = service name, O = dampwatch, OU = service): how the
//! collector and any later Dampwatch service prove to the gateway that they are not a device.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rcgen::{Issuer, KeyPair};

use crate::ca;
use crate::error::{check_id, IdKind, PkiError};
use crate::index::{subject_key, Index};
use crate::leaf::{self, Profile};
use crate::paths::Paths;
use crate::validity::{check_days, validity, DEFAULT_VALIDITY_DAYS};

/// How to issue a device or service certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueOptions {
    /// Lifetime in days (1 to [`crate::MAX_VALIDITY_DAYS`]).
    pub validity_days: u32,
    /// Re-issue over an existing certificate (rotation). The old serial stays in the index, so
    /// the superseded certificate can still be revoked.
    pub force: bool,
}

impl Default for IssueOptions {
    fn default() -> Self {
        IssueOptions { validity_days: DEFAULT_VALIDITY_DAYS, force: false }
    }
}

/// What was issued to a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedService {
    pub name: String,
    pub serial: u64,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Issues `DIR/services/NAME/{cert,key}.pem`. The name follows the id rule.
pub fn issue_service(dir: &Path, name: &str, options: IssueOptions) -> Result<IssuedService, PkiError> {
    check_id(IdKind::Service, name)?;
    check_days(options.validity_days)?;
    let _lock = crate::dir_lock::lock(dir, false)?;
    let paths = Paths::new(dir);
    let ca = ca::load(&paths)?;
    let cert = paths.service_cert(name);
    if cert.exists() && !options.force {
        return Err(PkiError::AlreadyIssued { kind: IdKind::Service, name: name.to_owned(), path: cert });
    }
    let mut index = Index::load(&paths.index())?;
    let issued = issue_with(&paths, &mut index, &ca, name, options.validity_days, Utc::now())?;
    Ok(issued)
}

/// Reserves a serial (saving the index), then writes the service's key and certificate.
pub(crate) fn issue_with(
    paths: &Paths,
    index: &mut Index,
    ca: &Issuer<'_, KeyPair>,
    name: &str,
    validity_days: u32,
    now: DateTime<Utc>,
) -> Result<IssuedService, PkiError> {
    let index_path = paths.index();
    let serial = index.issue(&subject_key("service", Some(name)), now, &index_path)?;
    index.save(&index_path)?;
    let (cert, key) = (paths.service_cert(name), paths.service_key(name));
    leaf::issue(Profile::Service { name }, serial, validity(now, validity_days)?, ca, &cert, &key)?;
    Ok(IssuedService { name: name.to_owned(), serial, cert, key })
}
