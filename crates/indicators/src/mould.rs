//! The VTT mould growth model (Hukka & Viitanen 1999, updated by Ojanen et al. 2010).
//!
//! The mould index M runs from 0 (no growth) to 6 (heavy growth); 1 means microscopic growth,
//! 3 visible growth. The model integrates over the real time between readings: growth per day
//! is dM/dt = k1·k2 / (7·t_m) with t_m in weeks, and decline is given per hour. Both are
//! integrated in closed form, so the result does not depend on how often the room is sampled,
//! as long as readings are no further apart than the hold limit: longer silences are no data,
//! and a [`MouldTimeline`] reports them in its [`Coverage`].
//!
//! The model was fitted on wood under surface conditions; fed with room air it is optimistic.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::coverage::Coverage;
use crate::material::MaterialClass;

/// Version of the model and its constants; store it with every mould index.
pub const MOULD_MODEL_VERSION: &str = "vtt-ojanen-2010/1";

/// Where the general model constants come from.
pub const MOULD_MODEL_SOURCE: &str = "Hukka A., Viitanen H. (1999), A mathematical model of mould \
growth on wooden material, Wood Science and Technology 33:475-485 (t_m, RH_crit, k2, decline); \
Ojanen T., Viitanen H., et al. (2010), Mould growth modeling of building structures using \
sensitivity classes of materials, Buildings XI, ASHRAE (material classes, RH_min, M_max, C_mat)";

/// The general (class-independent) constants of the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelConstants {
    /// Growth only strictly between these temperatures, °C (Hukka & Viitanen 1999).
    pub growth_min_temperature_c: f64,
    pub growth_max_temperature_c: f64,
    /// Above this temperature RH_crit is RH_min (Hukka & Viitanen 1999).
    pub polynomial_max_temperature_c: f64,
    /// RH_crit(T) = c3·T³ + c2·T² + c1·T + c0 for T ≤ 20 °C (Hukka & Viitanen 1999).
    pub rh_crit_c3: f64,
    pub rh_crit_c2: f64,
    pub rh_crit_c1: f64,
    pub rh_crit_c0: f64,
    /// t_m = exp(ln_t·ln T + ln_rh·ln RH + constant) weeks; the wood-species (W) and surface
    /// quality (SQ) terms are dropped in the updated model (Ojanen et al. 2010).
    pub t_m_ln_t: f64,
    pub t_m_ln_rh: f64,
    pub t_m_constant: f64,
    /// Days per week in dM/dt = k1·k2/(7·t_m).
    pub days_per_week: f64,
    /// k2 = max(1 − exp(k2_exponent·(M − M_max)), 0) (Hukka & Viitanen 1999).
    pub k2_exponent: f64,
    /// Decline per hour while unfavourable, before the material factor (Hukka & Viitanen 1999):
    /// `decline_early_per_hour` for the first `decline_early_hours`, none until
    /// `decline_pause_until_hours`, then `decline_late_per_hour`.
    pub decline_early_per_hour: f64,
    pub decline_early_hours: f64,
    pub decline_pause_until_hours: f64,
    pub decline_late_per_hour: f64,
}

/// The constants in force ([`MOULD_MODEL_VERSION`]).
pub const VTT: ModelConstants = ModelConstants {
    growth_min_temperature_c: 0.0,
    growth_max_temperature_c: 50.0,
    polynomial_max_temperature_c: 20.0,
    rh_crit_c3: -0.00267,
    rh_crit_c2: 0.160,
    rh_crit_c1: -3.13,
    rh_crit_c0: 100.0,
    t_m_ln_t: -0.68,
    t_m_ln_rh: -13.9,
    t_m_constant: 66.02,
    days_per_week: 7.0,
    k2_exponent: 2.3,
    decline_early_per_hour: 0.00133,
    decline_early_hours: 6.0,
    decline_pause_until_hours: 24.0,
    decline_late_per_hour: 0.000667,
};

/// Critical relative humidity (%) for growth on `class` at `temperature_c`:
/// max(polynomial, RH_min) up to 20 °C, RH_min above.
pub fn critical_rh(class: MaterialClass, temperature_c: f64) -> f64 {
    let rh_min = class.constants().rh_min_pct;
    if temperature_c > VTT.polynomial_max_temperature_c {
        return rh_min;
    }
    let t = temperature_c;
    let poly = ((VTT.rh_crit_c3 * t + VTT.rh_crit_c2) * t + VTT.rh_crit_c1) * t + VTT.rh_crit_c0;
    poly.max(rh_min)
}

/// Whether mould can grow: 0 < T < 50 °C and RH ≥ RH_crit.
pub fn is_favourable(class: MaterialClass, temperature_c: f64, rh_pct: f64) -> bool {
    temperature_c > VTT.growth_min_temperature_c
        && temperature_c < VTT.growth_max_temperature_c
        && rh_pct >= critical_rh(class, temperature_c)
}

/// t_m, the time (weeks) the reference material needs to reach M = 1 in these conditions.
/// Only meaningful for T > 0 and RH > 0.
pub fn time_to_growth_weeks(temperature_c: f64, rh_pct: f64) -> f64 {
    (VTT.t_m_ln_t * temperature_c.ln() + VTT.t_m_ln_rh * rh_pct.ln() + VTT.t_m_constant).exp()
}

/// M_max, the highest index these conditions can sustain on `class`.
pub fn max_index(class: MaterialClass, temperature_c: f64, rh_pct: f64) -> f64 {
    let c = class.constants();
    let rh_crit = critical_rh(class, temperature_c);
    let x = (rh_crit - rh_pct) / (rh_crit - 100.0);
    c.m_max_a + c.m_max_b * x - c.m_max_c * x * x
}

/// dM/dt in index units per day at index `m`, zero when conditions are unfavourable.
pub fn growth_rate_per_day(class: MaterialClass, temperature_c: f64, rh_pct: f64, m: f64) -> f64 {
    if !is_favourable(class, temperature_c, rh_pct) {
        return 0.0;
    }
    let m_max = max_index(class, temperature_c, rh_pct);
    let k2 = (1.0 - (VTT.k2_exponent * (m - m_max)).exp()).max(0.0);
    k1(class, m) * k2 / (VTT.days_per_week * time_to_growth_weeks(temperature_c, rh_pct))
}

fn k1(class: MaterialClass, m: f64) -> f64 {
    let c = class.constants();
    if m < 1.0 {
        c.k1_below_one
    } else {
        c.k1_from_one
    }
}

/// The index of one surface and how long conditions have been unfavourable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MouldState {
    /// The mould index M, never below 0.
    pub index: f64,
    /// Highest index reached so far.
    pub peak: f64,
    /// Hours since the last favourable spell ended (drives the decline regime).
    pub unfavourable_hours: f64,
}

impl MouldState {
    /// Advances the index over `hours` of constant conditions.
    pub fn advance(&mut self, class: MaterialClass, temperature_c: f64, rh_pct: f64, hours: f64) {
        if hours.is_nan() || hours <= 0.0 {
            return;
        }
        if is_favourable(class, temperature_c, rh_pct) {
            self.unfavourable_hours = 0.0;
            self.index = grow(class, temperature_c, rh_pct, self.index, hours / 24.0);
        } else {
            let start = self.unfavourable_hours;
            let end = start + hours;
            let early = overlap(start, end, 0.0, VTT.decline_early_hours);
            let late = overlap(start, end, VTT.decline_pause_until_hours, f64::INFINITY);
            let loss = class.constants().decline_factor
                * (VTT.decline_early_per_hour * early + VTT.decline_late_per_hour * late);
            self.index = (self.index - loss).max(0.0);
            self.unfavourable_hours = end;
        }
        self.peak = self.peak.max(self.index);
    }
}

fn overlap(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// Exact growth over `days` of constant favourable conditions.
///
/// With k1 fixed, dM/dt = r·(1 − e^{a(M − M_max)}) has the solution
/// e^{−a·u(t)} − 1 = (e^{−a·u0} − 1)·e^{−a·r·t}, u = M − M_max. k1 changes at M = 1, so the
/// interval is split where M crosses 1.
fn grow(class: MaterialClass, temperature_c: f64, rh_pct: f64, m0: f64, days: f64) -> f64 {
    let m_max = max_index(class, temperature_c, rh_pct);
    if m0 >= m_max {
        return m0;
    }
    let c = class.constants();
    let per_day = 1.0 / (VTT.days_per_week * time_to_growth_weeks(temperature_c, rh_pct));
    let a = VTT.k2_exponent;
    if m0 < 1.0 && m_max > 1.0 {
        let r = c.k1_below_one * per_day;
        let q0 = (-a * (m0 - m_max)).exp_m1();
        let q1 = (-a * (1.0 - m_max)).exp_m1();
        let days_to_one = (q0 / q1).ln() / (a * r);
        if days <= days_to_one {
            return solve(m0, m_max, r, a, days);
        }
        return solve(1.0, m_max, c.k1_from_one * per_day, a, days - days_to_one);
    }
    solve(m0, m_max, k1(class, m0) * per_day, a, days)
}

fn solve(m0: f64, m_max: f64, rate_per_day: f64, a: f64, days: f64) -> f64 {
    let q = (-a * (m0 - m_max)).exp_m1() * (-a * rate_per_day * days).exp();
    m_max - q.ln_1p() / a
}

/// Mould index over a time series: each reading's conditions are held until the next one for
/// at most `max_hold`; beyond that the time is "no data" and the index neither grows nor
/// declines (it is frozen, and so is the decline regime's clock). The timeline keeps a
/// [`Coverage`] of both, so a frozen index is never mistaken for a dry room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MouldTimeline {
    class: MaterialClass,
    max_hold_seconds: i64,
    state: MouldState,
    held: Option<HeldConditions>,
    #[serde(default)]
    coverage: Coverage,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct HeldConditions {
    at: DateTime<Utc>,
    temperature_c: f64,
    rh_pct: f64,
}

impl MouldTimeline {
    pub fn new(class: MaterialClass, max_hold: TimeDelta) -> Self {
        MouldTimeline {
            class,
            max_hold_seconds: max_hold.num_seconds(),
            state: MouldState::default(),
            held: None,
            coverage: Coverage::default(),
        }
    }

    pub fn class(&self) -> MaterialClass {
        self.class
    }

    pub fn state(&self) -> &MouldState {
        &self.state
    }

    /// The longest interval over which a reading's conditions are held.
    pub fn max_hold(&self) -> TimeDelta {
        TimeDelta::try_seconds(self.max_hold_seconds).unwrap_or(TimeDelta::MAX)
    }

    /// The time integrated and the time treated as no data, from the first reading to the last.
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    /// Integrates up to `at` with the previous conditions, then holds these. Returns M at `at`.
    /// A time not after the previous one integrates nothing (callers keep readings in order).
    pub fn observe(&mut self, at: DateTime<Utc>, temperature_c: f64, rh_pct: f64) -> f64 {
        if let Some(prev) = self.held {
            let held = self.coverage.record(prev.at, at, self.max_hold());
            self.state.advance(self.class, prev.temperature_c, prev.rh_pct, hours(held));
        }
        self.held = Some(HeldConditions { at, temperature_c, rh_pct });
        self.state.index
    }
}

/// How long a reading's conditions are taken to hold: until the next reading, but at most
/// `max_hold`; the rest of a longer gap is no data.
pub(crate) fn held_span(prev: DateTime<Utc>, at: DateTime<Utc>, max_hold: TimeDelta) -> TimeDelta {
    (at - prev).clamp(TimeDelta::zero(), max_hold)
}

pub(crate) fn hours(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 3_600_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_matches_fine_euler_integration() {
        // Small Euler steps of the defining ODE must agree with the closed form, including the
        // k1 switch at M = 1.
        let (t, rh) = (22.0, 95.0);
        for class in MaterialClass::ALL {
            let mut euler = 0.0_f64;
            let step_days = 1.0 / (24.0 * 60.0);
            for _ in 0..(60 * 24 * 60) {
                euler += growth_rate_per_day(class, t, rh, euler) * step_days;
            }
            let exact = grow(class, t, rh, 0.0, 60.0);
            assert!((euler - exact).abs() < 2e-3, "{class}: euler {euler} exact {exact}");
        }
    }

    #[test]
    fn rh_crit_is_polynomial_up_to_twenty_degrees_and_rh_min_above() {
        // At 5 °C: −0.00267·125 + 0.160·25 − 3.13·5 + 100 = −0.33375 + 4 − 15.65 + 100 = 88.01625.
        assert!((critical_rh(MaterialClass::Sensitive, 5.0) - 88.01625).abs() < 1e-9);
        assert_eq!(critical_rh(MaterialClass::Sensitive, 25.0), 80.0);
        assert_eq!(critical_rh(MaterialClass::MediumResistant, 20.0), 85.0);
    }
}
