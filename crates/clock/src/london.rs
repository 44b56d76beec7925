//! Europe/London local time: the legal day for working-day periods, and how times are shown.
//!
//! Instants are always stored and compared in UTC. Only two things are local: which calendar
//! day a trigger falls on (23:30 BST on a Friday is still Friday in London though it is
//! 22:30 UTC), and the end of a permitted day (midnight in London).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone of England & Wales.
pub const LONDON: Tz = chrono_tz::Europe::London;

/// The Europe/London calendar date of an instant.
pub fn local_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&LONDON).date_naive()
}

/// The instant a Europe/London day ends (the next local midnight), or `None` past the end of
/// the representable calendar.
///
/// Midnight always exists in London (the clocks change at 01:00 UTC), so this is exact.
pub fn end_of_local_day(date: NaiveDate) -> Option<DateTime<Utc>> {
    let next = date.succ_opt()?;
    let midnight = next.and_hms_opt(0, 0, 0)?;
    LONDON.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 in UTC with a `Z` suffix (fractional seconds only when present).
pub fn format_utc(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// How a housing officer reads an instant: `Fri 20 Nov 2026 23:30 GMT`.
pub fn format_local(instant: DateTime<Utc>) -> String {
    instant.with_timezone(&LONDON).format("%a %-d %b %Y %H:%M %Z").to_string()
}

/// A date as a housing officer reads it: `Fri 20 Nov 2026`.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%a %-d %b %Y").to_string()
}

/// Why a time given by a person could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeParseError {
    /// Neither RFC 3339 nor `YYYY-MM-DDTHH:MM[:SS]`.
    #[error(
        "cannot read time {input:?}: give RFC 3339 with an offset (2026-11-20T23:30:00Z, \
         2026-06-05T23:30:00+01:00) or a Europe/London local time YYYY-MM-DDTHH:MM"
    )]
    Unreadable {
        /// The text as given.
        input: String,
    },
    /// A local time skipped when the clocks go forward (01:00–02:00 on the last Sunday of March).
    #[error("{input:?} does not exist in Europe/London (the clocks go forward over it); give an offset")]
    SkippedLocalTime {
        /// The text as given.
        input: String,
    },
    /// A local time that happens twice when the clocks go back (01:00–02:00 on the last Sunday
    /// of October).
    #[error(
        "{input:?} happens twice in Europe/London (the clocks go back); give an offset: \
         +01:00 for the first (BST), +00:00 for the second (GMT)"
    )]
    AmbiguousLocalTime {
        /// The text as given.
        input: String,
    },
}

/// Read a time as a person types it: RFC 3339 with an offset, or a naive
/// `YYYY-MM-DDTHH:MM[:SS]` (a space also separates date and time) taken as Europe/London
/// local time.
pub fn parse_instant(input: &str) -> Result<DateTime<Utc>, TimeParseError> {
    let text = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .ok_or_else(|| TimeParseError::Unreadable { input: input.to_owned() })?;
    match LONDON.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(TimeParseError::SkippedLocalTime { input: input.to_owned() }),
        LocalResult::Ambiguous(_, _) => Err(TimeParseError::AmbiguousLocalTime { input: input.to_owned() }),
    }
}

/// `instant + hours`, exact elapsed time, or `None` if out of range.
pub(crate) fn add_hours(instant: DateTime<Utc>, hours: u32) -> Option<DateTime<Utc>> {
    instant.checked_add_signed(Duration::hours(i64::from(hours)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("valid test time")
    }

    #[test]
    fn late_evening_in_summer_is_still_the_same_london_day() {
        // 23:30 BST on Friday 5 June 2026 is 22:30 UTC Friday; 00:30 BST Saturday is 23:30 UTC Friday.
        assert_eq!(local_date(utc("2026-06-05T22:30:00Z")), NaiveDate::from_ymd_opt(2026, 6, 5).unwrap());
        assert_eq!(local_date(utc("2026-06-05T23:30:00Z")), NaiveDate::from_ymd_opt(2026, 6, 6).unwrap());
    }

    #[test]
    fn naive_times_are_london_local() {
        assert_eq!(parse_instant("2026-06-05T23:30").unwrap(), utc("2026-06-05T22:30:00Z"));
        assert_eq!(parse_instant("2026-12-05T23:30").unwrap(), utc("2026-12-05T23:30:00Z"));
        assert_eq!(parse_instant("2026-06-05T23:30:00+01:00").unwrap(), utc("2026-06-05T22:30:00Z"));
    }

    #[test]
    fn skipped_and_repeated_local_times_are_refused_with_a_reason() {
        assert!(matches!(parse_instant("2026-03-29T01:30"), Err(TimeParseError::SkippedLocalTime { .. })));
        assert!(matches!(parse_instant("2026-10-25T01:30"), Err(TimeParseError::AmbiguousLocalTime { .. })));
        assert!(matches!(parse_instant("yesterday"), Err(TimeParseError::Unreadable { .. })));
    }

    #[test]
    fn a_local_day_ends_at_london_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(end_of_local_day(d), Some(utc("2026-07-01T23:00:00Z")));
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(end_of_local_day(d), Some(utc("2026-12-02T00:00:00Z")));
    }
}
