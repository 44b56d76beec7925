//! What happens in a room over a day: who is in it (asleep or awake), showers, cooking, laundry
//! drying on an airer, the extractor fan, and the heating programme. A pure function of the
//! room's habits, its seed and the time, giving the heat, moisture and CO2 the room receives.

use crate::physics::time::{day_index, hour_of_day, in_window};
use crate::rng;

/// Moisture a person releases, g/h (breathing and skin): asleep and awake.
const PERSON_ASLEEP_G_H: f64 = 40.0;
const PERSON_AWAKE_G_H: f64 = 55.0;
/// CO2 a person exhales, m³/h.
const PERSON_ASLEEP_CO2_M3_H: f64 = 0.012;
const PERSON_AWAKE_CO2_M3_H: f64 = 0.018;
/// Sensible heat of a person, W.
const PERSON_ASLEEP_W: f64 = 70.0;
const PERSON_AWAKE_W: f64 = 100.0;
/// A ten-minute shower releases about 250 g of vapour.
const SHOWER_G_H: f64 = 1500.0;
const SHOWER_MINUTES: f64 = 10.0;
/// Cooking a meal on an electric hob: about 0.5 kg of vapour an hour and the heat of the hob.
const COOKING_G_H: f64 = 600.0;
const COOKING_W: f64 = 1200.0;
/// A washing load drying indoors releases about 1.8 kg over 12 hours.
const LAUNDRY_G_H: f64 = 150.0;
const LAUNDRY_HOURS: (f64, f64) = (9.0, 21.0);
/// The extractor keeps running this long after a shower or cooking ends (overrun timer).
const EXTRACT_OVERRUN_H: f64 = 0.5;

/// A daily period in decimal hours, `[from, to)`, possibly wrapping past midnight.
pub type Period = (f64, f64);

/// A period that never happens.
pub const NEVER: Period = (0.0, 0.0);

/// The heating programme of the room's radiator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heating {
    /// Thermostat setting during the programme's periods, °C.
    pub comfort_c: f64,
    /// Setting outside the periods, or `None` when the heating is then off.
    pub setback_c: Option<f64>,
    pub periods: [Period; 2],
    /// Most heat the radiator gives, W.
    pub max_w: f64,
}

impl Heating {
    /// No heating at all (broken boiler, summer).
    pub const OFF: Heating = Heating { comfort_c: 0.0, setback_c: None, periods: [NEVER; 2], max_w: 0.0 };

    /// The thermostat setting at `hour`, if the heating is on.
    pub fn setpoint_c(&self, hour: f64) -> Option<f64> {
        if self.max_w <= 0.0 {
            return None;
        }
        if self.periods.iter().any(|&(from, to)| from != to && in_window(hour, from, to)) {
            Some(self.comfort_c)
        } else {
            self.setback_c
        }
    }
}

/// The household's habits as they affect this room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Habits {
    pub occupants: u8,
    /// When the occupants are in this room awake.
    pub awake: Period,
    /// When they sleep in it.
    pub asleep: Period,
    /// Showers in this room: every morning, some evenings.
    pub showers: bool,
    /// Meals cooked in this room: every dinner, some lunches.
    pub cooking: bool,
    /// Chance on any day that a load of washing dries on an airer here.
    pub laundry_chance: f64,
    /// Steady moisture from elsewhere (plants, kettles, other rooms), g/h.
    pub background_g_h: f64,
    /// Steady heat from appliances and lights, W.
    pub appliances_w: f64,
}

/// What the room receives at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Inputs {
    /// Heat from people, appliances and cooking (not the heating or the sun), W.
    pub gains_w: f64,
    /// Moisture released into the air, g/h.
    pub moisture_g_h: f64,
    /// CO2 exhaled, m³/h.
    pub co2_m3_h: f64,
    /// Whether the extractor fan (or cooker hood) runs.
    pub extracting: bool,
    /// Thermostat setting, if the heating is on.
    pub setpoint_c: Option<f64>,
}

/// Salts naming each daily draw.
const SALT_SHOWER_TIME: u64 = 0x5348_4f57;
const SALT_EVENING_SHOWER: u64 = 0x4556_4553;
const SALT_LUNCH: u64 = 0x4c55_4e43;
const SALT_LAUNDRY: u64 = 0x4c41_554e;

/// The inputs at `wall_ms` for a room with `habits` and `heating`.
pub fn inputs_at(habits: &Habits, heating: &Heating, seed: u64, wall_ms: i64) -> Inputs {
    let hour = hour_of_day(wall_ms);
    let day = day_index(wall_ms);
    let people = f64::from(habits.occupants);
    let mut i =
        Inputs { gains_w: habits.appliances_w, moisture_g_h: habits.background_g_h, ..Inputs::default() };
    if in_window(hour, habits.asleep.0, habits.asleep.1) && habits.asleep.0 != habits.asleep.1 {
        i.moisture_g_h += people * PERSON_ASLEEP_G_H;
        i.co2_m3_h += people * PERSON_ASLEEP_CO2_M3_H;
        i.gains_w += people * PERSON_ASLEEP_W;
    } else if in_window(hour, habits.awake.0, habits.awake.1) && habits.awake.0 != habits.awake.1 {
        i.moisture_g_h += people * PERSON_AWAKE_G_H;
        i.co2_m3_h += people * PERSON_AWAKE_CO2_M3_H;
        i.gains_w += people * PERSON_AWAKE_W;
    }
    if habits.showers {
        // Morning showers between 06:30 and 07:30, one per occupant, back to back.
        let start = 6.5 + rng::unit(seed, SALT_SHOWER_TIME, day);
        let morning = (start, start + people.max(1.0) * SHOWER_MINUTES / 60.0);
        let evening =
            (rng::unit(seed, SALT_EVENING_SHOWER, day) < 0.4).then_some((20.5, 20.5 + SHOWER_MINUTES / 60.0));
        for (from, to) in std::iter::once(morning).chain(evening) {
            if in_window(hour, from, to) {
                i.moisture_g_h += SHOWER_G_H;
                i.gains_w += 400.0;
            }
            i.extracting |= in_window(hour, from, to + EXTRACT_OVERRUN_H);
        }
    }
    if habits.cooking {
        let lunch = (rng::unit(seed, SALT_LUNCH, day) < 0.4).then_some((12.5, 12.9));
        for (from, to) in std::iter::once((18.0, 18.75)).chain(lunch) {
            if in_window(hour, from, to) {
                i.moisture_g_h += COOKING_G_H;
                i.gains_w += COOKING_W;
            }
            i.extracting |= in_window(hour, from, to + EXTRACT_OVERRUN_H);
        }
    }
    if rng::unit(seed, SALT_LAUNDRY, day) < habits.laundry_chance
        && in_window(hour, LAUNDRY_HOURS.0, LAUNDRY_HOURS.1)
    {
        i.moisture_g_h += LAUNDRY_G_H;
    }
    i.setpoint_c = heating.setpoint_c(hour);
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::time::{DAY_MS, HOUR_MS, MINUTE_MS};

    const DAY0: i64 = 20_000 * DAY_MS;

    fn bathroom() -> Habits {
        Habits {
            occupants: 2,
            awake: NEVER,
            asleep: NEVER,
            showers: true,
            cooking: false,
            laundry_chance: 0.0,
            background_g_h: 5.0,
            appliances_w: 0.0,
        }
    }

    #[test]
    fn a_morning_shower_releases_a_few_hundred_grams_and_runs_the_fan() {
        let h = bathroom();
        let step = MINUTE_MS;
        let (mut grams, mut fan_minutes) = (0.0, 0);
        for m in (6 * 60)..(9 * 60) {
            let i = inputs_at(&h, &Heating::OFF, 1, DAY0 + m * step);
            grams += (i.moisture_g_h - h.background_g_h) / 60.0;
            fan_minutes += i32::from(i.extracting);
        }
        assert!((400.0..600.0).contains(&grams), "two showers: {grams} g");
        assert!((45..=55).contains(&fan_minutes), "fan ran {fan_minutes} min");
    }

    #[test]
    fn heating_follows_its_programme() {
        let heating = Heating {
            comfort_c: 20.0,
            setback_c: Some(15.0),
            periods: [(6.5, 8.5), (17.0, 22.0)],
            max_w: 1500.0,
        };
        let h = bathroom();
        let at = |hour: i64| inputs_at(&h, &heating, 1, DAY0 + hour * HOUR_MS).setpoint_c;
        assert_eq!(at(7), Some(20.0));
        assert_eq!(at(12), Some(15.0));
        assert_eq!(at(18), Some(20.0));
        assert_eq!(Heating::OFF.setpoint_c(18.0), None);
    }
}
