//! One sample of the room, as the sensors report it, before it is numbered and queued.

use crate::proto::StatusFlag;

/// Bits of `Reading.status` (the proto `StatusFlag` enum), as plain `u32` masks.
pub mod status {
    use super::StatusFlag;

    pub const OK: u32 = StatusFlag::StatusOk.0 as u32;
    pub const TRH_CRC: u32 = StatusFlag::StatusTrhCrc.0 as u32;
    pub const TRH_BUS: u32 = StatusFlag::StatusTrhBus.0 as u32;
    pub const TRH_RANGE: u32 = StatusFlag::StatusTrhRange.0 as u32;
    pub const SURFACE_FAILED: u32 = StatusFlag::StatusSurfaceFailed.0 as u32;
    pub const CO2_FAILED: u32 = StatusFlag::StatusCo2Failed.0 as u32;
    pub const CLOCK_UNSET: u32 = StatusFlag::StatusClockUnset.0 as u32;
    /// Every defined flag; other bits are never sent.
    pub const ALL: u32 = TRH_CRC | TRH_BUS | TRH_RANGE | SURFACE_FAILED | CO2_FAILED | CLOCK_UNSET;
}

/// What the sensors measured at one sample time. Fixed-point, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// Air temperature, hundredths of a degree Celsius.
    pub temperature_centi_c: i32,
    /// Relative humidity, hundredths of a percent (0..=10000).
    pub rh_centi_pct: u32,
    /// Surface temperature of the coldest wall, if a probe is fitted and answered.
    pub surface_temperature_centi_c: Option<i32>,
    /// CO2 concentration, if a CO2 sensor is fitted and answered.
    pub co2_ppm: Option<u32>,
    /// Battery voltage, millivolts.
    pub battery_mv: u32,
    /// [`status`] bits the drivers set (the core adds `CLOCK_UNSET` and `TRH_RANGE` itself).
    pub status: u32,
}
