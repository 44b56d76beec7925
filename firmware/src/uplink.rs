//! Turning queued readings into one signed envelope ready to publish.
//!
//! The payload is the encoded `Uplink`; the signature covers the signing message of
//! `dampwatch_wire::signing` (domain, device id, payload), so the server verifies the exact
//! bytes it received before decoding anything. Capacities are fixed by the generated types and
//! checked at compile time (`proto.rs`), so a sealed envelope always fits `MAX_UPLINK_BYTES`.

use dampwatch_wire::limits::MAX_UPLINK_BYTES;
use dampwatch_wire::signing::{signing_message, SigningError};
use micropb::{MessageEncode, PbEncoder};

use crate::identity::Signer;
use crate::proto::{DropCounters, SignedUplink, Uplink};
use crate::reading::StoredReading;

/// Length of the buffer one uplink is sealed into. It also holds the signing message while the
/// signature is made (compile-time checked to fit), which saves a second 2 KiB buffer.
pub const UPLINK_BUFFER_LEN: usize = MAX_UPLINK_BYTES;

/// The buffer one encoded `SignedUplink` is written into.
pub type UplinkBuffer = [u8; UPLINK_BUFFER_LEN];

/// Why an uplink could not be sealed. None of these can happen with an `Uplink` filled by
/// [`fill`] (the capacities rule them out); they exist so that no input can cause a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("encoded uplink does not fit the payload capacity")]
    PayloadTooLarge,
    #[error("device id is too long to sign")]
    DeviceIdTooLong,
    #[error("uplink buffer is too small")]
    BufferTooSmall,
}

impl From<SigningError> for SealError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::DeviceIdTooLong => SealError::DeviceIdTooLong,
            SigningError::BufferTooSmall => SealError::BufferTooSmall,
        }
    }
}

/// The header of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub boot: u32,
    /// Lowest sequence number of this boot still held unconfirmed.
    pub floor_seq: u32,
    pub dropped_queue_full: u32,
    pub sensor_failed: u32,
}

/// Refills `uplink` with a header and up to `max` readings; returns how many were taken.
/// The drop counters are always present, so every batch states the loss so far explicitly.
pub fn fill<'a>(
    uplink: &mut Uplink,
    device_id: &str,
    header: BatchHeader,
    readings: impl Iterator<Item = &'a StoredReading>,
    max: usize,
) -> Result<usize, SealError> {
    uplink.device_id.clear();
    uplink.device_id.push_str(device_id).map_err(|_| SealError::DeviceIdTooLong)?;
    uplink.boot = header.boot;
    uplink.floor_seq = header.floor_seq;
    uplink.set_dropped(DropCounters {
        queue_full: header.dropped_queue_full,
        sensor_failed: header.sensor_failed,
    });
    uplink.readings.clear();
    for r in readings.take(max) {
        if uplink.readings.push(r.to_proto()).is_err() {
            break;
        }
    }
    Ok(uplink.readings.len())
}

/// Encodes `uplink` as the payload of `envelope`, signs it, and writes the encoded envelope
/// into `out`; returns its length. `envelope` is scratch space (its old contents are replaced).
pub fn seal(
    signer: &Signer,
    key_id: u32,
    uplink: &Uplink,
    envelope: &mut SignedUplink,
    out: &mut UplinkBuffer,
) -> Result<usize, SealError> {
    envelope.payload.clear();
    uplink.encode(&mut PbEncoder::new(&mut envelope.payload)).map_err(|_| SealError::PayloadTooLarge)?;

    let n = signing_message(&uplink.device_id, &envelope.payload, out)?;
    let signature = signer.sign(&out[..n]);
    envelope.signature.clear();
    envelope.signature.extend_from_slice(&signature).map_err(|_| SealError::BufferTooSmall)?;
    envelope.key_id = key_id;

    let total = out.len();
    let mut encoder = PbEncoder::new(&mut out[..]);
    envelope.encode(&mut encoder).map_err(|_| SealError::BufferTooSmall)?;
    Ok(total - encoder.into_writer().len())
}
