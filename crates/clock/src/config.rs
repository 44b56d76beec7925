//! The clock's configuration section and the assembled clock (calendar, rules, status policy)
//! that a service builds once at start and passes to every computation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError, CalendarOverrides};
use crate::case::{Case, CaseView, StatusPolicy};
use crate::deadline::{deadlines_for_track, DeadlineError, StepDeadline, Triggers};
use crate::law::{AwaabRules, RulesError, RulesOverrides, Track};

/// The commented default of [`ClockConfig`], for a service's "print default config" command.
pub const COMMENTED_DEFAULT: &str = r#"# Awaab's Law clock.

# Bank holidays announced after this build's calendar data, or cancelled.
# [[calendar.add]]
# date = "2027-06-07"
# title = "Extra bank holiday"
# [[calendar.remove]]
# date = "2027-05-31"
# reason = "moved by proclamation"

# Dates of effect for phases whose date is unverified or not yet set.
[rules.phase_effective]
# phase_2 = "2026-11-30"
# phase_3 = "2027-10-01"

[status]
# Due soon when at most this fraction of a step's period is left...
due_soon_fraction = 0.25
# ...or, for working-day steps, at most this many working days (counting today).
due_soon_working_days = 1
# Hours a potential issue may wait for a person's triage.
triage_review_hours = 4
"#;

/// The `[clock]` configuration section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockConfig {
    /// Bank holidays added or removed.
    pub calendar: CalendarOverrides,
    /// Phase dates of effect.
    pub rules: RulesOverrides,
    /// Due-soon thresholds and the triage review period.
    pub status: StatusPolicy,
}

/// Why the clock could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The calendar data, import or overrides were refused.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The rules data or overrides were refused.
    #[error(transparent)]
    Rules(#[from] RulesError),
}

/// Everything a deadline computation needs, built once from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    /// The working-day calendar.
    pub calendar: Calendar,
    /// Awaab's Law steps and phases.
    pub rules: AwaabRules,
    /// Status thresholds.
    pub status: StatusPolicy,
}

impl Clock {
    /// The built-in calendar and rules with `config` applied; `govuk_json` is the text of a
    /// gov.uk `bank-holidays.json` to use for the years it covers (the caller reads the file).
    pub fn from_config(config: &ClockConfig, govuk_json: Option<&str>) -> Result<Self, ConfigError> {
        let mut calendar = Calendar::england_and_wales()?;
        if let Some(json) = govuk_json {
            calendar = calendar.with_govuk_import(json)?;
        }
        let calendar = calendar.with_overrides(config.calendar.clone())?;
        let rules = AwaabRules::embedded()?.with_overrides(&config.rules)?;
        Ok(Clock { calendar, rules, status: config.status })
    }

    /// Every step deadline of `track` (see [`deadlines_for_track`]).
    pub fn deadlines(&self, track: Track, triggers: &Triggers) -> Result<Vec<StepDeadline>, DeadlineError> {
        deadlines_for_track(track, triggers, &self.calendar, &self.rules)
    }

    /// A case's steps with due times and statuses as of `now` (see [`Case::view`]).
    pub fn view(&self, case: &Case, now: DateTime<Utc>) -> Result<CaseView, DeadlineError> {
        case.view(now, &self.calendar, &self.rules, &self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_default_is_the_default() {
        let parsed: ClockConfig = toml::from_str(COMMENTED_DEFAULT).expect("valid TOML");
        assert_eq!(parsed, ClockConfig::default());
    }

    #[test]
    fn the_default_clock_uses_the_built_in_versions() {
        let clock = Clock::from_config(&ClockConfig::default(), None).expect("builds");
        assert_eq!(clock.calendar.version(), "ew-2026-11");
        assert_eq!(clock.rules.version(), "awaab-2026-11");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ClockConfig>("[status]\ndue_soon = 1\n").is_err());
    }
}
