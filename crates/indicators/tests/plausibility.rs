//! The engine believes exactly the values the collector stores as believable: both apply the
//! wire's plausibility policy (`dampwatch_wire::Quantity`). The collector's checks walk the
//! same edges (`values_are_believed_exactly_within_the_wire_ranges`), so if either side grows
//! a range of its own, one of the two tests fails.

mod common;

use common::{air_series, feed, hours, minutes, t0};
use dampwatch_indicators::{
    EngineConfig, Hazard, HazardEngine, IngestError, ReadingError, RoomReading, RoomState, TransitionKind,
};
use dampwatch_wire::Quantity;

fn engine() -> HazardEngine {
    HazardEngine::new(EngineConfig::default()).expect("default config is valid")
}

/// A wire value as the hazard worker reads it back: the collector stores hundredths as a
/// PostgreSQL `real` (f32), the worker widens it to f64.
fn as_stored(q: Quantity, wire: i32) -> f64 {
    match q.scale() {
        100 => f64::from(wire as f32 / 100.0),
        _ => f64::from(wire),
    }
}

#[test]
fn the_engine_believes_exactly_the_wire_ranges_and_refuses_the_rest() {
    let engine = engine();
    for q in Quantity::ALL.into_iter().filter(|q| *q != Quantity::Battery) {
        let (min, max) = q.range();
        for (v, believed) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
            assert_eq!(q.accepts(i64::from(v)), believed);
            let mut reading = RoomReading::air(t0(), 20.0, 50.0);
            let value = as_stored(q, v);
            match q {
                Quantity::AirTemperature => reading.temperature_c = value,
                Quantity::RelativeHumidity => reading.rh_pct = value,
                Quantity::SurfaceTemperature => reading.surface_temperature_c = Some(value),
                Quantity::Co2 => reading.co2_ppm = Some(value),
                Quantity::Battery => unreachable!(),
            }
            let mut room = RoomState::new();
            match engine.ingest(&mut room, &reading, t0()) {
                Ok(_) => assert!(believed, "{q:?} {v} accepted by the engine, flagged by the collector"),
                Err(IngestError::Invalid(ReadingError::OutOfRange { .. })) => {
                    assert!(!believed, "{q:?} {v} stored by the collector, refused by the engine")
                }
                Err(e) => panic!("{q:?} {v}: {e}"),
            }
        }
    }
}

/// A reading the sensor can make is a reading the rules see, however extreme: 110 °C is
/// within the SHT4x's range, so the collector stores it and the heat rule raises on it.
#[test]
fn a_room_at_110_c_raises_excess_heat() {
    let engine = engine();
    let mut room = RoomState::new();
    let readings = air_series(t0(), hours(7), minutes(10), |_| (110.0, 5.0));
    let transitions = feed(&engine, &mut room, &readings);
    assert!(
        transitions.iter().any(|t| t.hazard == Hazard::ExcessHeat && t.kind == TransitionKind::Raised),
        "{transitions:?}"
    );
}
