//! The clock's configuration section and the assembled clock (every law, every division's
//! calendar, the status policy) that a service builds once at start and passes to every
//! computation.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{
    Calendar, CalendarData, CalendarError, CalendarOverrides, DIVISION, EMBEDDED_CALENDAR_DATA,
    EMBEDDED_SCOTLAND_CALENDAR_DATA,
};
use crate::case::{Case, CaseView, StatusPolicy};
use crate::deadline::{deadlines_for_track, DeadlineError, StepDeadline, Triggers};
use crate::fingerprint::fingerprint;
use crate::jurisdiction::Tenancy;
use crate::law::{
    Applicability, AwaabRules, LawBook, NoClock, RulesError, RulesOverrides, Track, EMBEDDED_LAW_FILES,
};
use crate::london::local_date;

/// The commented default of [`ClockConfig`], for a service's "print default config" command.
pub const COMMENTED_DEFAULT: &str = r#"# Awaab's Law clock.

# Bank holidays announced after this build's calendar data, or cancelled.
# [[calendar.add]]
# date = "2027-06-07"
# title = "Extra bank holiday"
# [[calendar.remove]]
# date = "2027-05-31"
# reason = "moved by proclamation"

# Dates of effect for phases of Awaab's Law (England, social) whose date is unverified or
# not yet set.
[rules.phase_effective]
# phase_2 = "2026-11-30"
# phase_3 = "2027-10-01"

# The same for the other laws, by law id, e.g. a date for Awaab's Law in privately rented
# homes in England once it is set:
# [laws.england-private-rented.phase_effective]
# in_force = "2027-10-01"

# Bank holidays of other divisions' calendars, by gov.uk division:
# [[calendars.scotland.add]]
# date = "2027-06-14"
# title = "Extra bank holiday"

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
    /// England & Wales bank holidays added or removed.
    pub calendar: CalendarOverrides,
    /// Phase dates of effect of Awaab's Law (England, social).
    pub rules: RulesOverrides,
    /// Other divisions' bank holidays added or removed, by gov.uk division (`scotland`).
    pub calendars: BTreeMap<String, CalendarOverrides>,
    /// Other laws' phase dates of effect, by law id (`england-private-rented`, ...).
    pub laws: BTreeMap<String, RulesOverrides>,
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
    /// The same thing is configured in two places.
    #[error("{what} is configured twice: {hint}")]
    Repeated {
        /// What.
        what: String,
        /// Where it belongs.
        hint: &'static str,
    },
}

/// Everything a deadline computation needs, built once from configuration.
///
/// `calendar` and `rules` are England & Wales' calendar and England's social-housing law
/// (Awaab's Law), as before homes had a jurisdiction; `laws` and `calendars` hold every law
/// and every division's calendar, those two included, configured alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    /// The England & Wales working-day calendar.
    pub calendar: Calendar,
    /// Awaab's Law (England, social) steps and phases.
    pub rules: AwaabRules,
    /// Status thresholds.
    pub status: StatusPolicy,
    /// Every law, configured.
    pub laws: LawBook,
    /// Every division's calendar, configured, by gov.uk division.
    pub calendars: BTreeMap<String, Calendar>,
}

/// The data files a [`Clock`] is built from, as text: every law file and every division's
/// calendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockSources<'a> {
    /// Law data files (`data/awaab.toml` and the others).
    pub laws: Vec<&'a str>,
    /// Calendar data files, one per gov.uk division.
    pub calendars: Vec<&'a str>,
}

impl ClockSources<'static> {
    /// The files compiled into the crate.
    pub fn embedded() -> Self {
        ClockSources {
            laws: EMBEDDED_LAW_FILES.to_vec(),
            calendars: vec![EMBEDDED_CALENDAR_DATA, EMBEDDED_SCOTLAND_CALENDAR_DATA],
        }
    }
}

impl ClockSources<'_> {
    /// The calendar of `division` from its data file.
    fn calendar(&self, division: &str) -> Result<Calendar, CalendarError> {
        for text in &self.calendars {
            let data = CalendarData::from_toml(text)?;
            if data.division == division {
                return Ok(Calendar::from_data(data));
            }
        }
        Err(CalendarError::UnknownDivision {
            division: division.to_owned(),
            known: self.divisions()?.join(", "),
        })
    }

    fn divisions(&self) -> Result<Vec<String>, CalendarError> {
        self.calendars.iter().map(|text| Ok(CalendarData::from_toml(text)?.division)).collect()
    }
}

/// A home's step deadlines, or why no statutory clock runs for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "clock", rename_all = "snake_case")]
pub enum TenancyDeadlines {
    /// The law's clock runs.
    Runs {
        /// The law (its id).
        law: String,
        /// The law's version.
        rules_version: String,
        /// The calendar version.
        calendar_version: String,
        /// The track the steps run on (an urgent case under a law without an emergency
        /// track runs on its one timetable).
        track: Track,
        /// Every step of the track, in order.
        steps: Vec<StepDeadline>,
    },
    /// No statutory clock.
    None(NoClock),
}

impl Clock {
    /// The built-in calendars and laws with `config` applied; `govuk_json` is the text of a
    /// gov.uk `bank-holidays.json` to use for the years it covers, each calendar reading its
    /// own division (the caller reads the file).
    pub fn from_config(config: &ClockConfig, govuk_json: Option<&str>) -> Result<Self, ConfigError> {
        Self::from_sources(config, govuk_json, &ClockSources::embedded())
    }

    /// The clock of `sources` (law and calendar data files, as text) with `config` applied:
    /// what [`Clock::from_config`] does with the files compiled into the crate, for a caller
    /// that holds the data files a computation used (an evidence pack recomputing its
    /// deadlines). England's social-housing law is the law file for that tenancy.
    pub fn from_sources(
        config: &ClockConfig,
        govuk_json: Option<&str>,
        sources: &ClockSources<'_>,
    ) -> Result<Self, ConfigError> {
        if config.calendars.contains_key(DIVISION) {
            return Err(ConfigError::Repeated {
                what: format!("the {DIVISION} calendar"),
                hint: "its additions and removals go in [calendar]",
            });
        }
        let book = LawBook::from_laws(
            sources.laws.iter().map(|text| AwaabRules::from_toml(text)).collect::<Result<_, _>>()?,
        )?;
        let rules = book
            .law(Tenancy::ENGLAND_SOCIAL)
            .cloned()
            .ok_or_else(|| RulesError::InvalidData {
                reason: "no law file covers social homes in England".to_owned(),
            })?
            .with_overrides(&config.rules)?;
        if config.laws.contains_key(rules.id()) {
            return Err(ConfigError::Repeated {
                what: format!("law {}", rules.id()),
                hint: "its phase dates go in [rules.phase_effective]",
            });
        }
        let laws = book.with_overrides(&config.laws)?.with_law(rules.clone())?;
        let mut calendars = BTreeMap::new();
        let divisions = laws.laws().iter().map(|l| l.working_day().calendar.clone());
        for division in divisions.chain([DIVISION.to_owned()]).chain(config.calendars.keys().cloned()) {
            if calendars.contains_key(&division) {
                continue;
            }
            let mut calendar = sources.calendar(&division)?;
            if let Some(json) = govuk_json {
                calendar = calendar.with_govuk_import(json)?;
            }
            let overrides = match division.as_str() {
                DIVISION => config.calendar.clone(),
                other => config.calendars.get(other).cloned().unwrap_or_default(),
            };
            calendars.insert(division, calendar.with_overrides(overrides)?);
        }
        let calendar = calendars.get(DIVISION).cloned().ok_or_else(|| CalendarError::UnknownDivision {
            division: DIVISION.to_owned(),
            known: calendars.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        Ok(Clock { calendar, rules, status: config.status, laws, calendars })
    }

    /// Every step deadline of `track` under Awaab's Law (England, social) (see
    /// [`deadlines_for_track`]).
    pub fn deadlines(&self, track: Track, triggers: &Triggers) -> Result<Vec<StepDeadline>, DeadlineError> {
        deadlines_for_track(track, triggers, &self.calendar, &self.rules)
    }

    /// The law covering homes of `tenancy`, with the calendar its working days use.
    pub fn law(&self, tenancy: Tenancy) -> Result<Option<(&AwaabRules, &Calendar)>, DeadlineError> {
        if tenancy == Tenancy::ENGLAND_SOCIAL {
            return Ok(Some((&self.rules, &self.calendar)));
        }
        let Some(law) = self.laws.law(tenancy) else {
            return Ok(None);
        };
        Ok(Some((law, self.calendar_for(law)?)))
    }

    /// The calendar whose working days `law` counts.
    pub fn calendar_for(&self, law: &AwaabRules) -> Result<&Calendar, DeadlineError> {
        let division = &law.working_day().calendar;
        self.calendars.get(division).ok_or_else(|| {
            DeadlineError::Calendar(CalendarError::UnknownDivision {
                division: division.clone(),
                known: self.calendars.keys().cloned().collect::<Vec<_>>().join(", "),
            })
        })
    }

    /// The law whose clock runs for a home of `tenancy` whose landlord became aware on
    /// `aware_on` (a Europe/London date), or why none does (see [`LawBook::applicable`]).
    pub fn applicable(&self, tenancy: Tenancy, aware_on: NaiveDate) -> Applicability<'_> {
        if tenancy == Tenancy::ENGLAND_SOCIAL && self.rules.in_effect_on(aware_on) {
            return Applicability::Clock(&self.rules);
        }
        self.laws.applicable(tenancy, aware_on)
    }

    /// Every step deadline for a home of `tenancy` triaged onto `track`, or why no statutory
    /// clock runs (no law for the home, or its law not in effect on the awareness date).
    pub fn deadlines_in(
        &self,
        tenancy: Tenancy,
        track: Track,
        triggers: &Triggers,
    ) -> Result<TenancyDeadlines, DeadlineError> {
        let law = match self.applicable(tenancy, local_date(triggers.awareness)) {
            Applicability::NoClock(no_clock) => return Ok(TenancyDeadlines::None(no_clock)),
            Applicability::Clock(law) => law,
        };
        let calendar = self.calendar_for(law)?;
        let track = law.track_for(track);
        Ok(TenancyDeadlines::Runs {
            law: law.id().to_owned(),
            rules_version: law.version().to_owned(),
            calendar_version: calendar.version().to_owned(),
            track,
            steps: deadlines_for_track(track, triggers, calendar, law)?,
        })
    }

    /// A case's steps with due times and statuses as of `now`, under the law of its home's
    /// jurisdiction and tenure (see [`Case::view`]); for a home no law covers, the record and
    /// why there is no clock (see [`Case::view_without_law`]). When the law is not in effect
    /// on the awareness date the view says why in `no_clock`, and its steps are not required.
    pub fn view(&self, case: &Case, now: DateTime<Utc>) -> Result<CaseView, DeadlineError> {
        let tenancy = case.tenancy();
        let no_clock = case.awareness().and_then(|aware| match self.applicable(tenancy, local_date(aware)) {
            Applicability::NoClock(no_clock) => Some(no_clock),
            Applicability::Clock(_) => None,
        });
        match self.law(tenancy)? {
            Some((law, calendar)) => {
                let mut view = case.view(now, calendar, law, &self.status)?;
                view.no_clock = no_clock;
                Ok(view)
            }
            None => {
                let no_clock = LawBook::no_law(tenancy);
                Ok(case.view_without_law(now, &self.calendar, &self.status, no_clock))
            }
        }
    }

    /// Everything a stored deadline's computation depends on, as one short fingerprint: every
    /// law's and calendar's version and the status policy. Stored deadlines computed under
    /// another basis are recomputed before anything reads them as current.
    pub fn basis(&self) -> String {
        let mut canonical = String::new();
        for law in self.laws.laws() {
            canonical.push_str(&format!("law {} {}\n", law.id(), law.version()));
        }
        canonical.push_str(&format!("calendar {}\n", self.calendar.version()));
        for (division, calendar) in &self.calendars {
            canonical.push_str(&format!("calendar {division} {}\n", calendar.version()));
        }
        let s = &self.status;
        canonical.push_str(&format!(
            "status {} {} {}\n",
            s.due_soon_fraction, s.due_soon_working_days, s.triage_review_hours
        ));
        fingerprint(&canonical)
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
    fn a_clock_from_given_data_files_computes_with_them() {
        let embedded = ClockSources::embedded();
        let from_files = Clock::from_sources(&ClockConfig::default(), None, &embedded).expect("builds");
        assert_eq!(from_files, Clock::from_config(&ClockConfig::default(), None).expect("builds"));

        // The same law with a longer investigation period: the deadline moves with the file.
        let longer = embedded.laws[0].replace("amount = 10", "amount = 12");
        assert_ne!(longer, embedded.laws[0]);
        let mut sources = embedded.clone();
        sources.laws[0] = &longer;
        let clock = Clock::from_sources(&ClockConfig::default(), None, &sources).expect("builds");
        let aware = "2026-12-01T10:00:00Z".parse().unwrap();
        let triggers = Triggers { awareness: aware, investigation_concluded: None };
        let due = |c: &Clock| match &c.deadlines(Track::Significant, &triggers).unwrap()[0] {
            crate::StepDeadline::Computed(d) => d.due,
            other => panic!("{other:?}"),
        };
        assert!(due(&clock) > due(&from_files));

        let without_england =
            ClockSources { laws: embedded.laws[1..].to_vec(), calendars: embedded.calendars.clone() };
        assert!(Clock::from_sources(&ClockConfig::default(), None, &without_england).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ClockConfig>("[status]\ndue_soon = 1\n").is_err());
    }

    #[test]
    fn the_default_clock_has_every_law_and_its_calendar() {
        let clock = Clock::from_config(&ClockConfig::default(), None).expect("builds");
        let ids: Vec<&str> = clock.laws.laws().iter().map(|l| l.id()).collect();
        assert_eq!(
            ids,
            ["england-social", "england-private-rented", "scotland-private-rented", "scotland-social"]
        );
        let divisions: Vec<&str> = clock.calendars.keys().map(String::as_str).collect();
        assert_eq!(divisions, ["england-and-wales", "scotland"]);
        assert_eq!(clock.calendars["scotland"].version(), "sc-2026-12");
    }

    #[test]
    fn other_laws_and_calendars_are_configured_by_id_and_division() {
        let text = r#"
            [laws.england-private-rented.phase_effective]
            in_force = "2027-10-01"
            [[calendars.scotland.add]]
            date = "2027-06-14"
            title = "Extra bank holiday"
        "#;
        let config: ClockConfig = toml::from_str(text).expect("valid TOML");
        let clock = Clock::from_config(&config, None).expect("builds");
        let prs = clock.laws.by_id("england-private-rented").expect("law");
        assert_eq!(prs.version(), "england-prs-2026-12+in_force@2027-10-01");
        assert!(clock.calendars["scotland"].is_bank_holiday(NaiveDate::from_ymd_opt(2027, 6, 14).unwrap()));
        assert!(!clock.calendar.is_bank_holiday(NaiveDate::from_ymd_opt(2027, 6, 14).unwrap()));

        let unknown: ClockConfig =
            toml::from_str("[laws.wales-social.phase_effective]\nin_force = \"2027-01-01\"\n").unwrap();
        let err = Clock::from_config(&unknown, None).expect_err("no such law");
        assert!(err.to_string().contains("unknown law \"wales-social\""), "{err}");
        let twice: ClockConfig =
            toml::from_str("[laws.england-social.phase_effective]\nphase_3 = \"2027-01-01\"\n").unwrap();
        assert!(matches!(Clock::from_config(&twice, None), Err(ConfigError::Repeated { .. })));
    }
}
