//! One committed reading of one room, in physical units, as the engine consumes it.

use chrono::{DateTime, Utc};
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

/// A value no sensor in a home can produce: the reading is refused rather than guessed at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadingError {
    #[error("{field} is not a number ({value})")]
    NotFinite { field: &'static str, value: f64 },
    #[error("{field} {value} is outside the plausible range {min}..={max}")]
    OutOfRange { field: &'static str, value: f64, min: f64, max: f64 },
}

/// Plausible ranges: wider than any home, narrower than a broken sensor.
const TEMPERATURE_RANGE_C: (f64, f64) = (-60.0, 100.0);
const RH_RANGE_PCT: (f64, f64) = (0.0, 100.0);
const CO2_RANGE_PPM: (f64, f64) = (0.0, 100_000.0);

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

    /// Checks every value against its plausible range.
    pub fn validate(&self) -> Result<(), ReadingError> {
        check("temperature_c", self.temperature_c, TEMPERATURE_RANGE_C)?;
        check("rh_pct", self.rh_pct, RH_RANGE_PCT)?;
        if let Some(v) = self.surface_temperature_c {
            check("surface_temperature_c", v, TEMPERATURE_RANGE_C)?;
        }
        if let Some(v) = self.co2_ppm {
            check("co2_ppm", v, CO2_RANGE_PPM)?;
        }
        if let Some(v) = self.outdoor_temperature_c {
            check("outdoor_temperature_c", v, TEMPERATURE_RANGE_C)?;
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
