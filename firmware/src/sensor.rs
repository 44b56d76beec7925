//! Taking one sample from the fitted sensors. A sensor fault never stops sampling: the reading
//! is still made, flagged with the matching status bit, and the fault is counted.

use embedded_hal::delay::DelayNs;

use crate::drivers::{Battery, Co2Sensor, ProbeFault, SurfaceProbe, TrhSensor};
use crate::sample::{status, Sample};

/// No reading at all could be made at this sample time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no reading could be made")]
pub struct SensorUnavailable;

/// Whatever produces samples for the driver loop.
pub trait Sensor {
    /// Puts the sensors into their measuring mode; called once per boot, before sampling.
    /// Failures are counted by the sensor and show up as flagged samples, never as an error.
    fn power_up(&mut self) {}

    fn sample(&mut self) -> Result<Sample, SensorUnavailable>;
}

/// Sensor faults since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SensorFaults {
    pub trh_bus: u32,
    pub trh_crc: u32,
    pub trh_range: u32,
    pub surface_failed: u32,
    pub co2_failed: u32,
}

/// The standard sensor set: a T/RH sensor, an optional surface probe, an optional CO2 sensor
/// and the supply voltage. Use `None::<NotFitted>` for a sensor that is not fitted.
pub struct SensorSuite<T, P, C, B, D> {
    trh: T,
    surface: Option<P>,
    co2: Option<C>,
    battery: B,
    delay: D,
    faults: SensorFaults,
}

impl<T, P, C, B, D> SensorSuite<T, P, C, B, D>
where
    T: TrhSensor,
    P: SurfaceProbe,
    C: Co2Sensor,
    B: Battery,
    D: DelayNs,
{
    pub fn new(trh: T, surface: Option<P>, co2: Option<C>, battery: B, delay: D) -> Self {
        SensorSuite { trh, surface, co2, battery, delay, faults: SensorFaults::default() }
    }

    pub fn faults(&self) -> SensorFaults {
        self.faults
    }
}

fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

impl<T, P, C, B, D> Sensor for SensorSuite<T, P, C, B, D>
where
    T: TrhSensor,
    P: SurfaceProbe,
    C: Co2Sensor,
    B: Battery,
    D: DelayNs,
{
    /// Starts the CO2 sensor's periodic measurement. After a reset that left the sensor
    /// powered it is still measuring and refuses the command: counted once, harmless.
    fn power_up(&mut self) {
        if let Some(co2) = self.co2.as_mut() {
            if co2.start().is_err() {
                bump(&mut self.faults.co2_failed);
            }
        }
    }

    fn sample(&mut self) -> Result<Sample, SensorUnavailable> {
        let mut sample = Sample::default();
        match self.trh.read_trh(&mut self.delay) {
            Ok(m) => {
                sample.temperature_centi_c = m.temperature_centi_c;
                sample.rh_centi_pct = m.rh_centi_pct;
                if m.clamped {
                    sample.status |= status::TRH_RANGE;
                    bump(&mut self.faults.trh_range);
                }
            }
            // Temperature and humidity stay 0; the flag says they are not valid.
            Err(ProbeFault::Crc) => {
                sample.status |= status::TRH_CRC;
                bump(&mut self.faults.trh_crc);
            }
            Err(_) => {
                sample.status |= status::TRH_BUS;
                bump(&mut self.faults.trh_bus);
            }
        }
        if let Some(probe) = self.surface.as_mut() {
            match probe.read_surface_centi_c(&mut self.delay) {
                Ok(t) => sample.surface_temperature_centi_c = Some(t),
                Err(_) => {
                    sample.status |= status::SURFACE_FAILED;
                    bump(&mut self.faults.surface_failed);
                }
            }
        }
        if let Some(co2) = self.co2.as_mut() {
            match co2.read_co2_ppm(&mut self.delay) {
                Ok(ppm) => sample.co2_ppm = Some(ppm),
                Err(_) => {
                    sample.status |= status::CO2_FAILED;
                    bump(&mut self.faults.co2_failed);
                }
            }
        }
        sample.battery_mv = self.battery.battery_mv();
        Ok(sample)
    }
}
