//! Moist-air relations: saturation vapour pressure (Magnus, as in `domain.md`), vapour density
//! and relative humidity. The room model tracks water vapour as a density (g/m³) because that
//! is what moisture sources add and ventilation removes; relative humidity is derived from it.

/// Specific gas constant of water vapour, J/(kg·K).
const R_VAPOUR: f64 = 461.5;

/// Saturation vapour pressure over water, Pa (Magnus form used across the product).
pub fn saturation_pressure_pa(t_c: f64) -> f64 {
    611.2 * (17.62 * t_c / (243.12 + t_c)).exp()
}

/// Water vapour density at saturation, g/m³.
pub fn saturation_density_g_m3(t_c: f64) -> f64 {
    saturation_pressure_pa(t_c) / (R_VAPOUR * (t_c + 273.15)) * 1000.0
}

/// Relative humidity (%) of air at `t_c` holding `vapour_g_m3`, capped at 100 %: more vapour
/// than saturation condenses as mist, which a humidity sensor reads as 100 %.
pub fn relative_humidity_pct(t_c: f64, vapour_g_m3: f64) -> f64 {
    (vapour_g_m3 / saturation_density_g_m3(t_c) * 100.0).clamp(0.0, 100.0)
}

/// Vapour density (g/m³) of air at `t_c` and `rh_pct`.
pub fn vapour_density_g_m3(t_c: f64, rh_pct: f64) -> f64 {
    saturation_density_g_m3(t_c) * rh_pct / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_matches_tables() {
        // Textbook values: 20 °C holds 17.3 g/m³, 0 °C 4.85 g/m³.
        assert!((saturation_density_g_m3(20.0) - 17.3).abs() < 0.1);
        assert!((saturation_density_g_m3(0.0) - 4.85).abs() < 0.05);
    }

    #[test]
    fn humidity_round_trips_and_caps() {
        let v = vapour_density_g_m3(18.0, 65.0);
        assert!((relative_humidity_pct(18.0, v) - 65.0).abs() < 1e-9);
        assert_eq!(relative_humidity_pct(18.0, 99.0), 100.0);
        // The same vapour is much more humid against a colder surface.
        assert!(relative_humidity_pct(10.0, v) > 95.0);
    }
}
