//! `devices.json`: the case's devices as the registry holds them, with the Ed25519 key each
//! signs its uplinks with and the span in which that key was valid.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{hexbytes, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub id: String,
    pub landlord_id: String,
    pub room_id: Option<i64>,
    /// The key generation its uplinks name (`SignedUplink.key_id`).
    pub key_id: i32,
    /// The device's Ed25519 public key (32 bytes).
    #[serde(with = "hexbytes::fixed32")]
    pub signing_public_key: [u8; 32],
    /// Serial (decimal) of the TLS certificate registered with the key, if one was issued.
    pub cert_serial: Option<String>,
    /// `active` or `revoked`.
    pub status: String,
    /// The key is valid from here...
    #[serde(with = "timestamp")]
    pub provisioned_at: DateTime<Utc>,
    /// ...until here (the registry refuses the device's uplinks from then on).
    #[serde(with = "timestamp::option")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Its certificate's path in the pack, when the PKI directory holds one.
    pub certificate: Option<String>,
}

impl DeviceRecord {
    /// Whether the key was valid at `at`.
    pub fn key_valid_at(&self, at: DateTime<Utc>) -> bool {
        at >= self.provisioned_at && self.revoked_at.is_none_or(|end| at < end)
    }
}
