//! Day-based rules: a metric's daily mean above a threshold on most days of a rolling window
//! (the BS EN ISO 13788 surface-humidity criterion works on means, not on single readings).
//!
//! Days are UTC calendar days (within an hour of UK local days). Each reading's value is held
//! until the next reading for at most `max_gap`, and split at midnight. A day counts only with
//! enough covered time, so a gap never turns into "dry": clearing needs covered dry days.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{DailyMean, DayCounts, TimeWindow};

const SECONDS_PER_DAY: i64 = 86_400;

/// A rule's numbers in the engine's units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DailyParams {
    pub threshold: f64,
    pub window_days: u32,
    pub raise_days: u32,
    pub clear_dry_days: u32,
    pub min_day_coverage_seconds: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct DayTotals {
    covered_seconds: f64,
    weighted_sum: f64,
    estimates: bool,
}

/// State of one day-based rule in one room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DailyTracker {
    /// Keyed by days since 1970-01-01 (UTC).
    days: BTreeMap<i64, DayTotals>,
    observed_at: Option<DateTime<Utc>>,
    active_since: Option<DateTime<Utc>>,
    last_cleared_at: Option<DateTime<Utc>>,
}

/// What an active day-based rule has to show.
pub(crate) struct DailyView {
    pub active_since: DateTime<Utc>,
    pub window: TimeWindow,
    pub counts: DayCounts,
    pub estimates: bool,
}

fn day_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(SECONDS_PER_DAY)
}

fn day_start(day: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(day.checked_mul(SECONDS_PER_DAY)?, 0)
}

impl DailyTracker {
    /// Adds `value` as holding from `start` to `end`.
    pub fn add_interval(&mut self, start: DateTime<Utc>, end: DateTime<Utc>, value: f64, estimate: bool) {
        let mut from = start;
        while from < end {
            let day = day_of(from);
            let Some(next_midnight) = day_start(day + 1) else { return };
            let to = end.min(next_midnight);
            let seconds = (to - from).num_milliseconds() as f64 / 1000.0;
            let totals = self.days.entry(day).or_default();
            totals.covered_seconds += seconds;
            totals.weighted_sum += value * seconds;
            totals.estimates |= estimate;
            from = to;
        }
    }

    /// Re-evaluates the window ending on the day of `at`; readings must come in time order.
    pub fn observe(&mut self, at: DateTime<Utc>, p: &DailyParams) {
        self.observed_at = Some(at);
        let first_day = day_of(at) - i64::from(p.window_days) + 1;
        self.days.retain(|day, _| *day >= first_day);
        let counts = self.counts(at, p);
        match self.active_since {
            None if counts.days_above >= p.raise_days => self.active_since = Some(at),
            Some(_) if counts.days_below >= p.clear_dry_days => {
                self.active_since = None;
                self.last_cleared_at = Some(at);
            }
            _ => {}
        }
    }

    fn counts(&self, at: DateTime<Utc>, p: &DailyParams) -> DayCounts {
        let today = day_of(at);
        let mut counts = DayCounts {
            window_days: p.window_days,
            days_above: 0,
            days_below: 0,
            days_without_enough_data: 0,
            days: Vec::new(),
        };
        for day in (today - i64::from(p.window_days) + 1)..=today {
            let totals = self.days.get(&day).copied().unwrap_or_default();
            let enough = totals.covered_seconds >= p.min_day_coverage_seconds;
            let mean = if totals.covered_seconds > 0.0 {
                totals.weighted_sum / totals.covered_seconds
            } else {
                f64::NAN
            };
            let above = enough && mean > p.threshold;
            let below = enough && mean <= p.threshold;
            counts.days_above += u32::from(above);
            counts.days_below += u32::from(below);
            counts.days_without_enough_data += u32::from(!enough);
            if totals.covered_seconds > 0.0 {
                if let Some(date) = day_start(day).map(|d| d.date_naive()) {
                    counts.days.push(day_mean(date, mean, totals.covered_seconds, above, below));
                }
            }
        }
        counts
    }

    pub fn last_cleared_at(&self) -> Option<DateTime<Utc>> {
        self.last_cleared_at
    }

    pub fn view(&self, p: &DailyParams) -> Option<DailyView> {
        let active_since = self.active_since?;
        let at = self.observed_at?;
        let counts = self.counts(at, p);
        let first_day = day_of(at) - i64::from(p.window_days) + 1;
        let start = day_start(first_day)?;
        let estimates = self.days.range(first_day..).any(|(_, t)| t.estimates);
        Some(DailyView { active_since, window: TimeWindow { start, end: at }, counts, estimates })
    }
}

fn day_mean(date: NaiveDate, mean: f64, covered_seconds: f64, above: bool, below: bool) -> DailyMean {
    DailyMean { date, mean, covered_hours: covered_seconds / 3600.0, above, below }
}

/// Seconds of a duration as the tracker counts them.
pub(crate) fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}
