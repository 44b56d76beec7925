//! The indicators of one reading: dew point, surface condition, dew-point margin and the
//! conditions the mould model uses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::psychrometrics::dew_point_c;
use crate::reading::RoomReading;
use crate::rule::Metric;
use crate::surface::{
    condensation_risk, dew_point_margin, estimated_surface, measured_surface, CondensationRisk,
    DewPointMargin, SurfaceCondition,
};

/// Whose temperature and humidity fed the mould model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionsBasis {
    MeasuredSurface,
    /// ESTIMATE from the temperature factor.
    EstimatedSurface,
    /// Room air only: optimistic, the model is meant for surface conditions.
    RoomAir,
}

/// Settings that shape the per-reading indicators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointSettings {
    pub f_rsi: f64,
    pub assumed_outdoor_temperature_c: Option<f64>,
    pub condensation_warning_margin_c: f64,
}

/// Indicators of one reading, plus the room's mould index at its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicators {
    pub time: DateTime<Utc>,
    pub temperature_c: f64,
    pub rh_pct: f64,
    /// `None` for completely dry air (RH 0).
    pub dew_point_c: Option<f64>,
    /// Measured if the reading had a surface probe, else ESTIMATED when an outdoor temperature
    /// was known, else `None`.
    pub surface: Option<SurfaceCondition>,
    pub dew_point_margin: Option<DewPointMargin>,
    pub condensation: CondensationRisk,
    pub co2_ppm: Option<f64>,
    /// Which conditions this reading hands to the mould model for the time until the next one.
    pub conditions_basis: ConditionsBasis,
    /// The room's mould index M at `time`.
    pub mould_index: f64,
    /// Which conditions produced `mould_index` over the last interval (`None` before the first).
    pub mould_index_basis: Option<ConditionsBasis>,
}

impl Indicators {
    /// Computes everything but the mould index, which needs the room's history (0 and `None`
    /// here; the room state fills them in).
    pub fn of(reading: &RoomReading, settings: &PointSettings) -> Indicators {
        let (t, rh) = (reading.temperature_c, reading.rh_pct);
        let surface = match reading.surface_temperature_c {
            Some(ts) => measured_surface(t, rh, ts),
            None => reading
                .outdoor_temperature_c
                .or(settings.assumed_outdoor_temperature_c)
                .and_then(|te| estimated_surface(t, rh, te, settings.f_rsi)),
        };
        let margin = dew_point_margin(t, rh, surface.as_ref());
        let condensation = margin
            .map(|m| condensation_risk(m.margin_c, settings.condensation_warning_margin_c))
            .unwrap_or(CondensationRisk::None);
        let conditions_basis = match &surface {
            Some(s) if s.basis.is_estimate() => ConditionsBasis::EstimatedSurface,
            Some(_) => ConditionsBasis::MeasuredSurface,
            None => ConditionsBasis::RoomAir,
        };
        Indicators {
            time: reading.time,
            temperature_c: t,
            rh_pct: rh,
            dew_point_c: dew_point_c(t, rh),
            surface,
            dew_point_margin: margin,
            condensation,
            co2_ppm: reading.co2_ppm,
            conditions_basis,
            mould_index: 0.0,
            mould_index_basis: None,
        }
    }

    /// Temperature and humidity the mould model should use: the surface's when known.
    pub fn mould_conditions(&self) -> (f64, f64) {
        match &self.surface {
            Some(s) => (s.temperature_c, s.rh_pct),
            None => (self.temperature_c, self.rh_pct),
        }
    }

    /// The value of `metric` for this reading, and whether it is an estimate.
    pub fn metric(&self, metric: Metric) -> Option<(f64, bool)> {
        let surface_estimate = self.surface.as_ref().is_some_and(|s| s.basis.is_estimate());
        match metric {
            Metric::RoomRh => Some((self.rh_pct, false)),
            Metric::AirTemperature => Some((self.temperature_c, false)),
            Metric::SurfaceRh => self.surface.as_ref().map(|s| (s.rh_pct, surface_estimate)),
            Metric::Co2 => self.co2_ppm.map(|v| (v, false)),
            Metric::MouldIndex => {
                Some((self.mould_index, self.mould_index_basis == Some(ConditionsBasis::EstimatedSurface)))
            }
            Metric::DewPointMargin => self.dew_point_margin.map(|m| (m.margin_c, surface_estimate)),
        }
    }
}
