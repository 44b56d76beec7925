//! A bank holiday and where the calendar got it from.

use chrono::NaiveDate;
use serde::Serialize;

use super::rule::HolidayRule;

/// One England & Wales bank holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankHoliday {
    /// The day.
    pub date: NaiveDate,
    /// Its published name.
    pub title: String,
    /// Which part of the calendar produced it.
    pub origin: HolidayOrigin,
}

/// Which part of the calendar produced a bank holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HolidayOrigin {
    /// A standing rule.
    Rule {
        /// Which one.
        rule: HolidayRule,
    },
    /// A one-off change in the calendar data.
    OneOff,
    /// An imported gov.uk `bank-holidays.json`.
    Imported,
    /// A configuration override.
    Override,
}
