//! An Ed25519 signing key. A device's signs every uplink, apart from the TLS key, so a reading
//! stays attributable to the device after it has left the TLS connection; the collector's
//! downlink keys (see `downlink_key.rs`) are of the same form.
//!
//! Stored as PKCS#8 v1 PEM (`PRIVATE KEY`, the 32-byte seed only), the form `openssl pkey`
//! reads and the firmware signer takes; the public key is stored next to it as 64 hex digits.

use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::PkiError;
use crate::files::{self, Secrecy};

/// Length of an Ed25519 seed and of an Ed25519 public key.
pub const ED25519_KEY_LEN: usize = 32;

/// PKCS#8 v1 (RFC 8410) for Ed25519: SEQUENCE { version 0, AlgorithmIdentifier { 1.3.101.112 },
/// OCTET STRING { OCTET STRING seed } }, everything before the seed.
const PKCS8_V1_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
/// A freshly generated signing key. Deliberately no `Debug`: the seed must never be printed.
pub(crate) struct SigningKey {
    seed: [u8; ED25519_KEY_LEN],
    public: [u8; ED25519_KEY_LEN],
}

impl SigningKey {
    pub fn generate() -> Result<Self, PkiError> {
        let mut seed = [0u8; ED25519_KEY_LEN];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| PkiError::KeyGeneration("the system random number generator failed"))?;
        let public = public_key_of(&seed)?;
        Ok(SigningKey { seed, public })
    }

    pub fn public_key(&self) -> [u8; ED25519_KEY_LEN] {
        self.public
    }

    fn pkcs8_v1_der(&self) -> Vec<u8> {
        let mut der = Vec::with_capacity(PKCS8_V1_PREFIX.len() + ED25519_KEY_LEN);
        der.extend_from_slice(&PKCS8_V1_PREFIX);
        der.extend_from_slice(&self.seed);
        der
    }

    /// Writes the private key (0600) and the hex public key.
    pub fn write(&self, private_path: &Path, public_path: &Path) -> Result<(), PkiError> {
        let der = self.pkcs8_v1_der();
        // rcgen's PEM writer emits the DER it was given under the PKCS#8 label, and parsing it
        // first proves the key is one `ring` accepts.
        let pem = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(der.as_slice()),
            &rcgen::PKCS_ED25519,
        )?
        .serialize_pem();
        files::write_atomic(private_path, pem.as_bytes(), Secrecy::Private)?;
        let public_hex = format!("{}\n", hex::encode(self.public));
        files::write_atomic(public_path, public_hex.as_bytes(), Secrecy::Public)
    }
}

fn public_key_of(seed: &[u8; ED25519_KEY_LEN]) -> Result<[u8; ED25519_KEY_LEN], PkiError> {
    let pair = Ed25519KeyPair::from_seed_unchecked(seed)
        .map_err(|_| PkiError::KeyGeneration("ring rejected an Ed25519 seed"))?;
    let mut public = [0u8; ED25519_KEY_LEN];
    public.copy_from_slice(pair.public_key().as_ref());
    Ok(public)
}

/// Reads a device's Ed25519 seed from its PKCS#8 PEM file (`signing-key.pem`).
pub fn load_signing_seed(path: &Path) -> Result<[u8; ED25519_KEY_LEN], PkiError> {
    let bad = |reason: &str| PkiError::BadKey { path: path.to_owned(), reason: reason.to_owned() };
    let key = PrivateKeyDer::from_pem_file(path)
        .map_err(|source| PkiError::Pem { path: path.to_owned(), source })?;
    let PrivateKeyDer::Pkcs8(pkcs8) = key else {
        return Err(bad("expected a PKCS#8 \"PRIVATE KEY\""));
    };
    let der = pkcs8.secret_pkcs8_der();
    seed_of(der).ok_or_else(|| bad("not an Ed25519 PKCS#8 key"))
}

/// The seed inside a PKCS#8 Ed25519 key: v1 exactly as written here, or v2 (version 1 with the
/// public key appended, as `ring` and some other tools write it), whose seed sits at the same
/// place.
fn seed_of(der: &[u8]) -> Option<[u8; ED25519_KEY_LEN]> {
    let v1_len = PKCS8_V1_PREFIX.len() + ED25519_KEY_LEN;
    let declared_len = usize::from(*der.get(1)?) + 2;
    let version = *der.get(4)?;
    let same_layout = der.first() == Some(&0x30)
        && declared_len == der.len()
        && der.get(2..4) == Some(&PKCS8_V1_PREFIX[2..4])
        && der.get(5..PKCS8_V1_PREFIX.len()) == Some(&PKCS8_V1_PREFIX[5..]);
    let length_fits = match version {
        0 => der.len() == v1_len,
        1 => der.len() > v1_len,
        _ => false,
    };
    if !(same_layout && length_fits) {
        return None;
    }
    let mut seed = [0u8; ED25519_KEY_LEN];
    seed.copy_from_slice(der.get(PKCS8_V1_PREFIX.len()..v1_len)?);
    Some(seed)
}

/// Reads a device's Ed25519 public key from its hex file (`signing-key.pub`).
pub fn load_signing_public_key(path: &Path) -> Result<[u8; ED25519_KEY_LEN], PkiError> {
    let text = files::read_to_string(path)?;
    let mut public = [0u8; ED25519_KEY_LEN];
    hex::decode_to_slice(text.trim(), &mut public).map_err(|e| PkiError::BadKey {
        path: path.to_owned(),
        reason: format!("expected {} hex digits: {e}", 2 * ED25519_KEY_LEN),
    })?;
    Ok(public)
}

/// The generations of a key kept as `DIR/key-N.pub` (+ `key-N.pem` while its private key is
/// kept), ascending; none when the folder does not exist.
pub(crate) fn generations_in(dir: &Path) -> Result<Vec<u32>, PkiError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PkiError::io("cannot list", dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PkiError::io("cannot list", dir, e))?;
        let name = entry.file_name();
        let generation = name
            .to_str()
            .and_then(|n| n.strip_prefix("key-"))
            .and_then(|n| n.strip_suffix(".pub"))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|g| *g > 0);
        found.extend(generation);
    }
    found.sort_unstable();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use ring::signature::{UnparsedPublicKey, ED25519};

    use super::*;

    #[test]
    fn written_key_loads_back_and_signs_for_its_public_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (private, public) = (dir.path().join("signing-key.pem"), dir.path().join("signing-key.pub"));
        let key = SigningKey::generate().expect("generate");
        key.write(&private, &public).expect("write");

        let pem = std::fs::read_to_string(&private).expect("read");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");

        let seed = load_signing_seed(&private).expect("seed");
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("pair");
        let loaded_public = load_signing_public_key(&public).expect("public");
        assert_eq!(loaded_public, key.public_key());
        let sig = pair.sign(b"reading");
        UnparsedPublicKey::new(&ED25519, loaded_public).verify(b"reading", sig.as_ref()).expect("verifies");
    }

    #[test]
    fn pkcs8_v2_keys_from_ring_load_too() {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("pkcs8");
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("pair");
        let pem = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(doc.as_ref()),
            &rcgen::PKCS_ED25519,
        )
        .expect("rcgen")
        .serialize_pem();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.pem");
        std::fs::write(&path, pem).expect("write");
        let seed = load_signing_seed(&path).expect("seed");
        assert_eq!(public_key_of(&seed).expect("public").as_slice(), pair.public_key().as_ref());
    }

    #[test]
    fn a_bad_public_key_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("signing-key.pub");
        std::fs::write(&path, "abcd\n").expect("write");
        let err = load_signing_public_key(&path).expect_err("short");
        assert!(err.to_string().contains("64 hex digits"), "{err}");
    }
}
