//! Sensirion SHT4x (SHT40/41/43/45) temperature and humidity sensor over I2C.
//!
//! Only the few commands a logger needs: a high-precision measurement (`0xFD`, then a 6-byte
//! reply `T msb, T lsb, CRC, RH msb, RH lsb, CRC`), the serial number and a soft reset.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::crc::word;
use super::{ProbeFault, SurfaceProbe, TrhReading, TrhSensor};

/// Default I2C address (SHT4x-A); SHT4x-B parts answer on [`ALT_ADDRESS`].
pub const DEFAULT_ADDRESS: u8 = 0x44;
pub const ALT_ADDRESS: u8 = 0x45;

pub const CMD_MEASURE_HIGH_PRECISION: u8 = 0xFD;
pub const CMD_READ_SERIAL: u8 = 0x89;
pub const CMD_SOFT_RESET: u8 = 0x94;

/// The datasheet's longest high-precision measurement is 8.3 ms.
pub const MEASURE_WAIT_MS: u32 = 9;
/// The datasheet's longest soft reset and serial read time is 1 ms.
pub const SHORT_WAIT_MS: u32 = 1;

/// Specified operating range, hundredths of a degree Celsius: the wire's plausible air
/// temperature (`dampwatch_wire::Quantity::AirTemperature`), which the collector and the
/// hazard engine believe.
pub const TEMPERATURE_RANGE_CENTI_C: core::ops::RangeInclusive<i32> = {
    let (min, max) = dampwatch_wire::Quantity::AirTemperature.range();
    min..=max
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Sht4xError<E: core::fmt::Debug> {
    #[error("I2C bus error: {0:?}")]
    Bus(E),
    #[error("reply failed its CRC check")]
    Crc,
}

impl<E: core::fmt::Debug> From<Sht4xError<E>> for ProbeFault {
    fn from(e: Sht4xError<E>) -> Self {
        match e {
            Sht4xError::Bus(_) => ProbeFault::Bus,
            Sht4xError::Crc => ProbeFault::Crc,
        }
    }
}

pub struct Sht4x<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Sht4x<I2C> {
    pub fn new(i2c: I2C, address: u8) -> Self {
        Sht4x { i2c, address }
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    /// One high-precision measurement.
    pub fn measure<D: DelayNs>(&mut self, delay: &mut D) -> Result<Measurement, Sht4xError<I2C::Error>> {
        let reply = self.command(CMD_MEASURE_HIGH_PRECISION, MEASURE_WAIT_MS, delay)?;
        let raw_t = word(&reply, 0).ok_or(Sht4xError::Crc)?;
        let raw_rh = word(&reply, 1).ok_or(Sht4xError::Crc)?;
        Ok(convert(raw_t, raw_rh))
    }

    /// The 32-bit serial number.
    pub fn serial_number<D: DelayNs>(&mut self, delay: &mut D) -> Result<u32, Sht4xError<I2C::Error>> {
        let reply = self.command(CMD_READ_SERIAL, SHORT_WAIT_MS, delay)?;
        let hi = word(&reply, 0).ok_or(Sht4xError::Crc)?;
        let lo = word(&reply, 1).ok_or(Sht4xError::Crc)?;
        Ok((u32::from(hi) << 16) | u32::from(lo))
    }

    pub fn soft_reset<D: DelayNs>(&mut self, delay: &mut D) -> Result<(), Sht4xError<I2C::Error>> {
        self.i2c.write(self.address, &[CMD_SOFT_RESET]).map_err(Sht4xError::Bus)?;
        delay.delay_ms(SHORT_WAIT_MS);
        Ok(())
    }

    fn command<D: DelayNs>(
        &mut self,
        cmd: u8,
        wait_ms: u32,
        delay: &mut D,
    ) -> Result<[u8; 6], Sht4xError<I2C::Error>> {
        self.i2c.write(self.address, &[cmd]).map_err(Sht4xError::Bus)?;
        delay.delay_ms(wait_ms);
        let mut reply = [0u8; 6];
        self.i2c.read(self.address, &mut reply).map_err(Sht4xError::Bus)?;
        Ok(reply)
    }
}

/// One SHT4x measurement, converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// Hundredths of a degree Celsius, within [`TEMPERATURE_RANGE_CENTI_C`].
    pub temperature_centi_c: i32,
    /// Hundredths of a percent, 0..=10000.
    pub rh_centi_pct: u32,
    /// The temperature was outside the specified range and was clamped into it.
    pub temperature_clamped: bool,
    /// The humidity was outside 0..100 % and was clamped into it.
    pub rh_clamped: bool,
}

/// Datasheet conversion in integer arithmetic: `T = -45 + 175 * raw / 65535` °C and
/// `RH = -6 + 125 * raw / 65535` %, rounded to hundredths. RH outside 0..100 % and T outside
/// the specified range are physically meaningless, so they are clamped and marked.
pub fn convert(raw_t: u16, raw_rh: u16) -> Measurement {
    let t = -4500 + div_round(17_500 * i32::from(raw_t), 65_535);
    let rh = -600 + div_round(12_500 * i32::from(raw_rh), 65_535);
    let t_clamped = t.clamp(*TEMPERATURE_RANGE_CENTI_C.start(), *TEMPERATURE_RANGE_CENTI_C.end());
    let rh_clamped = rh.clamp(0, 10_000);
    Measurement {
        temperature_centi_c: t_clamped,
        rh_centi_pct: rh_clamped.unsigned_abs(),
        temperature_clamped: t_clamped != t,
        rh_clamped: rh_clamped != rh,
    }
}

// 17_500 * 65_535 < i32::MAX, so nothing here overflows.
fn div_round(n: i32, d: i32) -> i32 {
    (n + d / 2) / d
}

impl<I2C: I2c> TrhSensor for Sht4x<I2C> {
    fn read_trh<D: DelayNs>(&mut self, delay: &mut D) -> Result<TrhReading, ProbeFault> {
        let m = self.measure(delay)?;
        Ok(TrhReading {
            temperature_centi_c: m.temperature_centi_c,
            rh_centi_pct: m.rh_centi_pct,
            clamped: m.temperature_clamped || m.rh_clamped,
        })
    }
}

/// A second SHT4x (usually on [`ALT_ADDRESS`]) pressed against the wall serves as a surface
/// probe; only its temperature is used.
impl<I2C: I2c> SurfaceProbe for Sht4x<I2C> {
    fn read_surface_centi_c<D: DelayNs>(&mut self, delay: &mut D) -> Result<i32, ProbeFault> {
        let m = self.measure(delay)?;
        if m.temperature_clamped {
            return Err(ProbeFault::OutOfRange);
        }
        Ok(m.temperature_centi_c)
    }
}
