//! Sustained-condition rules, hysteresis, gaps, the no-data rule and the explanations.

mod common;

use chrono::{DateTime, Utc};
use common::{air_series, feed, hours, minutes, t0};
use dampwatch_indicators::{
    AlertTransition, EngineConfig, Evidence, Hazard, HazardEngine, RoomReading, RoomState, Severity,
    TransitionKind,
};

fn engine() -> HazardEngine {
    HazardEngine::new(EngineConfig::default()).expect("default config is valid")
}

/// The changes reported for `hazard` (a refresh only brings an open alert's explanation up to
/// date, e.g. one more day counted, and is reported to no one).
fn kinds(transitions: &[AlertTransition], hazard: Hazard) -> Vec<TransitionKind> {
    transitions
        .iter()
        .filter(|t| t.hazard == hazard && t.kind != TransitionKind::Refreshed)
        .map(|t| t.kind)
        .collect()
}

/// A room fed an hour of ordinary readings, and the time of the last one.
fn an_hour_of_readings(engine: &HazardEngine) -> (RoomState, DateTime<Utc>) {
    let mut room = RoomState::new();
    let readings = air_series(t0(), hours(1), minutes(10), room_at(50.0));
    feed(engine, &mut room, &readings);
    (room, readings.last().map(|r| r.time).expect("readings"))
}

fn room_at(rh: f64) -> impl Fn(DateTime<Utc>) -> (f64, f64) {
    move |_| (20.0, rh)
}

#[test]
fn room_rh_above_70_for_24h_raises_damp_with_explanation() {
    let engine = engine();
    let mut room = RoomState::new();
    // 23 h 50 min of 75 %: not yet.
    let first = air_series(t0(), hours(24), minutes(10), room_at(75.0));
    assert!(feed(&engine, &mut room, &first).is_empty());
    // The reading at exactly 24 h completes the window.
    let at = t0() + hours(24);
    let out = engine.ingest(&mut room, &RoomReading::air(at, 20.0, 75.0), at).expect("accepted");
    assert_eq!(kinds(&out.transitions, Hazard::DampAndMouldGrowth), vec![TransitionKind::Raised]);
    let alert = &out.transitions[0].alert;
    assert_eq!(alert.severity, Severity::Amber);
    assert_eq!(alert.rule_ids(), vec!["damp.room_rh_sustained"]);
    let finding = &alert.findings[0];
    assert_eq!(finding.rule.version, 1);
    assert_eq!(finding.rule.ruleset_version, dampwatch_indicators::DEFAULT_RULESET_VERSION);
    assert_eq!((finding.window.start, finding.window.end), (t0(), at));
    assert_eq!(finding.active_since, at);
    match &finding.evidence {
        Evidence::Readings(stats) => {
            assert_eq!(stats.readings, 145);
            assert_eq!((stats.mean, stats.max, stats.latest), (75.0, 75.0, 75.0));
        }
        other => panic!("unexpected evidence {other:?}"),
    }
    assert!(finding.explanation.contains("Room RH above 70.0 %"), "{}", finding.explanation);
    assert!(finding.explanation.contains("24.0 h"), "{}", finding.explanation);
    assert!(finding.explanation.contains("damp.room_rh_sustained v1"), "{}", finding.explanation);
    let summary = out.transitions[0].explanation();
    assert!(
        summary.starts_with("damp_and_mould_growth alert raised (amber):\nRoom RH above 70.0 %"),
        "{summary}"
    );
    // Stored as JSON and read back unchanged.
    let json = serde_json::to_string(&out.transitions[0]).expect("serialize");
    let back: AlertTransition = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, out.transitions[0]);
    assert!(json.contains("\"kind\":\"raised\"") && json.contains("\"hazard\":\"damp_and_mould_growth\""));
}

#[test]
fn humidity_hovering_around_the_threshold_does_not_flap() {
    let engine = engine();
    let mut room = RoomState::new();
    // Alternating 69 / 71 % for 3 days never holds above 70 % for 24 h: no alert at all.
    let hovering = air_series(t0(), hours(72), minutes(10), |at| {
        let odd = (at - t0()).num_minutes() / 10 % 2 == 1;
        (20.0, if odd { 71.0 } else { 69.0 })
    });
    assert!(feed(&engine, &mut room, &hovering).is_empty());

    // Raised after 24 h at 80 %, then hovering between 66 and 72 % for 3 days: stays open,
    // no transition at all (hysteresis: clearing needs < 65 %).
    let start = t0() + hours(72);
    let damp = air_series(start, hours(25), minutes(10), room_at(80.0));
    let raised = feed(&engine, &mut room, &damp);
    assert_eq!(kinds(&raised, Hazard::DampAndMouldGrowth), vec![TransitionKind::Raised]);
    let start = start + hours(25);
    let wobble = air_series(start, hours(72), minutes(10), |at| {
        let odd = (at - t0()).num_minutes() / 10 % 2 == 1;
        (20.0, if odd { 72.0 } else { 66.0 })
    });
    assert!(feed(&engine, &mut room, &wobble).is_empty());
    assert!(room.open_alert(Hazard::DampAndMouldGrowth).is_some());

    // Below 65 %: clears once held for clear_after (1 h), not before.
    let start = start + hours(72);
    let dry = air_series(start, hours(2), minutes(10), room_at(55.0));
    let mut cleared_at = None;
    for r in &dry {
        let out = engine.ingest(&mut room, r, r.time).expect("accepted");
        if let Some(t) = out.transitions.iter().find(|t| t.kind == TransitionKind::Cleared) {
            cleared_at = t.cleared_at;
        }
    }
    assert_eq!(cleared_at, Some(start + hours(1)));
    assert!(room.open_alert(Hazard::DampAndMouldGrowth).is_none());
}

#[test]
fn a_gap_longer_than_max_gap_breaks_the_window() {
    let engine = engine();
    // 20 h of 80 %, a 3 h gap, 20 h more: never 24 h without a gap.
    let mut room = RoomState::new();
    let before = air_series(t0(), hours(20), minutes(10), room_at(80.0));
    let after = air_series(t0() + hours(23), hours(20), minutes(10), room_at(80.0));
    let mut out = feed(&engine, &mut room, &before);
    out.extend(feed(&engine, &mut room, &after));
    assert!(kinds(&out, Hazard::DampAndMouldGrowth).is_empty(), "{out:?}");
    // The same with a 1.5 h gap (within max_gap 2 h) is one window: raised.
    let mut room = RoomState::new();
    let after = air_series(t0() + hours(20) + minutes(80), hours(20), minutes(10), room_at(80.0));
    let mut out = feed(&engine, &mut room, &before);
    out.extend(feed(&engine, &mut room, &after));
    assert_eq!(kinds(&out, Hazard::DampAndMouldGrowth), vec![TransitionKind::Raised]);
}

#[test]
fn a_gap_never_clears_an_open_alert() {
    let engine = engine();
    let mut room = RoomState::new();
    feed(&engine, &mut room, &air_series(t0(), hours(25), minutes(10), room_at(80.0)));
    assert!(room.open_alert(Hazard::DampAndMouldGrowth).is_some());
    // 30 h of silence, then still damp: still the same open alert, nothing reported.
    let back = air_series(t0() + hours(55), hours(2), minutes(10), room_at(78.0));
    let out = feed(&engine, &mut room, &back);
    assert!(kinds(&out, Hazard::DampAndMouldGrowth).is_empty(), "{out:?}");
    // A single dry reading after a gap starts the 1 h clearing period; it does not clear.
    let at = t0() + hours(60);
    let out = engine.ingest(&mut room, &RoomReading::air(at, 20.0, 50.0), at).expect("accepted");
    assert!(kinds(&out.transitions, Hazard::DampAndMouldGrowth).is_empty());
}

#[test]
fn cold_goes_amber_then_red_then_clears() {
    let engine = engine();
    let mut room = RoomState::new();
    // 15 °C: amber after 6 h.
    let cool = air_series(t0(), hours(7), minutes(10), |_| (15.0, 50.0));
    let out = feed(&engine, &mut room, &cool);
    assert_eq!(kinds(&out, Hazard::ExcessCold), vec![TransitionKind::Raised]);
    let raised = out.iter().find(|t| t.hazard == Hazard::ExcessCold).expect("raised");
    assert_eq!(raised.alert.since, t0() + hours(6));
    assert_eq!(raised.alert.severity, Severity::Amber);
    // 9 °C: red after 3 h, reported as an update of the same alert.
    let cold = air_series(t0() + hours(7), hours(4), minutes(10), |_| (9.0, 50.0));
    let out = feed(&engine, &mut room, &cold);
    assert_eq!(kinds(&out, Hazard::ExcessCold), vec![TransitionKind::Updated]);
    let alert = room.open_alert(Hazard::ExcessCold).expect("open");
    assert_eq!(alert.severity, Severity::Red);
    assert_eq!(alert.rule_ids(), vec!["cold.below_10c", "cold.below_16c"]);
    // 16.5 °C is inside both hysteresis bands (clear above 11 and above 17): the red rule
    // clears after 1 h (update back to amber), the amber one stays.
    let mild = air_series(t0() + hours(11), hours(3), minutes(10), |_| (16.5, 50.0));
    let out = feed(&engine, &mut room, &mild);
    assert_eq!(kinds(&out, Hazard::ExcessCold), vec![TransitionKind::Updated]);
    assert_eq!(room.open_alert(Hazard::ExcessCold).map(|a| a.severity), Some(Severity::Amber));
    // Warm again: cleared after 1 h above 17 °C.
    let warm = air_series(t0() + hours(14), hours(2), minutes(10), |_| (20.0, 50.0));
    let out = feed(&engine, &mut room, &warm);
    assert_eq!(kinds(&out, Hazard::ExcessCold), vec![TransitionKind::Cleared]);
    let cleared = out.iter().find(|t| t.hazard == Hazard::ExcessCold).expect("cleared");
    assert_eq!(cleared.cleared_at, Some(t0() + hours(15)));
}

#[test]
fn heat_rule_and_one_stuffy_night_that_is_no_pattern() {
    let engine = engine();
    let mut room = RoomState::new();
    let readings: Vec<RoomReading> = air_series(t0(), hours(7), minutes(10), |_| (27.0, 45.0))
        .into_iter()
        .map(|mut r| {
            r.co2_ppm = Some(1800.0);
            r
        })
        .collect();
    let out = feed(&engine, &mut room, &readings);
    let heat = out.iter().find(|t| t.hazard == Hazard::ExcessHeat).expect("heat alert");
    assert_eq!(heat.alert.since, t0() + hours(6));
    // Seven hours of CO2 above 1500 ppm in one night is one stuffy night, not yet a pattern.
    assert!(kinds(&out, Hazard::PoorVentilation).is_empty(), "{out:?}");
}

/// CO2 by the hour in a bedroom whose two sleepers shut the window at night (23:00 to 06:00),
/// `stuffy` on the nights it returns true (days since t0), every ten minutes.
fn bedroom_nights(days: i64, stuffy: impl Fn(i64) -> bool) -> Vec<RoomReading> {
    air_series(t0(), hours(24 * days), minutes(10), |_| (19.0, 55.0))
        .into_iter()
        .map(|mut r| {
            let since = r.time - t0();
            let (day, hour) = (since.num_hours() / 24, since.num_hours() % 24);
            // A night belongs to the day it starts on.
            let night = if hour >= 12 { day } else { day - 1 };
            let asleep = !(6..23).contains(&hour);
            r.co2_ppm = Some(if asleep && stuffy(night) {
                2400.0
            } else if asleep {
                1000.0
            } else {
                600.0
            });
            r
        })
        .collect()
}

#[test]
fn a_bedroom_stuffy_every_night_is_one_ventilation_alert_that_counts_the_nights() {
    let engine = engine();
    let mut room = RoomState::new();
    let out = feed(&engine, &mut room, &bedroom_nights(14, |_| true));
    let vent: Vec<&AlertTransition> = out.iter().filter(|t| t.hazard == Hazard::PoorVentilation).collect();
    let raised: Vec<_> = vent.iter().filter(|t| t.kind == TransitionKind::Raised).collect();
    assert_eq!(raised.len(), 1, "one alert in two weeks: {:?}", kinds(&out, Hazard::PoorVentilation));
    assert!(
        vent.iter().all(|t| matches!(t.kind, TransitionKind::Raised | TransitionKind::Refreshed)),
        "never cleared, never re-raised: {:?}",
        kinds(&out, Hazard::PoorVentilation)
    );
    // Raised during the third stuffy night (the first starts on t0's eve, 23:00).
    assert!(raised[0].alert.since < t0() + hours(3 * 24), "{}", raised[0].alert.since);
    let alert = room.open_alert(Hazard::PoorVentilation).expect("open");
    assert_eq!(alert.severity, Severity::Amber);
    assert_eq!(alert.rule_ids(), vec!["ventilation.co2_nights"]);
    let Evidence::Nights(nights) = &alert.findings[0].evidence else { panic!("counted in nights") };
    assert!(nights.nights_above >= 6, "{nights:?}");
    let explanation = alert.explanation();
    assert!(
        explanation.contains(&format!("on {} of the last 7 nights", nights.nights_above)),
        "{explanation}"
    );
    assert!(explanation.contains("peak 2400 ppm"), "{explanation}");
    assert!(explanation.contains("HSE"), "the rule states its source: {explanation}");
    // The explanation moved on with the nights, without a new alert.
    let refreshed = vent.iter().filter(|t| t.kind == TransitionKind::Refreshed).count();
    assert!(refreshed >= 3, "{refreshed}");
}

#[test]
fn a_fresh_week_clears_the_ventilation_alert_and_a_night_or_two_does_not_raise_it() {
    let engine = engine();
    let mut room = RoomState::new();
    // A week stuffy, then windows open at night.
    let out = feed(&engine, &mut room, &bedroom_nights(16, |night| night < 6));
    assert_eq!(kinds(&out, Hazard::PoorVentilation), vec![TransitionKind::Raised, TransitionKind::Cleared]);
    // Two stuffy nights a week are not a pattern.
    let mut room = RoomState::new();
    let out = feed(&engine, &mut room, &bedroom_nights(14, |night| night.rem_euclid(7) < 2));
    assert!(kinds(&out, Hazard::PoorVentilation).is_empty(), "{:?}", kinds(&out, Hazard::PoorVentilation));
}

/// Only the ventilation rule changed: every other hazard's alerts are exactly as the rule set
/// with the hourly CO2 rule made them.
#[test]
fn judging_ventilation_over_nights_changes_no_other_alert() {
    let readings: Vec<RoomReading> = bedroom_nights(14, |_| true)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            // Damp and cold spells as well.
            let hour = i as f64 / 6.0;
            r.temperature_c = 15.0 + 3.0 * (hour / 24.0 * std::f64::consts::TAU).sin();
            r.rh_pct = 72.0 + 8.0 * (hour / 40.0).sin();
            r.surface_temperature_c = Some(r.temperature_c - 4.0);
            r
        })
        .collect();
    let hourly = dampwatch_indicators::Rule {
        id: "ventilation.co2_1500ppm".to_owned(),
        version: 1,
        hazard: Hazard::PoorVentilation,
        severity: Severity::Amber,
        condition: dampwatch_indicators::Condition::Sustained {
            metric: dampwatch_indicators::Metric::Co2,
            comparison: dampwatch_indicators::Comparison::Above,
            threshold: 1500.0,
            clear_at: 1200.0,
            raise_after: std::time::Duration::from_secs(2 * 3600),
            clear_after: std::time::Duration::from_secs(3600),
        },
        basis: "the hourly rule of dampwatch-rules/2025.1".to_owned(),
    };
    let mut before = EngineConfig::default();
    before.rules.retain(|r| r.hazard != Hazard::PoorVentilation);
    before.rules.push(hourly);
    let others = |config: EngineConfig| {
        let engine = HazardEngine::new(config).expect("valid");
        let mut room = RoomState::new();
        let out = feed(&engine, &mut room, &readings);
        let mut all: Vec<AlertTransition> =
            out.into_iter().filter(|t| t.hazard != Hazard::PoorVentilation).collect();
        all.iter_mut().for_each(|t| t.ruleset_version.clear());
        all
    };
    let (old, new) = (others(before), others(EngineConfig::default()));
    assert!(old.iter().any(|t| t.hazard == Hazard::DampAndMouldGrowth), "the series raises damp");
    assert!(old.iter().any(|t| t.hazard == Hazard::ExcessCold), "and cold");
    assert_eq!(old, new);
}

#[test]
fn offline_after_48h_without_data_and_back_online() {
    let engine = engine();
    let (mut room, last) = an_hour_of_readings(&engine);
    assert!(engine.evaluate(&mut room, last + hours(47)).is_empty());
    let out = engine.evaluate(&mut room, last + hours(48));
    assert_eq!(kinds(&out, Hazard::DeviceOffline), vec![TransitionKind::Raised]);
    let finding = &out[0].alert.findings[0];
    assert_eq!(finding.rule.id, "data.offline_48h");
    assert_eq!(finding.active_since, last + hours(48));
    assert!(
        matches!(finding.evidence, Evidence::Silence { hours_without_data, .. } if hours_without_data == 48.0)
    );
    // Evaluating again changes nothing (one alert, not a new one each time).
    assert!(engine.evaluate(&mut room, last + hours(60)).is_empty());
    // A fresh reading clears it.
    let at = last + hours(61);
    let out = engine.ingest(&mut room, &RoomReading::air(at, 20.0, 50.0), at).expect("accepted");
    assert_eq!(kinds(&out.transitions, Hazard::DeviceOffline), vec![TransitionKind::Cleared]);
    assert_eq!(out.transitions[0].cleared_at, Some(at));
}

#[test]
fn surface_rh_above_80_on_most_days_raises_and_days_without_data_never_clear() {
    let engine = engine();
    let mut room = RoomState::new();
    // Air 20 °C / 65 % on a 15 °C wall: surface RH 89 % (> 80), room RH below 70 %.
    let damp_wall = |at: DateTime<Utc>| {
        let mut r = RoomReading::air(at, 20.0, 65.0);
        r.surface_temperature_c = Some(15.0);
        r
    };
    let readings: Vec<RoomReading> = (0..(5 * 24 * 6)).map(|i| damp_wall(t0() + minutes(10 * i))).collect();
    let mut raised_at = None;
    for r in &readings {
        let out = engine.ingest(&mut room, r, r.time).expect("accepted");
        if let Some(t) = out.transitions.iter().find(|t| t.kind == TransitionKind::Raised) {
            raised_at = Some((t.alert.since, t.alert.rule_ids().join(",")));
        }
    }
    // Days 1-3 are complete; day 4 counts once it has 12 h of data (12:00 plus one reading,
    // whose value is held from 11:50).
    let expected = t0() + hours(3 * 24 + 12);
    assert_eq!(raised_at, Some((expected, "damp.surface_rh_most_days".to_owned())));
    let alert = room.open_alert(Hazard::DampAndMouldGrowth).expect("open");
    match &alert.findings[0].evidence {
        Evidence::Days(days) => {
            assert_eq!(days.window_days, 7);
            assert!(days.days_above >= 4);
            assert!(days.days.iter().all(|d| d.mean > 89.0 && d.mean < 90.0), "{days:?}");
        }
        other => panic!("unexpected evidence {other:?}"),
    }
    // Ten days of silence, then one reading: the window holds no covered dry day, so the
    // alert stays open (the offline rule reports the silence).
    let at = t0() + hours(15 * 24);
    let mut dry = RoomReading::air(at, 20.0, 40.0);
    dry.surface_temperature_c = Some(19.0);
    let out = engine.ingest(&mut room, &dry, at).expect("accepted");
    assert!(kinds(&out.transitions, Hazard::DampAndMouldGrowth).is_empty(), "{out:?}");
    // Five covered dry days clear it.
    let dry_days: Vec<RoomReading> = (1..(6 * 24 * 6))
        .map(|i| {
            let mut r = RoomReading::air(at + minutes(10 * i), 20.0, 40.0);
            r.surface_temperature_c = Some(19.0);
            r
        })
        .collect();
    let out = feed(&engine, &mut room, &dry_days);
    assert_eq!(kinds(&out, Hazard::DampAndMouldGrowth), vec![TransitionKind::Cleared]);
}

#[test]
fn estimated_surface_values_are_labelled() {
    let engine = engine();
    let mut r = RoomReading::air(t0(), 20.0, 65.0);
    r.outdoor_temperature_c = Some(0.0);
    let indicators = engine.indicators(&r).expect("valid");
    let surface = indicators.surface.expect("estimated from f_Rsi");
    assert!(surface.basis.is_estimate());
    assert!((surface.temperature_c - 15.0).abs() < 1e-9);
    // As a rule's evidence, too.
    let mut room = RoomState::new();
    let readings: Vec<RoomReading> = (0..(5 * 24 * 6))
        .map(|i| {
            let mut r = RoomReading::air(t0() + minutes(10 * i), 20.0, 65.0);
            r.outdoor_temperature_c = Some(0.0);
            r
        })
        .collect();
    feed(&engine, &mut room, &readings);
    let alert = room.open_alert(Hazard::DampAndMouldGrowth).expect("open");
    assert!(alert.findings[0].includes_estimates);
    assert!(alert.findings[0].explanation.contains("ESTIMATED"));
}

#[test]
fn mould_index_alerts_escalate_to_red() {
    let engine = engine();
    let mut room = RoomState::new();
    // A 15 °C wall under 20 °C / 80 % air: surface RH 100 %, condensing. The mould model uses
    // the surface: sensitive material reaches M = 1 within weeks and M = 3 later.
    let mut transitions = Vec::new();
    let mut i = 0;
    while room.mould_index() < 3.2 && i < 200 * 24 {
        let at = t0() + hours(i);
        let mut r = RoomReading::air(at, 20.0, 80.0);
        r.surface_temperature_c = Some(15.0);
        transitions.extend(engine.ingest(&mut room, &r, at).expect("accepted").transitions);
        i += 1;
    }
    let damp: Vec<_> = transitions
        .iter()
        .filter(|t| t.hazard == Hazard::DampAndMouldGrowth && t.kind != TransitionKind::Refreshed)
        .collect();
    let ids: Vec<Vec<&str>> = damp.iter().map(|t| t.alert.rule_ids()).collect();
    assert_eq!(
        ids,
        vec![
            vec!["damp.room_rh_sustained"],
            vec!["damp.room_rh_sustained", "damp.surface_rh_most_days"],
            vec!["damp.room_rh_sustained", "damp.surface_rh_most_days", "mould.index_microscopic"],
            vec![
                "mould.index_visible",
                "damp.room_rh_sustained",
                "damp.surface_rh_most_days",
                "mould.index_microscopic"
            ],
        ]
    );
    let red = damp.last().expect("escalated");
    assert_eq!((red.kind, red.alert.severity), (TransitionKind::Updated, Severity::Red));
    let finding = &red.alert.findings[0];
    let mould = finding.mould.as_ref().expect("mould context");
    assert_eq!(mould.model_version, dampwatch_indicators::MOULD_MODEL_VERSION);
    assert_eq!(mould.basis, dampwatch_indicators::ConditionsBasis::MeasuredSurface);
    assert!(finding.explanation.contains("Mould index at or above 3.000"), "{}", finding.explanation);
}

#[test]
fn a_gap_seen_only_when_the_next_reading_arrives_goes_on_record_as_offline() {
    let engine = engine();
    let (mut room, last) = an_hour_of_readings(&engine);

    // An unplugged sensor: nobody looked during the gap; its next reading shows 72 h of silence.
    let back = last + hours(72);
    let out = engine.ingest(&mut room, &RoomReading::air(back, 20.0, 50.0), back).expect("accepted");
    assert_eq!(
        kinds(&out.transitions, Hazard::DeviceOffline),
        vec![TransitionKind::Raised, TransitionKind::Cleared]
    );
    let finding = &out.transitions[0].alert.findings[0];
    assert_eq!(finding.rule.id, "data.offline_48h");
    assert_eq!((finding.window.start, finding.window.end), (last, back));
    assert_eq!(finding.active_since, last + hours(48));
    assert_eq!(out.transitions[1].cleared_at, Some(back));
    assert!(room.open_alert(Hazard::DeviceOffline).is_none());

    // A gap shorter than the rule's period raises nothing.
    let soon = back + hours(47);
    let out = engine.ingest(&mut room, &RoomReading::air(soon, 20.0, 50.0), soon).expect("accepted");
    assert!(kinds(&out.transitions, Hazard::DeviceOffline).is_empty(), "{out:?}");
}

#[test]
fn an_offline_alert_raised_live_is_cleared_once_by_the_late_reading() {
    let engine = engine();
    let (mut room, last) = an_hour_of_readings(&engine);
    let raised = engine.evaluate(&mut room, last + hours(50));
    assert_eq!(kinds(&raised, Hazard::DeviceOffline), vec![TransitionKind::Raised]);
    let back = last + hours(60);
    let out = engine.ingest(&mut room, &RoomReading::air(back, 20.0, 50.0), back).expect("accepted");
    assert_eq!(kinds(&out.transitions, Hazard::DeviceOffline), vec![TransitionKind::Cleared]);
}
