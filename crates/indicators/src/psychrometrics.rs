//! Moist-air relations used by every indicator: saturation vapour pressure and dew point.
//!
//! Both use Magnus-type formulas over liquid water (domain facts §4). They are accurate to a few
//! tenths of a degree between −40 °C and 60 °C, far better than any room sensor.

/// Magnus coefficient `a` for the dew point (Alduchov & Eskridge 1996 set).
pub const MAGNUS_A: f64 = 17.625;
/// Magnus coefficient `b` for the dew point, °C.
pub const MAGNUS_B_C: f64 = 243.04;

/// Saturation-pressure coefficients: e_s(T) = 611.2 · exp(17.62 · T / (243.12 + T)) Pa.
const SAT_E0_PA: f64 = 611.2;
const SAT_A: f64 = 17.62;
const SAT_B_C: f64 = 243.12;

/// Saturation vapour pressure over water at `temperature_c`, in pascals.
///
/// Returns `None` for a non-finite temperature or one at or below −243.12 °C, where the
/// formula has no meaning.
pub fn saturation_pressure_pa(temperature_c: f64) -> Option<f64> {
    if !temperature_c.is_finite() || temperature_c <= -SAT_B_C {
        return None;
    }
    Some(SAT_E0_PA * (SAT_A * temperature_c / (SAT_B_C + temperature_c)).exp())
}

/// Dew point in °C of air at `temperature_c` and relative humidity `rh_pct` (percent).
///
/// Returns `None` when the humidity is not in (0, 100] or the temperature is not finite or not
/// above −243.04 °C: completely dry air has no dew point, and a value above 100 % is a sensor
/// fault, not air.
pub fn dew_point_c(temperature_c: f64, rh_pct: f64) -> Option<f64> {
    if !temperature_c.is_finite() || temperature_c <= -MAGNUS_B_C || !(rh_pct > 0.0 && rh_pct <= 100.0) {
        return None;
    }
    let gamma = (rh_pct / 100.0).ln() + MAGNUS_A * temperature_c / (MAGNUS_B_C + temperature_c);
    Some(MAGNUS_B_C * gamma / (MAGNUS_A - gamma))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_air_has_its_own_temperature_as_dew_point() {
        for t in [-10.0, 0.0, 12.5, 20.0, 35.0] {
            let td = dew_point_c(t, 100.0).expect("valid input");
            assert!((td - t).abs() < 1e-9, "{t} -> {td}");
        }
    }

    #[test]
    fn dry_or_impossible_air_has_no_dew_point() {
        assert_eq!(dew_point_c(20.0, 0.0), None);
        assert_eq!(dew_point_c(20.0, 100.5), None);
        assert_eq!(dew_point_c(f64::NAN, 50.0), None);
        assert_eq!(saturation_pressure_pa(f64::INFINITY), None);
    }
}
