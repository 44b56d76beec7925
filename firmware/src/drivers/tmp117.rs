//! TI TMP117 digital temperature sensor over I2C (±0.1 °C), a good surface probe: it reads the
//! result register of its default continuous conversion mode.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::{ProbeFault, SurfaceProbe};

/// Default I2C address (ADD0 to ground); 0x49..=0x4B with other straps.
pub const DEFAULT_ADDRESS: u8 = 0x48;
pub const REG_TEMPERATURE: u8 = 0x00;
/// Value of the result register before the first conversion completes (-256 °C).
pub const RESULT_NOT_READY: i16 = i16::MIN;
/// Specified range, hundredths of a degree Celsius: the wire's plausible surface temperature
/// (`dampwatch_wire::Quantity::SurfaceTemperature`).
pub const TEMPERATURE_RANGE_CENTI_C: core::ops::RangeInclusive<i32> = {
    let (min, max) = dampwatch_wire::Quantity::SurfaceTemperature.range();
    min..=max
};

pub struct Tmp117<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Tmp117<I2C> {
    pub fn new(i2c: I2C, address: u8) -> Self {
        Tmp117 { i2c, address }
    }

    pub fn release(self) -> I2C {
        self.i2c
    }

    /// The latest temperature, hundredths of a degree Celsius.
    pub fn temperature_centi_c(&mut self) -> Result<i32, ProbeFault> {
        let mut reply = [0u8; 2];
        self.i2c.write_read(self.address, &[REG_TEMPERATURE], &mut reply).map_err(|_| ProbeFault::Bus)?;
        let raw = i16::from_be_bytes(reply);
        if raw == RESULT_NOT_READY {
            return Err(ProbeFault::NotReady);
        }
        // One LSB is 7.8125 m°C = 25/32 of a hundredth.
        let centi = i32::from(raw) * 25 / 32;
        if !TEMPERATURE_RANGE_CENTI_C.contains(&centi) {
            return Err(ProbeFault::OutOfRange);
        }
        Ok(centi)
    }
}

impl<I2C: I2c> SurfaceProbe for Tmp117<I2C> {
    fn read_surface_centi_c<D: DelayNs>(&mut self, _delay: &mut D) -> Result<i32, ProbeFault> {
        self.temperature_centi_c()
    }
}
