//! What the device's sensors report about its simulated room: the physics state plus the
//! small noise of real parts (SHT4x ±0.2 °C / ±1.8 % RH class, a surface probe, an NDIR CO2
//! sensor), rounded to the wire's fixed-point units.

use dampwatch_firmware::Sample;

use crate::homes::Probes;
use crate::physics::SimulatedRoom;
use crate::rng;

/// Noise standard deviations: temperature °C, humidity % RH, CO2 ppm.
const TEMPERATURE_NOISE_C: f64 = 0.05;
const HUMIDITY_NOISE_PCT: f64 = 0.4;
const CO2_NOISE_PPM: f64 = 15.0;

const SALT_T: u64 = 0x7465_6d70;
const SALT_RH: u64 = 0x7268_0000;
const SALT_SURFACE: u64 = 0x7375_7266;
const SALT_CO2: u64 = 0x636f_3232;

/// The device's reading of `room` as it is now. `seed` and the room's time key the noise, so a
/// re-run reads the same values.
pub fn read(room: &SimulatedRoom, probes: Probes, battery_mv: u32, seed: u64) -> Sample {
    let s = room.state();
    let k = room.at_ms() as u64 / 1000;
    let t = s.temperature_c + TEMPERATURE_NOISE_C * rng::normal(seed, SALT_T, k);
    let rh =
        (s.relative_humidity_pct() + HUMIDITY_NOISE_PCT * rng::normal(seed, SALT_RH, k)).clamp(0.0, 100.0);
    let surface = probes
        .surface
        .then(|| room.surface_temperature_c() + TEMPERATURE_NOISE_C * rng::normal(seed, SALT_SURFACE, k));
    let co2 = probes.co2.then(|| (s.co2_ppm + CO2_NOISE_PPM * rng::normal(seed, SALT_CO2, k)).max(0.0));
    Sample {
        temperature_centi_c: centi(t),
        rh_centi_pct: centi(rh).clamp(0, 10_000) as u32,
        surface_temperature_centi_c: surface.map(centi),
        co2_ppm: co2.map(|c| c.round() as u32),
        battery_mv,
        status: 0,
    }
}

fn centi(v: f64) -> i32 {
    (v * 100.0).round() as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::homes::home_for;
    use crate::physics::time::DAY_MS;
    use crate::physics::Weather;
    use crate::scenario::Scenario;

    #[test]
    fn a_reading_is_the_room_within_sensor_noise() {
        let home = home_for(Scenario::DampBedroom, 5);
        let room = SimulatedRoom::new(home.room, Weather::new(home.climate, 5), 5, 20_454 * DAY_MS);
        let sample = read(&room, home.probes, 2950, 5);
        let s = room.state();
        assert!((f64::from(sample.temperature_centi_c) / 100.0 - s.temperature_c).abs() < 0.3);
        assert!((f64::from(sample.rh_centi_pct) / 100.0 - s.relative_humidity_pct()).abs() < 2.0);
        let surface = f64::from(sample.surface_temperature_centi_c.unwrap()) / 100.0;
        assert!(surface < s.temperature_c, "the wall is colder than the air");
        assert!(sample.co2_ppm.unwrap() >= 300);
        assert_eq!(sample, read(&room, home.probes, 2950, 5), "deterministic");
        let bare = read(&room, Probes { surface: false, co2: false }, 2950, 5);
        assert_eq!((bare.surface_temperature_centi_c, bare.co2_ppm), (None, None));
    }
}
