//! Why a calendar could not be built or a date could not be computed.

use chrono::NaiveDate;

/// Errors from building or using a [`Calendar`](super::Calendar).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The calendar data file is not valid TOML of the expected shape.
    #[error("calendar data is invalid: {reason}")]
    InvalidData {
        /// The parser's explanation.
        reason: String,
    },
    /// One entry of the calendar data file is inconsistent.
    #[error("calendar data change #{index} is invalid: {reason}")]
    InvalidChange {
        /// Position of the entry in the file, from 0.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A gov.uk `bank-holidays.json` file could not be read.
    #[error("bank-holidays.json is invalid: {reason}")]
    InvalidImport {
        /// What is wrong with it.
        reason: String,
    },
    /// No calendar data for this gov.uk division is compiled into the crate.
    #[error("no calendar data for the {division:?} division; known divisions: {known}")]
    UnknownDivision {
        /// The division asked for.
        division: String,
        /// The divisions with data.
        known: String,
    },
    /// The imported file has no events for the calendar's division.
    #[error("bank-holidays.json has no {division:?} division with events")]
    MissingDivision {
        /// The division looked for.
        division: String,
    },
    /// The imported file skips a whole year inside the range it covers.
    #[error("bank-holidays.json covers {first}–{last} but has no events in {missing}")]
    ImportGap {
        /// First year with events.
        first: i32,
        /// Last year with events.
        last: i32,
        /// A year in between with none.
        missing: i32,
    },
    /// An override would remove Christmas Day or Good Friday, which are never working days.
    #[error("cannot remove {date}: {what} is never a working day")]
    RemovesCommonLawHoliday {
        /// The date.
        date: NaiveDate,
        /// Christmas Day or Good Friday.
        what: &'static str,
    },
    /// An override removes a day that is not a bank holiday (probably a typing mistake).
    #[error("cannot remove {date}: it is not a bank holiday in this calendar")]
    RemovesNonHoliday {
        /// The date.
        date: NaiveDate,
    },
    /// An override both adds and removes the same day.
    #[error("overrides both add and remove {date}")]
    ConflictingOverride {
        /// The date.
        date: NaiveDate,
    },
    /// A computation ran past the representable calendar or the supported length of period.
    #[error("date out of range: {what}")]
    OutOfRange {
        /// What was being computed.
        what: String,
    },
}
