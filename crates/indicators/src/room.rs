//! Per-room state, updated by each committed reading in any arrival order.
//!
//! The state is the fold of the room's readings in time order, kept so in three layers:
//! - the newest readings (those within `reorder_window` of the newest one) are kept with the
//!   fold taken just before them (`settled`); a reading that arrives a little late is inserted
//!   among them and they are folded again from there, inside the state;
//! - as readings settle, a checkpoint of the fold is taken every twelfth of `late_horizon`
//!   ([`Checkpoint`], kept beside the state by the caller). A reading older than `settled` but
//!   within the horizon is not folded here: [`IngestError::NeedsReplay`] names the checkpoint
//!   to start from, and [`crate::HazardEngine::replay`] folds the room's stored readings again
//!   from it, in time order (see `replay`);
//! - a reading older than every checkpoint kept (beyond the horizon) is left out of the
//!   indicators ([`IngestError::TooLate`]) and counted in the room's [`RoomCoverage`].
//!
//! So any arrival order within the horizon gives exactly the in-order result. A reading with
//! the same time as one already taken is a redelivery and changes nothing.
//!
//! Alert transitions are the difference between the alerts last reported and the alerts the
//! state shows now, so folding again never reports an alert twice; what a replay changes about
//! alerts already reported is reported as revisions of those alerts.

mod checkpoint;
mod replay;

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{AlertTransition, Finding, HazardAlert, TransitionKind};
use crate::config::Settings;
use crate::engine::Ingested;
use crate::evaluation::coverage::LeftOut;
use crate::evaluation::Evaluation;
use crate::indicators::Indicators;
use crate::reading::{ReadingError, RoomReading};
use crate::rule::Hazard;
use checkpoint::Checkpoints;
use replay::ReportedEpisode;

pub use crate::evaluation::coverage::RoomCoverage;
pub use checkpoint::{Checkpoint, ReplayFrom};
pub use replay::{ReplayError, Replayed};

/// Why a reading could not be taken into the room state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    #[error("invalid reading: {0}")]
    Invalid(#[from] ReadingError),
    /// Older than the settled state but within the late-reading horizon: not folded yet. Fold
    /// the room's stored readings again from `from` with [`crate::HazardEngine::replay`]; one
    /// replay from the earliest `from` places every such reading of a batch.
    #[error("reading at {reading_at} arrived after the room's state moved on: placed by folding the room's stored readings again from {from:?}")]
    NeedsReplay { reading_at: DateTime<Utc>, from: ReplayFrom },
    /// Older than every checkpoint the room keeps (beyond the late-reading horizon): left out
    /// of the indicators and counted in the room's coverage.
    #[error("reading at {reading_at} is older than the late-reading horizon: left out of the indicators")]
    TooLate { reading_at: DateTime<Utc> },
}

/// Where an accepted reading went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Newer than every reading so far.
    InOrder,
    /// Older than the newest reading: inserted in order and the recent readings replayed.
    Reordered,
    /// A reading with this time was already taken; nothing changed.
    Duplicate,
}

/// One room's indicators and alerts. Serialisable, so the collector can persist it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    /// Fold of every reading up to the checkpoint; those readings are never replayed.
    settled: Evaluation,
    /// Readings after the checkpoint, oldest first.
    pending: VecDeque<RoomReading>,
    /// `settled` with `pending` folded in: the room as it stands.
    current: Evaluation,
    /// The alerts as last reported, at most one per hazard.
    open: BTreeMap<Hazard, HazardAlert>,
    /// Data times of the checkpoints kept beside the state.
    #[serde(default = "Checkpoints::none_yet")]
    checkpoints: Checkpoints,
    /// The alerts reported (open and cleared) that a replay may still revise.
    #[serde(default)]
    reported: Vec<ReportedEpisode>,
    /// Late readings left out (beyond the horizon).
    #[serde(default)]
    left_out: LeftOut,
}

impl Default for RoomState {
    fn default() -> Self {
        RoomState {
            settled: Evaluation::default(),
            pending: VecDeque::new(),
            current: Evaluation::default(),
            open: BTreeMap::new(),
            checkpoints: Checkpoints::new(),
            reported: Vec::new(),
            left_out: LeftOut::default(),
        }
    }
}

impl RoomState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indicators of the newest reading (with the mould index at its time).
    pub fn latest(&self) -> Option<&Indicators> {
        self.current.latest()
    }

    pub fn last_reading_at(&self) -> Option<DateTime<Utc>> {
        self.current.last_time()
    }

    /// The mould index M now (at the newest reading).
    pub fn mould_index(&self) -> f64 {
        self.current.mould().index
    }

    /// The highest mould index reached.
    pub fn peak_mould_index(&self) -> f64 {
        self.current.mould().peak
    }

    /// Readings older than this are placed by a replay (or left out beyond the horizon).
    pub fn settled_until(&self) -> Option<DateTime<Utc>> {
        self.settled.last_time()
    }

    /// Readings kept for reordering.
    pub fn pending_readings(&self) -> usize {
        self.pending.len()
    }

    /// The open alerts as last reported, in hazard order.
    pub fn open_alerts(&self) -> impl Iterator<Item = &HazardAlert> {
        self.open.values()
    }

    pub fn open_alert(&self, hazard: Hazard) -> Option<&HazardAlert> {
        self.open.get(&hazard)
    }

    /// The room's current risk level, from its open alerts and its mould index.
    pub fn risk(&self) -> crate::risk::RoomRisk {
        let open = self.open.values().map(|a| (a.hazard, a.severity));
        crate::risk::RoomRisk::assess(open, self.latest().map(|_| self.mould_index()))
    }

    /// Hours with data, gaps, and late readings left out.
    pub fn coverage(&self) -> RoomCoverage {
        RoomCoverage::of(self.current.coverage(), self.last_reading_at(), &self.left_out)
    }

    /// Data times of the checkpoints to keep beside the state, oldest first; any other stored
    /// checkpoint of the room can be dropped.
    pub fn checkpoint_times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.checkpoints.times()
    }

    /// Where a replay to place a reading at `at` would start; `None` when it is beyond the
    /// late-reading horizon.
    pub fn replay_from(&self, at: DateTime<Utc>) -> Option<ReplayFrom> {
        self.checkpoints.replay_from(at)
    }

    /// Takes one reading: the no-data rules are judged at the reading's own time first when it
    /// ends a silence (see [`crate::HazardEngine::ingest`]), then at `now`.
    pub(crate) fn take(
        &mut self,
        settings: &Settings,
        reading: &RoomReading,
        now: DateTime<Utc>,
    ) -> Result<Ingested, IngestError> {
        let mut transitions = match (self.last_reading_at(), settings.shortest_silence) {
            (Some(last), Some(silence)) if reading.time - last >= silence => {
                reading.validate()?;
                self.reconcile(settings, reading.time)
            }
            _ => Vec::new(),
        };
        let mut checkpoints = Vec::new();
        let placement = self.insert(settings, reading, &mut checkpoints)?;
        transitions.extend(self.reconcile(settings, now));
        Ok(Ingested { placement, transitions, checkpoints })
    }

    fn insert(
        &mut self,
        settings: &Settings,
        reading: &RoomReading,
        checkpoints: &mut Vec<Checkpoint>,
    ) -> Result<Placement, IngestError> {
        reading.validate()?;
        let at = reading.time;
        if let Some(settled_until) = self.settled.last_time() {
            if at == settled_until || self.checkpoints.contains(at) {
                return Ok(Placement::Duplicate);
            }
            if at < settled_until {
                return match self.checkpoints.replay_from(at) {
                    Some(from) => Err(IngestError::NeedsReplay { reading_at: at, from }),
                    None => {
                        self.left_out.count(at);
                        Err(IngestError::TooLate { reading_at: at })
                    }
                };
            }
        }
        let placement = match self.pending.binary_search_by(|r| r.time.cmp(&at)) {
            Ok(_) => return Ok(Placement::Duplicate),
            Err(index) if index == self.pending.len() => {
                self.pending.push_back(reading.clone());
                self.current.apply(settings, reading);
                Placement::InOrder
            }
            Err(index) => {
                self.pending.insert(index, reading.clone());
                self.current = self.settled.clone();
                for r in &self.pending {
                    self.current.apply(settings, r);
                }
                Placement::Reordered
            }
        };
        self.advance_checkpoint(settings, checkpoints);
        Ok(placement)
    }

    /// Settles readings that fell out of the reorder window, taking checkpoints as they settle
    /// and dropping what the late-reading horizon no longer needs.
    fn advance_checkpoint(&mut self, settings: &Settings, checkpoints: &mut Vec<Checkpoint>) {
        let Some(newest) = self.current.last_time() else { return };
        let horizon = newest - settings.reorder_window;
        while let Some(oldest) = self.pending.front() {
            if oldest.time >= horizon {
                break;
            }
            self.settled.apply(settings, oldest);
            self.pending.pop_front();
            checkpoints.extend(self.checkpoints.after_settling(&self.settled, settings.checkpoint_every));
        }
        self.checkpoints.retain(newest, settings.late_horizon);
        if let Some(oldest) = self.checkpoints.oldest() {
            // No replay can start before `oldest`, so alerts that ended by then are final.
            self.reported.retain(|r| r.cleared_at.is_none_or(|c| c > oldest));
        }
    }

    /// Compares the alerts the state shows at `now` with those last reported.
    pub(crate) fn reconcile(&mut self, settings: &Settings, now: DateTime<Utc>) -> Vec<AlertTransition> {
        let mut by_hazard: BTreeMap<Hazard, Vec<Finding>> = BTreeMap::new();
        for (hazard, finding) in self.current.findings(settings, now) {
            by_hazard.entry(hazard).or_default().push(finding);
        }
        let ruleset_version = &settings.config.ruleset_version;
        let mut transitions = Vec::new();
        let gone: Vec<Hazard> = self.open.keys().filter(|h| !by_hazard.contains_key(h)).copied().collect();
        for hazard in gone {
            let Some(alert) = self.open.remove(&hazard) else { continue };
            // When the rules that held the alert last saw the data clear (a rule of the hazard
            // that never held it may have cleared long before).
            let held_by = alert.rule_ids();
            let cleared_at = settings
                .config
                .tracked()
                .filter(|r| r.hazard == hazard && held_by.contains(&r.id.as_str()))
                .filter_map(|r| self.current.last_cleared_at(r))
                .max()
                .or(self.current.last_time());
            replay::record_cleared(&mut self.reported, hazard, alert.since, cleared_at.unwrap_or(now));
            transitions.push(AlertTransition {
                kind: TransitionKind::Cleared,
                hazard,
                alert,
                cleared_at,
                evaluated_at: now,
                ruleset_version: ruleset_version.clone(),
                late: None,
            });
        }
        for (hazard, findings) in by_hazard {
            let Some(alert) = HazardAlert::from_findings(hazard, findings) else { continue };
            let kind = match self.open.get(&hazard) {
                None => Some(TransitionKind::Raised),
                Some(old) if old.severity != alert.severity || old.rule_ids() != alert.rule_ids() => {
                    Some(TransitionKind::Updated)
                }
                Some(old) if old.pattern_counts() != alert.pattern_counts() => {
                    Some(TransitionKind::Refreshed)
                }
                Some(_) => None,
            };
            if let Some(kind) = kind {
                if kind == TransitionKind::Raised {
                    self.reported.push(ReportedEpisode { hazard, since: alert.since, cleared_at: None });
                }
                transitions.push(AlertTransition {
                    kind,
                    hazard,
                    alert: alert.clone(),
                    cleared_at: None,
                    evaluated_at: now,
                    ruleset_version: ruleset_version.clone(),
                    late: None,
                });
            }
            // Refreshed silently otherwise, so `open_alerts` always shows the latest values.
            self.open.insert(hazard, alert);
        }
        transitions
    }
}
