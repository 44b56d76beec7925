//! Working days: any day that is not a Saturday, a Sunday, Christmas Day, Good Friday or a
//! bank holiday of the calendar's division (England & Wales, or Scotland, where Christmas Day
//! and Good Friday are bank holidays by statute anyway). Periods count from the day after the
//! trigger day. Which calendar a law's working days use is part of the law data.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

use super::rule::is_common_law_holiday;
use super::{Calendar, CalendarError};

/// Longest working-day period computed (about 20 years); statutory periods are a few days.
const MAX_WORKING_DAYS: u32 = 5_000;

/// A period of working days counted on a calendar, with what a person needs to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkingDayPeriod {
    /// The day of the trigger; counting starts the day after.
    pub trigger_day: NaiveDate,
    /// How many working days.
    pub working_days: u32,
    /// The last permitted day (end of that day in Europe/London).
    pub last_day: NaiveDate,
    /// Bank holidays (and Christmas Day / Good Friday) on weekdays inside the period, which
    /// were not counted.
    pub bank_holidays_skipped: Vec<NaiveDate>,
}

/// Bank-holiday sets by year, so a long count computes each year once.
struct Years<'a> {
    calendar: &'a Calendar,
    cache: BTreeMap<i32, BTreeSet<NaiveDate>>,
}

impl<'a> Years<'a> {
    fn new(calendar: &'a Calendar) -> Self {
        Years { calendar, cache: BTreeMap::new() }
    }

    fn is_holiday(&mut self, date: NaiveDate) -> bool {
        let calendar = self.calendar;
        let days = self
            .cache
            .entry(date.year())
            .or_insert_with(|| calendar.holidays_in_year(date.year()).into_iter().map(|h| h.date).collect());
        days.contains(&date) || is_common_law_holiday(date)
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    /// Is `date` a working day?
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !is_weekend(date) && !Years::new(self).is_holiday(date)
    }

    /// The last permitted day of a period of `working_days` working days counted from the day
    /// after `trigger_day`.
    ///
    /// A trigger on a Friday, weekend or bank holiday starts counting at the next working
    /// day all the same, because only working days are counted.
    pub fn working_day_period(
        &self,
        trigger_day: NaiveDate,
        working_days: u32,
    ) -> Result<WorkingDayPeriod, CalendarError> {
        if working_days > MAX_WORKING_DAYS {
            return Err(CalendarError::OutOfRange {
                what: format!("{working_days} working days is longer than the {MAX_WORKING_DAYS} supported"),
            });
        }
        let out_of_range =
            || CalendarError::OutOfRange { what: format!("{working_days} working days after {trigger_day}") };
        let mut years = Years::new(self);
        let mut day = trigger_day;
        let mut counted = 0;
        let mut skipped = Vec::new();
        while counted < working_days {
            day = day.succ_opt().ok_or_else(out_of_range)?;
            if is_weekend(day) {
                continue;
            }
            if years.is_holiday(day) {
                skipped.push(day);
                continue;
            }
            counted += 1;
        }
        Ok(WorkingDayPeriod { trigger_day, working_days, last_day: day, bank_holidays_skipped: skipped })
    }

    /// The last permitted day of `working_days` working days after `trigger_day`.
    pub fn add_working_days(
        &self,
        trigger_day: NaiveDate,
        working_days: u32,
    ) -> Result<NaiveDate, CalendarError> {
        self.working_day_period(trigger_day, working_days).map(|p| p.last_day)
    }

    /// How many working days lie after `from` up to and including `to` (0 when `to <= from`).
    pub fn working_days_after(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut years = Years::new(self);
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| !is_weekend(*d) && !years.is_holiday(*d))
            .fold(0, |n, _| n.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CalendarOverrides, RemovedDay};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn calendar() -> Calendar {
        Calendar::england_and_wales().expect("embedded calendar")
    }

    #[test]
    fn counting_starts_the_day_after() {
        // Monday 2 November 2026 + 1 working day = Tuesday 3 November.
        assert_eq!(calendar().add_working_days(d(2026, 11, 2), 1), Ok(d(2026, 11, 3)));
        // Friday + 1 = Monday.
        assert_eq!(calendar().add_working_days(d(2026, 11, 6), 1), Ok(d(2026, 11, 9)));
        // A Saturday trigger: Monday is the first working day after it.
        assert_eq!(calendar().add_working_days(d(2026, 11, 7), 1), Ok(d(2026, 11, 9)));
    }

    #[test]
    fn skipped_holidays_are_listed() {
        let p = calendar().working_day_period(d(2026, 12, 22), 5).unwrap();
        // Wed 23, Thu 24, [Fri 25], [Mon 28], Tue 29, Wed 30, Thu 31.
        assert_eq!(p.last_day, d(2026, 12, 31));
        assert_eq!(p.bank_holidays_skipped, vec![d(2026, 12, 25), d(2026, 12, 28)]);
    }

    #[test]
    fn christmas_day_and_good_friday_are_never_working_days() {
        // Even if an imported file omitted them.
        let json = r#"{"england-and-wales": {"division": "england-and-wales", "events": [
            {"title": "New Year’s Day", "date": "2026-01-01"}]}}"#;
        let c = calendar().with_govuk_import(json).unwrap();
        assert!(!c.is_bank_holiday(d(2026, 12, 25)));
        assert!(!c.is_working_day(d(2026, 12, 25)));
        assert!(!c.is_working_day(d(2026, 4, 3)));
        assert!(c.is_working_day(d(2026, 4, 6)), "Easter Monday was not in the imported file");
    }

    #[test]
    fn an_override_removal_makes_the_day_a_working_day() {
        let c = calendar()
            .with_overrides(CalendarOverrides {
                add: vec![],
                remove: vec![RemovedDay { date: d(2026, 8, 31), reason: String::new() }],
            })
            .unwrap();
        assert!(c.is_working_day(d(2026, 8, 31)));
    }

    #[test]
    fn counts_working_days_after() {
        let c = calendar();
        assert_eq!(c.working_days_after(d(2026, 12, 22), d(2026, 12, 31)), 5);
        assert_eq!(c.working_days_after(d(2026, 12, 31), d(2026, 12, 22)), 0);
        assert_eq!(c.working_days_after(d(2026, 12, 31), d(2026, 12, 31)), 0);
    }

    #[test]
    fn absurd_periods_are_refused() {
        assert!(matches!(
            calendar().working_day_period(d(2026, 1, 1), u32::MAX),
            Err(CalendarError::OutOfRange { .. })
        ));
    }
}
