//! Size limits both ends rely on.

/// Largest encoded `SignedUplink` a device may publish, in bytes. The firmware sizes its batch
/// so every uplink fits; the gateway refuses bigger MQTT packets. 2 KiB keeps a batch of
/// dozens of readings in one packet while staying small for constrained radios and buffers.
pub const MAX_UPLINK_BYTES: usize = 2048;

/// Ed25519 signature length.
pub const SIGNATURE_LEN: usize = 64;

/// Ed25519 public key length.
pub const PUBLIC_KEY_LEN: usize = 32;
