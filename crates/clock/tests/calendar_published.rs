//! The calendar equals the published England & Wales bank holidays for 2020–2027, computed
//! from the rules and one-off changes and also imported from a gov.uk-format file.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use dampwatch_clock::calendar::HolidayOrigin;
use dampwatch_clock::Calendar;
use support::{calendar, d, GOVUK_FIXTURE, PUBLISHED_FIXTURE};

/// The hand-written published list, by year.
fn published() -> BTreeMap<i32, BTreeSet<NaiveDate>> {
    let mut years: BTreeMap<i32, BTreeSet<NaiveDate>> = BTreeMap::new();
    for line in PUBLISHED_FIXTURE.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let date_text = line.split_whitespace().next().expect("a date on every line");
        let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d").expect("fixture date");
        years.entry(date.year()).or_default().insert(date);
    }
    years
}

fn computed(calendar: &Calendar, year: i32) -> BTreeSet<NaiveDate> {
    calendar.holidays_in_year(year).into_iter().map(|h| h.date).collect()
}

#[test]
fn the_fixture_covers_every_year_2020_to_2027() {
    let years: Vec<i32> = published().keys().copied().collect();
    assert_eq!(years, (2020..=2027).collect::<Vec<_>>());
}

#[test]
fn rules_and_one_offs_give_the_published_dates_2020_to_2027() {
    let calendar = calendar();
    for (year, expected) in published() {
        assert_eq!(computed(&calendar, year), expected, "{year}");
    }
}

#[test]
fn an_imported_govuk_file_gives_the_published_dates_2020_to_2027() {
    let calendar = calendar().with_govuk_import(GOVUK_FIXTURE).expect("gov.uk fixture imports");
    assert!(calendar.version().starts_with("ew-2026-11+govuk:"), "{}", calendar.version());
    for (year, expected) in published() {
        let holidays = calendar.holidays_in_year(year);
        assert!(holidays.iter().all(|h| h.origin == HolidayOrigin::Imported), "{year}");
        assert_eq!(computed(&calendar, year), expected, "{year}");
    }
    // Scotland's St Andrew's Day in the same file is not an England & Wales holiday.
    assert!(calendar.is_working_day(d(2026, 11, 30)));
}

#[test]
fn the_imported_file_decides_the_years_it_covers() {
    // A file listing a day twice is refused rather than guessed at.
    let duplicated = GOVUK_FIXTURE.replace("\"2023-05-08\"", "\"2023-05-01\"");
    assert!(calendar().with_govuk_import(&duplicated).is_err());

    // A file without the 2023 coronation day: the import, not the built-in one-off, decides.
    let without_coronation = remove_event(GOVUK_FIXTURE, "2023-05-08");
    let imported = calendar().with_govuk_import(&without_coronation).expect("imports");
    assert!(!imported.is_bank_holiday(d(2023, 5, 8)));
    assert!(calendar().is_bank_holiday(d(2023, 5, 8)));
    let full = calendar().with_govuk_import(GOVUK_FIXTURE).expect("imports");
    assert_ne!(imported.version(), full.version(), "a different set of days is a different version");
    // Years outside the file fall back to the rules.
    assert_eq!(computed(&imported, 2028).len(), 8);
    assert!(imported.is_bank_holiday(d(2028, 1, 3)), "New Year 2028 is a Saturday: Monday 3 January");
}

#[test]
fn reformatting_the_file_keeps_the_version() {
    let compact: serde_json::Value = serde_json::from_str(GOVUK_FIXTURE).expect("json");
    let compact = serde_json::to_string(&compact).expect("json");
    let a = calendar().with_govuk_import(GOVUK_FIXTURE).expect("imports");
    let b = calendar().with_govuk_import(&compact).expect("imports");
    assert_eq!(a.version(), b.version());
}

#[test]
fn the_built_in_calendar_version_is_stable() {
    assert_eq!(calendar().version(), "ew-2026-11");
}

/// The fixture without the event on `date`.
fn remove_event(json: &str, date: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(json).expect("json");
    let events = doc["england-and-wales"]["events"].as_array_mut().expect("events");
    events.retain(|e| e["date"] != date);
    serde_json::to_string(&doc).expect("json")
}
