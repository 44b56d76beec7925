//! Conditions at the coldest wall surface, where mould and condensation start.
//!
//! A surface probe gives the surface temperature directly. Without one, the temperature factor
//! f_Rsi = (θ_si − θ_e)/(θ_i − θ_e) and an outdoor temperature give an estimate; such values are
//! always labelled [`SurfaceBasis::Estimated`] so nobody mistakes them for a measurement.

use serde::{Deserialize, Serialize};

use crate::psychrometrics::{dew_point_c, saturation_pressure_pa};

/// The f_Rsi UK dwellings aim for (BS 5250, BRE IP1/06): a surface at least this warm relative
/// to the indoor–outdoor difference avoids surface condensation and mould in normal use.
pub const DEFAULT_F_RSI: f64 = 0.75;

/// Dew-point margin below which condensation is near (°C), domain facts §4.
pub const DEFAULT_CONDENSATION_WARNING_MARGIN_C: f64 = 2.0;

/// Where a surface temperature came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SurfaceBasis {
    /// A probe on the wall measured it.
    Measured,
    /// ESTIMATE from the temperature factor and an outdoor temperature; not a measurement.
    Estimated { f_rsi: f64, outdoor_temperature_c: f64 },
}

impl SurfaceBasis {
    /// True for values that are estimates, not measurements.
    pub fn is_estimate(&self) -> bool {
        matches!(self, SurfaceBasis::Estimated { .. })
    }
}

/// Temperature and relative humidity at the surface.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SurfaceCondition {
    pub temperature_c: f64,
    /// Surface relative humidity in percent, capped at 100.
    pub rh_pct: f64,
    /// The uncapped value is above 100 %: water is condensing on the surface.
    pub condensing: bool,
    pub basis: SurfaceBasis,
}

/// Estimated inner-surface temperature θ_si = θ_e + f_Rsi · (θ_i − θ_e).
pub fn estimate_surface_temperature_c(indoor_c: f64, outdoor_c: f64, f_rsi: f64) -> f64 {
    outdoor_c + f_rsi * (indoor_c - outdoor_c)
}

/// Relative humidity of room air brought to the surface temperature, uncapped:
/// RH_s = RH_i · e_s(T_i) / e_s(T_s). Values above 100 % mean condensation.
pub fn surface_rh_uncapped(air_c: f64, air_rh_pct: f64, surface_c: f64) -> Option<f64> {
    let es_air = saturation_pressure_pa(air_c)?;
    let es_surface = saturation_pressure_pa(surface_c)?;
    if !air_rh_pct.is_finite() || es_surface <= 0.0 {
        return None;
    }
    Some(air_rh_pct * es_air / es_surface)
}

/// Surface condition from a measured surface temperature.
pub fn measured_surface(air_c: f64, air_rh_pct: f64, surface_c: f64) -> Option<SurfaceCondition> {
    condition(air_c, air_rh_pct, surface_c, SurfaceBasis::Measured)
}

/// Surface condition ESTIMATED from the temperature factor and an outdoor temperature.
pub fn estimated_surface(
    air_c: f64,
    air_rh_pct: f64,
    outdoor_c: f64,
    f_rsi: f64,
) -> Option<SurfaceCondition> {
    let surface_c = estimate_surface_temperature_c(air_c, outdoor_c, f_rsi);
    condition(
        air_c,
        air_rh_pct,
        surface_c,
        SurfaceBasis::Estimated { f_rsi, outdoor_temperature_c: outdoor_c },
    )
}

fn condition(air_c: f64, air_rh_pct: f64, surface_c: f64, basis: SurfaceBasis) -> Option<SurfaceCondition> {
    let raw = surface_rh_uncapped(air_c, air_rh_pct, surface_c)?;
    Some(SurfaceCondition {
        temperature_c: surface_c,
        rh_pct: raw.min(100.0),
        condensing: raw > 100.0,
        basis,
    })
}

/// What the dew-point margin was measured against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginBasis {
    MeasuredSurface,
    /// ESTIMATE: the surface temperature came from the temperature factor.
    EstimatedSurface,
    /// Only the air temperature was known; the real coldest surface is colder, so this margin
    /// is optimistic.
    AirOnly,
}

/// How close the coldest known temperature is to the dew point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DewPointMargin {
    /// Coldest known temperature minus dew point, °C.
    pub margin_c: f64,
    pub basis: MarginBasis,
}

/// Condensation risk from the dew-point margin (domain facts §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CondensationRisk {
    None,
    /// Margin below the warning margin (2 °C by default).
    Warning,
    /// Margin at or below zero: water condenses.
    Condensation,
}

/// Dew-point margin against the surface if known, else against the air.
pub fn dew_point_margin(
    air_c: f64,
    air_rh_pct: f64,
    surface: Option<&SurfaceCondition>,
) -> Option<DewPointMargin> {
    let dew_point = dew_point_c(air_c, air_rh_pct)?;
    let (coldest, basis) = match surface {
        Some(s) if s.basis.is_estimate() => (s.temperature_c, MarginBasis::EstimatedSurface),
        Some(s) => (s.temperature_c, MarginBasis::MeasuredSurface),
        None => (air_c, MarginBasis::AirOnly),
    };
    Some(DewPointMargin { margin_c: coldest - dew_point, basis })
}

/// Classifies a margin.
pub fn condensation_risk(margin_c: f64, warning_margin_c: f64) -> CondensationRisk {
    if margin_c <= 0.0 {
        CondensationRisk::Condensation
    } else if margin_c < warning_margin_c {
        CondensationRisk::Warning
    } else {
        CondensationRisk::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surface_at_air_temperature_has_air_humidity() {
        let s = measured_surface(20.0, 60.0, 20.0).expect("valid");
        assert!((s.rh_pct - 60.0).abs() < 1e-9);
        assert!(!s.condensing);
    }

    #[test]
    fn surface_below_dew_point_is_condensing_and_capped() {
        let td = dew_point_c(20.0, 60.0).expect("valid");
        let s = measured_surface(20.0, 60.0, td - 1.0).expect("valid");
        assert_eq!(s.rh_pct, 100.0);
        assert!(s.condensing);
    }

    #[test]
    fn estimate_uses_temperature_factor_and_is_labelled() {
        // θ_si = 0 + 0.75 · (20 − 0) = 15 °C.
        let s = estimated_surface(20.0, 50.0, 0.0, 0.75).expect("valid");
        assert!((s.temperature_c - 15.0).abs() < 1e-12);
        assert!(s.basis.is_estimate());
        let m = dew_point_margin(20.0, 50.0, Some(&s)).expect("valid");
        assert_eq!(m.basis, MarginBasis::EstimatedSurface);
    }

    #[test]
    fn risk_bands() {
        assert_eq!(condensation_risk(3.0, 2.0), CondensationRisk::None);
        assert_eq!(condensation_risk(1.0, 2.0), CondensationRisk::Warning);
        assert_eq!(condensation_risk(0.0, 2.0), CondensationRisk::Condensation);
    }
}
