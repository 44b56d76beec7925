//! One room as a lumped model: a single thermal mass heated by its radiator, people,
//! appliances and the sun and losing heat through its fabric and ventilation; a moisture balance
//! of sources, ventilation with outdoor air, buffering in furnishings, and condensation on the
//! cold external wall; and a CO2 balance of breathing and ventilation.
//!
//! Crude next to a building-physics package, but it reproduces what the hazard rules look at:
//! daily cycles, shower and cooking spikes, rooms that cool for days when the heating is off,
//! and a poorly ventilated bedroom whose cold wall keeps it damp.

use crate::physics::psychro::{relative_humidity_pct, saturation_density_g_m3};
use crate::physics::routine::{Habits, Heating, Inputs};
use crate::physics::weather::Outdoor;

/// Volumetric heat capacity of air, W·h/(m³·K): ventilation loss is 0.33 · n · V W/K.
const AIR_HEAT_W_H_M3_K: f64 = 0.33;
/// Outdoor CO2, ppm.
pub const OUTDOOR_CO2_PPM: f64 = 420.0;
/// Surface mass-transfer coefficient for condensation, m/s (Lewis relation at ordinary indoor
/// convection).
const CONDENSATION_M_S: f64 = 0.0027;
/// Proportional gain of the thermostatic radiator valve, W per K below the setting.
const THERMOSTAT_W_PER_K: f64 = 3000.0;

/// The fixed properties of a room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomSpec {
    pub volume_m3: f64,
    /// Background ventilation (infiltration, trickle vents, windows as usually left), air
    /// changes per hour.
    pub ventilation_ach: f64,
    /// Extra air changes while the extractor or cooker hood runs.
    pub extract_ach: f64,
    /// Heat loss through walls, windows, floor and ceiling, W/K.
    pub fabric_loss_w_k: f64,
    /// Effective heat capacity of air, furnishings and inner surfaces, J/K.
    pub heat_capacity_j_k: f64,
    /// Temperature factor of the coldest part of the external wall (BS EN ISO 13788 f_Rsi):
    /// its surface sits at `outdoor + f_rsi · (indoor − outdoor)`.
    pub f_rsi: f64,
    /// Area at that coldest temperature, where condensation forms, m².
    pub cold_area_m2: f64,
    /// Solar gain through the windows in full sun, W.
    pub solar_gain_w: f64,
    /// How much moisture the furnishings buffer: the room behaves, for vapour, as if its volume
    /// were this many times larger.
    pub moisture_buffer: f64,
    pub heating: Heating,
    pub habits: Habits,
}

/// The state the room carries from one moment to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomState {
    pub temperature_c: f64,
    pub vapour_g_m3: f64,
    pub co2_ppm: f64,
}

impl RoomState {
    pub fn relative_humidity_pct(&self) -> f64 {
        relative_humidity_pct(self.temperature_c, self.vapour_g_m3)
    }
}

impl RoomSpec {
    /// Temperature of the coldest wall surface, °C.
    pub fn surface_temperature_c(&self, indoor_c: f64, outdoor_c: f64) -> f64 {
        outdoor_c + self.f_rsi * (indoor_c - outdoor_c)
    }

    /// Advances the room by `dt_s` seconds (explicit Euler; keep `dt_s` at a minute or so,
    /// far below the room's time constants).
    pub fn step(&self, s: &RoomState, outdoor: &Outdoor, input: &Inputs, dt_s: f64) -> RoomState {
        let ach = self.ventilation_ach + if input.extracting { self.extract_ach } else { 0.0 };
        let airflow_m3_s = ach * self.volume_m3 / 3600.0;

        // Heat.
        let loss_w_k = self.fabric_loss_w_k + AIR_HEAT_W_H_M3_K * ach * self.volume_m3;
        let heater_w = input
            .setpoint_c
            .map_or(0.0, |set| (THERMOSTAT_W_PER_K * (set - s.temperature_c)).clamp(0.0, self.heating.max_w));
        let solar_w = self.solar_gain_w * outdoor.sun;
        let net_w = heater_w + input.gains_w + solar_w - loss_w_k * (s.temperature_c - outdoor.temperature_c);
        let temperature_c = s.temperature_c + net_w * dt_s / self.heat_capacity_j_k;

        // Moisture, g/s.
        let surface_c = self.surface_temperature_c(s.temperature_c, outdoor.temperature_c);
        let condensing = CONDENSATION_M_S
            * self.cold_area_m2
            * (s.vapour_g_m3 - saturation_density_g_m3(surface_c)).max(0.0);
        let net_g_s =
            input.moisture_g_h / 3600.0 - airflow_m3_s * (s.vapour_g_m3 - outdoor.vapour_g_m3) - condensing;
        let buffered_m3 = self.volume_m3 * self.moisture_buffer;
        // Beyond saturation the surplus condenses on every surface at once.
        let vapour_g_m3 =
            (s.vapour_g_m3 + net_g_s * dt_s / buffered_m3).clamp(0.0, saturation_density_g_m3(temperature_c));

        // CO2, ppm.
        let net_ppm_s = input.co2_m3_h / 3600.0 * 1e6 / self.volume_m3
            - airflow_m3_s / self.volume_m3 * (s.co2_ppm - OUTDOOR_CO2_PPM);
        let co2_ppm = (s.co2_ppm + net_ppm_s * dt_s).max(OUTDOOR_CO2_PPM);

        RoomState { temperature_c, vapour_g_m3, co2_ppm }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::psychro::vapour_density_g_m3;
    use crate::physics::routine::NEVER;

    fn spec(heating: Heating) -> RoomSpec {
        RoomSpec {
            volume_m3: 30.0,
            ventilation_ach: 0.5,
            extract_ach: 0.0,
            fabric_loss_w_k: 30.0,
            heat_capacity_j_k: 2.4e6,
            f_rsi: 0.75,
            cold_area_m2: 2.0,
            solar_gain_w: 0.0,
            moisture_buffer: 2.0,
            heating,
            habits: Habits {
                occupants: 0,
                awake: NEVER,
                asleep: NEVER,
                showers: false,
                cooking: false,
                laundry_chance: 0.0,
                background_g_h: 0.0,
                appliances_w: 0.0,
            },
        }
    }

    fn run(spec: &RoomSpec, mut s: RoomState, outdoor: Outdoor, input: Inputs, hours: usize) -> RoomState {
        for _ in 0..hours * 60 {
            s = spec.step(&s, &outdoor, &input, 60.0);
        }
        s
    }

    const COLD: Outdoor = Outdoor { temperature_c: 0.0, vapour_g_m3: 4.0, sun: 0.0 };

    #[test]
    fn an_unheated_room_cools_towards_outdoors_with_its_time_constant() {
        let r = spec(Heating::OFF);
        let s0 = RoomState { temperature_c: 20.0, vapour_g_m3: 8.0, co2_ppm: 420.0 };
        // Time constant C / (fabric + ventilation) = 2.4e6 / (30 + 4.95) s, about 19 h.
        let s = run(&r, s0, COLD, Inputs::default(), 19);
        assert!((s.temperature_c - 20.0 / std::f64::consts::E).abs() < 0.6, "{}", s.temperature_c);
        let s = run(&r, s, COLD, Inputs::default(), 24 * 5);
        assert!(s.temperature_c < 0.3);
    }

    #[test]
    fn a_thermostat_holds_its_setting() {
        let heating = Heating { comfort_c: 20.0, setback_c: None, periods: [NEVER; 2], max_w: 2000.0 };
        let r = spec(heating);
        let s0 = RoomState { temperature_c: 10.0, vapour_g_m3: 5.0, co2_ppm: 420.0 };
        let input = Inputs { setpoint_c: Some(20.0), ..Inputs::default() };
        let s = run(&r, s0, COLD, input, 24);
        assert!((s.temperature_c - 20.0).abs() < 0.5, "{}", s.temperature_c);
    }

    #[test]
    fn moisture_settles_where_sources_balance_ventilation() {
        let r = spec(Heating::OFF);
        let warm = Outdoor { temperature_c: 20.0, vapour_g_m3: 6.0, sun: 0.0 };
        let s0 = RoomState { temperature_c: 20.0, vapour_g_m3: 6.0, co2_ppm: 420.0 };
        // 60 g/h against 15 m³/h of air: 4 g/m³ above outdoors.
        let input = Inputs { moisture_g_h: 60.0, co2_m3_h: 0.015, ..Inputs::default() };
        let s = run(&r, s0, warm, input, 48);
        assert!((s.vapour_g_m3 - 10.0).abs() < 0.1, "{}", s.vapour_g_m3);
        // 0.015 m³/h against 15 m³/h: 1000 ppm above outdoors.
        assert!((s.co2_ppm - 1420.0).abs() < 10.0, "{}", s.co2_ppm);
    }

    #[test]
    fn a_cold_wall_condenses_the_surplus_and_caps_humidity() {
        let r = spec(Heating::OFF);
        let s0 =
            RoomState { temperature_c: 15.0, vapour_g_m3: vapour_density_g_m3(15.0, 99.0), co2_ppm: 420.0 };
        let mild = Outdoor { temperature_c: 5.0, vapour_g_m3: 5.0, sun: 0.0 };
        let input = Inputs { gains_w: 10.0 * 34.95, ..Inputs::default() };
        let s = run(&r, s0, mild, input, 6);
        // The wall at 5 + 0.75 · 10 = 12.5 °C holds 11 g/m³: the room dries towards that.
        let wall = saturation_density_g_m3(r.surface_temperature_c(s.temperature_c, 5.0));
        assert!(s.vapour_g_m3 < wall + 1.0, "{} vs wall {wall}", s.vapour_g_m3);
        assert!(s.relative_humidity_pct() < 90.0);
    }
}
