//! The exact bytes a device signs.
//!
//! ```text
//! signing message = SIGNING_DOMAIN || len(device_id) as one byte || device_id || payload
//! ```
//!
//! The domain prefix keeps an uplink signature from ever being valid for any other protocol
//! that uses the same key; the device id binds the signature to one device, so a payload cannot
//! be replayed as another device's even if two devices shared a key; the payload is the encoded
//! `Uplink` exactly as sent, so the server verifies before it decodes and never re-encodes.
//!
//! The collector's signatures on downlinks follow the same layout with domains of their own
//! (see [`crate::downlink`]).

use crate::ids::MAX_ID_LEN;

/// Domain-separation prefix (with a NUL terminator so no id can extend it).
pub const SIGNING_DOMAIN: &[u8] = b"dampwatch/v1/uplink\0";

/// Length of the signing message for this device id and payload length.
pub const fn signing_message_len(device_id: &str, payload_len: usize) -> usize {
    SIGNING_DOMAIN.len() + 1 + device_id.len() + payload_len
}

/// Why a signing message could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningError {
    /// The device id is longer than [`MAX_ID_LEN`].
    DeviceIdTooLong,
    /// The output buffer is smaller than [`signing_message_len`].
    BufferTooSmall,
}

/// Writes the signing message into `out` and returns its length. No allocation, so a
/// microcontroller can build it in a static buffer.
pub fn signing_message(device_id: &str, payload: &[u8], out: &mut [u8]) -> Result<usize, SigningError> {
    write_message(SIGNING_DOMAIN, device_id, payload, out)
}

/// `domain || len(device_id) || device_id || payload` into `out`: the one layout every
/// Dampwatch signature covers, whichever side signs.
pub(crate) fn write_message(
    domain: &[u8],
    device_id: &str,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, SigningError> {
    let id = device_id.as_bytes();
    if id.len() > MAX_ID_LEN {
        return Err(SigningError::DeviceIdTooLong);
    }
    let len = domain.len() + 1 + id.len() + payload.len();
    if out.len() < len {
        return Err(SigningError::BufferTooSmall);
    }
    let (head, rest) = out.split_at_mut(domain.len());
    head.copy_from_slice(domain);
    rest[0] = id.len() as u8;
    rest[1..1 + id.len()].copy_from_slice(id);
    rest[1 + id.len()..len - domain.len()].copy_from_slice(payload);
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_domain_length_id_payload() {
        let mut buf = [0u8; 64];
        let n = signing_message("dev-1", &[0xAA, 0xBB], &mut buf).unwrap();
        let d = SIGNING_DOMAIN.len();
        assert_eq!(n, d + 1 + 5 + 2);
        assert_eq!(n, signing_message_len("dev-1", 2));
        assert_eq!(&buf[..d], SIGNING_DOMAIN);
        assert_eq!(buf[d], 5);
        assert_eq!(&buf[d + 1..d + 6], b"dev-1");
        assert_eq!(&buf[d + 6..n], &[0xAA, 0xBB]);
    }

    #[test]
    fn different_devices_sign_different_messages() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        let na = signing_message("ab", b"c", &mut a).unwrap();
        let nb = signing_message("a", b"bc", &mut b).unwrap();
        assert_ne!(&a[..na], &b[..nb], "the length byte separates id from payload");
    }

    #[test]
    fn small_buffer_is_an_error_not_a_panic() {
        let mut buf = [0u8; 8];
        assert_eq!(signing_message("dev", b"x", &mut buf), Err(SigningError::BufferTooSmall));
    }
}
