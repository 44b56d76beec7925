//! How well a room is covered by data: hours with readings, the gaps between them, and the late
//! readings that could not be placed in time order.
//!
//! Hours and gaps are part of the fold (a replay recounts them exactly); the late readings left
//! out are counted beside it, since by definition no fold contains them.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::coverage::Coverage;

/// Counted by the fold, reading by reading in time order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CoverageTally {
    first_reading_at: Option<DateTime<Utc>>,
    readings: u64,
    /// Each reading's conditions count as data until the next, for at most `max_gap`, as for
    /// the mould index.
    data: Coverage,
}

impl CoverageTally {
    /// Counts a reading at `at` that follows one at `previous` (if any).
    pub fn count(&mut self, previous: Option<DateTime<Utc>>, at: DateTime<Utc>, max_gap: TimeDelta) {
        self.readings += 1;
        self.first_reading_at.get_or_insert(at);
        if let Some(previous) = previous {
            self.data.record(previous, at, max_gap);
        }
    }
}

/// Late readings left out of a room's indicators: older than every checkpoint the room keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeftOut {
    readings: u64,
    newest_sample_at: Option<DateTime<Utc>>,
}

impl LeftOut {
    pub fn count(&mut self, at: DateTime<Utc>) {
        self.readings += 1;
        self.newest_sample_at = self.newest_sample_at.max(Some(at));
    }
}

/// A room's data coverage, for people and for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoomCoverage {
    /// The first reading the room's state holds (coverage is counted from there).
    pub since: Option<DateTime<Utc>>,
    /// The newest reading.
    pub until: Option<DateTime<Utc>>,
    /// Readings in the indicators.
    pub readings: u64,
    /// Hours with data and in gaps longer than `max_gap`, the gaps and the longest.
    #[serde(flatten)]
    pub data: Coverage,
    /// Readings that arrived too late to place in time order (older than the late-reading
    /// horizon) and were left out of the indicators. They stay stored as evidence.
    pub late_readings_left_out: u64,
    /// Sample time of the newest such reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_left_out_sample_at: Option<DateTime<Utc>>,
}

impl RoomCoverage {
    pub(crate) fn of(tally: &CoverageTally, until: Option<DateTime<Utc>>, left_out: &LeftOut) -> Self {
        RoomCoverage {
            since: tally.first_reading_at,
            until,
            readings: tally.readings,
            data: tally.data,
            late_readings_left_out: left_out.readings,
            newest_left_out_sample_at: left_out.newest_sample_at,
        }
    }
}
