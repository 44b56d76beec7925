//! Arrival order: out-of-order and repeated readings give exactly the in-order result.

mod common;

use chrono::{DateTime, Utc};
use common::{feed, hours, minutes, t0, Prng};
use dampwatch_indicators::{
    EngineConfig, Hazard, HazardEngine, IngestError, Placement, ReplayFrom, RoomReading, RoomState,
    TransitionKind,
};

/// Ten days with damp spells, a cold night, CO2 peaks, dry spells and a couple of gaps.
fn eventful_days() -> Vec<RoomReading> {
    let mut rng = Prng(42);
    let mut out = Vec::new();
    let mut at = t0();
    let end = t0() + hours(10 * 24);
    while at < end {
        let h = (at - t0()).num_hours();
        let day_hour = h % 24;
        let (t, rh) = match h {
            0..=71 => (19.0, 82.0),
            72..=95 => (14.0, 60.0),
            96..=143 => (20.0, 55.0 + (day_hour as f64)),
            _ => (18.0, 90.0),
        };
        let mut r = RoomReading::air(at, t, rh);
        r.surface_temperature_c = Some(t - 3.0);
        r.co2_ppm = Some(if (20..24).contains(&day_hour) { 1900.0 } else { 700.0 });
        out.push(r);
        // Irregular sampling with two long gaps.
        let gap = if h == 30 || h == 170 { 180 } else { rng.range(3, 47) };
        at += minutes(gap);
    }
    out
}

/// The state without the record of what was reported: a room that took readings out of order
/// reported some alerts at other times, and says so, while its indicators are the same.
fn fold_of(room: &RoomState) -> serde_json::Value {
    let mut v = serde_json::to_value(room).expect("serialize");
    v.as_object_mut().expect("object").remove("reported");
    v
}

fn run_in_order(engine: &HazardEngine, readings: &[RoomReading]) -> (RoomState, Vec<Hazard>) {
    let mut room = RoomState::new();
    let transitions = feed(engine, &mut room, readings);
    let raised = transitions.iter().filter(|t| t.kind == TransitionKind::Raised).map(|t| t.hazard).collect();
    (room, raised)
}

/// Shuffles within consecutive blocks spanning less than the reorder window.
fn shuffled_in_blocks(readings: &[RoomReading], block: usize, seed: u64) -> Vec<RoomReading> {
    let mut rng = Prng(seed);
    let mut out = Vec::new();
    for chunk in readings.chunks(block) {
        let mut chunk = chunk.to_vec();
        for i in (1..chunk.len()).rev() {
            let j = rng.range(0, i as i64) as usize;
            chunk.swap(i, j);
        }
        out.extend(chunk);
    }
    out
}

#[test]
fn out_of_order_arrival_equals_in_order() {
    let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
    let readings = eventful_days();
    let (expected, raised) = run_in_order(&engine, &readings);
    // The scenario must actually exercise the rules.
    for hazard in [Hazard::DampAndMouldGrowth, Hazard::ExcessCold, Hazard::PoorVentilation] {
        assert!(raised.contains(&hazard), "{hazard} never raised: {raised:?}");
    }
    assert!(expected.mould_index() > 0.0);
    let last = readings.last().map(|r| r.time).expect("readings");
    for seed in [1, 2, 3] {
        // A block of 5 readings spans 4 gaps: at most 180 + 3 × 47 = 321 min, inside the 6 h
        // reorder window, so every reading can still be placed.
        let shuffled = shuffled_in_blocks(&readings, 5, seed);
        assert_ne!(shuffled, readings);
        let mut room = RoomState::new();
        let mut reordered = 0;
        for r in &shuffled {
            let out = engine.ingest(&mut room, r, r.time).expect("within the reorder window");
            reordered += usize::from(out.placement == Placement::Reordered);
        }
        assert!(reordered > 100, "only {reordered} readings arrived late");
        engine.evaluate(&mut room, last);
        let mut in_order = expected.clone();
        engine.evaluate(&mut in_order, last);
        // The whole fold is equal: indicators, mould index, rule windows, open alerts, coverage.
        assert_eq!(fold_of(&room), fold_of(&in_order), "seed {seed}");
        assert_eq!(room.mould_index().to_bits(), in_order.mould_index().to_bits());
    }
}

#[test]
fn redelivered_readings_change_nothing() {
    let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
    let readings = eventful_days();
    let (expected, _) = run_in_order(&engine, &readings);
    let mut room = RoomState::new();
    for r in &readings {
        engine.ingest(&mut room, r, r.time).expect("accepted");
        let again = engine.ingest(&mut room, r, r.time).expect("accepted");
        assert_eq!(again.placement, Placement::Duplicate);
        assert!(again.transitions.is_empty());
    }
    assert_eq!(room, expected);
    // Redelivery of a long-settled reading is not folded out of order: it asks for a replay
    // from a checkpoint before it, and the replay of the stored readings changes nothing.
    let settled = room.settled_until().expect("something settled");
    let old = readings.iter().rev().find(|r| r.time < settled - hours(7)).expect("older reading");
    let err = engine.ingest(&mut room, old, settled).expect_err("needs a replay");
    let IngestError::NeedsReplay { from, .. } = err else { panic!("{err}") };
    assert_eq!(room, expected);
    let mut stored = common::StoredRoom::new();
    stored.deliver(&engine, &readings);
    let again = stored.deliver(&engine, std::slice::from_ref(old));
    assert_eq!(stored.replays, 1, "placed by one replay from {from:?}");
    assert!(again.is_empty(), "a redelivery reports nothing: {again:?}");
    assert_eq!(stored.state, expected);
}

#[test]
fn a_reading_later_than_the_reorder_window_needs_a_replay_not_a_misplacement() {
    let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
    let mut room = RoomState::new();
    let at = |m: i64| -> DateTime<Utc> { t0() + minutes(m) };
    for m in (0..=600).step_by(10) {
        engine.ingest(&mut room, &RoomReading::air(at(m), 20.0, 50.0), at(m)).expect("accepted");
    }
    // 5 h late: inside the 6 h window, placed in order.
    let late = engine.ingest(&mut room, &RoomReading::air(at(305), 20.0, 50.0), at(600)).expect("accepted");
    assert_eq!(late.placement, Placement::Reordered);
    // 7 h late: behind the settled state, so not folded here; a replay from the checkpoint
    // before it places it.
    let before = room.clone();
    let err = engine.ingest(&mut room, &RoomReading::air(at(175), 20.0, 50.0), at(600)).expect_err("replay");
    assert!(
        matches!(err, IngestError::NeedsReplay { from: ReplayFrom::Checkpoint(c), .. } if c < at(175)),
        "{err}"
    );
    assert_eq!(room, before);
    // The reorder buffer stays bounded by the window: 6 h of 10-minute readings plus the one.
    assert!(room.pending_readings() <= 6 * 6 + 2, "{}", room.pending_readings());
}

#[test]
fn invalid_readings_are_refused() {
    let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
    let mut room = RoomState::new();
    for bad in [
        RoomReading::air(t0(), f64::NAN, 50.0),
        RoomReading::air(t0(), 20.0, 130.0),
        RoomReading::air(t0(), 20.0, -1.0),
    ] {
        assert!(matches!(engine.ingest(&mut room, &bad, t0()), Err(IngestError::Invalid(_))));
    }
    assert_eq!(room, RoomState::new());
}

#[test]
fn room_state_round_trips_through_json() {
    let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
    let readings = eventful_days();
    let (half, rest) = readings.split_at(readings.len() / 2);
    let mut room = RoomState::new();
    feed(&engine, &mut room, half);
    let json = serde_json::to_string(&room).expect("serialize");
    let mut restored: RoomState = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(restored, room);
    feed(&engine, &mut room, rest);
    feed(&engine, &mut restored, rest);
    assert_eq!(restored, room);
}
