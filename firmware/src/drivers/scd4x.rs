//! Sensirion SCD40/SCD41 CO2 sensor over I2C, in periodic measurement mode (a new value every
//! 5 s). Commands are 16-bit; every reply word carries the Sensirion CRC-8.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::crc::word;
use super::{Co2Sensor, ProbeFault};

pub const DEFAULT_ADDRESS: u8 = 0x62;
pub const CMD_START_PERIODIC: u16 = 0x21B1;
pub const CMD_STOP_PERIODIC: u16 = 0x3F86;
pub const CMD_DATA_READY: u16 = 0xE4B8;
pub const CMD_READ_MEASUREMENT: u16 = 0xEC05;
/// Wait between a read command and its reply.
pub const COMMAND_WAIT_MS: u32 = 1;
/// Wait after stopping periodic measurement before any other command.
pub const STOP_WAIT_MS: u32 = 500;
/// Output range of the sensor; 0 means "no valid value". The wire's plausible CO2
/// (`dampwatch_wire::Quantity::Co2`).
pub const CO2_RANGE_PPM: core::ops::RangeInclusive<u32> = {
    let (min, max) = dampwatch_wire::Quantity::Co2.range();
    min as u32..=max as u32
};

pub struct Scd4x<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Scd4x<I2C> {
    pub fn new(i2c: I2C, address: u8) -> Self {
        Scd4x { i2c, address }
    }

    pub fn release(self) -> I2C {
        self.i2c
    }

    /// Starts periodic measurement; call once after power-up.
    pub fn start_periodic_measurement(&mut self) -> Result<(), ProbeFault> {
        self.send(CMD_START_PERIODIC)
    }

    pub fn stop_periodic_measurement<D: DelayNs>(&mut self, delay: &mut D) -> Result<(), ProbeFault> {
        self.send(CMD_STOP_PERIODIC)?;
        delay.delay_ms(STOP_WAIT_MS);
        Ok(())
    }

    /// Whether a new measurement is waiting.
    pub fn data_ready<D: DelayNs>(&mut self, delay: &mut D) -> Result<bool, ProbeFault> {
        let mut reply = [0u8; 3];
        self.read(CMD_DATA_READY, &mut reply, delay)?;
        // The low 11 bits are all zero while no data is ready.
        Ok(word(&reply, 0).ok_or(ProbeFault::Crc)? & 0x07FF != 0)
    }

    /// The CO2 concentration of the newest measurement, ppm.
    pub fn measurement_ppm<D: DelayNs>(&mut self, delay: &mut D) -> Result<u32, ProbeFault> {
        let mut reply = [0u8; 9];
        self.read(CMD_READ_MEASUREMENT, &mut reply, delay)?;
        // CO2, temperature, humidity: every word is checked, though only CO2 is used.
        let mut words = [0u16; 3];
        for (i, w) in words.iter_mut().enumerate() {
            *w = word(&reply, i).ok_or(ProbeFault::Crc)?;
        }
        let co2 = u32::from(words[0]);
        if !CO2_RANGE_PPM.contains(&co2) {
            return Err(ProbeFault::OutOfRange);
        }
        Ok(co2)
    }

    fn send(&mut self, cmd: u16) -> Result<(), ProbeFault> {
        self.i2c.write(self.address, &cmd.to_be_bytes()).map_err(|_| ProbeFault::Bus)
    }

    fn read<D: DelayNs>(&mut self, cmd: u16, reply: &mut [u8], delay: &mut D) -> Result<(), ProbeFault> {
        self.send(cmd)?;
        delay.delay_ms(COMMAND_WAIT_MS);
        self.i2c.read(self.address, reply).map_err(|_| ProbeFault::Bus)
    }
}

impl<I2C: I2c> Co2Sensor for Scd4x<I2C> {
    fn start(&mut self) -> Result<(), ProbeFault> {
        self.start_periodic_measurement()
    }

    fn read_co2_ppm<D: DelayNs>(&mut self, delay: &mut D) -> Result<u32, ProbeFault> {
        if !self.data_ready(delay)? {
            return Err(ProbeFault::NotReady);
        }
        self.measurement_ppm(delay)
    }
}
