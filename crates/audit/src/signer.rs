//! The platform's audit key, ready to sign checkpoints.

use std::path::Path;

use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::error::AuditError;

/// An Ed25519 key that signs checkpoints. Deliberately no `Debug`: it holds a private key.
pub struct CheckpointSigner {
    key: Ed25519KeyPair,
    key_id: String,
}

impl CheckpointSigner {
    /// The newest audit key of a PKI directory (`DIR/audit/key-N.pem`, made by `dampwatch pki
    /// init`); checkpoints name it `audit-key-N`.
    pub fn load(pki_dir: &Path) -> Result<CheckpointSigner, AuditError> {
        let (generation, seed) = dampwatch_pki::load_audit_signing_key(pki_dir)?;
        CheckpointSigner::from_seed(format!("audit-key-{generation}"), &seed)
    }

    /// A signer from a raw Ed25519 seed; `key_id` is stored with each checkpoint for people
    /// to read (verification tries every trusted key, it never looks keys up by this name).
    pub fn from_seed(key_id: impl Into<String>, seed: &[u8; 32]) -> Result<CheckpointSigner, AuditError> {
        let key_id = key_id.into();
        let key =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| AuditError::UnusableKey(key_id.clone()))?;
        Ok(CheckpointSigner { key, key_id })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.key.public_key().as_ref());
        out
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.key.sign(message).as_ref());
        out
    }
}
