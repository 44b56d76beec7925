//! Bank-holiday calendars of the gov.uk divisions (England & Wales, Scotland), and working
//! days on them.
//!
//! A calendar serves one division. A year's bank holidays come from one of two places: an
//! imported gov.uk `bank-holidays.json` (its entry for the calendar's division) for the years
//! that file covers, or else the division's standing rules plus the one-off changes in its
//! calendar data. Configuration overrides then add or remove days. Every calendar has a
//! [version](Calendar::version) naming exactly that combination, and every deadline computed
//! with it records the version.

mod easter;
mod error;
mod govuk;
mod holiday;
mod one_off;
mod overrides;
mod rule;
mod working_day;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

pub use easter::easter_sunday;
pub use error::CalendarError;
pub use govuk::{ImportedHolidays, DIVISION};
pub use holiday::{BankHoliday, HolidayOrigin};
pub use one_off::{
    CalendarData, OneOffChange, Provenance, EMBEDDED_CALENDAR_DATA, EMBEDDED_SCOTLAND_CALENDAR_DATA,
};
pub use overrides::{AddedDay, CalendarOverrides, RemovedDay};
pub use rule::HolidayRule;
pub use working_day::WorkingDayPeriod;

/// A division's working-day calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    data: CalendarData,
    imported: Option<ImportedHolidays>,
    overrides: CalendarOverrides,
    version: String,
}

impl Calendar {
    /// England & Wales: the standing rules plus the one-off changes compiled into the crate.
    pub fn england_and_wales() -> Result<Self, CalendarError> {
        Ok(Self::from_data(CalendarData::embedded()?))
    }

    /// Scotland: the standing rules plus the one-off changes compiled into the crate.
    pub fn scotland() -> Result<Self, CalendarError> {
        Self::embedded("scotland")
    }

    /// The calendar compiled into the crate for a gov.uk division (`england-and-wales`,
    /// `scotland`).
    pub fn embedded(division: &str) -> Result<Self, CalendarError> {
        Ok(Self::from_data(CalendarData::embedded_for(division)?))
    }

    /// The standing rules plus the one-off changes of a calendar data file.
    pub fn from_data(data: CalendarData) -> Self {
        let mut calendar = Calendar {
            data,
            imported: None,
            overrides: CalendarOverrides::default(),
            version: String::new(),
        };
        calendar.version = calendar.compose_version();
        calendar
    }

    /// This calendar with a gov.uk `bank-holidays.json` deciding every year it covers (only
    /// the entry for this calendar's division is read); years outside it keep the rules and
    /// one-off changes. Existing overrides are checked again.
    pub fn with_govuk_import(self, json: &str) -> Result<Self, CalendarError> {
        let imported = ImportedHolidays::from_json_division(json, &self.data.division)?;
        let overrides = self.overrides.clone();
        let mut calendar =
            Calendar { imported: Some(imported), overrides: CalendarOverrides::default(), ..self };
        calendar.version = calendar.compose_version();
        calendar.with_overrides(overrides)
    }

    /// This calendar with configuration overrides (replacing any set before).
    ///
    /// Refused: removing Christmas Day or Good Friday (never working days), removing a day
    /// that is not a bank holiday, and adding and removing the same day.
    pub fn with_overrides(self, overrides: CalendarOverrides) -> Result<Self, CalendarError> {
        let base = Calendar { overrides: CalendarOverrides::default(), ..self };
        let added = overrides.added_dates();
        for date in overrides.removed_dates() {
            if added.contains(&date) {
                return Err(CalendarError::ConflictingOverride { date });
            }
            if date.month() == 12 && date.day() == 25 {
                return Err(CalendarError::RemovesCommonLawHoliday { date, what: "Christmas Day" });
            }
            if HolidayRule::GoodFriday.date_in(date.year()) == Some(date) {
                return Err(CalendarError::RemovesCommonLawHoliday { date, what: "Good Friday" });
            }
            if !base.base_holidays(date.year()).contains_key(&date) {
                return Err(CalendarError::RemovesNonHoliday { date });
            }
        }
        let mut calendar = Calendar { overrides, ..base };
        calendar.version = calendar.compose_version();
        Ok(calendar)
    }

    /// The gov.uk division this calendar serves: `england-and-wales`, `scotland`.
    pub fn division(&self) -> &str {
        &self.data.division
    }

    /// The version every computed deadline records, e.g. `ew-2026-11`,
    /// `ew-2026-11+govuk:3f2a…`, `ew-2026-11+overrides:91bc…`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The calendar data in use (version, sources, one-off changes).
    pub fn data(&self) -> &CalendarData {
        &self.data
    }

    /// The imported gov.uk file, if any.
    pub fn imported(&self) -> Option<&ImportedHolidays> {
        self.imported.as_ref()
    }

    /// The configuration overrides in force.
    pub fn overrides(&self) -> &CalendarOverrides {
        &self.overrides
    }

    /// Every bank holiday of `year`, in date order.
    pub fn holidays_in_year(&self, year: i32) -> Vec<BankHoliday> {
        let mut days = self.base_holidays(year);
        for date in self.overrides.removed_dates() {
            days.remove(&date);
        }
        for added in self.overrides.add.iter().filter(|a| a.date.year() == year) {
            days.insert(
                added.date,
                BankHoliday { date: added.date, title: added.title.clone(), origin: HolidayOrigin::Override },
            );
        }
        days.into_values().collect()
    }

    /// The bank holiday on `date`, if it is one.
    pub fn bank_holiday(&self, date: NaiveDate) -> Option<BankHoliday> {
        self.holidays_in_year(date.year()).into_iter().find(|h| h.date == date)
    }

    /// Is `date` a bank holiday in this calendar's division?
    pub fn is_bank_holiday(&self, date: NaiveDate) -> bool {
        self.bank_holiday(date).is_some()
    }

    /// Bank holidays before configuration overrides: imported for covered years, otherwise
    /// standing rules with one-off changes.
    fn base_holidays(&self, year: i32) -> BTreeMap<NaiveDate, BankHoliday> {
        if let Some(imported) = self.imported.as_ref().filter(|i| i.covers(year)) {
            return imported
                .in_year(year)
                .map(|(date, title)| {
                    (date, BankHoliday { date, title: title.to_owned(), origin: HolidayOrigin::Imported })
                })
                .collect();
        }
        let mut days: BTreeMap<NaiveDate, BankHoliday> = self
            .data
            .rules
            .iter()
            .filter_map(|rule| {
                let date = rule.date_in(year)?;
                let origin = HolidayOrigin::Rule { rule: *rule };
                Some((date, BankHoliday { date, title: rule.title().to_owned(), origin }))
            })
            .collect();
        for change in &self.data.changes {
            if let Some(from) = change.removes().filter(|d| d.year() == year) {
                days.remove(&from);
            }
        }
        for change in &self.data.changes {
            if let Some((date, title)) = change.adds().filter(|(d, _)| d.year() == year) {
                days.insert(
                    date,
                    BankHoliday { date, title: title.to_owned(), origin: HolidayOrigin::OneOff },
                );
            }
        }
        days
    }

    fn compose_version(&self) -> String {
        let mut version = self.data.version.clone();
        if let Some(imported) = &self.imported {
            version.push_str("+govuk:");
            version.push_str(imported.fingerprint());
        }
        if !self.overrides.is_empty() {
            version.push_str("+overrides:");
            version.push_str(&self.overrides.fingerprint());
        }
        version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn calendar() -> Calendar {
        Calendar::england_and_wales().expect("embedded calendar")
    }

    #[test]
    fn each_division_keeps_its_own_days() {
        let scotland = Calendar::scotland().expect("embedded Scotland calendar");
        assert_eq!(scotland.division(), "scotland");
        assert!(scotland.is_bank_holiday(d(2026, 11, 30)), "St Andrew's Day");
        assert!(!calendar().is_bank_holiday(d(2026, 11, 30)));
        assert!(!scotland.is_bank_holiday(d(2026, 4, 6)), "no Easter Monday in Scotland");
        assert!(scotland.is_bank_holiday(d(2026, 8, 3)) && !scotland.is_bank_holiday(d(2026, 8, 31)));
        assert!(scotland.version().starts_with("sc-"), "{}", scotland.version());
    }

    #[test]
    fn one_off_moves_replace_the_rule_day() {
        let c = calendar();
        assert!(!c.is_bank_holiday(d(2020, 5, 4)));
        assert_eq!(c.bank_holiday(d(2020, 5, 8)).map(|h| h.origin), Some(HolidayOrigin::OneOff));
        assert!(!c.is_bank_holiday(d(2022, 5, 30)));
    }

    #[test]
    fn overrides_change_the_days_and_the_version() {
        let base = calendar();
        let overrides = CalendarOverrides {
            add: vec![AddedDay { date: d(2027, 6, 7), title: "Extra".into() }],
            remove: vec![RemovedDay { date: d(2027, 5, 31), reason: "moved".into() }],
        };
        let c = base.clone().with_overrides(overrides).unwrap();
        assert!(c.is_bank_holiday(d(2027, 6, 7)));
        assert!(!c.is_bank_holiday(d(2027, 5, 31)));
        assert!(c.version().starts_with("ew-2026-11+overrides:"), "{}", c.version());
        assert_ne!(c.version(), base.version());
    }

    #[test]
    fn overrides_that_make_no_sense_are_refused() {
        let remove = |date| CalendarOverrides {
            add: vec![],
            remove: vec![RemovedDay { date, reason: String::new() }],
        };
        assert!(matches!(
            calendar().with_overrides(remove(d(2026, 12, 25))),
            Err(CalendarError::RemovesCommonLawHoliday { .. })
        ));
        assert!(matches!(
            calendar().with_overrides(remove(d(2026, 4, 3))),
            Err(CalendarError::RemovesCommonLawHoliday { what: "Good Friday", .. })
        ));
        assert!(matches!(
            calendar().with_overrides(remove(d(2026, 7, 1))),
            Err(CalendarError::RemovesNonHoliday { .. })
        ));
        let both = CalendarOverrides {
            add: vec![AddedDay { date: d(2026, 5, 25), title: "x".into() }],
            remove: vec![RemovedDay { date: d(2026, 5, 25), reason: String::new() }],
        };
        assert!(matches!(calendar().with_overrides(both), Err(CalendarError::ConflictingOverride { .. })));
    }
}
