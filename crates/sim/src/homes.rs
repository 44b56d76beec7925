//! The homes the scenarios put devices in: a room, its household's habits, its heating, its
//! climate and which optional probes the device has. Each device varies its home a little
//! (size, ventilation, insulation) from its own seed, so a fleet is not a thousand copies.

use crate::physics::room::RoomSpec;
use crate::physics::routine::{Habits, Heating, NEVER};
use crate::physics::weather::Climate;
use crate::rng;
use crate::scenario::Scenario;

/// Effective heat capacity per cubic metre of room, J/(m³·K): air is only 1 200 of it;
/// furniture and the inner leaves of walls and floors make up the rest.
const HEAT_CAPACITY_J_M3_K: f64 = 80_000.0;

/// Which optional sensors the device has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probes {
    /// A surface temperature probe on the coldest external wall.
    pub surface: bool,
    pub co2: bool,
}

/// Everything about a device's home.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Home {
    pub room: RoomSpec,
    pub climate: Climate,
    pub probes: Probes,
}

const NO_HABITS: Habits = Habits {
    occupants: 0,
    awake: NEVER,
    asleep: NEVER,
    showers: false,
    cooking: false,
    laundry_chance: 0.0,
    background_g_h: 0.0,
    appliances_w: 0.0,
};

/// A room of the given volume with capacity to match; the rest is filled in per home.
fn room(volume_m3: f64) -> RoomSpec {
    RoomSpec {
        volume_m3,
        ventilation_ach: 0.6,
        extract_ach: 0.0,
        fabric_loss_w_k: 25.0,
        heat_capacity_j_k: HEAT_CAPACITY_J_M3_K * volume_m3,
        f_rsi: 0.8,
        cold_area_m2: 2.0,
        solar_gain_w: 150.0,
        moisture_buffer: 2.0,
        heating: Heating::OFF,
        habits: NO_HABITS,
    }
}

/// Central heating, on morning and evening, set back in between.
const CENTRAL_HEATING: Heating =
    Heating { comfort_c: 20.5, setback_c: Some(16.0), periods: [(6.5, 8.5), (16.5, 22.5)], max_w: 2000.0 };

fn living_room() -> RoomSpec {
    RoomSpec {
        ventilation_ach: 0.7,
        fabric_loss_w_k: 30.0,
        solar_gain_w: 300.0,
        heating: CENTRAL_HEATING,
        habits: Habits {
            occupants: 2,
            awake: (17.0, 23.0),
            background_g_h: 20.0,
            appliances_w: 60.0,
            ..NO_HABITS
        },
        ..room(45.0)
    }
}

fn kitchen() -> RoomSpec {
    RoomSpec {
        ventilation_ach: 0.8,
        extract_ach: 5.0,
        cold_area_m2: 1.5,
        moisture_buffer: 1.5,
        heating: Heating { comfort_c: 19.0, setback_c: Some(15.0), max_w: 1200.0, ..CENTRAL_HEATING },
        habits: Habits {
            occupants: 2,
            awake: (17.5, 19.5),
            cooking: true,
            background_g_h: 15.0,
            appliances_w: 150.0,
            ..NO_HABITS
        },
        ..room(25.0)
    }
}

fn bathroom() -> RoomSpec {
    RoomSpec {
        ventilation_ach: 0.8,
        extract_ach: 8.0,
        fabric_loss_w_k: 15.0,
        f_rsi: 0.75,
        cold_area_m2: 1.0,
        solar_gain_w: 50.0,
        moisture_buffer: 1.5,
        // A heated towel rail.
        heating: Heating {
            comfort_c: 21.0,
            setback_c: Some(16.0),
            periods: [(6.0, 9.0), (18.0, 22.0)],
            max_w: 600.0,
        },
        habits: Habits { occupants: 2, showers: true, background_g_h: 5.0, ..NO_HABITS },
        ..room(12.0)
    }
}

fn bedroom() -> RoomSpec {
    RoomSpec {
        ventilation_ach: 0.9,
        moisture_buffer: 2.5,
        heating: Heating {
            comfort_c: 18.5,
            setback_c: Some(16.0),
            periods: [(6.5, 8.0), (20.0, 23.0)],
            max_w: 1200.0,
        },
        habits: Habits { occupants: 2, asleep: (22.5, 7.0), background_g_h: 10.0, ..NO_HABITS },
        ..room(30.0)
    }
}

/// A bedroom nobody can afford to heat or air: two sleepers, windows shut, no trickle vents,
/// washing drying on an airer most days, a solid external wall with a cold corner.
fn damp_bedroom() -> RoomSpec {
    RoomSpec {
        ventilation_ach: 0.35,
        fabric_loss_w_k: 35.0,
        f_rsi: 0.7,
        cold_area_m2: 2.0,
        solar_gain_w: 50.0,
        moisture_buffer: 2.5,
        heating: Heating {
            comfort_c: 17.0,
            setback_c: None,
            periods: [(6.5, 8.0), (18.0, 23.0)],
            max_w: 1000.0,
        },
        habits: Habits {
            occupants: 2,
            asleep: (22.5, 7.5),
            laundry_chance: 0.5,
            background_g_h: 25.0,
            appliances_w: 20.0,
            ..NO_HABITS
        },
        ..room(28.0)
    }
}

/// A living room in a cold snap with the boiler broken: an electric heater in the evenings is
/// all the household runs.
fn cold_living_room() -> RoomSpec {
    RoomSpec {
        fabric_loss_w_k: 40.0,
        f_rsi: 0.7,
        solar_gain_w: 100.0,
        heating: Heating { comfort_c: 16.0, setback_c: None, periods: [(17.0, 22.5), NEVER], max_w: 1500.0 },
        habits: Habits {
            occupants: 1,
            awake: (17.0, 23.0),
            background_g_h: 15.0,
            appliances_w: 150.0,
            ..NO_HABITS
        },
        ..room(35.0)
    }
}

/// A top-floor bedroom facing south-west in a heatwave, windows open as far as they go.
fn hot_bedroom() -> RoomSpec {
    RoomSpec {
        ventilation_ach: 2.0,
        fabric_loss_w_k: 30.0,
        solar_gain_w: 550.0,
        habits: Habits {
            occupants: 2,
            asleep: (23.0, 7.0),
            background_g_h: 15.0,
            appliances_w: 80.0,
            ..NO_HABITS
        },
        ..room(35.0)
    }
}

/// Scales a room's size and leakiness by up to ±`spread` (a fraction), from the seed.
fn vary(mut r: RoomSpec, seed: u64, spread: f64) -> RoomSpec {
    let f = |salt| rng::between(seed, salt, 0, 1.0 - spread, 1.0 + spread);
    let volume = f(1);
    r.volume_m3 *= volume;
    r.heat_capacity_j_k *= volume;
    r.ventilation_ach *= f(2);
    r.fabric_loss_w_k *= f(3);
    r.habits.background_g_h *= f(4);
    r
}

/// A healthy home: one of four rooms, chosen by the seed.
fn healthy_room(seed: u64) -> RoomSpec {
    match (rng::unit(seed, 0x726f_6f6d, 0) * 4.0) as u32 {
        0 => living_room(),
        1 => kitchen(),
        2 => bathroom(),
        _ => bedroom(),
    }
}

/// The home of a device in `scenario` (for `Mixed`, first pick the device's own scenario with
/// [`Scenario::for_device`]).
pub fn home_for(scenario: Scenario, seed: u64) -> Home {
    let probes = |surface_chance: f64, co2_chance: f64| Probes {
        surface: rng::unit(seed, 0x7375_7266, 0) < surface_chance,
        co2: rng::unit(seed, 0x636f_3200, 0) < co2_chance,
    };
    match scenario {
        Scenario::Healthy | Scenario::Offline | Scenario::Outage | Scenario::Mixed => Home {
            room: vary(healthy_room(seed), seed, 0.15),
            climate: if scenario == Scenario::Healthy { Climate::WINTER } else { Climate::MILD },
            probes: probes(0.3, 0.3),
        },
        Scenario::DampBedroom => Home {
            room: vary(damp_bedroom(), seed, 0.1),
            climate: Climate::WINTER,
            probes: Probes { surface: true, co2: true },
        },
        Scenario::ColdHome => Home {
            room: vary(cold_living_room(), seed, 0.1),
            climate: Climate::COLD_SNAP,
            probes: Probes { surface: true, co2: false },
        },
        Scenario::Heat => Home {
            room: vary(hot_bedroom(), seed, 0.1),
            climate: Climate::HEATWAVE,
            probes: probes(0.0, 0.5),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::time::{DAY_MS, HOUR_MS};
    use crate::physics::{SimulatedRoom, Weather};

    /// (temperature, RH, surface temperature, CO2) of a home every ten minutes over `days`.
    fn simulate(scenario: Scenario, seed: u64, days: i64) -> Vec<(f64, f64, f64, f64)> {
        let home = home_for(scenario, seed);
        let start = 20_454 * DAY_MS; // 2026-01-01
        let mut room = SimulatedRoom::new(home.room, Weather::new(home.climate, seed), seed, start);
        (0..days * 144)
            .map(|k| {
                room.advance_to(start + k * HOUR_MS / 6);
                let s = room.state();
                (s.temperature_c, s.relative_humidity_pct(), room.surface_temperature_c(), s.co2_ppm)
            })
            .collect()
    }

    fn share(v: &[(f64, f64, f64, f64)], pred: impl Fn(&(f64, f64, f64, f64)) -> bool) -> f64 {
        v.iter().filter(|x| pred(x)).count() as f64 / v.len() as f64
    }

    fn summary(v: &[(f64, f64, f64, f64)]) -> String {
        let (mut t, mut rh) = ((f64::MAX, f64::MIN, 0.0), (f64::MAX, f64::MIN, 0.0));
        for x in v {
            t = (t.0.min(x.0), t.1.max(x.0), t.2 + x.0 / v.len() as f64);
            rh = (rh.0.min(x.1), rh.1.max(x.1), rh.2 + x.1 / v.len() as f64);
        }
        format!("T {:.1}..{:.1} mean {:.1}; RH {:.0}..{:.0} mean {:.0}", t.0, t.1, t.2, rh.0, rh.1, rh.2)
    }

    #[test]
    fn the_damp_bedroom_stays_above_80_percent_most_of_the_time() {
        for seed in 1..=8 {
            let v = simulate(Scenario::DampBedroom, seed, 7);
            let damp = share(&v, |x| x.1 > 80.0);
            assert!(
                damp > 0.75,
                "seed {seed}: {:.0} % of hours above 80 % RH; {}",
                damp * 100.0,
                summary(&v)
            );
            // Its cold wall is wetter still: surface RH above 80 % nearly always.
            assert!(v.iter().all(|x| x.2 < x.0), "the external wall is the colder surface");
        }
    }

    #[test]
    fn the_cold_home_stays_below_16_and_dips_below_10() {
        for seed in 1..=8 {
            let v = simulate(Scenario::ColdHome, seed, 7);
            assert!(share(&v, |x| x.0 < 16.0) > 0.9, "seed {seed}: {}", summary(&v));
            assert!(share(&v, |x| x.0 < 10.0) > 0.05, "seed {seed}: {}", summary(&v));
            assert!(v.iter().all(|x| x.0 > 0.0), "seed {seed}: {}", summary(&v));
        }
    }

    #[test]
    fn the_heatwave_overheats_the_room() {
        for seed in 1..=8 {
            let v = simulate(Scenario::Heat, seed, 7);
            assert!(share(&v, |x| x.0 > 25.0) > 0.6, "seed {seed}: {}", summary(&v));
            assert!(v.iter().all(|x| x.0 < 40.0), "seed {seed}: {}", summary(&v));
        }
    }

    #[test]
    fn healthy_homes_stay_comfortable_apart_from_spikes() {
        for seed in 1..=16 {
            let v = simulate(Scenario::Healthy, seed, 7);
            let comfortable = share(&v, |x| (14.0..24.0).contains(&x.0) && (30.0..75.0).contains(&x.1));
            assert!(comfortable > 0.85, "seed {seed} ({:?}): {}", healthy_room(seed).volume_m3, summary(&v));
            assert!(share(&v, |x| x.1 > 80.0) < 0.1, "seed {seed}: {}", summary(&v));
        }
    }

    #[test]
    fn showers_make_bathroom_spikes_that_clear() {
        // Find a seed whose healthy room is a bathroom.
        let seed = (1..100).find(|&s| healthy_room(s).habits.showers).unwrap();
        let v = simulate(Scenario::Healthy, seed, 3);
        let peak = v.iter().map(|x| x.1).fold(0.0, f64::max);
        assert!(peak > 75.0, "{}", summary(&v));
        assert!(share(&v, |x| x.1 < 70.0) > 0.7, "{}", summary(&v));
    }

    #[test]
    fn a_device_gets_the_same_home_from_the_same_seed() {
        assert_eq!(home_for(Scenario::Healthy, 9), home_for(Scenario::Healthy, 9));
        assert_eq!(simulate(Scenario::DampBedroom, 3, 1), simulate(Scenario::DampBedroom, 3, 1));
    }
}
