//! Reasons a message is refused or a reading is flagged: a bounded set, used as the quarantine
//! `reason` column and as a metrics label.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    BadTopic,
    MalformedEnvelope,
    UnknownDevice,
    RevokedDevice,
    WrongLandlord,
    UnknownKey,
    BadSignature,
    MalformedPayload,
    DeviceMismatch,
    /// A whole uplink seen before (same signed bytes): nothing new is stored.
    Replayed,
    /// Some values were outside their physical range (kept as missing, flagged).
    OutOfRange,
    /// Some sample times were implausible (kept, corrected, flagged).
    TimeCorrected,
    /// The database refused the uplink's rows (a value, a constraint, a trigger), although it
    /// took the rest of its batch: kept here instead of blocking the intake.
    StoreFailed,
    /// More readings than the wire allows in one uplink (what fits at the widest).
    TooManyReadings,
    /// A sequence number no device can send: below the uplink's own floor, or further above
    /// the commit position (or the floor) than a device's queue can hold.
    SeqOutsideWindow,
    /// The device has had its hourly budget of new readings; it keeps them and sends them again.
    OverBudget,
}

impl Reason {
    pub const ALL: [Reason; 16] = [
        Reason::BadTopic,
        Reason::MalformedEnvelope,
        Reason::UnknownDevice,
        Reason::RevokedDevice,
        Reason::WrongLandlord,
        Reason::UnknownKey,
        Reason::BadSignature,
        Reason::MalformedPayload,
        Reason::DeviceMismatch,
        Reason::Replayed,
        Reason::OutOfRange,
        Reason::TimeCorrected,
        Reason::StoreFailed,
        Reason::TooManyReadings,
        Reason::SeqOutsideWindow,
        Reason::OverBudget,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::BadTopic => "bad_topic",
            Reason::MalformedEnvelope => "malformed_envelope",
            Reason::UnknownDevice => "unknown_device",
            Reason::RevokedDevice => "revoked_device",
            Reason::WrongLandlord => "wrong_landlord",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::MalformedPayload => "malformed_payload",
            Reason::DeviceMismatch => "device_mismatch",
            Reason::Replayed => "replayed",
            Reason::OutOfRange => "out_of_range",
            Reason::TimeCorrected => "time_corrected",
            Reason::StoreFailed => "store_failed",
            Reason::TooManyReadings => "too_many_readings",
            Reason::SeqOutsideWindow => "seq_outside_window",
            Reason::OverBudget => "over_budget",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
