//! The exact bytes the collector signs for a device: commit acknowledgements and
//! configurations.
//!
//! ```text
//! downlink signing message = domain of the kind || len(device_id) as one byte || device_id || payload
//! ```
//!
//! The same layout as an uplink's (see [`crate::signing`]), with a domain per kind: an
//! acknowledgement can never pass for a configuration (their encodings can be the very same
//! bytes), and no downlink signature is ever valid as an uplink's. The device id binds the
//! signature to one device, so one device's acknowledgement is refused by every other. The
//! payload is the encoded `CommitAck` or `DeviceConfig` exactly as sent; it carries the boot it
//! is for and its counter (the acknowledged seq, or the configuration counter), so those are
//! signed too. A device verifies before it decodes.

use crate::signing::{write_message, SigningError};

/// Largest encoded `CommitAck` or `DeviceConfig` a signed downlink may carry, in bytes (a
/// `DeviceConfig` with every field at its widest is 41).
pub const MAX_DOWNLINK_PAYLOAD_BYTES: usize = 64;

/// Largest encoded `SignedDownlink` a device accepts, in bytes: the payload, the signature and
/// the key id with their tags and lengths fit with room to spare. The firmware's inbound buffer
/// has this size.
pub const MAX_DOWNLINK_BYTES: usize = 160;

/// Domain-separation prefix of a signed `CommitAck` (NUL-terminated, like the uplink's).
pub const ACK_SIGNING_DOMAIN: &[u8] = b"dampwatch/v1/ack\0";
/// Domain-separation prefix of a signed `DeviceConfig`.
pub const CONFIG_SIGNING_DOMAIN: &[u8] = b"dampwatch/v1/config\0";

/// What a signed downlink carries. A device takes the kind from the topic it arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownlinkKind {
    /// A `CommitAck` on `.../ack`.
    Ack,
    /// A `DeviceConfig` on `.../config`.
    Config,
}

impl DownlinkKind {
    /// The domain-separation prefix of this kind.
    pub const fn domain(self) -> &'static [u8] {
        match self {
            DownlinkKind::Ack => ACK_SIGNING_DOMAIN,
            DownlinkKind::Config => CONFIG_SIGNING_DOMAIN,
        }
    }
}

/// Length of the downlink signing message for this kind, device id and payload length.
pub const fn downlink_signing_message_len(kind: DownlinkKind, device_id: &str, payload_len: usize) -> usize {
    kind.domain().len() + 1 + device_id.len() + payload_len
}

/// Writes the downlink signing message into `out` and returns its length; no allocation.
pub fn downlink_signing_message(
    kind: DownlinkKind,
    device_id: &str,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, SigningError> {
    write_message(kind.domain(), device_id, payload, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::signing_message;

    #[test]
    fn layout_is_domain_length_id_payload() {
        let mut buf = [0u8; 64];
        let n = downlink_signing_message(DownlinkKind::Ack, "dev-1", &[0x08, 0x01], &mut buf).unwrap();
        let d = ACK_SIGNING_DOMAIN.len();
        assert_eq!(n, downlink_signing_message_len(DownlinkKind::Ack, "dev-1", 2));
        assert_eq!(&buf[..d], ACK_SIGNING_DOMAIN);
        assert_eq!(buf[d], 5);
        assert_eq!(&buf[d + 1..d + 6], b"dev-1");
        assert_eq!(&buf[d + 6..n], &[0x08, 0x01]);
    }

    #[test]
    fn kinds_and_directions_never_share_a_message() {
        let payload = [0x08, 0x01, 0x10, 0x02];
        let (mut ack, mut config, mut up) = ([0u8; 64], [0u8; 64], [0u8; 64]);
        let a = downlink_signing_message(DownlinkKind::Ack, "d", &payload, &mut ack).unwrap();
        let c = downlink_signing_message(DownlinkKind::Config, "d", &payload, &mut config).unwrap();
        let u = signing_message("d", &payload, &mut up).unwrap();
        assert_ne!(&ack[..a], &config[..c]);
        assert_ne!(&ack[..a], &up[..u]);
        assert_ne!(&config[..c], &up[..u]);
    }

    #[test]
    fn small_buffer_or_long_id_is_an_error_not_a_panic() {
        let mut buf = [0u8; 8];
        assert_eq!(
            downlink_signing_message(DownlinkKind::Config, "dev", b"x", &mut buf),
            Err(SigningError::BufferTooSmall)
        );
        let mut big = [0u8; 128];
        let long = core::str::from_utf8(&[b'a'; 33]).unwrap();
        assert_eq!(
            downlink_signing_message(DownlinkKind::Ack, long, b"x", &mut big),
            Err(SigningError::DeviceIdTooLong)
        );
    }
}
