//! Night-based rules: a metric above a threshold for long enough on many of the last nights.
//!
//! A bedroom's CO2 follows its sleepers: it rises every night with the door and windows shut
//! and falls every morning. Judged reading by reading, that is one alert a night, raised at
//! midnight and cleared at breakfast. Judged as a pattern, it is one alert that says "6 of the
//! last 7 nights", open while the pattern lasts.
//!
//! A night is the span from `night_start_hour` to `night_end_hour` (UTC, within an hour of UK
//! local time; it may cross midnight), named by the UTC date it starts on. Each reading's
//! value is held until the next reading for at most `max_gap` and split at the night's edges,
//! as the day-based rules do. A night counts *above* once the metric has been above the
//! threshold for `min_above` of it (it can count before it ends); it counts *below* only once
//! it has ended with at least `min_night_coverage` of data and less than `min_above` above.
//! Any other night (too little data, or still under way) counts neither way, so a gap never
//! turns into "fresh air".

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{NightCounts, NightSummary, TimeWindow};

const SECONDS_PER_DAY: i64 = 86_400;
const SECONDS_PER_HOUR: i64 = 3_600;

/// A rule's numbers in the engine's units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NightParams {
    pub threshold: f64,
    /// Seconds after UTC midnight at which a night starts.
    pub start_offset_s: i64,
    /// Length of a night in seconds (1 h to 23 h).
    pub length_s: i64,
    pub min_above_s: f64,
    pub min_coverage_s: f64,
    pub window_nights: u32,
    pub raise_nights: u32,
    pub clear_nights: u32,
}

impl NightParams {
    pub fn new(
        threshold: f64,
        (start_hour, end_hour): (u32, u32),
        min_above: TimeDelta,
        min_coverage: TimeDelta,
        (window_nights, raise_nights, clear_nights): (u32, u32, u32),
    ) -> NightParams {
        let start = i64::from(start_hour % 24);
        let end = i64::from(end_hour % 24);
        NightParams {
            threshold,
            start_offset_s: start * SECONDS_PER_HOUR,
            length_s: (end - start).rem_euclid(24) * SECONDS_PER_HOUR,
            min_above_s: seconds(min_above),
            min_coverage_s: seconds(min_coverage),
            window_nights,
            raise_nights,
            clear_nights,
        }
    }

    /// The night that started last at or before `at` (it may have ended).
    fn latest_night(&self, at: DateTime<Utc>) -> i64 {
        (at.timestamp() - self.start_offset_s).div_euclid(SECONDS_PER_DAY)
    }

    fn night_start(&self, night: i64) -> Option<DateTime<Utc>> {
        let s = night.checked_mul(SECONDS_PER_DAY)?.checked_add(self.start_offset_s)?;
        DateTime::from_timestamp(s, 0)
    }

    fn night_end(&self, night: i64) -> Option<DateTime<Utc>> {
        Some(self.night_start(night)? + TimeDelta::seconds(self.length_s))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct NightTotals {
    covered_seconds: f64,
    above_seconds: f64,
    /// Highest value held during the night.
    peak: Option<f64>,
    estimates: bool,
}

/// State of one night-based rule in one room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct NightTracker {
    /// Keyed by the night's number: days since 1970-01-01 (UTC) of the date it starts on.
    nights: BTreeMap<i64, NightTotals>,
    observed_at: Option<DateTime<Utc>>,
    active_since: Option<DateTime<Utc>>,
    last_cleared_at: Option<DateTime<Utc>>,
}

/// What an active night-based rule has to show.
pub(crate) struct NightView {
    pub active_since: DateTime<Utc>,
    pub window: TimeWindow,
    pub counts: NightCounts,
    pub estimates: bool,
}

impl NightTracker {
    /// Adds `value` as holding from `start` to `end`; only the parts inside nights count.
    pub fn add_interval(
        &mut self,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        value: f64,
        estimate: bool,
        p: &NightParams,
    ) {
        let mut from = start;
        while from < end {
            let night = p.latest_night(from);
            let (Some(night_end), Some(next_start)) = (p.night_end(night), p.night_start(night + 1)) else {
                return;
            };
            if from < night_end {
                let to = end.min(night_end);
                let seconds = seconds(to - from);
                let totals = self.nights.entry(night).or_default();
                totals.covered_seconds += seconds;
                if value > p.threshold {
                    totals.above_seconds += seconds;
                }
                totals.peak = Some(totals.peak.map_or(value, |peak| peak.max(value)));
                totals.estimates |= estimate;
                from = to;
            } else {
                from = next_start;
            }
        }
    }

    /// Re-evaluates the window of nights ending with the latest night at `at`; readings must
    /// come in time order.
    pub fn observe(&mut self, at: DateTime<Utc>, p: &NightParams) {
        self.observed_at = Some(at);
        let first = p.latest_night(at) - i64::from(p.window_nights) + 1;
        self.nights.retain(|night, _| *night >= first);
        let counts = self.counts(at, p);
        match self.active_since {
            None if counts.nights_above >= p.raise_nights => self.active_since = Some(at),
            Some(_) if counts.nights_below >= p.clear_nights => {
                self.active_since = None;
                self.last_cleared_at = Some(at);
            }
            _ => {}
        }
    }

    fn counts(&self, at: DateTime<Utc>, p: &NightParams) -> NightCounts {
        let last = p.latest_night(at);
        let mut counts = NightCounts {
            window_nights: p.window_nights,
            nights_above: 0,
            nights_below: 0,
            nights_without_enough_data: 0,
            nights: Vec::new(),
        };
        for night in (last - i64::from(p.window_nights) + 1)..=last {
            let totals = self.nights.get(&night).copied().unwrap_or_default();
            let ended = p.night_end(night).is_some_and(|end| at >= end);
            let above = totals.above_seconds >= p.min_above_s;
            let below = !above && ended && totals.covered_seconds >= p.min_coverage_s;
            counts.nights_above += u32::from(above);
            counts.nights_below += u32::from(below);
            counts.nights_without_enough_data += u32::from(!above && !below);
            if totals.covered_seconds > 0.0 {
                if let Some(date) = p.night_start(night).map(|s| s.date_naive()) {
                    counts.nights.push(summary(date, &totals, above, below));
                }
            }
        }
        counts
    }

    pub fn last_cleared_at(&self) -> Option<DateTime<Utc>> {
        self.last_cleared_at
    }

    pub fn view(&self, p: &NightParams) -> Option<NightView> {
        let active_since = self.active_since?;
        let at = self.observed_at?;
        let counts = self.counts(at, p);
        let first = p.latest_night(at) - i64::from(p.window_nights) + 1;
        let start = p.night_start(first)?;
        let estimates = self.nights.range(first..).any(|(_, t)| t.estimates);
        Some(NightView { active_since, window: TimeWindow { start, end: at }, counts, estimates })
    }
}

fn summary(date: NaiveDate, totals: &NightTotals, above: bool, below: bool) -> NightSummary {
    NightSummary {
        date,
        covered_hours: totals.covered_seconds / 3600.0,
        hours_above: totals.above_seconds / 3600.0,
        peak: totals.peak.unwrap_or(f64::NAN),
        above,
        below,
    }
}

fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> NightParams {
        NightParams::new(1500.0, (22, 7), TimeDelta::hours(2), TimeDelta::hours(6), (7, 3, 6))
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + chrono::Days::new(u64::from(day));
        date.and_hms_opt(hour, 0, 0).expect("time").and_utc()
    }

    /// One reading an hour from `from` for `hours`, CO2 from `value`.
    fn feed(
        t: &mut NightTracker,
        p: &NightParams,
        from: DateTime<Utc>,
        hours: i64,
        value: impl Fn(u32) -> f64,
    ) {
        for h in 0..hours {
            let start = from + TimeDelta::hours(h);
            let hour = u32::try_from((start.timestamp().div_euclid(3600)).rem_euclid(24)).expect("hour");
            t.add_interval((start, start + TimeDelta::hours(1)), value(hour), false, p);
            t.observe(start + TimeDelta::hours(1), p);
        }
    }

    /// CO2 by hour of the day: sleepers from 23:00 to 06:00, the room empty otherwise.
    fn bedroom(stuffy: bool) -> impl Fn(u32) -> f64 {
        let asleep = if stuffy { 2400.0 } else { 900.0 };
        move |hour| if hour == 23 || hour < 6 { asleep } else { 700.0 }
    }

    #[test]
    fn a_night_crossing_midnight_is_one_night() {
        let p = params();
        assert_eq!(p.length_s, 9 * 3600);
        let mut t = NightTracker::default();
        feed(&mut t, &p, at(0, 20), 14, bedroom(true));
        let counts = t.counts(at(1, 10), &p);
        assert_eq!(counts.nights_above, 1, "{counts:?}");
        assert_eq!(counts.nights.len(), 1);
        let night = &counts.nights[0];
        assert_eq!(night.date, at(0, 0).date_naive(), "named by the date it starts on");
        assert!((night.covered_hours - 9.0).abs() < 1e-9, "{night:?}");
        assert!((night.hours_above - 7.0).abs() < 1e-9, "{night:?}");
        assert_eq!(night.peak, 2400.0);
    }

    #[test]
    fn a_stuffy_bedroom_every_night_raises_once_on_the_third_night_and_stays_raised() {
        let p = params();
        let mut t = NightTracker::default();
        let mut raised_at = Vec::new();
        let mut was_active = false;
        for day in 0..14 {
            feed(&mut t, &p, at(day, 0), 24, bedroom(true));
            let active = t.view(&p).is_some();
            if active && !was_active {
                raised_at.push(day);
            }
            assert!(active || !was_active, "cleared on day {day}");
            was_active = active;
        }
        assert_eq!(raised_at, vec![2], "raised once, during the third night");
        let view = t.view(&p).expect("active");
        // At midnight tonight's first hour above does not count yet: 6 of the last 7 nights.
        assert_eq!((view.counts.nights_above, view.counts.nights_without_enough_data), (6, 1));
    }

    #[test]
    fn fresh_nights_clear_it_and_nights_without_data_never_do() {
        let p = params();
        let mut t = NightTracker::default();
        for day in 0..4 {
            feed(&mut t, &p, at(day, 0), 24, bedroom(true));
        }
        assert!(t.view(&p).is_some());
        // A week without data: still raised (no data is not fresh air).
        let silent_until = at(12, 0);
        t.observe(silent_until, &p);
        assert!(t.view(&p).is_some(), "a gap never clears it");
        // Six fresh nights clear it.
        let mut cleared_on = None;
        for day in 12..20 {
            feed(&mut t, &p, at(day, 0), 24, bedroom(false));
            if cleared_on.is_none() && t.view(&p).is_none() {
                cleared_on = Some(day);
            }
        }
        assert_eq!(cleared_on, Some(17), "after the sixth fresh night had ended");
        assert!(t.last_cleared_at().is_some());
    }

    #[test]
    fn a_night_in_progress_counts_above_but_never_below() {
        let p = params();
        let mut t = NightTracker::default();
        // 22:00 to 23:00 fresh, then midnight: the night is under way.
        feed(&mut t, &p, at(0, 22), 2, |_| 800.0);
        let counts = t.counts(at(1, 0), &p);
        assert_eq!((counts.nights_above, counts.nights_below), (0, 0));
        assert_eq!(counts.nights_without_enough_data, 7);
    }
}
