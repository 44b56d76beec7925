//! Checkpoints of a room's fold, so a reading that arrives after the room has moved on can
//! still be placed in time order.
//!
//! As readings settle, a copy of the fold is taken every `checkpoint_every` of data time. The
//! copies are kept beside the room state by the caller (each is larger than what changes with
//! a reading, and they change rarely); the state keeps only their times. A late reading is
//! placed by folding the room's stored readings again from the newest checkpoint before it.
//! Checkpoints are dropped once a newer one is at least `late_horizon` behind the newest
//! reading, so every reading within the horizon always has one before it.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::evaluation::Evaluation;

/// A copy of a room's fold after every reading up to `at`. Keep it with the room and hand it
/// back to [`crate::HazardEngine::replay`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Data time of the newest reading folded in.
    pub at: DateTime<Utc>,
    pub(crate) fold: Evaluation,
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayFrom {
    /// The empty room: every stored reading of the room is folded again.
    Start,
    /// The checkpoint taken at this data time: the stored readings after it are folded again.
    Checkpoint(DateTime<Utc>),
}

impl ReplayFrom {
    /// Readings strictly after this time are replayed (`None`: all of them).
    pub fn after(self) -> Option<DateTime<Utc>> {
        match self {
            ReplayFrom::Start => None,
            ReplayFrom::Checkpoint(at) => Some(at),
        }
    }
}

/// The times of the checkpoints a room keeps, and when to take and drop them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Checkpoints {
    /// The empty room is still a place to start from: no checkpoint has been dropped yet.
    start: bool,
    /// Oldest first.
    times: VecDeque<DateTime<Utc>>,
}

impl Checkpoints {
    pub fn new() -> Self {
        Checkpoints { start: true, times: VecDeque::new() }
    }

    /// For a state stored before checkpoints were taken: replaying from its start would fold
    /// every reading the room ever had, so there is nothing to start from until the first
    /// checkpoint.
    pub fn none_yet() -> Self {
        Checkpoints { start: false, times: VecDeque::new() }
    }

    /// Where to replay from to place a reading at `at`; `None` when it is older than every
    /// checkpoint kept.
    pub fn replay_from(&self, at: DateTime<Utc>) -> Option<ReplayFrom> {
        match self.times.iter().rev().find(|t| **t < at) {
            Some(t) => Some(ReplayFrom::Checkpoint(*t)),
            None => self.start.then_some(ReplayFrom::Start),
        }
    }

    /// A checkpoint was taken at `at`, so a reading at that time is already folded.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.times.binary_search(&at).is_ok()
    }

    pub fn can_start(&self) -> bool {
        self.start
    }

    /// The oldest data time a replay can start from (`None`: the room's start, or nothing).
    pub fn oldest(&self) -> Option<DateTime<Utc>> {
        if self.start {
            return None;
        }
        self.times.front().copied()
    }

    pub fn times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.times.iter().copied()
    }

    /// Called after `fold` took a settled reading: takes a checkpoint when one is due.
    pub fn after_settling(&mut self, fold: &Evaluation, every: TimeDelta) -> Option<Checkpoint> {
        let at = fold.last_time()?;
        if self.times.back().is_some_and(|last| at - *last < every) {
            return None;
        }
        self.times.push_back(at);
        Some(Checkpoint { at, fold: fold.clone() })
    }

    /// Drops what no reading within `horizon` of `newest` can need: keeps the newest
    /// checkpoint at or before the horizon's start and every later one.
    pub fn retain(&mut self, newest: DateTime<Utc>, horizon: TimeDelta) {
        let edge = newest - horizon;
        if self.times.front().is_some_and(|t| *t <= edge) {
            self.start = false;
        }
        while self.times.get(1).is_some_and(|t| *t <= edge) {
            self.times.pop_front();
        }
    }

    /// The checkpoints up to `from`: those after it describe a fold that a replay from `from`
    /// takes again.
    pub fn rewound_to(&self, from: ReplayFrom) -> Checkpoints {
        let times = match from {
            ReplayFrom::Start => VecDeque::new(),
            ReplayFrom::Checkpoint(at) => self.times.iter().copied().filter(|t| *t <= at).collect(),
        };
        Checkpoints { start: self.start, times }
    }
}
