//! `uplinks.jsonl`: every signed uplink of the case's devices that carries a reading of the
//! window, exactly as the collector stored it (`uplinks` table), and its check: the digest,
//! the device's key, the signature over the wire's signing message, and the payload naming
//! the same device.

use chrono::{DateTime, Utc};
use dampwatch_proto::v1::Uplink;
use prost::Message as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::device::DeviceRecord;
use crate::{hexbytes, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UplinkRecord {
    /// SHA-256 of `payload` (the table's key; readings point at their uplink by it).
    #[serde(with = "hexbytes::fixed32")]
    pub digest: [u8; 32],
    pub device_id: String,
    pub key_id: i32,
    #[serde(with = "timestamp")]
    pub received_at: DateTime<Utc>,
    /// The encoded `Uplink` (protobuf), exactly the bytes the device signed.
    #[serde(with = "hexbytes")]
    pub payload: Vec<u8>,
    /// Ed25519 signature (64 bytes) over the signing message of `device_id` and `payload`.
    #[serde(with = "hexbytes")]
    pub signature: Vec<u8>,
}

impl UplinkRecord {
    /// A short name for messages: the device and the first digits of the digest.
    pub fn label(&self) -> String {
        format!("uplink {} of {}", &hex::encode(self.digest)[..12], self.device_id)
    }

    /// Checks the uplink against its device's registry entry and returns the decoded
    /// payload: nothing in the payload is read before the signature verifies.
    pub fn check(&self, device: &DeviceRecord) -> Result<Uplink, String> {
        let digest: [u8; 32] = Sha256::digest(&self.payload).into();
        if digest != self.digest {
            return Err("digest is not the SHA-256 of its payload".into());
        }
        if self.key_id != device.key_id {
            return Err(format!("signed with key id {}, the device's key is {}", self.key_id, device.key_id));
        }
        dampwatch_proto::verify_uplink(
            &self.device_id,
            &device.signing_public_key,
            &self.payload,
            &self.signature,
        )
        .map_err(|e| format!("{e} with device {}'s key", self.device_id))?;
        if !device.key_valid_at(self.received_at) {
            return Err(format!(
                "received at {} outside the validity of device {}'s key",
                timestamp::format(self.received_at),
                self.device_id
            ));
        }
        let uplink =
            Uplink::decode(self.payload.as_slice()).map_err(|e| format!("payload does not decode: {e}"))?;
        if uplink.device_id != self.device_id {
            return Err(format!("payload names device {:?}", uplink.device_id));
        }
        Ok(uplink)
    }
}
