//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use chrono::{DateTime, NaiveDate, Utc};
use dampwatch_clock::{AwaabRules, Calendar, Clock, ClockConfig, Jurisdiction, Tenancy, Tenure};

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
}

/// An instant from RFC 3339 text.
pub fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("valid test time").with_timezone(&Utc)
}

pub fn calendar() -> Calendar {
    Calendar::england_and_wales().expect("embedded calendar")
}

pub fn rules() -> AwaabRules {
    AwaabRules::embedded().expect("embedded rules")
}

pub fn scotland_calendar() -> Calendar {
    Calendar::scotland().expect("embedded Scotland calendar")
}

/// Every law and calendar on their defaults.
pub fn clock() -> Clock {
    Clock::from_config(&ClockConfig::default(), None).expect("default clock")
}

pub const SCOTLAND_PRIVATE: Tenancy =
    Tenancy { jurisdiction: Jurisdiction::Scotland, tenure: Tenure::PrivateRented };
pub const SCOTLAND_SOCIAL: Tenancy = Tenancy { jurisdiction: Jurisdiction::Scotland, tenure: Tenure::Social };
pub const ENGLAND_PRIVATE: Tenancy =
    Tenancy { jurisdiction: Jurisdiction::England, tenure: Tenure::PrivateRented };
pub const WALES_SOCIAL: Tenancy = Tenancy { jurisdiction: Jurisdiction::Wales, tenure: Tenure::Social };

pub const GOVUK_FIXTURE: &str = include_str!("../fixtures/bank-holidays.json");
pub const PUBLISHED_FIXTURE: &str = include_str!("../fixtures/published-ew-2020-2027.txt");
