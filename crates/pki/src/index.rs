//! `index.json`: the memory of the PKI directory. It hands out serial numbers (never twice, even
//! across `init --force`, so a CRL entry can only ever match the certificate it was meant for),
//! remembers every serial issued to each subject (so superseded certificates can still be
//! revoked after a rotation) and every revocation with its time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PkiError;
use crate::files::{self, Secrecy};

/// Serial 0 is not allowed by RFC 5280, so the first certificate gets 1.
const FIRST_SERIAL: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Index {
    pub next_serial: u64,
    /// The number of the last CRL written; each new CRL gets the next one.
    pub crl_number: u64,
    /// Subject key (see [`subject_key`]) to every certificate issued to it, oldest first.
    pub issued: BTreeMap<String, Vec<Issued>>,
    pub revoked: Vec<Revoked>,
    /// Every generation of the collector's downlink key made here, oldest first (absent from
    /// directories made before downlinks were signed).
    #[serde(default)]
    pub downlink_keys: Vec<KeyRecord>,
    /// Every generation of the platform's audit checkpoint key made here, oldest first (absent
    /// from directories made before the audit log).
    #[serde(default)]
    pub audit_keys: Vec<KeyRecord>,
}

/// One generation of a signing key (downlink or audit) and when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub key_id: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Issued {
    pub serial: u64,
    pub issued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Revoked {
    pub serial: u64,
    pub subject: String,
    pub revoked_at: DateTime<Utc>,
}

/// The index key of a credential, e.g. `device:dev-1`, `service:collector`, `gateway`, `ca`.
pub(crate) fn subject_key(kind: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{kind}:{name}"),
        None => kind.to_owned(),
    }
}

impl Default for Index {
    fn default() -> Self {
        Index {
            next_serial: FIRST_SERIAL,
            crl_number: 0,
            issued: BTreeMap::new(),
            revoked: Vec::new(),
            downlink_keys: Vec::new(),
            audit_keys: Vec::new(),
        }
    }
}

impl Index {
    /// Loads the index of an initialised directory; a missing one is an error, because
    /// starting from scratch would hand out serials again.
    pub fn load(path: &Path) -> Result<Self, PkiError> {
        if !path.exists() {
            return Err(PkiError::MissingIndex { path: path.to_owned() });
        }
        let text = files::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|source| PkiError::BadIndex { path: path.to_owned(), source })
    }

    /// Loads the index, or starts an empty one when there is none yet (only `init`, which makes
    /// a new CA, may do that).
    pub fn load_or_default(path: &Path) -> Result<Self, PkiError> {
        if path.exists() {
            Index::load(path)
        } else {
            Ok(Index::default())
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), PkiError> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|source| PkiError::BadIndex { path: path.to_owned(), source })?;
        text.push('\n');
        files::write_atomic(path, text.as_bytes(), Secrecy::Public)
    }

    /// Takes the next serial and records it against `subject`.
    pub fn issue(&mut self, subject: &str, at: DateTime<Utc>, path: &Path) -> Result<u64, PkiError> {
        let serial = self.next_serial;
        self.next_serial =
            serial.checked_add(1).ok_or_else(|| PkiError::SerialsExhausted { path: PathBuf::from(path) })?;
        self.issued.entry(subject.to_owned()).or_default().push(Issued { serial, issued_at: at });
        Ok(serial)
    }

    /// Every serial ever issued to `subject`.
    pub fn serials_of(&self, subject: &str) -> impl Iterator<Item = u64> + '_ {
        self.issued.get(subject).into_iter().flatten().map(|i| i.serial)
    }

    pub fn revocation(&self, serial: u64) -> Option<&Revoked> {
        self.revoked.iter().find(|r| r.serial == serial)
    }

    pub fn next_crl_number(&mut self) -> u64 {
        self.crl_number = self.crl_number.saturating_add(1);
        self.crl_number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_unique_and_remembered_per_subject() {
        let mut index = Index::default();
        let now = Utc::now();
        let p = Path::new("index.json");
        let a = index.issue("device:a", now, p).expect("serial");
        let b = index.issue("device:b", now, p).expect("serial");
        let a2 = index.issue("device:a", now, p).expect("serial");
        assert_eq!((a, b, a2), (1, 2, 3));
        assert_eq!(index.serials_of("device:a").collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(index.serials_of("device:c").count(), 0);
    }

    #[test]
    fn round_trips_through_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index.json");
        let mut index = Index::default();
        let serial = index.issue("ca", Utc::now(), &path).expect("serial");
        index.revoked.push(Revoked { serial, subject: "ca".into(), revoked_at: Utc::now() });
        index.next_crl_number();
        index.save(&path).expect("save");
        assert_eq!(Index::load(&path).expect("load"), index);
    }

    #[test]
    fn a_corrupt_index_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index.json");
        std::fs::write(&path, "{not json").expect("write");
        let err = Index::load(&path).expect_err("corrupt");
        assert!(err.to_string().contains("index.json"), "{err}");
    }
}
