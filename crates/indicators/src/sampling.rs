//! A logger's own sampling interval, read from the times of its rows.
//!
//! A logger that records every 6 hours on purpose is not "missing data" between its samples,
//! yet a hold limit tuned for sensors that report every few minutes treats two thirds of its
//! time as gaps and freezes the mould index. Knowing the interval lets the hold limit follow
//! the logger while a missed sample still counts as a gap.

use chrono::{DateTime, TimeDelta, Utc};

/// Share of intervals that must be close to the median for the logger to count as regular.
pub const REGULAR_SHARE: f64 = 0.8;

/// An interval is "close to the median" within this fraction of it (clock jitter, a logger
/// that wakes a few seconds late).
pub const INTERVAL_TOLERANCE: f64 = 0.1;

/// A regular logger's conditions are held for this many intervals: one interval is the
/// expected wait, the half on top absorbs a late sample, and one missed sample (two intervals)
/// is still a gap.
pub const HOLD_MARGIN: f64 = 1.5;

/// The interval a series was sampled at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingInterval {
    /// Median of the intervals between consecutive rows.
    pub interval: TimeDelta,
    /// How many intervals there were (rows − 1).
    pub intervals: u64,
    /// Share (0 to 1) of intervals within [`INTERVAL_TOLERANCE`] of the median.
    pub regular_share: f64,
}

impl SamplingInterval {
    /// The interval of `times` (in time order), or `None` with fewer than two times.
    pub fn detect(times: &[DateTime<Utc>]) -> Option<Self> {
        let mut intervals: Vec<TimeDelta> = times.windows(2).map(|w| w[1] - w[0]).collect();
        if intervals.is_empty() {
            return None;
        }
        intervals.sort_unstable();
        let median = intervals[(intervals.len() - 1) / 2];
        let tolerance_ms = median.num_milliseconds().abs() as f64 * INTERVAL_TOLERANCE;
        let close = intervals
            .iter()
            .filter(|d| ((**d - median).num_milliseconds().abs() as f64) <= tolerance_ms)
            .count();
        Some(SamplingInterval {
            interval: median,
            intervals: intervals.len() as u64,
            regular_share: close as f64 / intervals.len() as f64,
        })
    }

    /// Whether most intervals are the same (within the tolerance).
    pub fn is_regular(&self) -> bool {
        self.interval > TimeDelta::zero() && self.regular_share >= REGULAR_SHARE
    }

    /// The hold limit for this logger: `default` or [`HOLD_MARGIN`] intervals, whichever is
    /// longer; `None` when the logger is not regular (an irregular series has no interval to
    /// trust, so the default stands).
    pub fn hold_limit(&self, default: TimeDelta) -> Option<TimeDelta> {
        if !self.is_regular() {
            return None;
        }
        let margin_ms = (self.interval.num_milliseconds() as f64 * HOLD_MARGIN).round() as i64;
        Some(default.max(TimeDelta::milliseconds(margin_ms)))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn times(minutes: &[i64]) -> Vec<DateTime<Utc>> {
        let t0 = Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).single().expect("valid date");
        minutes.iter().map(|m| t0 + TimeDelta::minutes(*m)).collect()
    }

    #[test]
    fn a_six_hourly_logger_with_jitter_and_one_hole_is_regular() {
        let mut m: Vec<i64> = (0..40).map(|i| i * 360).collect();
        m[7] += 3; // three minutes late
        m.retain(|x| !(3600..=4320).contains(x)); // a missed stretch
        let s = SamplingInterval::detect(&times(&m)).expect("enough rows");
        assert_eq!(s.interval, TimeDelta::hours(6));
        assert!(s.is_regular(), "{s:?}");
        assert_eq!(s.hold_limit(TimeDelta::hours(2)), Some(TimeDelta::hours(9)));
    }

    #[test]
    fn a_fine_logger_keeps_the_default_and_an_irregular_one_has_no_limit() {
        let ten = SamplingInterval::detect(&times(&[0, 10, 20, 30])).expect("enough rows");
        assert_eq!(ten.hold_limit(TimeDelta::hours(2)), Some(TimeDelta::hours(2)));
        let mixed = SamplingInterval::detect(&times(&[0, 10, 370, 380, 740, 750])).expect("enough rows");
        assert!(!mixed.is_regular(), "{mixed:?}");
        assert_eq!(mixed.hold_limit(TimeDelta::hours(2)), None);
        assert_eq!(SamplingInterval::detect(&times(&[0])), None);
    }
}
