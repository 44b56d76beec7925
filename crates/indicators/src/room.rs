//! Per-room state, updated by each committed reading in any arrival order.
//!
//! The state is the fold of the room's readings in time order. The
//! newest readings (those within `reorder_window` of the newest one) are kept with a
//! checkpoint taken just before them; a reading that arrives late but inside that window is
//! inserted in order and the window is replayed from the checkpoint. So any arrival order gives
//! exactly the in-order result, as long as no reading is older than the checkpoint; such a
//! reading is refused ([`IngestError::TooLate`]) rather than folded out of order. A reading
//! with the same time as one already taken is a redelivery and changes nothing.
//!
//! Alert transitions are the difference between the alerts last reported and the alerts the
//! state shows now, so a replay never reports an alert twice.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{AlertTransition, Finding, HazardAlert, TransitionKind};
use crate::config::Settings;
use crate::evaluation::Evaluation;
use crate::indicators::Indicators;
use crate::reading::{ReadingError, RoomReading};
use crate::rule::Hazard;

/// Why a reading could not be taken into the room state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    #[error("invalid reading: {0}")]
    Invalid(#[from] ReadingError),
    /// Older than the checkpoint: the indicators have moved past it for good.
    #[error("reading at {reading_at} is older than the settled state ({settled_until}): too late to place in order, left out of the indicators")]
    TooLate { reading_at: DateTime<Utc>, settled_until: DateTime<Utc> },
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    /// Fold of every reading up to the checkpoint; those readings are never replayed.
    settled: Evaluation,
    /// Readings after the checkpoint, oldest first.
    pending: VecDeque<RoomReading>,
    /// `settled` with `pending` folded in: the room as it stands.
    current: Evaluation,
    /// The alerts as last reported, at most one per hazard.
    open: BTreeMap<Hazard, HazardAlert>,
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

    /// Readings older than this can no longer be placed in order.
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

    pub(crate) fn insert(
        &mut self,
        settings: &Settings,
        reading: &RoomReading,
    ) -> Result<Placement, IngestError> {
        reading.validate()?;
        let at = reading.time;
        if let Some(settled_until) = self.settled.last_time() {
            if at == settled_until {
                return Ok(Placement::Duplicate);
            }
            if at < settled_until {
                return Err(IngestError::TooLate { reading_at: at, settled_until });
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
        self.advance_checkpoint(settings);
        Ok(placement)
    }

    /// Settles readings that fell out of the reorder window.
    fn advance_checkpoint(&mut self, settings: &Settings) {
        let Some(newest) = self.current.last_time() else { return };
        let horizon = newest - settings.reorder_window;
        while let Some(oldest) = self.pending.front() {
            if oldest.time >= horizon {
                break;
            }
            self.settled.apply(settings, oldest);
            self.pending.pop_front();
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
            let cleared_at = settings
                .config
                .rules
                .iter()
                .filter(|r| r.hazard == hazard)
                .filter_map(|r| self.current.last_cleared_at(r))
                .max()
                .or(self.current.last_time());
            transitions.push(AlertTransition {
                kind: TransitionKind::Cleared,
                hazard,
                alert,
                cleared_at,
                evaluated_at: now,
                ruleset_version: ruleset_version.clone(),
            });
        }
        for (hazard, findings) in by_hazard {
            let Some(alert) = HazardAlert::from_findings(hazard, findings) else { continue };
            let kind = match self.open.get(&hazard) {
                None => Some(TransitionKind::Raised),
                Some(old) if old.severity != alert.severity || old.rule_ids() != alert.rule_ids() => {
                    Some(TransitionKind::Updated)
                }
                Some(_) => None,
            };
            if let Some(kind) = kind {
                transitions.push(AlertTransition {
                    kind,
                    hazard,
                    alert: alert.clone(),
                    cleared_at: None,
                    evaluated_at: now,
                    ruleset_version: ruleset_version.clone(),
                });
            }
            // Refreshed silently otherwise, so `open_alerts` always shows the latest values.
            self.open.insert(hazard, alert);
        }
        transitions
    }
}
