//! The standing bank-holiday rules of the gov.uk divisions (Banking and Financial Dealings Act
//! 1971, Schedule 1, with the customary substitute days). Which rules apply in a division is
//! data: the `rules` list of its calendar file.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::easter::easter_sunday;

/// A standing rule that yields one bank holiday every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayRule {
    /// 1 January, or the next Monday when it falls at a weekend.
    NewYear,
    /// 2 January (Scotland): the first weekday after the New Year's Day bank holiday.
    SecondJanuary,
    /// Easter Sunday − 2 days.
    GoodFriday,
    /// Easter Sunday + 1 day.
    EasterMonday,
    /// First Monday of May.
    EarlyMay,
    /// Last Monday of May.
    Spring,
    /// Last Monday of August (England & Wales).
    Summer,
    /// First Monday of August (Scotland's summer bank holiday).
    SummerScotland,
    /// 30 November (Scotland), or the first Monday after it when it falls at a weekend.
    StAndrewsDay,
    /// 25 December; at a weekend, the substitute given in [`HolidayRule::date_in`].
    Christmas,
    /// 26 December; at a weekend, the substitute given in [`HolidayRule::date_in`].
    BoxingDay,
}

impl HolidayRule {
    /// Every rule this build knows, in calendar order.
    pub const ALL: [HolidayRule; 11] = [
        HolidayRule::NewYear,
        HolidayRule::SecondJanuary,
        HolidayRule::GoodFriday,
        HolidayRule::EasterMonday,
        HolidayRule::EarlyMay,
        HolidayRule::Spring,
        HolidayRule::SummerScotland,
        HolidayRule::Summer,
        HolidayRule::StAndrewsDay,
        HolidayRule::Christmas,
        HolidayRule::BoxingDay,
    ];

    /// The name gov.uk publishes.
    pub fn title(self) -> &'static str {
        match self {
            HolidayRule::NewYear => "New Year’s Day",
            HolidayRule::SecondJanuary => "2nd January",
            HolidayRule::GoodFriday => "Good Friday",
            HolidayRule::EasterMonday => "Easter Monday",
            HolidayRule::EarlyMay => "Early May bank holiday",
            HolidayRule::Spring => "Spring bank holiday",
            HolidayRule::Summer | HolidayRule::SummerScotland => "Summer bank holiday",
            HolidayRule::StAndrewsDay => "St Andrew’s Day",
            HolidayRule::Christmas => "Christmas Day",
            HolidayRule::BoxingDay => "Boxing Day",
        }
    }

    /// The date this rule gives in `year` (before any one-off change), or `None` outside the
    /// representable calendar.
    ///
    /// Christmas substitutes: 25 Dec on a Saturday gives Mon 27 (Christmas) and Tue 28
    /// (Boxing Day); on a Sunday, Mon 26 (Boxing Day) and Tue 27 (Christmas); 26 Dec on a
    /// Saturday gives Mon 28.
    pub fn date_in(self, year: i32) -> Option<NaiveDate> {
        match self {
            HolidayRule::NewYear => {
                let day = NaiveDate::from_ymd_opt(year, 1, 1)?;
                Some(next_monday_if_weekend(day))
            }
            HolidayRule::SecondJanuary => {
                // 1 Jan on a Friday: Monday 4; on a Saturday (New Year's Day on Monday 3):
                // Tuesday 4; on a Sunday (New Year's Day on Monday 2): Tuesday 3.
                let new_year = HolidayRule::NewYear.date_in(year)?;
                Some(next_weekday_after(new_year))
            }
            HolidayRule::GoodFriday => easter_sunday(year)?.checked_sub_signed(Duration::days(2)),
            HolidayRule::EasterMonday => easter_sunday(year)?.checked_add_signed(Duration::days(1)),
            HolidayRule::EarlyMay => NaiveDate::from_weekday_of_month_opt(year, 5, Weekday::Mon, 1),
            HolidayRule::Spring => last_monday(year, 5),
            HolidayRule::Summer => last_monday(year, 8),
            HolidayRule::SummerScotland => NaiveDate::from_weekday_of_month_opt(year, 8, Weekday::Mon, 1),
            HolidayRule::StAndrewsDay => {
                // St Andrew's Day Bank Holiday (Scotland) Act 2007, s.1: "30th November, if it is
                // not a Saturday or Sunday or, if it is a Saturday or Sunday, the first Monday
                // following that day".
                let day = NaiveDate::from_ymd_opt(year, 11, 30)?;
                Some(next_monday_if_weekend(day))
            }
            HolidayRule::Christmas => {
                let day = NaiveDate::from_ymd_opt(year, 12, 25)?;
                match day.weekday() {
                    Weekday::Sat | Weekday::Sun => NaiveDate::from_ymd_opt(year, 12, 27),
                    _ => Some(day),
                }
            }
            HolidayRule::BoxingDay => {
                let christmas = NaiveDate::from_ymd_opt(year, 12, 25)?;
                let day = match christmas.weekday() {
                    // Boxing Day itself is Saturday (Christmas on Friday) or Sunday (Christmas on
                    // Saturday, whose own substitute takes Monday 27).
                    Weekday::Fri | Weekday::Sat => 28,
                    // Christmas on Sunday: Boxing Day (Monday 26) stays, Christmas moves to 27.
                    _ => 26,
                };
                NaiveDate::from_ymd_opt(year, 12, day)
            }
        }
    }
}

impl fmt::Display for HolidayRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

fn next_monday_if_weekend(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sat => day + Duration::days(2),
        Weekday::Sun => day + Duration::days(1),
        _ => day,
    }
}

fn next_weekday_after(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Fri => day + Duration::days(3),
        Weekday::Sat => day + Duration::days(2),
        _ => day + Duration::days(1),
    }
}

fn last_monday(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, 5)
        .or_else(|| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, 4))
}

/// Is `date` Christmas Day or Good Friday? These two are never working days, whatever a
/// calendar file or an override says: the statutory definition names them outright.
pub(crate) fn is_common_law_holiday(date: NaiveDate) -> bool {
    (date.month() == 12 && date.day() == 25) || HolidayRule::GoodFriday.date_in(date.year()) == Some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn christmas_substitutes() {
        // 2021 and 2027: Christmas on Saturday.
        assert_eq!(HolidayRule::Christmas.date_in(2021), Some(d(2021, 12, 27)));
        assert_eq!(HolidayRule::BoxingDay.date_in(2021), Some(d(2021, 12, 28)));
        // 2022: Christmas on Sunday.
        assert_eq!(HolidayRule::BoxingDay.date_in(2022), Some(d(2022, 12, 26)));
        assert_eq!(HolidayRule::Christmas.date_in(2022), Some(d(2022, 12, 27)));
        // 2026: Boxing Day on Saturday.
        assert_eq!(HolidayRule::Christmas.date_in(2026), Some(d(2026, 12, 25)));
        assert_eq!(HolidayRule::BoxingDay.date_in(2026), Some(d(2026, 12, 28)));
    }

    #[test]
    fn new_year_substitutes() {
        assert_eq!(HolidayRule::NewYear.date_in(2022), Some(d(2022, 1, 3))); // Saturday
        assert_eq!(HolidayRule::NewYear.date_in(2023), Some(d(2023, 1, 2))); // Sunday
    }

    #[test]
    fn second_january_follows_the_new_year_bank_holiday() {
        // 2 January on a Friday; 1 January on a Friday, a Saturday, a Sunday.
        assert_eq!(HolidayRule::SecondJanuary.date_in(2026), Some(d(2026, 1, 2)));
        assert_eq!(HolidayRule::SecondJanuary.date_in(2027), Some(d(2027, 1, 4)));
        assert_eq!(HolidayRule::SecondJanuary.date_in(2022), Some(d(2022, 1, 4)));
        assert_eq!(HolidayRule::SecondJanuary.date_in(2023), Some(d(2023, 1, 3)));
    }

    #[test]
    fn st_andrews_day_moves_to_the_next_monday_at_a_weekend() {
        // 30 November on a Monday, a Saturday, a Sunday.
        assert_eq!(HolidayRule::StAndrewsDay.date_in(2026), Some(d(2026, 11, 30)));
        assert_eq!(HolidayRule::StAndrewsDay.date_in(2024), Some(d(2024, 12, 2)));
        assert_eq!(HolidayRule::StAndrewsDay.date_in(2025), Some(d(2025, 12, 1)));
    }

    #[test]
    fn scotlands_summer_is_the_first_monday_of_august() {
        assert_eq!(HolidayRule::SummerScotland.date_in(2026), Some(d(2026, 8, 3)));
        assert_eq!(HolidayRule::SummerScotland.date_in(2023), Some(d(2023, 8, 7)));
    }

    #[test]
    fn last_mondays() {
        assert_eq!(HolidayRule::Spring.date_in(2027), Some(d(2027, 5, 31)));
        assert_eq!(HolidayRule::Summer.date_in(2026), Some(d(2026, 8, 31)));
        assert_eq!(HolidayRule::Summer.date_in(2025), Some(d(2025, 8, 25)));
    }
}
