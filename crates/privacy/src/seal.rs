//! A sealed value: personal data encrypted with AES-256-GCM under a landlord's data key.
//!
//! ```text
//! version (1 byte, 1) | key generation (u32, big-endian) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The nonce is random for every seal (96 bits from the system's generator); a data key seals
//! one value per tenancy and write, far below the 2^32 seals a random nonce allows per key.
//! The associated data (authenticated, not stored) is the header above plus the landlord, the
//! table, the column and the row's id, each length-prefixed: a value copied to another row,
//! column or landlord, or with its generation altered, fails to open exactly as a changed
//! ciphertext does.

use ring::aead::{Aad, Nonce, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::PrivacyError;
use crate::master::DataKey;

/// The format's version byte.
pub const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4;

/// Where a sealed value lives; bound into its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub landlord_id: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: i64,
}

impl Place<'_> {
    fn aad(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = b"dampwatch sealed v1\0".to_vec();
        aad.extend_from_slice(header);
        for part in [self.landlord_id, self.table, self.column] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad.extend_from_slice(&self.row_id.to_be_bytes());
        aad
    }
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "landlord {}, {}.{} row {}", self.landlord_id, self.table, self.column, self.row_id)
    }
}

/// Seals `plaintext` for `place` under generation `generation` of the landlord's data key.
pub fn seal(
    key: &DataKey,
    generation: u32,
    place: &Place<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, PrivacyError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| PrivacyError::Random)?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.push(VERSION);
    out.extend_from_slice(&generation.to_be_bytes());
    let aad = place.aad(&out);
    out.extend_from_slice(&nonce);
    let mut body = Zeroizing::new(plaintext.to_vec());
    let tag = key
        .aead()
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body)
        .map_err(|_| PrivacyError::Seal)?;
    // `body` is ciphertext now.
    out.extend_from_slice(&body);
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// The generation of the data key that sealed `sealed` (from its header, unauthenticated until
/// the value opens).
pub fn generation_of(sealed: &[u8]) -> Result<u32, PrivacyError> {
    if sealed.len() < HEADER_LEN + NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(PrivacyError::Malformed("shorter than header, nonce and tag"));
    }
    if sealed[0] != VERSION {
        return Err(PrivacyError::Malformed("unknown version"));
    }
    Ok(u32::from_be_bytes(sealed[1..HEADER_LEN].try_into().expect("4 bytes")))
}

/// Opens a sealed value for `place`; the plaintext is wiped when dropped.
pub fn open(key: &DataKey, place: &Place<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, PrivacyError> {
    generation_of(sealed)?;
    let (header, rest) = sealed.split_at(HEADER_LEN);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| PrivacyError::Malformed("nonce"))?;
    let mut buf = Zeroizing::new(body.to_vec());
    let len = key
        .aead()
        .open_in_place(nonce, Aad::from(place.aad(header)), &mut buf)
        .map_err(|_| PrivacyError::DoesNotOpen(place.to_string()))?
        .len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(row_id: i64) -> Place<'static> {
        Place { landlord_id: "north-homes", table: "tenancies", column: "personal", row_id }
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place_and_unchanged() {
        let key = DataKey::generate().unwrap();
        let sealed = seal(&key, 3, &place(7), b"Ada Lovelace").unwrap();
        assert_eq!(generation_of(&sealed).unwrap(), 3);
        assert!(!sealed.windows(3).any(|w| w == b"Ada"));
        assert_eq!(open(&key, &place(7), &sealed).unwrap().as_slice(), b"Ada Lovelace");
        assert!(matches!(open(&key, &place(8), &sealed), Err(PrivacyError::DoesNotOpen(_))));
        let other = Place { landlord_id: "south-homes", ..place(7) };
        assert!(matches!(open(&key, &other, &sealed), Err(PrivacyError::DoesNotOpen(_))));
        let mut changed = sealed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert!(matches!(open(&key, &place(7), &changed), Err(PrivacyError::DoesNotOpen(_))));
        let mut regenerated = sealed.clone();
        regenerated[4] ^= 1;
        assert!(matches!(open(&key, &place(7), &regenerated), Err(PrivacyError::DoesNotOpen(_))));
        let other_key = DataKey::generate().unwrap();
        assert!(matches!(open(&other_key, &place(7), &sealed), Err(PrivacyError::DoesNotOpen(_))));
    }

    #[test]
    fn two_seals_of_the_same_value_differ() {
        let key = DataKey::generate().unwrap();
        assert_ne!(seal(&key, 1, &place(1), b"x").unwrap(), seal(&key, 1, &place(1), b"x").unwrap());
    }

    #[test]
    fn a_data_key_never_shows_in_debug() {
        assert_eq!(format!("{:?}", DataKey::generate().unwrap()), "DataKey(..)");
    }
}
