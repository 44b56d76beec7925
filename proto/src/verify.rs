//! Verification of a signed uplink with `ring`, before anything in the payload is trusted.

use dampwatch_wire::limits::{MAX_UPLINK_BYTES, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use dampwatch_wire::signing::signing_message;
use ring::signature::{UnparsedPublicKey, ED25519};

/// Why a signed uplink was refused. Cheap to make: this runs per message on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature is {0} bytes, expected 64")]
    SignatureLength(usize),
    #[error("registered public key is {0} bytes, expected 32")]
    PublicKeyLength(usize),
    #[error("payload is larger than the uplink limit")]
    PayloadTooLarge,
    #[error("device id is not valid")]
    DeviceId,
    #[error("signature does not verify")]
    BadSignature,
}

/// Verifies `signature` over the signing message of `device_id` and `payload`
/// (see `dampwatch_wire::signing`) with the device's Ed25519 public key.
pub fn verify_uplink(
    device_id: &str,
    public_key: &[u8],
    payload: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(VerifyError::SignatureLength(signature.len()));
    }
    if public_key.len() != PUBLIC_KEY_LEN {
        return Err(VerifyError::PublicKeyLength(public_key.len()));
    }
    if payload.len() > MAX_UPLINK_BYTES {
        return Err(VerifyError::PayloadTooLarge);
    }
    let mut buf = [0u8; MAX_UPLINK_BYTES + 64];
    let n = signing_message(device_id, payload, &mut buf).map_err(|_| VerifyError::DeviceId)?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&buf[..n], signature)
        .map_err(|_| VerifyError::BadSignature)
}
