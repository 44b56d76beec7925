//! Counters of what the core did since boot, for diagnostics and the simulator's summary.

/// All counts are of readings unless the name says otherwise; all are since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub boot: u32,
    /// Readings recorded (each got a sequence number).
    pub recorded: u32,
    /// Distinct readings published at least once.
    pub sent: u32,
    /// Readings confirmed by a commit acknowledgement (and released from the queue).
    pub acked: u32,
    /// Readings held now, confirmed or not.
    pub queued: u32,
    /// Readings dropped because the queue was full (reported as `dropped.queue_full`).
    pub dropped: u32,
    /// Sample times at which no reading could be made (reported as `dropped.sensor_failed`).
    pub sensor_failed: u32,
    /// Publications of readings that had been published before (after a timeout or reconnect).
    pub resent: u32,
    /// Uplink messages produced.
    pub uplinks: u32,
    /// Highest sequence number confirmed.
    pub confirmed_seq: u32,
    /// Acknowledgements applied.
    pub acks_applied: u32,
    /// Signed acknowledgements ignored: stale (a duplicate or a replay, at or below the confirmed
    /// position), for another boot, or beyond what was ever sent.
    pub acks_ignored: u32,
    /// Configuration fields applied (including the clock).
    pub config_applied: u32,
    /// Configuration fields outside their safe range, ignored.
    pub config_rejected: u32,
    /// Downlink messages that did not decode.
    pub malformed_downlinks: u32,
    /// Downlinks refused for carrying no signature (a bare acknowledgement or configuration).
    pub downlinks_unsigned: u32,
    /// Downlinks refused for naming a key the device was not provisioned with.
    pub downlinks_unknown_key: u32,
    /// Downlinks refused because the signature does not verify: forged, altered, or signed for
    /// another device.
    pub downlinks_bad_signature: u32,
    /// Signed configurations refused for being for another boot.
    pub configs_other_boot: u32,
    /// Signed configurations refused for a counter not above the last applied (a replay).
    pub configs_replayed: u32,
    /// Counter of the last configuration applied in this boot (0: none yet).
    pub config_counter: u32,
}
