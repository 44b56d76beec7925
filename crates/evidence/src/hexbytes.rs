//! Bytes in the pack's JSON: lowercase hex, so every byte stored is readable and exact
//! (`payload`, `signature`, hashes, keys).

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// Exactly 32 bytes (a SHA-256 hash, an Ed25519 public key).
pub mod fixed32 {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(String::deserialize(d)?, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }

    /// An optional hash (`null` when absent: the first case event has no predecessor).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(bytes: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(b) => s.serialize_str(&hex::encode(b)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| {
                    let mut out = [0u8; 32];
                    hex::decode_to_slice(text, &mut out).map_err(serde::de::Error::custom)?;
                    Ok(out)
                })
                .transpose()
        }
    }
}
