//! One committed reading of one room, in physical units, as the engine consumes it.

use chrono::{DateTime, Utc};
use dampwatch_wire::Quantity;
use serde::{Deserialize, Serialize};

/// A room reading. The collector converts the wire format's fixed-point values to these units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomReading {
    /// Sample time (UTC). Readings with an unset device clock must not be fed to the engine.
    pub time: DateTime<Utc>,
    /// Air temperature, °C.
    pub temperature_c: f64,
    /// Air relative humidity, percent (0–100).
    pub rh_pct: f64,
    /// Temperature of the coldest wall from a surface probe, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surface_temperature_c: Option<f64>,
    /// CO2 concentration, ppm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co2_ppm: Option<f64>,
    /// Outdoor temperature at the time (weather feed), °C: lets the engine ESTIMATE the surface
    /// temperature from the temperature factor when there is no probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outdoor_temperature_c: Option<f64>,
}

/// A value no sensor in a home can produce: the reading is refused rather than guessed at, and
/// the caller counts it (the collector has already stored such a value as missing and flagged
/// it, so a reading that comes through the collector is never refused here).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadingError {
    #[error("{field} is not a number ({value})")]
    NotFinite { field: &'static str, value: f64 },
    #[error("{field} {value} is outside the plausible range {min}..={max}")]
    OutOfRange { field: &'static str, value: f64, min: f64, max: f64 },
}

/// Outdoor temperature comes from a weather feed, not from a device's sensor, so the wire's
/// ranges do not apply: this one is wider than any weather.
const OUTDOOR_TEMPERATURE_RANGE_C: (f64, f64) = (-60.0, 100.0);

impl RoomReading {
    /// A reading with only air temperature and humidity.
    pub fn air(time: DateTime<Utc>, temperature_c: f64, rh_pct: f64) -> Self {
        RoomReading {
            time,
            temperature_c,
            rh_pct,
            surface_temperature_c: None,
            co2_ppm: None,
            outdoor_temperature_c: None,
        }
    }

    /// Checks every value against its plausible range: the sensors' values against the wire's
    /// plausibility policy ([`Quantity`]), the one the collector's checks apply.
    pub fn validate(&self) -> Result<(), ReadingError> {
        check("temperature_c", self.temperature_c, Quantity::AirTemperature.physical_range())?;
        check("rh_pct", self.rh_pct, Quantity::RelativeHumidity.physical_range())?;
        if let Some(v) = self.surface_temperature_c {
            check("surface_temperature_c", v, Quantity::SurfaceTemperature.physical_range())?;
        }
        if let Some(v) = self.co2_ppm {
            check("co2_ppm", v, Quantity::Co2.physical_range())?;
        }
        if let Some(v) = self.outdoor_temperature_c {
            check("outdoor_temperature_c", v, OUTDOOR_TEMPERATURE_RANGE_C)?;
        }
        Ok(())
    }
}

fn check(field: &'static str, value: f64, (min, max): (f64, f64)) -> Result<(), ReadingError> {
    if !value.is_finite() {
        return Err(ReadingError::NotFinite { field, value });
    }
    if value < min || value > max {
        return Err(ReadingError::OutOfRange { field, value, min, max });
    }
    Ok(())
}
