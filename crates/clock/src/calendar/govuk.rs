//! Import of gov.uk's `bank-holidays.json` (<https://www.gov.uk/bank-holidays.json>).
//!
//! Shape: `{"england-and-wales": {"division": "england-and-wales", "events": [{"title",
//! "date", "notes", "bunting"}, ...]}, "scotland": {...}, "northern-ireland": {...}}`.
//! A calendar reads only its own division: England & Wales never takes Scotland's St
//! Andrew's Day, nor Scotland England's Easter Monday.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::error::CalendarError;
use crate::fingerprint::fingerprint;

/// The gov.uk division of the England & Wales calendar (the default of [`ImportedHolidays::from_json`]).
pub const DIVISION: &str = "england-and-wales";

#[derive(Deserialize)]
struct Division {
    #[serde(default)]
    division: Option<String>,
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    title: String,
    date: NaiveDate,
    // `notes` and `bunting` are part of the format but carry nothing for working days.
}

/// One division's bank holidays read from a gov.uk file: authoritative for every year from
/// the first to the last year it has events for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedHolidays {
    first_year: i32,
    last_year: i32,
    by_date: BTreeMap<NaiveDate, String>,
    fingerprint: String,
}

impl ImportedHolidays {
    /// Read the England & Wales division of a gov.uk `bank-holidays.json`.
    pub fn from_json(json: &str) -> Result<Self, CalendarError> {
        Self::from_json_division(json, DIVISION)
    }

    /// Read one division (`england-and-wales`, `scotland`, `northern-ireland`) of a gov.uk
    /// `bank-holidays.json`.
    pub fn from_json_division(json: &str, wanted: &str) -> Result<Self, CalendarError> {
        let file: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| CalendarError::InvalidImport { reason: e.to_string() })?;
        let missing = || CalendarError::MissingDivision { division: wanted.to_owned() };
        let value = file.get(wanted).ok_or_else(missing)?;
        let division: Division = serde_json::from_value(value.clone())
            .map_err(|e| CalendarError::InvalidImport { reason: format!("{wanted}: {e}") })?;
        if let Some(name) = &division.division {
            if name != wanted {
                return Err(CalendarError::InvalidImport {
                    reason: format!("the {wanted:?} entry names division {name:?}"),
                });
            }
        }
        let mut by_date = BTreeMap::new();
        for event in division.events {
            if by_date.insert(event.date, event.title).is_some() {
                return Err(CalendarError::InvalidImport {
                    reason: format!("{} is listed twice", event.date),
                });
            }
        }
        let (first, last) = match (by_date.keys().next(), by_date.keys().next_back()) {
            (Some(first), Some(last)) => (first.year(), last.year()),
            _ => return Err(missing()),
        };
        if let Some(missing) = (first..=last).find(|y| !by_date.keys().any(|d| d.year() == *y)) {
            return Err(CalendarError::ImportGap { first, last, missing });
        }
        // The version names the set of days, not the bytes: reformatting the file or another
        // division changing does not change which days count.
        let canonical: String = by_date.keys().map(|d| format!("{d}\n")).collect();
        Ok(ImportedHolidays {
            first_year: first,
            last_year: last,
            by_date,
            fingerprint: fingerprint(&canonical),
        })
    }

    /// The years this import decides (first to last year with events).
    pub fn years(&self) -> std::ops::RangeInclusive<i32> {
        self.first_year..=self.last_year
    }

    /// Does this import decide `year`?
    pub fn covers(&self, year: i32) -> bool {
        self.years().contains(&year)
    }

    /// The imported days of `year` with their titles.
    pub fn in_year(&self, year: i32) -> impl Iterator<Item = (NaiveDate, &str)> {
        self.by_date.iter().filter(move |(d, _)| d.year() == year).map(|(d, t)| (*d, t.as_str()))
    }

    /// A short fingerprint of the imported days, for the calendar version.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_england_and_wales() {
        let json = r#"{
            "england-and-wales": {"division": "england-and-wales", "events": [
                {"title": "New Year’s Day", "date": "2026-01-01", "notes": "", "bunting": true}
            ]},
            "scotland": {"division": "scotland", "events": [
                {"title": "2nd January", "date": "2026-01-02", "notes": "", "bunting": true}
            ]}
        }"#;
        let imported = ImportedHolidays::from_json(json).unwrap();
        assert_eq!(imported.years(), 2026..=2026);
        assert_eq!(imported.in_year(2026).count(), 1);
    }

    #[test]
    fn reads_the_division_asked_for() {
        let json = r#"{
            "england-and-wales": {"division": "england-and-wales", "events": [
                {"title": "Easter Monday", "date": "2026-04-06"}
            ]},
            "scotland": {"division": "scotland", "events": [
                {"title": "2nd January", "date": "2026-01-02"},
                {"title": "St Andrew’s Day", "date": "2026-11-30"}
            ]}
        }"#;
        let scotland = ImportedHolidays::from_json_division(json, "scotland").unwrap();
        let days: Vec<_> = scotland.in_year(2026).map(|(d, _)| d.to_string()).collect();
        assert_eq!(days, ["2026-01-02", "2026-11-30"]);
        assert!(matches!(
            ImportedHolidays::from_json_division(json, "northern-ireland"),
            Err(CalendarError::MissingDivision { division }) if division == "northern-ireland"
        ));
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        assert!(matches!(ImportedHolidays::from_json("[]"), Err(CalendarError::InvalidImport { .. })));
        assert!(matches!(
            ImportedHolidays::from_json(r#"{"scotland": {"division": "scotland", "events": []}}"#),
            Err(CalendarError::MissingDivision { .. })
        ));
        let gap = r#"{"england-and-wales": {"division": "england-and-wales", "events": [
            {"title": "a", "date": "2024-01-01"}, {"title": "b", "date": "2026-01-01"}]}}"#;
        assert!(matches!(
            ImportedHolidays::from_json(gap),
            Err(CalendarError::ImportGap { missing: 2025, .. })
        ));
        let bad_date = r#"{"england-and-wales": {"events": [{"title": "a", "date": "1 Jan 2026"}]}}"#;
        assert!(matches!(ImportedHolidays::from_json(bad_date), Err(CalendarError::InvalidImport { .. })));
    }
}
