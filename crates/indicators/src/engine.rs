//! The entry point: a validated configuration applied to room states.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::AlertTransition;
use crate::config::{ConfigError, EngineConfig, Settings};
use crate::history::IndicatorHistory;
use crate::indicators::Indicators;
use crate::reading::{ReadingError, RoomReading};
use crate::room::{Checkpoint, IngestError, Placement, ReplayError, Replayed, RoomState};

/// Applies one configuration (material class, rules, gap and reorder limits) to any number of
/// rooms. Holds no per-room data and no clock: callers pass the room and `now`.
#[derive(Debug, Clone)]
pub struct HazardEngine {
    settings: Settings,
}

/// The result of taking one reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ingested {
    pub placement: Placement,
    /// Alerts raised, updated or cleared by this reading (and by `now`, for "offline").
    pub transitions: Vec<AlertTransition>,
    /// Checkpoints taken: keep them beside the room state (see [`RoomState::checkpoint_times`]).
    pub checkpoints: Vec<Checkpoint>,
}

impl HazardEngine {
    pub fn new(config: EngineConfig) -> Result<Self, ConfigError> {
        Ok(HazardEngine { settings: Settings::new(config)? })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.settings.config
    }

    /// The shortest "no data" period of the rules, if any rule watches for silence.
    pub fn shortest_silence(&self) -> Option<chrono::TimeDelta> {
        self.settings.shortest_silence
    }

    /// Takes one committed reading into `room` and reports the alert transitions, with the
    /// no-data rules judged at `now`. A reading older than the room's settled state is not
    /// taken: within the late-reading horizon the answer is [`IngestError::NeedsReplay`] (place
    /// it with [`HazardEngine::replay`]), beyond it [`IngestError::TooLate`] (left out and
    /// counted in the room's coverage).
    ///
    /// A gap in the sample times themselves (an unplugged sensor, a device without power) is
    /// silence even when it is only seen afterwards, when the next reading arrives: the no-data
    /// rules are first judged at the instant of that reading, so the gap goes on record as an
    /// offline alert that the reading then clears. A late backlog after a network cut has no
    /// such gap and raises nothing.
    pub fn ingest(
        &self,
        room: &mut RoomState,
        reading: &RoomReading,
        now: DateTime<Utc>,
    ) -> Result<Ingested, IngestError> {
        room.take(&self.settings, reading, now)
    }

    /// Places late readings in time order: rewinds `room` to `start` (a kept checkpoint, or
    /// `None` for the room's start, as [`IngestError::NeedsReplay`] named it) and folds
    /// `readings` again from there. `readings` must be every stored reading of the room after
    /// the start (the late ones among them), of all its sensors, in any order; repeats are
    /// taken once. Readings are judged at data time, as readings arriving in order are.
    ///
    /// Alerts already reported are revised rather than raised again: see [`Replayed`]. The
    /// returned checkpoints replace every kept checkpoint after the start.
    pub fn replay(
        &self,
        room: &mut RoomState,
        start: Option<&Checkpoint>,
        readings: &[RoomReading],
    ) -> Result<Replayed, ReplayError> {
        room.replay(&self.settings, start, readings)
    }

    /// Re-judges `room` at `now` without a new reading: this is how "no data for 48 h" is
    /// raised. Call it periodically for every room.
    pub fn evaluate(&self, room: &mut RoomState, now: DateTime<Utc>) -> Vec<AlertTransition> {
        room.reconcile(&self.settings, now)
    }

    /// A room's indicators along readings fed in time order, for charts ([`IndicatorHistory`]).
    pub fn history(&self) -> IndicatorHistory {
        IndicatorHistory::new(&self.settings)
    }

    /// The indicators of a single reading (no history: mould index 0).
    pub fn indicators(&self, reading: &RoomReading) -> Result<Indicators, ReadingError> {
        reading.validate()?;
        Ok(Indicators::of(reading, &self.settings.point()))
    }
}
