//! Sustained-condition windows: a metric past a threshold for long enough, without gaps.
//!
//! Gaps are "no data", never "no risk": a gap longer than `max_gap` restarts a window that has
//! not yet raised, and never clears one that has. Clearing needs the metric past the
//! hysteresis level (`clear_at`) for `clear_after`, so values hovering around the threshold
//! do not make the alert flap.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, TimeWindow, WindowStats};
use crate::rule::Comparison;

/// A rule's numbers in the engine's units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SustainedParams {
    pub comparison: Comparison,
    pub threshold: f64,
    pub clear_at: f64,
    pub raise_after: TimeDelta,
    pub clear_after: TimeDelta,
    pub max_gap: TimeDelta,
}

/// The readings of the current window (a candidate, or the episode of an active rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    readings: u64,
    sum: f64,
    min: f64,
    max: f64,
    latest: f64,
    estimates: bool,
}

impl Run {
    fn start(at: DateTime<Utc>, value: f64, estimate: bool) -> Run {
        Run {
            start: at,
            end: at,
            readings: 1,
            sum: value,
            min: value,
            max: value,
            latest: value,
            estimates: estimate,
        }
    }

    fn push(&mut self, at: DateTime<Utc>, value: f64, estimate: bool) {
        self.end = at;
        self.readings += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.latest = value;
        self.estimates |= estimate;
    }
}

/// State of one sustained rule in one room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SustainedTracker {
    last_value_at: Option<DateTime<Utc>>,
    run: Option<Run>,
    active_since: Option<DateTime<Utc>>,
    clearing_since: Option<DateTime<Utc>>,
    last_cleared_at: Option<DateTime<Utc>>,
}

/// What an active sustained rule has to show.
pub(crate) struct SustainedView {
    pub active_since: DateTime<Utc>,
    pub window: TimeWindow,
    pub evidence: Evidence,
    pub stats: WindowStats,
    pub estimates: bool,
}

impl SustainedTracker {
    /// Feeds one value; readings must come in time order.
    pub fn observe(&mut self, at: DateTime<Utc>, value: f64, estimate: bool, p: &SustainedParams) {
        let after_gap = self.last_value_at.is_some_and(|prev| at - prev > p.max_gap);
        self.last_value_at = Some(at);
        if self.active_since.is_none() {
            self.observe_candidate(at, value, estimate, after_gap, p);
        } else {
            self.observe_active(at, value, estimate, after_gap, p);
        }
    }

    fn observe_candidate(
        &mut self,
        at: DateTime<Utc>,
        value: f64,
        estimate: bool,
        after_gap: bool,
        p: &SustainedParams,
    ) {
        if !p.comparison.raises(value, p.threshold) {
            self.run = None;
            return;
        }
        match &mut self.run {
            Some(run) if !after_gap => run.push(at, value, estimate),
            _ => self.run = Some(Run::start(at, value, estimate)),
        }
        if let Some(run) = &self.run {
            if at - run.start >= p.raise_after {
                self.active_since = Some(at);
                self.clearing_since = None;
            }
        }
    }

    fn observe_active(
        &mut self,
        at: DateTime<Utc>,
        value: f64,
        estimate: bool,
        after_gap: bool,
        p: &SustainedParams,
    ) {
        if let Some(run) = &mut self.run {
            run.push(at, value, estimate);
        }
        if !p.comparison.clears(value, p.clear_at) {
            self.clearing_since = None;
            return;
        }
        // Evidence of recovery must be continuous too: a gap restarts the clearing period.
        let since = match self.clearing_since {
            Some(since) if !after_gap => since,
            _ => at,
        };
        self.clearing_since = Some(since);
        if at - since >= p.clear_after {
            self.active_since = None;
            self.run = None;
            self.clearing_since = None;
            self.last_cleared_at = Some(at);
        }
    }

    pub fn last_cleared_at(&self) -> Option<DateTime<Utc>> {
        self.last_cleared_at
    }

    /// The active episode, if the rule is raised.
    pub fn view(&self) -> Option<SustainedView> {
        let active_since = self.active_since?;
        let run = self.run.as_ref()?;
        let stats = WindowStats {
            readings: run.readings,
            mean: run.sum / run.readings as f64,
            min: run.min,
            max: run.max,
            latest: run.latest,
        };
        Some(SustainedView {
            active_since,
            window: TimeWindow { start: run.start, end: run.end },
            evidence: Evidence::Readings(stats),
            stats,
            estimates: run.estimates,
        })
    }
}
