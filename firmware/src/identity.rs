//! Who the device is: its ids, which appear in its topics and its signed uplinks, the Ed25519
//! key it signs with, and the collector keys whose signatures on downlinks it trusts.

use dampwatch_wire::ids::{validate_device_id, validate_landlord_id, IdError, MAX_ID_LEN};
use dampwatch_wire::limits::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use ed25519_compact::{KeyPair, Seed};

use crate::downlink::CollectorKeys;

/// A landlord or device id, validated against the shared id rule.
pub type IdString = heapless::String<MAX_ID_LEN>;

/// Why an identity was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("device id {0}")]
    DeviceId(IdError),
    #[error("landlord id {0}")]
    LandlordId(IdError),
}

/// The device's identity. Built only through [`Identity::new`], so the ids always satisfy the
/// rule the gateway and the topics rely on.
#[derive(Clone)]
pub struct Identity {
    device_id: IdString,
    landlord_id: IdString,
    key_id: u32,
    signing_seed: [u8; 32],
    collector_keys: CollectorKeys,
}

impl Identity {
    /// Checks both ids against `dampwatch_wire::ids::ID_RULE`. `collector_keys` are the
    /// collector's downlink public keys provisioned with the device (`dampwatch pki` prints
    /// them): the device applies no acknowledgement or configuration signed by any other key.
    pub fn new(
        device_id: &str,
        landlord_id: &str,
        key_id: u32,
        signing_seed: [u8; 32],
        collector_keys: CollectorKeys,
    ) -> Result<Self, IdentityError> {
        validate_device_id(device_id).map_err(IdentityError::DeviceId)?;
        validate_landlord_id(landlord_id).map_err(IdentityError::LandlordId)?;
        // Both copies fit: validation guarantees at most MAX_ID_LEN bytes.
        let device_id =
            IdString::try_from(device_id).map_err(|_| IdentityError::DeviceId(IdError::TooLong))?;
        let landlord_id =
            IdString::try_from(landlord_id).map_err(|_| IdentityError::LandlordId(IdError::TooLong))?;
        Ok(Identity { device_id, landlord_id, key_id, signing_seed, collector_keys })
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    pub fn landlord_id(&self) -> &str {
        &self.landlord_id
    }

    /// Which of the device's registered keys signs (sent in every envelope, for key rotation).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The collector keys whose signatures on downlinks this device trusts.
    pub fn collector_keys(&self) -> &CollectorKeys {
        &self.collector_keys
    }

    /// The Ed25519 public key to register for this device.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        public_key_from_seed(&self.signing_seed)
    }
}

// The seed is a secret: never print it.
impl core::fmt::Debug for Identity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Identity")
            .field("device_id", &self.device_id)
            .field("landlord_id", &self.landlord_id)
            .field("key_id", &self.key_id)
            .field("collector_keys", &self.collector_keys)
            .finish_non_exhaustive()
    }
}

/// The Ed25519 public key of a 32-byte seed (RFC 8032; the same key `ring` derives with
/// `Ed25519KeyPair::from_seed_unchecked`).
pub fn public_key_from_seed(seed: &[u8; 32]) -> [u8; PUBLIC_KEY_LEN] {
    *KeyPair::from_seed(Seed::new(*seed)).pk
}

/// Deterministic RFC 8032 signer: the same message always gives the same signature, so a
/// device needs no random number generator and the golden vectors are reproducible.
pub struct Signer {
    key: KeyPair,
}

impl Signer {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Signer { key: KeyPair::from_seed(Seed::new(*seed)) }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        *self.key.sk.sign(message, None)
    }

    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        *self.key.pk
    }
}

impl From<&Identity> for Signer {
    fn from(identity: &Identity) -> Self {
        Signer::from_seed(&identity.signing_seed)
    }
}
