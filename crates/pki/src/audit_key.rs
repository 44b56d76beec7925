//! The platform's audit checkpoint keys: Ed25519 keys with which the services sign the head of
//! the audit log from time to time (`dampwatch-audit`), so that a log rewritten afterwards,
//! even with every hash recomputed, no longer matches a signature the database cannot make.
//!
//! Kept like the collector's downlink keys (see `downlink_key.rs`), in numbered generations:
//! the services sign with the newest. A verifier keeps every public key it was ever given,
//! since old checkpoints stay signed by old keys; so a rotation deletes the previous private
//! key at once (nothing needs to sign with it any more) and keeps its public key.
//!
//! Files (see [`crate::Paths`]): `DIR/audit/key-N.pem` (PKCS#8, 0600) and `DIR/audit/key-N.pub`
//! (hex); creation times in `index.json`.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::PkiError;
use crate::index::{Index, KeyRecord};
use crate::paths::Paths;
use crate::signing_key::{
    generations_in, load_signing_public_key, load_signing_seed, SigningKey, ED25519_KEY_LEN,
};

/// One generation of the audit checkpoint key. Holds no private key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKey {
    /// The generation; checkpoints it signs name it as `audit-key-N`.
    pub key_id: u32,
    pub public_key: [u8; ED25519_KEY_LEN],
    /// When it was made (unknown for a key written by hand).
    pub created: Option<DateTime<Utc>>,
    /// The private key file; absent once a newer generation replaced it.
    pub key: PathBuf,
    pub public_key_file: PathBuf,
}

impl AuditKey {
    /// The public key as 64 lowercase hex digits (as in `key-N.pub`).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key)
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, RFC 8410), the form
    /// `openssl pkey -pubin` reads.
    pub fn public_key_pem(&self) -> String {
        // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING { 0 unused bits, key } }
        const SPKI_PREFIX: [u8; 12] =
            [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.public_key);
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
    }
}

/// Makes the next generation of the audit key (generation 1 in a directory without one) and
/// deletes the previous generation's private key.
pub fn rotate_audit_key(dir: &Path) -> Result<AuditKey, PkiError> {
    let _lock = crate::dir_lock::lock(dir, false)?;
    let paths = Paths::new(dir);
    if !paths.ca_cert().exists() {
        return Err(PkiError::NotInitialized { dir: dir.to_owned(), ca: paths.ca_cert() });
    }
    let mut index = Index::load(&paths.index())?;
    rotate_with(&paths, &mut index, Utc::now())
}

/// [`rotate_audit_key`] inside an operation that holds the lock and the index (`init`).
pub(crate) fn rotate_with(
    paths: &Paths,
    index: &mut Index,
    now: DateTime<Utc>,
) -> Result<AuditKey, PkiError> {
    let previous = generations_in(&paths.audit_dir())?;
    let newest = previous.last().copied().unwrap_or(0);
    let key_id = newest.checked_add(1).ok_or(PkiError::KeyGeneration("audit key ids are exhausted"))?;
    let key = SigningKey::generate()?;
    let (private, public) = (paths.audit_key(key_id), paths.audit_public_key(key_id));
    key.write(&private, &public)?;
    index.audit_keys.push(KeyRecord { key_id, created_at: now });
    index.save(&paths.index())?;
    for old in previous {
        let old_key = paths.audit_key(old);
        match fs::remove_file(&old_key) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PkiError::io("cannot delete the replaced key", old_key, e)),
        }
    }
    Ok(AuditKey {
        key_id,
        public_key: key.public_key(),
        created: Some(now),
        key: private,
        public_key_file: public,
    })
}

/// Every generation ever made here (whose public key is still on disk), oldest first: what a
/// verifier of old exports must trust.
pub fn audit_keys(dir: &Path) -> Result<Vec<AuditKey>, PkiError> {
    let paths = Paths::new(dir);
    let index = Index::load_or_default(&paths.index())?;
    generations_in(&paths.audit_dir())?
        .into_iter()
        .map(|key_id| {
            let public_key_file = paths.audit_public_key(key_id);
            Ok(AuditKey {
                key_id,
                public_key: load_signing_public_key(&public_key_file)?,
                created: index.audit_keys.iter().find(|r| r.key_id == key_id).map(|r| r.created_at),
                key: paths.audit_key(key_id),
                public_key_file,
            })
        })
        .collect()
}

/// The key checkpoints are signed with: the newest generation with a private key, its id and
/// its seed. An error naming the command that makes one when there is none.
pub fn load_audit_signing_key(dir: &Path) -> Result<(u32, [u8; ED25519_KEY_LEN]), PkiError> {
    let paths = Paths::new(dir);
    let newest = generations_in(&paths.audit_dir())?
        .into_iter()
        .rev()
        .find(|g| paths.audit_key(*g).exists())
        .ok_or_else(|| PkiError::NoAuditKey { dir: dir.to_owned() })?;
    Ok((newest, load_signing_seed(&paths.audit_key(newest))?))
}

/// True when `dir` holds an audit key the services can sign with.
pub fn has_audit_signing_key(dir: &Path) -> bool {
    let paths = Paths::new(dir);
    generations_in(&paths.audit_dir()).is_ok_and(|g| g.iter().any(|g| paths.audit_key(*g).exists()))
}
