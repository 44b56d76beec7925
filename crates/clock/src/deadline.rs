//! Computing a step's deadline from its trigger events, the calendar and the rules.
//!
//! A deadline carries everything needed to check it by hand or to defend it later: the step,
//! the basis and amount, which event at which instant it was counted from, the due date or
//! instant, the bank holidays skipped, and the calendar and rules versions and source.

use std::fmt;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError};
use crate::law::{AwaabRules, Basis, StepName, StepRule, Track, Trigger};
use crate::london::{add_hours, end_of_local_day, format_utc, local_date};

/// Why a deadline could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The calendar could not count the period.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The period runs past the representable time range.
    #[error("the {step} period counted from {from} runs past the supported time range")]
    OutOfRange {
        /// The step.
        step: StepName,
        /// The trigger instant.
        from: DateTime<Utc>,
    },
}

/// The instants of the events that start clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triggers {
    /// The landlord became aware of the potential hazard.
    pub awareness: DateTime<Utc>,
    /// The investigation concluded, once it has.
    pub investigation_concluded: Option<DateTime<Utc>>,
}

impl Triggers {
    /// The instant of `trigger`, if it has happened.
    pub fn at(&self, trigger: Trigger) -> Option<DateTime<Utc>> {
        match trigger {
            Trigger::Awareness => Some(self.awareness),
            Trigger::InvestigationConcluded => self.investigation_concluded,
        }
    }
}

/// Which event a clock was counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedFrom {
    /// The event.
    pub event: Trigger,
    /// Its instant.
    pub at: DateTime<Utc>,
    /// Its Europe/London date (working days and weeks count from the day after).
    pub local_day: NaiveDate,
}

/// When a step is due: the last permitted Europe/London date for working days and weeks, an
/// exact instant for elapsed hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    /// Due by the end of this Europe/London day.
    Date(NaiveDate),
    /// Due at this instant.
    Instant(DateTime<Utc>),
}

impl fmt::Display for Due {
    /// `2026-12-04` or `2026-11-21T23:30:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Due::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Due::Instant(t) => f.write_str(&format_utc(*t)),
        }
    }
}

impl Serialize for Due {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Due {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            return Ok(Due::Date(date));
        }
        DateTime::parse_from_rfc3339(&text)
            .map(|t| Due::Instant(t.with_timezone(&Utc)))
            .map_err(|_| serde::de::Error::custom(format!("due {text:?} is neither YYYY-MM-DD nor RFC 3339")))
    }
}

/// One clock of a step: its start and when it runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepClock {
    /// Which event it was counted from.
    pub counted_from: CountedFrom,
    /// When it is due.
    pub due: Due,
    /// The instant the permitted period ends (for a date, the end of that day in Europe/London).
    pub ends_at: DateTime<Utc>,
    /// Weekday bank holidays inside the period that were not counted (working days only).
    pub bank_holidays_skipped: Vec<NaiveDate>,
}

/// A step's computed deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The step.
    pub step: StepName,
    /// How the period is measured.
    pub basis: Basis,
    /// Its length in the basis' unit.
    pub amount: u32,
    /// The event and instant the deciding (earliest) clock was counted from.
    pub counted_from: CountedFrom,
    /// When the step is due.
    pub due: Due,
    /// The instant the permitted period ends.
    pub ends_at: DateTime<Utc>,
    /// Weekday bank holidays inside the period that were not counted.
    pub bank_holidays_skipped: Vec<NaiveDate>,
    /// Clocks from other triggers that also ran and are due later (emergency make-safe runs
    /// from awareness and from the investigation concluding).
    pub other_clocks: Vec<StepClock>,
    /// The calendar version used.
    pub calendar_version: String,
    /// The rules version used.
    pub rules_version: String,
    /// The legal source of the step.
    pub source: String,
}

/// A step's deadline, or what it is waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepDeadline {
    /// Computed.
    Computed(Deadline),
    /// Its clock has not started: the trigger has not happened.
    AwaitingTrigger {
        /// The step.
        step: StepName,
        /// The event it waits for.
        trigger: Trigger,
    },
}

impl StepDeadline {
    /// The step.
    pub fn step(&self) -> StepName {
        match self {
            StepDeadline::Computed(d) => d.step,
            StepDeadline::AwaitingTrigger { step, .. } => *step,
        }
    }
}

/// Run one clock of `rule` from `event` at `at`.
fn run_clock(
    rule: &StepRule,
    event: Trigger,
    at: DateTime<Utc>,
    calendar: &Calendar,
) -> Result<StepClock, DeadlineError> {
    let out_of_range = || DeadlineError::OutOfRange { step: rule.name, from: at };
    let local_day = local_date(at);
    let counted_from = CountedFrom { event, at, local_day };
    let (due, ends_at, skipped) = match rule.basis {
        Basis::ElapsedHours => {
            let due = add_hours(at, rule.amount).ok_or_else(out_of_range)?;
            (Due::Instant(due), due, Vec::new())
        }
        Basis::WorkingDays => {
            let period = calendar.working_day_period(local_day, rule.amount)?;
            let ends = end_of_local_day(period.last_day).ok_or_else(out_of_range)?;
            (Due::Date(period.last_day), ends, period.bank_holidays_skipped)
        }
        Basis::Weeks => {
            let days = u64::from(rule.amount) * 7;
            let last = local_day.checked_add_days(Days::new(days)).ok_or_else(out_of_range)?;
            let ends = end_of_local_day(last).ok_or_else(out_of_range)?;
            (Due::Date(last), ends, Vec::new())
        }
    };
    Ok(StepClock { counted_from, due, ends_at, bank_holidays_skipped: skipped })
}

/// The deadline of `rule` given the triggers so far, or `None` when none of its triggers has
/// happened. With several triggers, every clock that has started runs and the earliest
/// is the deadline; the others are kept in [`Deadline::other_clocks`].
pub fn compute_deadline(
    rule: &StepRule,
    triggers: &Triggers,
    calendar: &Calendar,
    rules: &AwaabRules,
) -> Result<Option<Deadline>, DeadlineError> {
    let mut clocks = Vec::new();
    for event in &rule.counted_from {
        if let Some(at) = triggers.at(*event) {
            clocks.push(run_clock(rule, *event, at, calendar)?);
        }
    }
    clocks.sort_by_key(|c| c.ends_at);
    let mut clocks = clocks.into_iter();
    let Some(first) = clocks.next() else {
        return Ok(None);
    };
    Ok(Some(Deadline {
        step: rule.name,
        basis: rule.basis,
        amount: rule.amount,
        counted_from: first.counted_from,
        due: first.due,
        ends_at: first.ends_at,
        bank_holidays_skipped: first.bank_holidays_skipped,
        other_clocks: clocks.collect(),
        calendar_version: calendar.version().to_owned(),
        rules_version: rules.version().to_owned(),
        source: rule.source.clone(),
    }))
}

/// Every step of `track`, in order: computed, or waiting for the event it counts from.
pub fn deadlines_for_track(
    track: Track,
    triggers: &Triggers,
    calendar: &Calendar,
    rules: &AwaabRules,
) -> Result<Vec<StepDeadline>, DeadlineError> {
    rules
        .steps_for(track)
        .map(|rule| {
            Ok(match compute_deadline(rule, triggers, calendar, rules)? {
                Some(deadline) => StepDeadline::Computed(deadline),
                None => StepDeadline::AwaitingTrigger {
                    step: rule.name,
                    trigger: rule.counted_from.first().copied().unwrap_or(Trigger::Awareness),
                },
            })
        })
        .collect()
}
