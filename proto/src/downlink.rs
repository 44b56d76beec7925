//! Signed downlinks on the server side, with `ring`: the collector signs every `CommitAck` and
//! `DeviceConfig` it sends, and the same code verifies them in tests and tools. The signed bytes
//! are defined once, in `dampwatch_wire::downlink`; the firmware verifies them with its own
//! Ed25519 implementation, and the golden vectors prove both agree.

use dampwatch_wire::downlink::{
    downlink_signing_message, DownlinkKind, CONFIG_SIGNING_DOMAIN, MAX_DOWNLINK_PAYLOAD_BYTES,
};
use dampwatch_wire::ids::MAX_ID_LEN;
use dampwatch_wire::limits::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};

use crate::v1::SignedDownlink;
use crate::verify::VerifyError;

/// Longest downlink signing message (the config domain is the longer one).
const MESSAGE_MAX: usize = CONFIG_SIGNING_DOMAIN.len() + 1 + MAX_ID_LEN + MAX_DOWNLINK_PAYLOAD_BYTES;

/// Why a downlink could not be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("device id is not valid")]
    DeviceId,
    #[error("payload is larger than the downlink limit")]
    PayloadTooLarge,
}

/// Signs `payload` (an encoded `CommitAck` or `DeviceConfig`, as `kind` says) for `device_id`
/// with the collector's downlink key `key`, whose generation is `key_id`.
pub fn sign_downlink(
    kind: DownlinkKind,
    device_id: &str,
    key: &Ed25519KeyPair,
    key_id: u32,
    payload: Vec<u8>,
) -> Result<SignedDownlink, SignError> {
    if payload.len() > MAX_DOWNLINK_PAYLOAD_BYTES {
        return Err(SignError::PayloadTooLarge);
    }
    let mut buf = [0u8; MESSAGE_MAX];
    let n = downlink_signing_message(kind, device_id, &payload, &mut buf).map_err(|_| SignError::DeviceId)?;
    let signature = key.sign(&buf[..n]).as_ref().to_vec();
    Ok(SignedDownlink { payload, signature, key_id })
}

/// Verifies a signed downlink of `kind` for `device_id` with the collector's public key.
pub fn verify_downlink(
    kind: DownlinkKind,
    device_id: &str,
    public_key: &[u8],
    envelope: &SignedDownlink,
) -> Result<(), VerifyError> {
    if envelope.signature.len() != SIGNATURE_LEN {
        return Err(VerifyError::SignatureLength(envelope.signature.len()));
    }
    if public_key.len() != PUBLIC_KEY_LEN {
        return Err(VerifyError::PublicKeyLength(public_key.len()));
    }
    if envelope.payload.len() > MAX_DOWNLINK_PAYLOAD_BYTES {
        return Err(VerifyError::PayloadTooLarge);
    }
    let mut buf = [0u8; MESSAGE_MAX];
    let n = downlink_signing_message(kind, device_id, &envelope.payload, &mut buf)
        .map_err(|_| VerifyError::DeviceId)?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&buf[..n], &envelope.signature)
        .map_err(|_| VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::CommitAck;
    use prost::Message;
    use ring::signature::KeyPair;

    #[test]
    fn a_signed_ack_verifies_only_for_its_kind_device_and_key() {
        let key = Ed25519KeyPair::from_seed_unchecked(&[3; 32]).unwrap();
        let other = Ed25519KeyPair::from_seed_unchecked(&[4; 32]).unwrap();
        let payload = CommitAck { boot: 2, seq: 9 }.encode_to_vec();
        let env = sign_downlink(DownlinkKind::Ack, "dev-1", &key, 1, payload).unwrap();
        let pk = key.public_key().as_ref();
        verify_downlink(DownlinkKind::Ack, "dev-1", pk, &env).unwrap();
        assert_eq!(verify_downlink(DownlinkKind::Config, "dev-1", pk, &env), Err(VerifyError::BadSignature));
        assert_eq!(verify_downlink(DownlinkKind::Ack, "dev-2", pk, &env), Err(VerifyError::BadSignature));
        let other_pk = other.public_key().as_ref();
        assert_eq!(
            verify_downlink(DownlinkKind::Ack, "dev-1", other_pk, &env),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            sign_downlink(DownlinkKind::Ack, "dev-1", &key, 1, vec![0; 65]),
            Err(SignError::PayloadTooLarge)
        );
    }
}
