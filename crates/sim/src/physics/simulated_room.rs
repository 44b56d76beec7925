//! A room evolving through simulated time: its fixed description, its weather, and its state,
//! advanced in small steps to whatever moment a sensor samples it.

use crate::physics::room::{RoomSpec, RoomState};
use crate::physics::routine::inputs_at;
use crate::physics::time::DAY_MS;
use crate::physics::weather::{Outdoor, Weather};

/// Longest physics step, ms: a minute, well below the fastest time constant (a bathroom with
/// its extractor running).
const STEP_MS: i64 = 60_000;
/// Step used while warming the room up, where only the settled state matters.
const WARM_UP_STEP_MS: i64 = 120_000;
/// How long the room is simulated before its first sample, so it starts in a state its own
/// habits, heating and weather produced (a home whose heating is off has already cooled).
pub const WARM_UP_MS: i64 = 2 * DAY_MS;

#[derive(Debug, Clone)]
pub struct SimulatedRoom {
    pub spec: RoomSpec,
    pub weather: Weather,
    seed: u64,
    state: RoomState,
    at_ms: i64,
}

impl SimulatedRoom {
    /// A room whose state at `start_ms` results from [`WARM_UP_MS`] of its own life.
    pub fn new(spec: RoomSpec, weather: Weather, seed: u64, start_ms: i64) -> Self {
        let from = start_ms - WARM_UP_MS;
        let outdoor = weather.at(from);
        let guess = RoomState {
            temperature_c: spec.heating.setpoint_c(0.0).unwrap_or(outdoor.temperature_c + 5.0),
            vapour_g_m3: outdoor.vapour_g_m3 + 2.0,
            co2_ppm: 600.0,
        };
        let mut room = SimulatedRoom { spec, weather, seed, state: guess, at_ms: from };
        room.advance(start_ms, WARM_UP_STEP_MS);
        room
    }

    /// Advances to `wall_ms` (never backwards).
    pub fn advance_to(&mut self, wall_ms: i64) {
        self.advance(wall_ms, STEP_MS);
    }

    fn advance(&mut self, wall_ms: i64, step_ms: i64) {
        while self.at_ms < wall_ms {
            let dt = step_ms.min(wall_ms - self.at_ms);
            let outdoor = self.weather.at(self.at_ms);
            let input = inputs_at(&self.spec.habits, &self.spec.heating, self.seed, self.at_ms);
            self.state = self.spec.step(&self.state, &outdoor, &input, dt as f64 / 1000.0);
            self.at_ms += dt;
        }
    }

    pub fn state(&self) -> RoomState {
        self.state
    }

    pub fn at_ms(&self) -> i64 {
        self.at_ms
    }

    pub fn outdoor(&self) -> Outdoor {
        self.weather.at(self.at_ms)
    }

    /// Temperature of the coldest wall surface now, °C.
    pub fn surface_temperature_c(&self) -> f64 {
        self.spec.surface_temperature_c(self.state.temperature_c, self.outdoor().temperature_c)
    }
}
