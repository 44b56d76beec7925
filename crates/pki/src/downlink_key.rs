//! The collector's downlink signing keys: Ed25519 keys with which the collector signs every
//! commit acknowledgement and configuration it sends a device, so that nobody else who can
//! publish on a device's topics can make it forget readings or change its settings.
//!
//! Keys come in generations, numbered from 1; the number is the `key_id` in every signed
//! downlink. The collector signs with the newest; devices are provisioned with the newest two
//! ([`trusted_downlink_keys`]), so a rotation overlaps: `rotate-downlink-key` makes generation
//! N+1, the devices are given keys N and N+1, and from its next start the collector signs with
//! N+1 while devices still accept N. The rotation also deletes the private key of generation
//! N-1, which no device trusts any more (its public key stays, for the record).
//!
//! Files (see [`crate::Paths`]): `DIR/downlink/key-N.pem` (PKCS#8, 0600) and
//! `DIR/downlink/key-N.pub` (hex); creation times in `index.json`.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::PkiError;
use crate::index::{Index, KeyRecord};
use crate::paths::Paths;
use crate::signing_key::{load_signing_public_key, load_signing_seed, SigningKey, ED25519_KEY_LEN};

/// How many generations a device is provisioned with.
pub const TRUSTED_DOWNLINK_KEYS: usize = 2;

/// One generation of the collector's downlink key. Holds no private key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownlinkKey {
    /// The generation, named as `key_id` in every downlink it signs.
    pub key_id: u32,
    pub public_key: [u8; ED25519_KEY_LEN],
    /// When it was made (unknown for a key written by hand).
    pub created: Option<DateTime<Utc>>,
    /// The private key file; absent once the key is retired.
    pub key: PathBuf,
    pub public_key_file: PathBuf,
}

impl DownlinkKey {
    /// The public key as 64 lowercase hex digits (as in `key-N.pub`).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key)
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new key, which the collector signs with from its next start.
    pub created: DownlinkKey,
    /// The generation whose private key was deleted, if any.
    pub retired: Option<u32>,
}

/// Makes the next generation of the downlink key (generation 1 in a directory without one) and
/// deletes the private key of the generation before the previous one.
pub fn rotate_downlink_key(dir: &Path) -> Result<Rotation, PkiError> {
    let _lock = crate::dir_lock::lock(dir, false)?;
    let paths = Paths::new(dir);
    if !paths.ca_cert().exists() {
        return Err(PkiError::NotInitialized { dir: dir.to_owned(), ca: paths.ca_cert() });
    }
    let mut index = Index::load(&paths.index())?;
    rotate_with(&paths, &mut index, Utc::now())
}

/// [`rotate_downlink_key`] inside an operation that holds the lock and the index (`init`).
pub(crate) fn rotate_with(
    paths: &Paths,
    index: &mut Index,
    now: DateTime<Utc>,
) -> Result<Rotation, PkiError> {
    let newest = generations(paths)?.last().copied().unwrap_or(0);
    let key_id = newest.checked_add(1).ok_or(PkiError::KeyGeneration("downlink key ids are exhausted"))?;
    let key = SigningKey::generate()?;
    let (private, public) = (paths.downlink_key(key_id), paths.downlink_public_key(key_id));
    key.write(&private, &public)?;
    index.downlink_keys.push(KeyRecord { key_id, created_at: now });
    index.save(&paths.index())?;
    let mut retired = None;
    if let Some(old) = key_id.checked_sub(TRUSTED_DOWNLINK_KEYS as u32).filter(|g| *g > 0) {
        let old_key = paths.downlink_key(old);
        match fs::remove_file(&old_key) {
            Ok(()) => retired = Some(old),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PkiError::io("cannot delete the retired key", old_key, e)),
        }
    }
    let created = DownlinkKey {
        key_id,
        public_key: key.public_key(),
        created: Some(now),
        key: private,
        public_key_file: public,
    };
    Ok(Rotation { created, retired })
}

/// Every generation whose private key is still on disk, oldest first: at most the two that
/// devices trust.
pub fn downlink_keys(dir: &Path) -> Result<Vec<DownlinkKey>, PkiError> {
    let paths = Paths::new(dir);
    let index = Index::load_or_default(&paths.index())?;
    generations(&paths)?
        .into_iter()
        .filter(|g| paths.downlink_key(*g).exists())
        .map(|key_id| {
            let public_key_file = paths.downlink_public_key(key_id);
            Ok(DownlinkKey {
                key_id,
                public_key: load_signing_public_key(&public_key_file)?,
                created: index.downlink_keys.iter().find(|r| r.key_id == key_id).map(|r| r.created_at),
                key: paths.downlink_key(key_id),
                public_key_file,
            })
        })
        .collect()
}

/// The collector's public keys a device is provisioned with: the newest
/// [`TRUSTED_DOWNLINK_KEYS`] generations, oldest first. An error naming the command that makes
/// one when there is none.
pub fn trusted_downlink_keys(dir: &Path) -> Result<Vec<DownlinkKey>, PkiError> {
    let mut keys = downlink_keys(dir)?;
    if keys.is_empty() {
        return Err(PkiError::NoDownlinkKey { dir: dir.to_owned() });
    }
    let skip = keys.len().saturating_sub(TRUSTED_DOWNLINK_KEYS);
    Ok(keys.split_off(skip))
}

/// The key the collector signs downlinks with: the newest generation, its id and its seed.
pub fn load_downlink_signing_key(dir: &Path) -> Result<(u32, [u8; ED25519_KEY_LEN]), PkiError> {
    let paths = Paths::new(dir);
    let newest = generations(&paths)?
        .into_iter()
        .rev()
        .find(|g| paths.downlink_key(*g).exists())
        .ok_or_else(|| PkiError::NoDownlinkKey { dir: dir.to_owned() })?;
    Ok((newest, load_signing_seed(&paths.downlink_key(newest))?))
}

/// Generation numbers with a public key file, ascending.
fn generations(paths: &Paths) -> Result<Vec<u32>, PkiError> {
    crate::signing_key::generations_in(&paths.downlink_dir())
}
