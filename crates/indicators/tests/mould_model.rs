//! The VTT mould index: hand-computed values, saturation, decline, thresholds, and independence
//! from the sampling pattern.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{hours, minutes, t0, Prng};
use dampwatch_indicators::mould::{critical_rh, growth_rate_per_day, max_index, time_to_growth_weeks};
use dampwatch_indicators::{
    Coverage, EngineConfig, HazardEngine, MaterialClass, MouldState, MouldTimeline, RoomReading, RoomState,
    TimeWindow,
};

const SENSITIVE: MaterialClass = MaterialClass::Sensitive;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn run_constant(class: MaterialClass, t: f64, rh: f64, days: f64) -> MouldState {
    let mut state = MouldState::default();
    state.advance(class, t, rh, days * 24.0);
    state
}

#[test]
fn seven_days_at_20c_97pct_sensitive_matches_hand_calculation() {
    // RH_crit(20) = −0.00267·8000 + 0.160·400 − 3.13·20 + 100 = −21.36 + 64 − 62.6 + 100
    //             = 80.04 %; max(80.04, RH_min 80) = 80.04 %.
    // t_m = exp(−0.68·ln 20 − 13.9·ln 97 + 66.02) = exp(−0.68·2.995732 − 13.9·4.574711 + 66.02)
    //     = exp(−2.037098 − 63.588483 + 66.02) = exp(0.394419) = 1.48352 weeks.
    // dM/dt = k1·k2/(7·t_m), k1 = 0.578 (M < 1), k2 ≈ 1 while M is far below M_max:
    //       = 0.578 / (7 · 1.48352) = 0.578 / 10.38464 = 0.055659 per day.
    // x = (97 − 80.04)/(100 − 80.04) = 16.96/19.96 = 0.849699;
    // M_max = 0.3 + 6·0.849699 − 0.849699² = 0.3 + 5.098196 − 0.721989 = 4.676207,
    // so k2 = 1 − exp(2.3·(0.39 − 4.676)) = 1 − 5.2e−5 over the whole week.
    // M(7 d) ≈ 7 · 0.055659 = 0.38961 (k2 trims it by ~1e−5).
    assert!(close(critical_rh(SENSITIVE, 20.0), 80.04, 1e-9));
    assert!(close(time_to_growth_weeks(20.0, 97.0), 1.48352, 1e-5));
    assert!(close(max_index(SENSITIVE, 20.0, 97.0), 4.676207, 1e-6));
    // At M = 0, k2 = 1 − exp(2.3·(0 − 4.676207)) = 1 − 2.13e−5: 0.055659·(1 − 2.13e−5) = 0.055658.
    assert!(close(growth_rate_per_day(SENSITIVE, 20.0, 97.0, 0.0), 0.055658, 1e-6));
    let m = run_constant(SENSITIVE, 20.0, 97.0, 7.0).index;
    assert!(close(m, 0.38961, 1e-4), "M after 7 days = {m}");
}

#[test]
fn hourly_steps_equal_one_long_step() {
    // Integrated over real time, not per sample: 168 steps of one hour = one step of 7 days.
    let mut stepped = MouldState::default();
    for _ in 0..168 {
        stepped.advance(SENSITIVE, 20.0, 97.0, 1.0);
    }
    let whole = run_constant(SENSITIVE, 20.0, 97.0, 7.0);
    assert!(close(stepped.index, whole.index, 1e-12), "{} vs {}", stepped.index, whole.index);
}

#[test]
fn growth_switches_k1_at_one_and_saturates_at_m_max() {
    // Sensitive at 20 °C / 97 %: reaching M = 1 takes ln(q0/q1)/(2.3·r) with
    // q = e^{−2.3(M − M_max)} − 1, which is 1/r = 17.97 days up to a tiny k2 correction.
    let m17 = run_constant(SENSITIVE, 20.0, 97.0, 17.9).index;
    let m18 = run_constant(SENSITIVE, 20.0, 97.0, 18.0).index;
    assert!(m17 < 1.0 && m18 > 1.0, "{m17} {m18}");
    // Beyond 1 the growth slows by k1 0.386/0.578.
    let rate_below = growth_rate_per_day(SENSITIVE, 20.0, 97.0, 0.99);
    let rate_above = growth_rate_per_day(SENSITIVE, 20.0, 97.0, 1.0);
    assert!(close(rate_above / rate_below, 0.386 / 0.578, 1e-3), "{rate_above} {rate_below}");
    // Years of the same climate approach M_max = 4.676 and never pass it.
    let long = run_constant(SENSITIVE, 20.0, 97.0, 3000.0).index;
    let m_max = max_index(SENSITIVE, 20.0, 97.0);
    assert!(close(long, 4.676207, 1e-3) && long <= m_max, "{long}");
    // Very sensitive material at 100 %: M_max = A + B − C = 1 + 7 − 2 = 6, the top of the scale.
    let top = run_constant(MaterialClass::VerySensitive, 25.0, 100.0, 3000.0).index;
    assert!(close(top, 6.0, 1e-3) && top <= 6.0, "{top}");
}

#[test]
fn no_growth_outside_favourable_conditions() {
    for (t, rh, why) in [
        (20.0, 79.9, "below RH_min 80 %"),
        (5.0, 88.0, "below RH_crit(5 °C) = 88.016 %"),
        (0.0, 100.0, "not above 0 °C"),
        (-3.0, 100.0, "frozen"),
        (50.0, 100.0, "not below 50 °C"),
    ] {
        let m = run_constant(SENSITIVE, t, rh, 60.0).index;
        assert_eq!(m, 0.0, "{why}");
    }
    // Medium-resistant needs 85 %: 84 % at 25 °C grows nothing, but sensitive does.
    assert_eq!(run_constant(MaterialClass::MediumResistant, 25.0, 84.0, 60.0).index, 0.0);
    assert!(run_constant(SENSITIVE, 25.0, 84.0, 60.0).index > 0.0);
}

#[test]
fn decline_follows_the_6h_and_24h_regime_with_material_factor() {
    let dry = |state: &mut MouldState, h: f64| state.advance(SENSITIVE, 20.0, 50.0, h);
    let mut s = MouldState { index: 2.0, peak: 2.0, unfavourable_hours: 0.0 };
    // First 6 h: 0.00133/h × C_mat 0.5 → 6 · 0.000665 = 0.00399.
    dry(&mut s, 6.0);
    assert!(close(s.index, 2.0 - 0.00399, 1e-12), "{}", s.index);
    // 6 to 24 h: no change.
    dry(&mut s, 18.0);
    assert!(close(s.index, 2.0 - 0.00399, 1e-12), "{}", s.index);
    // After 24 h: 0.000667/h × 0.5 → 24 h lose 0.008004.
    dry(&mut s, 24.0);
    assert!(close(s.index, 2.0 - 0.00399 - 0.008004, 1e-12), "{}", s.index);
    // One 48 h step gives the same as the three steps above.
    let mut once = MouldState { index: 2.0, peak: 2.0, unfavourable_hours: 0.0 };
    dry(&mut once, 48.0);
    assert!(close(once.index, s.index, 1e-12));
    // The material factor scales it: very sensitive (1.0) loses twice as much as sensitive.
    let mut pine = MouldState { index: 2.0, peak: 2.0, unfavourable_hours: 0.0 };
    pine.advance(MaterialClass::VerySensitive, 20.0, 50.0, 48.0);
    assert!(close(2.0 - pine.index, 2.0 * (2.0 - s.index), 1e-12));
    // A favourable spell restarts the regime: the next dry hours decline at the early rate.
    s.advance(SENSITIVE, 20.0, 97.0, 1.0);
    let before = s.index;
    dry(&mut s, 1.0);
    assert!(close(before - s.index, 0.000665, 1e-12), "{}", before - s.index);
    // Never below zero.
    let mut small = MouldState { index: 0.001, peak: 0.001, unfavourable_hours: 0.0 };
    dry(&mut small, 2000.0);
    assert_eq!(small.index, 0.0);
    assert_eq!(small.peak, 0.001);
}

/// A climate with growth and decline spells, switching at whole hours.
fn spells(at: DateTime<Utc>) -> (f64, f64) {
    let h = (at - t0()).num_hours();
    match h {
        0..=95 => (20.0, 97.0),    // 4 days favourable
        96..=167 => (21.0, 55.0),  // 3 days dry
        168..=215 => (15.0, 99.0), // 2 days favourable again
        _ => (22.0, 45.0),         // dry
    }
}

fn regular_times(span: TimeDelta) -> Vec<DateTime<Utc>> {
    (0..=span.num_minutes() / 10).map(|i| t0() + minutes(10 * i)).collect()
}

fn irregular_times(span: TimeDelta, seed: u64) -> Vec<DateTime<Utc>> {
    // Gaps of 3 to 47 minutes, plus a sample exactly at every whole hour where the climate
    // switches and at the end, so both series see the same climate.
    let mut rng = Prng(seed);
    let mut times = vec![t0()];
    let switches = [96, 168, 216].map(hours);
    let mut at = t0();
    loop {
        let next = at + minutes(rng.range(3, 47));
        let boundary = switches.iter().map(|s| t0() + *s).find(|b| *b > at && *b <= next);
        at = boundary.unwrap_or(next).min(t0() + span);
        times.push(at);
        if at == t0() + span {
            return times;
        }
    }
}

fn timeline_index(times: &[DateTime<Utc>]) -> f64 {
    let mut timeline = MouldTimeline::new(SENSITIVE, hours(2));
    let mut m = 0.0;
    for at in times {
        let (t, rh) = spells(*at);
        m = timeline.observe(*at, t, rh);
    }
    m
}

#[test]
fn irregular_sampling_equals_regular_sampling() {
    let span = hours(12 * 24);
    let regular = regular_times(span);
    for seed in [1, 7, 2025] {
        let irregular = irregular_times(span, seed);
        assert_ne!(irregular.len(), regular.len());
        let (a, b) = (timeline_index(&regular), timeline_index(&irregular));
        assert!(a > 0.0);
        assert!(close(a, b, 1e-9), "regular {a} irregular {b} (seed {seed})");
    }
    // Constant climate, every 10 min vs 3–47 min gaps, through the room state.
    let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
    let end = t0() + hours(10 * 24);
    let mut rng = Prng(99);
    let mut irregular = vec![t0()];
    while let Some(last) = irregular.last().copied().filter(|l| *l < end) {
        irregular.push((last + minutes(rng.range(3, 47))).min(end));
    }
    let room_index = |times: &[DateTime<Utc>]| {
        let mut room = RoomState::new();
        for at in times {
            engine.ingest(&mut room, &RoomReading::air(*at, 20.0, 97.0), *at).expect("accepted");
        }
        room.mould_index()
    };
    let (a, b) = (room_index(&regular_times(hours(10 * 24))), room_index(&irregular));
    // 10 days at 0.055659/day: about 0.5566.
    assert!(close(a, 0.5566, 1e-3), "{a}");
    assert!(close(a, b, 1e-9), "regular {a} irregular {b}");
}

#[test]
fn conditions_are_held_for_at_most_max_gap() {
    // Two readings 10 h apart in favourable air: only 2 h (max_gap) count, the rest is no data.
    let mut gap = MouldTimeline::new(SENSITIVE, hours(2));
    gap.observe(t0(), 20.0, 97.0);
    let m_gap = gap.observe(t0() + hours(10), 20.0, 97.0);
    let mut two = MouldTimeline::new(SENSITIVE, hours(2));
    two.observe(t0(), 20.0, 97.0);
    let m_two = two.observe(t0() + hours(2), 20.0, 97.0);
    assert!(m_gap > 0.0);
    assert!(close(m_gap, m_two, 1e-15));
    // And the timeline says what it did not see: 2 h held, 8 h of no data in one 10 h gap.
    let coverage = gap.coverage();
    assert_eq!((coverage.hours_with_data, coverage.hours_as_gaps, coverage.gaps), (2.0, 8.0, 1));
    assert_eq!(coverage.longest_gap, Some(TimeWindow { start: t0(), end: t0() + hours(10) }));
    assert!(coverage.needs_warning());
    assert_eq!(*two.coverage(), Coverage { hours_with_data: 2.0, ..Coverage::default() });
}

#[test]
fn coverage_keeps_the_longest_gap_and_counts_each() {
    // Hourly readings with silences of 5 h and 30 h: both are gaps, the 30 h one is longest.
    let times = [0, 1, 6, 7, 37, 38].map(|h| t0() + hours(h));
    let mut timeline = MouldTimeline::new(SENSITIVE, hours(2));
    for at in times {
        timeline.observe(at, 20.0, 97.0);
    }
    let c = timeline.coverage();
    assert_eq!(c.gaps, 2);
    assert_eq!((c.hours_with_data, c.hours_as_gaps), (1.0 + 2.0 + 1.0 + 2.0 + 1.0, 3.0 + 28.0));
    assert_eq!(c.longest_gap, Some(TimeWindow { start: t0() + hours(7), end: t0() + hours(37) }));
    assert_eq!(c.period_hours(), 38.0);
    assert_eq!(timeline.max_hold(), hours(2));
}
