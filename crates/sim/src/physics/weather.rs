//! Outdoor conditions: a daily temperature cycle on top of a seasonal mean, slow weather fronts
//! lasting days, outdoor moisture from the dew point, and sunshine. A pure function of time and
//! a seed, so any moment can be evaluated without stepping through the ones before it.

use crate::physics::psychro::saturation_density_g_m3;
use crate::physics::time::{day_fraction, days};
use crate::rng;

/// The climate a home sits in (one season's worth).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Climate {
    /// Mean outdoor temperature, °C.
    pub mean_c: f64,
    /// Half the daily swing: the afternoon is this much warmer than the mean, the small hours
    /// this much colder.
    pub daily_swing_c: f64,
    /// How far the dew point sits below the daily mean temperature (small in a damp maritime
    /// winter, larger in a dry spell).
    pub dew_depression_c: f64,
    /// Typical size of the multi-day anomaly weather fronts bring, °C.
    pub fronts_c: f64,
    /// Clear-sky sunshine at noon on the room's windows, 0 (dark winter) to 1 (high summer).
    pub sunshine: f64,
}

impl Climate {
    /// A British winter: cool, damp, little sun.
    pub const WINTER: Climate =
        Climate { mean_c: 6.0, daily_swing_c: 3.0, dew_depression_c: 1.5, fronts_c: 2.5, sunshine: 0.25 };
    /// A cold snap: near freezing for days.
    pub const COLD_SNAP: Climate =
        Climate { mean_c: 2.0, daily_swing_c: 3.5, dew_depression_c: 2.0, fronts_c: 1.5, sunshine: 0.3 };
    /// A summer heatwave.
    pub const HEATWAVE: Climate =
        Climate { mean_c: 24.0, daily_swing_c: 7.0, dew_depression_c: 9.0, fronts_c: 1.5, sunshine: 1.0 };
    /// Spring or autumn.
    pub const MILD: Climate =
        Climate { mean_c: 10.0, daily_swing_c: 4.0, dew_depression_c: 2.5, fronts_c: 2.5, sunshine: 0.5 };
}

/// Outdoor conditions at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outdoor {
    pub temperature_c: f64,
    /// Water vapour in the outdoor air, g/m³ (what ventilation brings in).
    pub vapour_g_m3: f64,
    /// Sunshine on the windows, 0 to 1.
    pub sun: f64,
}

/// The weather of one home: its climate and the seed of its fronts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weather {
    pub climate: Climate,
    pub seed: u64,
}

/// Periods of the three superposed fronts, days: incommensurate, so the pattern does not repeat
/// within a simulation.
const FRONT_PERIODS_DAYS: [f64; 3] = [2.3, 3.9, 6.7];

impl Weather {
    pub fn new(climate: Climate, seed: u64) -> Self {
        Weather { climate, seed }
    }

    /// The multi-day anomaly at `wall_ms`, °C.
    fn front_anomaly_c(&self, wall_ms: i64) -> f64 {
        let d = days(wall_ms);
        let sum: f64 = FRONT_PERIODS_DAYS
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let phase = rng::unit(self.seed, 0x7765_6174, k as u64) * std::f64::consts::TAU;
                (std::f64::consts::TAU * d / p + phase).sin()
            })
            .sum();
        // Three unit sines have a standard deviation of about 1.22.
        sum / 1.22 * self.climate.fronts_c
    }

    pub fn at(&self, wall_ms: i64) -> Outdoor {
        let c = &self.climate;
        let anomaly = self.front_anomaly_c(wall_ms);
        let hour = day_fraction(wall_ms) * 24.0;
        // Warmest around 15:00, coldest around 03:00.
        let daily = (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos();
        let temperature_c = c.mean_c + anomaly + c.daily_swing_c * daily;
        // The dew point follows the air mass (mean and fronts), not the daily cycle; at night
        // the air cools to it (fog), never below it.
        let dew_point_c = (c.mean_c + anomaly - c.dew_depression_c).min(temperature_c);
        let vapour_g_m3 = saturation_density_g_m3(dew_point_c);
        // Daylight from 06:00 to 20:00; fronts bring cloud.
        let daylight = if (6.0..20.0).contains(&hour) {
            (std::f64::consts::PI * (hour - 6.0) / 14.0).sin()
        } else {
            0.0
        };
        let cloud = 0.5 + 0.5 * rng::unit(self.seed, 0x636c_6f75, (days(wall_ms) * 2.0) as u64);
        Outdoor { temperature_c, vapour_g_m3, sun: c.sunshine * daylight * cloud }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::psychro::relative_humidity_pct;
    use crate::physics::time::HOUR_MS;

    #[test]
    fn afternoons_are_warmer_than_nights_and_outdoor_air_is_never_supersaturated() {
        let w = Weather::new(Climate::WINTER, 42);
        let day0 = 20_000 * 24 * HOUR_MS;
        let mut warmer = 0.0;
        for d in 0..10 {
            let base = day0 + d * 24 * HOUR_MS;
            let night = w.at(base + 3 * HOUR_MS);
            let afternoon = w.at(base + 15 * HOUR_MS);
            warmer += (afternoon.temperature_c - night.temperature_c) / 10.0;
            for o in [night, afternoon] {
                assert!(relative_humidity_pct(o.temperature_c, o.vapour_g_m3) <= 100.0);
            }
            assert_eq!(night.sun, 0.0);
            assert!(afternoon.sun > 0.0);
        }
        // Twice the daily swing, give or take what the fronts did in those twelve hours.
        assert!((warmer - 6.0).abs() < 1.5, "afternoons warmer by {warmer:.1} °C");
    }

    #[test]
    fn fronts_move_the_mean_by_a_few_degrees() {
        let w = Weather::new(Climate::MILD, 7);
        let means: Vec<f64> = (0..30)
            .map(|d| {
                (0..24)
                    .map(|h| w.at(20_000 * 24 * HOUR_MS + (d * 24 + h) * HOUR_MS).temperature_c)
                    .sum::<f64>()
                    / 24.0
            })
            .collect();
        let lo = means.iter().cloned().fold(f64::MAX, f64::min);
        let hi = means.iter().cloned().fold(f64::MIN, f64::max);
        assert!(hi - lo > 3.0 && hi - lo < 20.0, "daily means {lo:.1}..{hi:.1}");
    }
}
