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

/// A room as the hazard worker keeps it: the state, and beside it the room's stored readings
/// and checkpoints. Batches are taken the way the worker takes them (in sample-time order,
/// judged at data time); late readings are placed with one replay per batch.
#[derive(Default)]
pub struct StoredRoom {
    pub state: RoomState,
    readings: Vec<RoomReading>,
    checkpoints: std::collections::BTreeMap<DateTime<Utc>, dampwatch_indicators::Checkpoint>,
    /// Replays run, and late readings left out (beyond the horizon).
    pub replays: usize,
    pub left_out: usize,
}

impl StoredRoom {
    pub fn new() -> Self {
        StoredRoom { state: RoomState::new(), ..Default::default() }
    }

    /// Stores and takes one batch; returns the transitions to report.
    pub fn deliver(&mut self, engine: &HazardEngine, batch: &[RoomReading]) -> Vec<AlertTransition> {
        use dampwatch_indicators::{IngestError, ReplayFrom};
        self.readings.extend(batch.iter().cloned());
        let mut batch = batch.to_vec();
        batch.sort_by_key(|r| r.time);
        let mut out = Vec::new();
        let mut replay: Option<ReplayFrom> = None;
        for r in &batch {
            if replay.is_some() {
                // Newer than the late reading: the replay folds it too.
                continue;
            }
            let now = self.state.last_reading_at().map_or(r.time, |t| t.max(r.time));
            match engine.ingest(&mut self.state, r, now) {
                Ok(taken) => {
                    out.extend(taken.transitions);
                    self.keep(taken.checkpoints);
                }
                Err(IngestError::NeedsReplay { from, .. }) => replay = Some(from),
                Err(IngestError::TooLate { .. }) => self.left_out += 1,
                Err(e) => panic!("{e}"),
            }
        }
        if let Some(from) = replay {
            let start = from.after().map(|at| self.checkpoints[&at].clone());
            let after: Vec<RoomReading> =
                self.readings.iter().filter(|r| from.after().is_none_or(|a| r.time > a)).cloned().collect();
            let replayed = engine.replay(&mut self.state, start.as_ref(), &after).expect("replay");
            self.replays += 1;
            out.extend(replayed.transitions);
            self.keep(replayed.checkpoints);
        }
        out
    }

    fn keep(&mut self, taken: Vec<dampwatch_indicators::Checkpoint>) {
        for c in taken {
            self.checkpoints.insert(c.at, c);
        }
        let kept: std::collections::BTreeSet<_> = self.state.checkpoint_times().collect();
        self.checkpoints.retain(|at, _| kept.contains(at));
    }

    pub fn checkpoints_kept(&self) -> usize {
        self.checkpoints.len()
    }
}
