//! The Scotland calendar equals the published Scottish bank holidays for 2020–2027, computed
//! from the division's standing rules and one-off changes and also imported from a
//! gov.uk-format file (only its `scotland` division).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use dampwatch_clock::calendar::HolidayOrigin;
use dampwatch_clock::Calendar;
use support::{calendar, d, GOVUK_FIXTURE};

/// Scottish bank holidays as gov.uk publishes them: https://www.gov.uk/bank-holidays.json,
/// division `scotland`, read from the copy of that file kept by
/// github.com/dmossop/bank-holidays-data (2019–2027), plus Monday 15 June 2026 ("World Cup
/// bank holiday"), which gov.uk lists since the royal proclamation of 4 February 2026.
/// Written out by hand, not generated: no Easter Monday, summer on the first Monday of
/// August, 2 January and St Andrew's Day with their substitutes.
const PUBLISHED_SCOTLAND: &str = "
    # 2020 (early May moved to Fri 8 May for VE day; Boxing Day substitute Mon 28)
    2020-01-01 New Year’s Day
    2020-01-02 2nd January
    2020-04-10 Good Friday
    2020-05-08 Early May bank holiday (VE day)
    2020-05-25 Spring bank holiday
    2020-08-03 Summer bank holiday
    2020-11-30 St Andrew’s Day
    2020-12-25 Christmas Day
    2020-12-28 Boxing Day (substitute day)
    # 2021 (2 January on Saturday: Mon 4; Christmas on Saturday: Mon 27 and Tue 28)
    2021-01-01 New Year’s Day
    2021-01-04 2nd January (substitute day)
    2021-04-02 Good Friday
    2021-05-03 Early May bank holiday
    2021-05-31 Spring bank holiday
    2021-08-02 Summer bank holiday
    2021-11-30 St Andrew’s Day
    2021-12-27 Christmas Day (substitute day)
    2021-12-28 Boxing Day (substitute day)
    # 2022 (New Year on Saturday: Mon 3 and Tue 4; spring moved and the Jubilee; state funeral)
    2022-01-03 New Year’s Day (substitute day)
    2022-01-04 2nd January (substitute day)
    2022-04-15 Good Friday
    2022-05-02 Early May bank holiday
    2022-06-02 Spring bank holiday
    2022-06-03 Platinum Jubilee bank holiday
    2022-08-01 Summer bank holiday
    2022-09-19 Bank Holiday for the State Funeral of Queen Elizabeth II
    2022-11-30 St Andrew’s Day
    2022-12-26 Boxing Day
    2022-12-27 Christmas Day (substitute day)
    # 2023 (New Year on Sunday: Mon 2 and Tue 3; the coronation)
    2023-01-02 New Year’s Day (substitute day)
    2023-01-03 2nd January (substitute day)
    2023-04-07 Good Friday
    2023-05-01 Early May bank holiday
    2023-05-08 Bank holiday for the coronation of King Charles III
    2023-05-29 Spring bank holiday
    2023-08-07 Summer bank holiday
    2023-11-30 St Andrew’s Day
    2023-12-25 Christmas Day
    2023-12-26 Boxing Day
    # 2024 (St Andrew's Day on Saturday: Mon 2 December)
    2024-01-01 New Year’s Day
    2024-01-02 2nd January
    2024-03-29 Good Friday
    2024-05-06 Early May bank holiday
    2024-05-27 Spring bank holiday
    2024-08-05 Summer bank holiday
    2024-12-02 St Andrew’s Day (substitute day)
    2024-12-25 Christmas Day
    2024-12-26 Boxing Day
    # 2025 (St Andrew's Day on Sunday: Mon 1 December)
    2025-01-01 New Year’s Day
    2025-01-02 2nd January
    2025-04-18 Good Friday
    2025-05-05 Early May bank holiday
    2025-05-26 Spring bank holiday
    2025-08-04 Summer bank holiday
    2025-12-01 St Andrew’s Day (substitute day)
    2025-12-25 Christmas Day
    2025-12-26 Boxing Day
    # 2026 (World Cup bank holiday; Boxing Day on Saturday: Mon 28)
    2026-01-01 New Year’s Day
    2026-01-02 2nd January
    2026-04-03 Good Friday
    2026-05-04 Early May bank holiday
    2026-05-25 Spring bank holiday
    2026-06-15 World Cup bank holiday
    2026-08-03 Summer bank holiday
    2026-11-30 St Andrew’s Day
    2026-12-25 Christmas Day
    2026-12-28 Boxing Day (substitute day)
    # 2027 (2 January on Saturday: Mon 4; Christmas on Saturday: Mon 27 and Tue 28)
    2027-01-01 New Year’s Day
    2027-01-04 2nd January (substitute day)
    2027-03-26 Good Friday
    2027-05-03 Early May bank holiday
    2027-05-31 Spring bank holiday
    2027-08-02 Summer bank holiday
    2027-11-30 St Andrew’s Day
    2027-12-27 Christmas Day (substitute day)
    2027-12-28 Boxing Day (substitute day)
";

/// The hand-written published list, by year.
fn published() -> BTreeMap<i32, BTreeSet<NaiveDate>> {
    let mut years: BTreeMap<i32, BTreeSet<NaiveDate>> = BTreeMap::new();
    for line in PUBLISHED_SCOTLAND.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let date_text = line.split_whitespace().next().expect("a date on every line");
        let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d").expect("published date");
        years.entry(date.year()).or_default().insert(date);
    }
    years
}

fn scotland() -> Calendar {
    Calendar::scotland().expect("embedded Scotland calendar")
}

fn computed(calendar: &Calendar, year: i32) -> BTreeSet<NaiveDate> {
    calendar.holidays_in_year(year).into_iter().map(|h| h.date).collect()
}

#[test]
fn the_list_covers_every_year_2020_to_2027() {
    let years: Vec<i32> = published().keys().copied().collect();
    assert_eq!(years, (2020..=2027).collect::<Vec<_>>());
}

#[test]
fn rules_and_one_offs_give_the_published_scottish_dates_2020_to_2027() {
    let calendar = scotland();
    for (year, expected) in published() {
        assert_eq!(computed(&calendar, year), expected, "{year}");
    }
}

#[test]
fn an_imported_govuk_file_gives_the_published_scottish_dates_2020_to_2027() {
    let calendar = scotland().with_govuk_import(GOVUK_FIXTURE).expect("gov.uk fixture imports");
    assert!(calendar.version().starts_with("sc-2026-12+govuk:"), "{}", calendar.version());
    for (year, expected) in published() {
        let holidays = calendar.holidays_in_year(year);
        assert!(holidays.iter().all(|h| h.origin == HolidayOrigin::Imported), "{year}");
        assert_eq!(computed(&calendar, year), expected, "{year}");
    }
    // England & Wales' Easter Monday and late-August summer holiday in the same file are
    // working days in Scotland; Scotland's days are working days in England & Wales.
    assert!(calendar.is_working_day(d(2026, 4, 6)));
    assert!(calendar.is_working_day(d(2026, 8, 31)));
    let england = calendar_england_imported();
    assert!(england.is_working_day(d(2026, 1, 2)));
    assert!(england.is_working_day(d(2026, 6, 15)));
}

fn calendar_england_imported() -> Calendar {
    calendar().with_govuk_import(GOVUK_FIXTURE).expect("gov.uk fixture imports")
}

#[test]
fn an_imported_file_without_a_scotland_division_is_refused_for_scotland() {
    let mut doc: serde_json::Value = serde_json::from_str(GOVUK_FIXTURE).expect("json");
    doc.as_object_mut().expect("object").remove("scotland");
    let json = serde_json::to_string(&doc).expect("json");
    let err = scotland().with_govuk_import(&json).expect_err("no scotland division");
    assert!(err.to_string().contains("scotland"), "{err}");
    assert!(calendar().with_govuk_import(&json).is_ok(), "England & Wales still imports");
}

#[test]
fn the_built_in_scotland_calendar_version_is_stable() {
    assert_eq!(scotland().version(), "sc-2026-12");
}
