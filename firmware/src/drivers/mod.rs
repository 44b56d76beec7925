//! Sensor drivers against the `embedded-hal` 1.0 traits, and the small traits the sampler uses
//! so that any T/RH sensor, surface probe or CO2 sensor plugs in.
//!
//! Drivers report faults as values ([`ProbeFault`]); they never panic on what a bus returns.

pub mod crc;
pub mod scd4x;
pub mod sht4x;
pub mod tmp117;

use embedded_hal::delay::DelayNs;

pub use scd4x::Scd4x;
pub use sht4x::Sht4x;
pub use tmp117::Tmp117;

/// Why a sensor gave no usable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProbeFault {
    #[error("sensor did not answer on the bus")]
    Bus,
    #[error("sensor reply failed its CRC check")]
    Crc,
    #[error("sensor has no new measurement yet")]
    NotReady,
    #[error("sensor value outside its measuring range")]
    OutOfRange,
}

/// Air temperature and relative humidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrhReading {
    /// Hundredths of a degree Celsius, within the sensor's range.
    pub temperature_centi_c: i32,
    /// Hundredths of a percent, 0..=10000.
    pub rh_centi_pct: u32,
    /// A value was outside the sensor's range and was clamped into it.
    pub clamped: bool,
}

/// A temperature and relative humidity sensor.
pub trait TrhSensor {
    fn read_trh<D: DelayNs>(&mut self, delay: &mut D) -> Result<TrhReading, ProbeFault>;
}

/// A probe on the coldest wall, for the surface temperature (condensation and mould risk).
pub trait SurfaceProbe {
    /// Hundredths of a degree Celsius.
    fn read_surface_centi_c<D: DelayNs>(&mut self, delay: &mut D) -> Result<i32, ProbeFault>;
}

/// A CO2 sensor (ventilation).
pub trait Co2Sensor {
    /// Starts measuring (once per power-up); a sensor that always measures does nothing.
    fn start(&mut self) -> Result<(), ProbeFault> {
        Ok(())
    }

    fn read_co2_ppm<D: DelayNs>(&mut self, delay: &mut D) -> Result<u32, ProbeFault>;
}

/// The supply voltage.
pub trait Battery {
    fn battery_mv(&mut self) -> u32;
}

/// A supply of known, fixed voltage (mains adapter, or a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedSupply(pub u32);

impl Battery for FixedSupply {
    fn battery_mv(&mut self) -> u32 {
        self.0
    }
}

/// The type of an optional sensor that is not fitted: `None::<NotFitted>`. It has no values,
/// so it can never be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFitted {}

impl SurfaceProbe for NotFitted {
    fn read_surface_centi_c<D: DelayNs>(&mut self, _: &mut D) -> Result<i32, ProbeFault> {
        match *self {}
    }
}

impl Co2Sensor for NotFitted {
    fn read_co2_ppm<D: DelayNs>(&mut self, _: &mut D) -> Result<u32, ProbeFault> {
        match *self {}
    }
}
