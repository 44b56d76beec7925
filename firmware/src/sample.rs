//! One sample of the room, as the sensors report it, before it is numbered and queued.

use crate::proto::StatusFlag;

/// Bits of `Reading.status`, as plain `u32` masks: the device bits of
/// `dampwatch_wire::reading::status`, checked here against the proto `StatusFlag` enum.
pub mod status {
    use super::StatusFlag;
    use dampwatch_wire::reading::status as wire;

    pub const OK: u32 = 0;
    pub use wire::{CLOCK_UNSET, CO2_FAILED, SURFACE_FAILED, TRH_BUS, TRH_CRC, TRH_RANGE};
    /// Every defined flag; other bits are never sent.
    pub const ALL: u32 = wire::DEVICE_ALL;

    const _: () = assert!(StatusFlag::StatusOk.0 as u32 == OK);
    const _: () = assert!(StatusFlag::StatusTrhCrc.0 as u32 == TRH_CRC);
    const _: () = assert!(StatusFlag::StatusTrhBus.0 as u32 == TRH_BUS);
    const _: () = assert!(StatusFlag::StatusTrhRange.0 as u32 == TRH_RANGE);
    const _: () = assert!(StatusFlag::StatusSurfaceFailed.0 as u32 == SURFACE_FAILED);
    const _: () = assert!(StatusFlag::StatusCo2Failed.0 as u32 == CO2_FAILED);
    const _: () = assert!(StatusFlag::StatusClockUnset.0 as u32 == CLOCK_UNSET);
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
