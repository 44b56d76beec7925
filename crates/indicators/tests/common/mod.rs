//! Shared helpers for the integration tests: times, reading series, a tiny deterministic PRNG.
#![allow(dead_code)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dampwatch_indicators::{AlertTransition, HazardEngine, RoomReading, RoomState};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).single().expect("valid date")
}

pub fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

pub fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

/// Readings of air only, every `step` from `start` for `span` (end excluded).
pub fn air_series(
    start: DateTime<Utc>,
    span: TimeDelta,
    step: TimeDelta,
    climate: impl Fn(DateTime<Utc>) -> (f64, f64),
) -> Vec<RoomReading> {
    let mut out = Vec::new();
    let mut at = start;
    while at < start + span {
        let (t, rh) = climate(at);
        out.push(RoomReading::air(at, t, rh));
        at += step;
    }
    out
}

/// Feeds readings in order with `now` = reading time; returns every transition.
pub fn feed(engine: &HazardEngine, room: &mut RoomState, readings: &[RoomReading]) -> Vec<AlertTransition> {
    let mut all = Vec::new();
    for r in readings {
        let ingested = engine.ingest(room, r, r.time).expect("reading accepted");
        all.extend(ingested.transitions);
    }
    all
}

/// xorshift64*: deterministic, good enough to pick gaps and shuffles.
pub struct Prng(pub u64);

impl Prng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }
}
