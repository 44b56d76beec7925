//! Signed downlinks: what the device checks before it trusts anything from the network.
//!
//! Anyone who can publish on the device's topics (a misconfigured service, a compromised
//! process next to the broker) could otherwise make it forget readings the database never got
//! (a forged `CommitAck`) or stretch its sampling to a day (a forged `DeviceConfig`). So every
//! downlink is a `SignedDownlink`, signed by the collector's downlink key over the signing
//! message of `dampwatch_wire::downlink` (a domain per kind, the device id, the exact payload).
//! The device holds the collector's public keys ([`CollectorKeys`], provisioned with its
//! identity) and opens a downlink only when the signature verifies with the key the envelope
//! names, for this device and this kind; only then is the payload decoded. Whether the payload
//! is for this boot and not a replay is for the caller to judge on the decoded message.
//!
//! Nothing here allocates or panics: the envelope and the signing message live on the stack
//! (under 300 bytes), and every failure is a [`Refusal`].

use dampwatch_wire::downlink::{
    downlink_signing_message, DownlinkKind, CONFIG_SIGNING_DOMAIN, MAX_DOWNLINK_PAYLOAD_BYTES,
};
use dampwatch_wire::ids::MAX_ID_LEN;
use dampwatch_wire::limits::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use dampwatch_wire::public_key::is_prime_order;
use ed25519_compact::{PublicKey, Signature};
use micropb::MessageDecode;

use crate::proto::SignedDownlink;

/// Longest downlink signing message (the config domain is the longer one).
const MESSAGE_MAX: usize = CONFIG_SIGNING_DOMAIN.len() + 1 + MAX_ID_LEN + MAX_DOWNLINK_PAYLOAD_BYTES;

/// Most collector keys a device holds: the current one and, while a rotation overlaps, one
/// more.
pub const MAX_COLLECTOR_KEYS: usize = 2;

/// One of the collector's downlink public keys, as provisioned into the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorKey {
    /// The key's generation, named in every envelope it signs.
    pub key_id: u32,
    pub public_key: [u8; PUBLIC_KEY_LEN],
}

/// Why a set of collector keys was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CollectorKeysError {
    #[error("a device needs at least one collector key")]
    None,
    #[error("a device holds at most {MAX_COLLECTOR_KEYS} collector keys")]
    TooMany,
    #[error("two collector keys have the same key id {0}")]
    DuplicateKeyId(u32),
    #[error("collector key {0} is not an Ed25519 public key of prime order (of small or mixed order, or no point)")]
    WeakKey(u32),
}

/// The collector keys a device trusts: one, or two while a rotation overlaps. Built only
/// through [`CollectorKeys::new`], so it is never empty, its key ids are distinct and every key
/// is of prime order (`dampwatch_wire::public_key`: anyone could sign for a key of small order,
/// and under one of mixed order this verifier and the servers' could disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorKeys {
    keys: [CollectorKey; MAX_COLLECTOR_KEYS],
    len: u8,
}

impl CollectorKeys {
    pub fn new(keys: &[CollectorKey]) -> Result<Self, CollectorKeysError> {
        if let Some(weak) = keys.iter().find(|k| !is_prime_order(&k.public_key)) {
            return Err(CollectorKeysError::WeakKey(weak.key_id));
        }
        let (first, rest) = keys.split_first().ok_or(CollectorKeysError::None)?;
        let mut set = CollectorKeys { keys: [*first; MAX_COLLECTOR_KEYS], len: 1 };
        for key in rest {
            if set.get(key.key_id).is_some() {
                return Err(CollectorKeysError::DuplicateKeyId(key.key_id));
            }
            let slot = set.keys.get_mut(usize::from(set.len)).ok_or(CollectorKeysError::TooMany)?;
            *slot = *key;
            set.len += 1;
        }
        Ok(set)
    }

    /// The trusted key with this id.
    pub fn get(&self, key_id: u32) -> Option<&CollectorKey> {
        self.iter().find(|k| k.key_id == key_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &CollectorKey> + '_ {
        self.keys.iter().take(usize::from(self.len))
    }
}

/// Why a downlink was refused before anything in it was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The bytes are not a `SignedDownlink`, or its verified payload does not decode.
    Malformed,
    /// No 64-byte signature: a bare acknowledgement or configuration.
    Unsigned,
    /// Signed by a key the device was not provisioned with.
    UnknownKey(u32),
    /// The signature does not verify: forged, altered, or signed for another device.
    BadSignature,
}

/// Verifies `bytes` as a signed downlink of `kind` for `device_id` with `keys`, then decodes
/// its payload into `message`.
pub fn open<M: MessageDecode>(
    kind: DownlinkKind,
    keys: &CollectorKeys,
    device_id: &str,
    bytes: &[u8],
    message: &mut M,
) -> Result<(), Refusal> {
    let mut envelope = SignedDownlink::default();
    envelope.decode_from_bytes(bytes).map_err(|_| Refusal::Malformed)?;
    let signature: &[u8; SIGNATURE_LEN] =
        envelope.signature.as_slice().try_into().map_err(|_| Refusal::Unsigned)?;
    let key = keys.get(envelope.key_id).ok_or(Refusal::UnknownKey(envelope.key_id))?;
    let mut buf = [0u8; MESSAGE_MAX];
    // The id is validated and the payload's capacity is bounded, so this fits; a failure would
    // still only refuse the message.
    let n = downlink_signing_message(kind, device_id, &envelope.payload, &mut buf)
        .map_err(|_| Refusal::Malformed)?;
    if !verify(&key.public_key, &buf[..n], signature) {
        return Err(Refusal::BadSignature);
    }
    message.decode_from_bytes(&envelope.payload).map_err(|_| Refusal::Malformed)
}

/// Whether `signature` is the Ed25519 signature of `message` by `public_key` (RFC 8032, S
/// below L, the cofactored equation). It stands in on the device for the servers' `ring`; the
/// two answer alike under every key of prime order, the only kind the PKI makes (see the edge
/// cases in `tests/golden.rs`).
pub fn verify(public_key: &[u8; PUBLIC_KEY_LEN], message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
    PublicKey::new(*public_key).verify(message, &Signature::new(*signature)).is_ok()
}
