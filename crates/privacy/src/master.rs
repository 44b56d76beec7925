//! The top of the key hierarchy: a master key that wraps (encrypts) each landlord's data keys.
//!
//! The database holds only wrapped data keys; the master key stays outside it (a file readable
//! by the operator alone today, a cloud KMS later through the same [`MasterKey`] trait). A
//! wrapped key is AES-256-GCM under the master key, bound to its landlord and generation, so a
//! wrapped key copied to another landlord's row does not unwrap.

use std::fmt;
use std::path::Path;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::error::PrivacyError;

/// Length of every key here: AES-256.
pub const KEY_LEN: usize = 32;

/// A landlord's 32-byte data key, in memory only while it is used. Wiped when dropped; its
/// `Debug` never shows the bytes.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A new random data key.
    pub fn generate() -> Result<Self, PrivacyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new().fill(bytes.as_mut()).map_err(|_| PrivacyError::Random)?;
        Ok(DataKey(bytes))
    }

    /// A data key from its bytes: for a [`MasterKey`] implementation's `unwrap`.
    pub fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        DataKey(bytes)
    }

    /// The key's bytes: for a [`MasterKey`] implementation's `wrap`, never to be stored or
    /// logged.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// ring's AES-GCM key for these bytes. ring keeps its own expanded key schedule, which it
    /// does not wipe: callers hold it only for the one operation.
    pub(crate) fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, self.0.as_ref()).expect("32 bytes is an AES-256 key"))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// What a master key does: wrap and unwrap a landlord's data key. `context` binds the wrapped
/// key to its landlord and generation (a KMS's encryption context).
pub trait MasterKey: Send + Sync {
    /// Stored beside each wrapped key, so a key wrapped under another master key is refused by
    /// name rather than by a failed decryption.
    fn id(&self) -> &str;
    fn wrap(&self, key: &DataKey, context: &WrapContext<'_>) -> Result<Vec<u8>, PrivacyError>;
    fn unwrap(&self, wrapped: &[u8], context: &WrapContext<'_>) -> Result<DataKey, PrivacyError>;
}

/// Which key is wrapped: the landlord and the generation.
#[derive(Debug, Clone, Copy)]
pub struct WrapContext<'a> {
    pub landlord_id: &'a str,
    pub generation: u32,
}

impl WrapContext<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"dampwatch data key v1\0".to_vec();
        aad.extend_from_slice(&(self.landlord_id.len() as u32).to_be_bytes());
        aad.extend_from_slice(self.landlord_id.as_bytes());
        aad.extend_from_slice(&self.generation.to_be_bytes());
        aad
    }
}

/// A master key kept in a file: 64 hexadecimal digits (32 random bytes), readable and writable
/// by its owner only (mode 0600; anything more open is refused).
pub struct MasterKeyFile {
    key: Zeroizing<[u8; KEY_LEN]>,
    id: String,
}

impl fmt::Debug for MasterKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeyFile").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKeyFile {
    /// Writes a new random master key to `path`, which must not exist yet, with mode 0600.
    pub fn generate(path: &Path) -> Result<Self, PrivacyError> {
        crate::key_file::write_new(path).map(Self::from_key)
    }

    /// Reads a master key file, refusing one that others may read or write.
    pub fn open(path: &Path) -> Result<Self, PrivacyError> {
        crate::key_file::read(path).map(Self::from_key)
    }

    fn from_key(key: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let id = crate::key_file::id_of(&key);
        MasterKeyFile { key, id }
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, self.key.as_ref()).expect("32 bytes is an AES-256 key"),
        )
    }
}

impl MasterKey for MasterKeyFile {
    fn id(&self) -> &str {
        &self.id
    }

    /// `nonce (12) || AES-256-GCM(data key) (32) || tag (16)`.
    fn wrap(&self, key: &DataKey, context: &WrapContext<'_>) -> Result<Vec<u8>, PrivacyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| PrivacyError::Random)?;
        let mut out = nonce.to_vec();
        let mut body = key.as_bytes().to_vec();
        let result = self.aead().seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.aad()),
            &mut body,
        );
        if result.is_err() {
            body.zeroize();
            return Err(PrivacyError::Seal);
        }
        out.extend_from_slice(&body);
        Ok(out)
    }

    fn unwrap(&self, wrapped: &[u8], context: &WrapContext<'_>) -> Result<DataKey, PrivacyError> {
        let refused = || PrivacyError::UnwrapFailed {
            landlord: context.landlord_id.to_owned(),
            generation: context.generation,
            master_key_id: self.id.clone(),
        };
        if wrapped.len() != NONCE_LEN + KEY_LEN + AES_256_GCM.tag_len() {
            return Err(refused());
        }
        let (nonce, body) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut body = Zeroizing::new(body.to_vec());
        let plain =
            self.aead().open_in_place(nonce, Aad::from(context.aad()), &mut body).map_err(|_| refused())?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(plain);
        Ok(DataKey::from_bytes(key))
    }
}
