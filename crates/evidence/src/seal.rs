//! `seal.json`: the platform's signature over the manifest, made with its audit key (the key
//! that signs the audit log's checkpoints, `dampwatch pki audit-keys`), so a verifier trusts
//! one published public key for both. The manifest lists every other file's SHA-256, so the
//! signature covers the whole pack.
//!
//! Signed bytes: [`SEAL_DOMAIN`] || SHA-256(`manifest.json` as stored). The domain keeps the
//! signature from passing for an audit checkpoint, an uplink or a downlink.

use std::path::Path;

use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{hexbytes, layout};

/// The first bytes of the signed message.
pub const SEAL_DOMAIN: &[u8] = b"dampwatch-evidence-manifest-v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// Which audit key generation signed, for people (`audit-key-2`); the verifier tries
    /// every key it trusts, never a key named here.
    pub key_id: String,
    #[serde(with = "hexbytes::fixed32")]
    pub manifest_sha256: [u8; 32],
    /// Ed25519 signature, 64 bytes.
    #[serde(with = "hexbytes")]
    pub signature: Vec<u8>,
}

/// The signed message for a manifest's bytes.
pub fn seal_message(manifest: &[u8]) -> Vec<u8> {
    let mut m = SEAL_DOMAIN.to_vec();
    m.extend_from_slice(&Sha256::digest(manifest));
    m
}

impl Seal {
    /// Whether the seal signs `manifest` with one of `trusted`: `(file, reason)` otherwise.
    pub fn verify(&self, manifest: &[u8], trusted: &[[u8; 32]]) -> Result<(), (&'static str, String)> {
        if self.manifest_sha256 != <[u8; 32]>::from(Sha256::digest(manifest)) {
            return Err((layout::MANIFEST, "its SHA-256 is not the one the seal signs".into()));
        }
        let message = seal_message(manifest);
        if trusted
            .iter()
            .any(|key| UnparsedPublicKey::new(&ED25519, key).verify(&message, &self.signature).is_ok())
        {
            Ok(())
        } else {
            Err((layout::SEAL, "signature not from a trusted key".into()))
        }
    }
}

/// The platform's audit key, ready to seal packs. Deliberately no `Debug`: it holds a
/// private key.
pub struct PackSigner {
    key: Ed25519KeyPair,
    key_id: String,
}

impl PackSigner {
    /// The newest audit key of a PKI directory (`DIR/audit/key-N.pem`), named `audit-key-N`
    /// like the audit checkpoints it also signs.
    pub fn load(pki_dir: &Path) -> Result<PackSigner, crate::EvidenceError> {
        let (generation, seed) = dampwatch_pki::load_audit_signing_key(pki_dir)?;
        PackSigner::from_seed(format!("audit-key-{generation}"), &seed)
    }

    pub fn from_seed(key_id: impl Into<String>, seed: &[u8; 32]) -> Result<PackSigner, crate::EvidenceError> {
        let key_id = key_id.into();
        let key = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| crate::EvidenceError::UnusableKey(key_id.clone()))?;
        Ok(PackSigner { key, key_id })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The seal of `manifest` (its bytes as stored).
    pub fn seal(&self, manifest: &[u8]) -> Seal {
        Seal {
            key_id: self.key_id.clone(),
            manifest_sha256: Sha256::digest(manifest).into(),
            signature: self.key.sign(&seal_message(manifest)).as_ref().to_vec(),
        }
    }
}
