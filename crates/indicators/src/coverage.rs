//! How much of a period a mould index actually saw.
//!
//! The mould index is integrated over the time between readings, holding each reading's
//! conditions for at most a hold limit (`max_gap`). Past that limit the time is "no data": the
//! index is frozen, neither growing nor declining. A result that froze over most of its period
//! looks exactly like one that saw a dry room, so every index computed over a series should be
//! reported with its [`Coverage`].

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::TimeWindow;
use crate::mould::{held_span, hours};

/// Above this share of the period treated as no data, a result deserves a warning: a tenth of
/// a season missing can hide the wet spell that grows mould.
pub const NO_DATA_WARNING_SHARE: f64 = 0.1;

/// The time a series' readings covered and the time they did not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Hours over which a reading's conditions were held and integrated.
    pub hours_with_data: f64,
    /// Hours beyond the hold limit, over which the index was frozen.
    pub hours_as_gaps: f64,
    /// Intervals between consecutive readings longer than the hold limit.
    pub gaps: u64,
    /// The longest of those intervals, from the reading before it to the reading after it
    /// (its first `max_gap` counts as data, the rest as gap).
    pub longest_gap: Option<TimeWindow>,
}

impl Coverage {
    /// Accounts for the interval from the reading at `from` to the next one at `to`, of which
    /// at most `max_hold` counts as data. Returns the part that does.
    pub fn record(&mut self, from: DateTime<Utc>, to: DateTime<Utc>, max_hold: TimeDelta) -> TimeDelta {
        let held = held_span(from, to, max_hold);
        self.hours_with_data += hours(held);
        let interval = to - from;
        if interval > held {
            self.gaps += 1;
            self.hours_as_gaps += hours(interval - held);
            let gap = TimeWindow { start: from, end: to };
            if self.longest_gap.is_none_or(|longest| gap.hours() > longest.hours()) {
                self.longest_gap = Some(gap);
            }
        }
        held
    }

    /// Hours from the first reading to the last.
    pub fn period_hours(&self) -> f64 {
        self.hours_with_data + self.hours_as_gaps
    }

    /// Share (0 to 1) of the period treated as no data; 0 for an empty period.
    pub fn share_as_gaps(&self) -> f64 {
        let period = self.period_hours();
        if period > 0.0 {
            self.hours_as_gaps / period
        } else {
            0.0
        }
    }

    /// Whether more than [`NO_DATA_WARNING_SHARE`] of the period was no data.
    pub fn needs_warning(&self) -> bool {
        self.share_as_gaps() > NO_DATA_WARNING_SHARE
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).single().expect("valid date") + TimeDelta::hours(h)
    }

    #[test]
    fn splits_each_interval_at_the_hold_limit_and_keeps_the_longest_gap() {
        let mut c = Coverage::default();
        let limit = TimeDelta::hours(2);
        assert_eq!(c.record(at(0), at(1), limit), TimeDelta::hours(1));
        assert_eq!(c.record(at(1), at(11), limit), TimeDelta::hours(2));
        assert_eq!(c.record(at(11), at(16), limit), TimeDelta::hours(2));
        assert_eq!((c.hours_with_data, c.hours_as_gaps, c.gaps), (5.0, 11.0, 2));
        assert_eq!(c.longest_gap, Some(TimeWindow { start: at(1), end: at(11) }));
        assert_eq!(c.period_hours(), 16.0);
        assert!(c.needs_warning());
    }

    #[test]
    fn an_empty_period_has_no_gaps_and_no_warning() {
        let c = Coverage::default();
        assert_eq!(c.share_as_gaps(), 0.0);
        assert!(!c.needs_warning());
    }
}
