//! The public keys a verifier trusts, read from files it was given: the hex file `dampwatch
//! pki` writes (`DIR/audit/key-N.pub`) or a PEM `PUBLIC KEY` (SubjectPublicKeyInfo, as
//! `dampwatch pki audit-keys` prints and `openssl pkey -pubout` writes).

use std::path::Path;

use base64::Engine as _;

/// SubjectPublicKeyInfo of an Ed25519 key, everything before the 32 key bytes (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Why a public key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PublicKeyError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}: expected 64 hex digits or a PEM \"PUBLIC KEY\" holding an Ed25519 key")]
    Unrecognised(String),
}

/// Reads a trusted public key from a file.
pub fn load_public_key(path: &Path) -> Result<[u8; 32], PublicKeyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| PublicKeyError::Read { path: path.display().to_string(), source })?;
    parse_public_key(&text).ok_or_else(|| PublicKeyError::Unrecognised(path.display().to_string()))
}

/// A public key from the text of a hex or PEM file; `None` when it is neither.
pub fn parse_public_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let mut key = [0u8; 32];
    if hex::decode_to_slice(text, &mut key).is_ok() {
        return Some(key);
    }
    let body = text.strip_prefix("-----BEGIN PUBLIC KEY-----")?.strip_suffix("-----END PUBLIC KEY-----")?;
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let raw = der.strip_prefix(SPKI_PREFIX.as_slice())?;
    key.copy_from_slice(raw.get(..32).filter(|_| raw.len() == 32)?);
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_pem_give_the_same_key() {
        let key = [7u8; 32];
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&key);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        assert_eq!(parse_public_key(&pem), Some(key));
        assert_eq!(parse_public_key(&format!("{}\n", hex::encode(key))), Some(key));
        assert_eq!(parse_public_key("abcd"), None);
    }
}
