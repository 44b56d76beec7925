//! Dew point, saturation pressure and surface humidity against known values.

use dampwatch_indicators::surface::{estimated_surface, measured_surface, surface_rh_uncapped};
use dampwatch_indicators::{dew_point_c, saturation_pressure_pa, SurfaceBasis};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn dew_point_known_values() {
    // 20 °C, 50 %: γ = ln 0.5 + 17.625·20/263.04 = −0.693147 + 1.340100 = 0.646953;
    // Td = 243.04·0.646953 / (17.625 − 0.646953) = 157.236 / 16.978 = 9.261 °C.
    let td = dew_point_c(20.0, 50.0).expect("valid");
    assert!(close(td, 9.26, 0.01), "{td}");
    // 25 °C, 60 %: γ = −0.510826 + 1.643878 = 1.133052; Td = 275.377 / 16.491948 = 16.697 °C.
    let td = dew_point_c(25.0, 60.0).expect("valid");
    assert!(close(td, 16.70, 0.01), "{td}");
    // 0 °C, 80 %: γ = ln 0.8 = −0.223144; Td = 243.04·(−0.223144)/17.848144 = −3.039 °C.
    let td = dew_point_c(0.0, 80.0).expect("valid");
    assert!(close(td, -3.04, 0.01), "{td}");
}

#[test]
fn saturation_pressure_known_values() {
    // 611.2·exp(17.62·20/263.12) = 611.2·3.81636 = 2332.6 Pa (tables: 2339 Pa).
    let es = saturation_pressure_pa(20.0).expect("valid");
    assert!(close(es, 2332.6, 0.5), "{es}");
    assert!(close(saturation_pressure_pa(0.0).expect("valid"), 611.2, 1e-9));
}

#[test]
fn surface_humidity_from_room_air() {
    // Air 20 °C / 60 % on a 15 °C wall: e_s(15) = 611.2·exp(17.62·15/258.12) = 1701.66 Pa,
    // RH_s = 60 · 2332.6 / 1701.66 = 82.25 %.
    let rh = surface_rh_uncapped(20.0, 60.0, 15.0).expect("valid");
    assert!(close(rh, 82.25, 0.02), "{rh}");
    let measured = measured_surface(20.0, 60.0, 15.0).expect("valid");
    assert_eq!(measured.basis, SurfaceBasis::Measured);
    // Same wall estimated: outdoor 0 °C, f_Rsi 0.75 → θ_si = 15 °C, labelled an estimate.
    let estimated = estimated_surface(20.0, 60.0, 0.0, 0.75).expect("valid");
    assert!(close(estimated.rh_pct, measured.rh_pct, 1e-9));
    assert_eq!(estimated.basis, SurfaceBasis::Estimated { f_rsi: 0.75, outdoor_temperature_c: 0.0 });
}
