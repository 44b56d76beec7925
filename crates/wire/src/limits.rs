//! Size limits both ends rely on.

use crate::ids::MAX_ID_LEN;

/// Largest encoded `SignedUplink` a device may publish, in bytes. The firmware sizes its batch
/// so every uplink fits; the gateway refuses bigger MQTT packets. 2 KiB keeps a batch of
/// dozens of readings in one packet while staying small for constrained radios and buffers.
pub const MAX_UPLINK_BYTES: usize = 2048;

/// Ed25519 signature length.
pub const SIGNATURE_LEN: usize = 64;

/// Ed25519 public key length.
pub const PUBLIC_KEY_LEN: usize = 32;

/// Largest encoded `Uplink` payload inside a `SignedUplink` of [`MAX_UPLINK_BYTES`].
pub const MAX_PAYLOAD_BYTES: usize = MAX_UPLINK_BYTES - ENVELOPE_OVERHEAD;

/// Most readings one uplink may carry: as many of the widest possible readings as fit in
/// [`MAX_UPLINK_BYTES`]. The firmware's batch holds exactly this many; the collector refuses an
/// uplink with more (small readings could pack several times as many into the same bytes).
pub const MAX_READINGS_PER_UPLINK: usize = (MAX_PAYLOAD_BYTES - UPLINK_HEADER_MAX) / READING_MAX;

/// Readings a device holds unconfirmed at most: its store-and-forward queue, 48 hours at the
/// default 10-minute interval. The queue holds consecutive sequence numbers from the uplink's
/// `floor_seq` up, so no device ever sends a reading numbered this far or further above that
/// floor or above the collector's commit position, and the collector refuses one that is
/// (its sequence window). Raise it on the collectors before the devices.
pub const DEVICE_QUEUE_CAPACITY: usize = 288;

// Protobuf sizes behind the limits above.

/// Longest varint of a 32-bit value, and of a 64-bit one.
const VARINT32: usize = 5;
const VARINT64: usize = 10;
/// Every field number of the uplink messages is below 16, so every tag is one byte.
const TAG: usize = 1;

/// Bytes of `SignedUplink` around the payload: payload tag and a 2-byte length (payloads stay
/// below 16 KiB), the signature with tag and length, and `key_id`.
const ENVELOPE_OVERHEAD: usize = TAG + 2 + TAG + 1 + SIGNATURE_LEN + TAG + VARINT32;

/// Largest `Uplink` header: device id, boot, floor_seq and the two drop counters.
const UPLINK_HEADER_MAX: usize =
    (TAG + 1 + MAX_ID_LEN) + 2 * (TAG + VARINT32) + (TAG + 1 + 2 * (TAG + VARINT32));

/// Largest encoded `Reading` inside an `Uplink`, including its own tag and length byte:
/// seq, time_ms, six 32-bit fields, every one present and at its widest.
const READING_MAX: usize = TAG + 1 + (TAG + VARINT64) + 7 * (TAG + VARINT32);

// Checked when the crate is compiled: the widest batch fits, and a full queue fills whole uplinks.
const _: () = assert!(UPLINK_HEADER_MAX + MAX_READINGS_PER_UPLINK * READING_MAX <= MAX_PAYLOAD_BYTES);
const _: () = assert!(DEVICE_QUEUE_CAPACITY >= MAX_READINGS_PER_UPLINK);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uplink_limits_are_what_the_firmware_was_built_with() {
        assert_eq!((MAX_PAYLOAD_BYTES, MAX_READINGS_PER_UPLINK), (1973, 34));
    }
}
