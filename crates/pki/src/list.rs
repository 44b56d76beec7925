//! `list`: every credential in a PKI directory, how old it is and whether it is due for
//! rotation.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::cert_info;
use crate::error::PkiError;
use crate::index::Index;
use crate::paths::Paths;

/// Credentials younger than this are current.
pub const ROTATION_DUE_DAYS: i64 = 60;
/// Credentials this old or older are overdue for rotation.
pub const ROTATION_OVERDUE_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredentialKind {
    Ca,
    Gateway,
    /// The HTTPS server certificate of the landlord API listener.
    Web,
    Service,
    Device,
    /// The collector's downlink signing key (not a certificate).
    DownlinkKey,
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialKind::Ca => "ca",
            CredentialKind::Gateway => "gateway",
            CredentialKind::Web => "web",
            CredentialKind::Service => "service",
            CredentialKind::Device => "device",
            CredentialKind::DownlinkKey => "downlink-key",
        })
    }
}

/// Where a credential stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStatus {
    /// Younger than 60 days.
    Current,
    /// 60 to 90 days old: plan the rotation.
    DueSoon,
    /// 90 days or older: rotate now.
    Overdue,
    /// Past its notAfter: no verifier accepts it any more.
    Expired,
    /// On the CRL.
    Revoked,
    /// A downlink key a newer generation replaced: devices still trust it while they are moved
    /// over, the collector no longer signs with it.
    Superseded,
}

impl RotationStatus {
    /// The status of a credential that is neither revoked nor expired, by age in whole days.
    pub fn for_age(age_days: i64) -> Self {
        if age_days < ROTATION_DUE_DAYS {
            RotationStatus::Current
        } else if age_days < ROTATION_OVERDUE_DAYS {
            RotationStatus::DueSoon
        } else {
            RotationStatus::Overdue
        }
    }
}

impl fmt::Display for RotationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RotationStatus::Current => "current",
            RotationStatus::DueSoon => "due soon",
            RotationStatus::Overdue => "overdue",
            RotationStatus::Expired => "expired",
            RotationStatus::Revoked => "revoked",
            RotationStatus::Superseded => "superseded",
        })
    }
}

/// One certificate (or downlink key) of the PKI directory, seen at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub kind: CredentialKind,
    /// `ca`, `gateway`, `web`, the service name, the device id, or `collector-N` for generation N of
    /// the downlink key.
    pub name: String,
    /// The certificate subject, e.g. `CN=dev-1, O=landlord-1`; for a downlink key, its key id
    /// and public key.
    pub subject: String,
    /// The certificate serial; for a downlink key, its key id.
    pub serial: u64,
    /// notBefore; for a downlink key, when it was made.
    pub issued: DateTime<Utc>,
    /// notAfter; a downlink key does not expire, it is rotated.
    pub expires: Option<DateTime<Utc>>,
    /// Whole days since `issued`.
    pub age_days: i64,
    pub status: RotationStatus,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The certificate file; for a downlink key, its public key file.
    pub cert: PathBuf,
}

/// Every credential in `dir` as of `now`: the CA, the gateway, the API listener, the services, the devices and
/// the collector's downlink keys, in that order (names sorted, keys by generation). Revoked
/// beats expired beats the age-based status; every downlink key but the newest is superseded.
pub fn list(dir: &Path, now: DateTime<Utc>) -> Result<Vec<Credential>, PkiError> {
    let paths = Paths::new(dir);
    if !paths.ca_cert().exists() {
        return Err(PkiError::NotInitialized { dir: dir.to_owned(), ca: paths.ca_cert() });
    }
    let index = Index::load(&paths.index())?;
    let mut found = vec![(CredentialKind::Ca, "ca".to_owned(), paths.ca_cert())];
    if paths.gateway_cert().exists() {
        found.push((CredentialKind::Gateway, "gateway".to_owned(), paths.gateway_cert()));
    }
    if paths.web_cert().exists() {
        found.push((CredentialKind::Web, "web".to_owned(), paths.web_cert()));
    }
    for name in subdirectories(&paths.services_dir())? {
        let cert = paths.service_cert(&name);
        found.push((CredentialKind::Service, name, cert));
    }
    for name in subdirectories(&paths.devices_dir())? {
        let cert = paths.device_cert(&name);
        found.push((CredentialKind::Device, name, cert));
    }
    let mut credentials = found
        .into_iter()
        .filter(|(_, _, cert)| cert.exists())
        .map(|(kind, name, cert)| credential(kind, name, cert, &index, now))
        .collect::<Result<Vec<_>, _>>()?;
    let keys = crate::downlink_key::downlink_keys(dir)?;
    let newest = keys.last().map(|k| k.key_id);
    for key in keys {
        credentials.push(downlink_credential(key, newest, now)?);
    }
    Ok(credentials)
}

fn downlink_credential(
    key: crate::DownlinkKey,
    newest: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Credential, PkiError> {
    let issued = match key.created {
        Some(at) => at,
        // A key copied in by hand has no record: its file's age is the best there is.
        None => fs::metadata(&key.public_key_file)
            .and_then(|m| m.modified())
            .map(DateTime::<Utc>::from)
            .map_err(|e| PkiError::io("cannot read the age of", &key.public_key_file, e))?,
    };
    let age_days = (now - issued).num_days().max(0);
    let status = if Some(key.key_id) == newest {
        RotationStatus::for_age(age_days)
    } else {
        RotationStatus::Superseded
    };
    Ok(Credential {
        kind: CredentialKind::DownlinkKey,
        name: format!("collector-{}", key.key_id),
        subject: format!("key id {}, Ed25519 {}", key.key_id, key.public_key_hex()),
        serial: u64::from(key.key_id),
        issued,
        expires: None,
        age_days,
        status,
        revoked_at: None,
        cert: key.public_key_file,
    })
}

fn credential(
    kind: CredentialKind,
    name: String,
    cert: PathBuf,
    index: &Index,
    now: DateTime<Utc>,
) -> Result<Credential, PkiError> {
    let info = cert_info::read(&cert)?;
    let age_days = (now - info.not_before).num_days().max(0);
    let revoked_at = index.revocation(info.serial).map(|r| r.revoked_at);
    let status = if revoked_at.is_some() {
        RotationStatus::Revoked
    } else if now > info.not_after {
        RotationStatus::Expired
    } else {
        RotationStatus::for_age(age_days)
    };
    Ok(Credential {
        kind,
        name,
        subject: info.subject,
        serial: info.serial,
        issued: info.not_before,
        expires: Some(info.not_after),
        age_days,
        status,
        revoked_at,
        cert,
    })
}

/// Sorted names of the directories inside `dir` (none if it does not exist).
pub(crate) fn subdirectories(dir: &Path) -> Result<Vec<String>, PkiError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PkiError::io("cannot list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PkiError::io("cannot list", dir, e))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_boundaries_are_60_and_90_days() {
        assert_eq!(RotationStatus::for_age(0), RotationStatus::Current);
        assert_eq!(RotationStatus::for_age(59), RotationStatus::Current);
        assert_eq!(RotationStatus::for_age(60), RotationStatus::DueSoon);
        assert_eq!(RotationStatus::for_age(89), RotationStatus::DueSoon);
        assert_eq!(RotationStatus::for_age(90), RotationStatus::Overdue);
        assert_eq!(RotationStatus::for_age(400), RotationStatus::Overdue);
    }
}
