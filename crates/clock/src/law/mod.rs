//! The laws as data: for each jurisdiction and tenure, the response steps, their periods and
//! triggers, the working-day definition and its calendar, and the phases that decide which
//! hazards each track covers on a given date.
//!
//! One file per law: `data/awaab.toml` (England, social: Awaab's Law),
//! `data/england-private-rented.toml` (England, private rented: no date of effect yet),
//! `data/scotland-private-rented.toml` and `data/scotland-social.toml` (the Investigation and
//! Commencement of Repair (Scotland) Regulations 2026). Wales has no file: no statutory clock.
//! [`LawBook`] holds them all and picks the one that applies to a home on a date. Phase dates
//! that are unverified or not yet set are changed through [`RulesOverrides`], which also
//! changes the law's version.

mod book;
mod phase;
mod step;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::hazard::{Hazard, TAXONOMY_VERSION};
use crate::jurisdiction::{Jurisdiction, Tenancy, Tenure};

pub use book::{Applicability, LawBook, NoClock, NoClockReason, EMBEDDED_LAW_FILES};
pub use phase::{DateOrigin, HazardSet, Phase};
pub use step::{Basis, StepCondition, StepName, StepRule, StepWaiver, Track, Trigger, UnknownStep};

/// The rules data of England's social-housing law (Awaab's Law) compiled into the crate.
pub const EMBEDDED_RULES_DATA: &str = include_str!("../../data/awaab.toml");

/// Why the rules could not be loaded or configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The rules data file is not valid TOML of the expected shape.
    #[error("law data is invalid: {reason}")]
    InvalidData {
        /// What is wrong.
        reason: String,
    },
    /// Configuration names a law the data does not have.
    #[error("unknown law {law:?} in configuration; known laws: {known}")]
    UnknownLaw {
        /// The id given.
        law: String,
        /// The ids the data has.
        known: String,
    },
    /// Two law files claim the same id or the same jurisdiction and tenure.
    #[error("two law files for {what}")]
    DuplicateLaw {
        /// The id or the tenancy claimed twice.
        what: String,
    },
    /// A phase override names a phase the data does not have.
    #[error("unknown phase {phase:?} in configuration; known phases: {known}")]
    UnknownPhase {
        /// The name given.
        phase: String,
        /// The phases the data has.
        known: String,
    },
}

/// Operator configuration for the rules: dates of effect for phases whose date is
/// unverified or not yet set, e.g.
///
/// ```toml
/// [phase_effective]
/// phase_3 = "2027-10-01"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesOverrides {
    /// Phase id → date of effect.
    pub phase_effective: BTreeMap<String, NaiveDate>,
}

/// Whether Awaab's Law covers a hazard on a track on a given date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Scope {
    /// Covered, by this phase.
    InScope {
        /// The phase that brings the hazard in.
        phase: String,
        /// Its date of effect, labelled (`2026-11-30 (UNVERIFIED)`).
        effective: String,
        /// Whether that date is verified or configured (not only from secondary sources).
        verified: bool,
    },
    /// Not covered; the reason says whether and when it will be.
    OutOfScope {
        /// Why, for people.
        reason: String,
    },
}

impl Scope {
    /// Is the hazard covered?
    pub fn applies(&self) -> bool {
        matches!(self, Scope::InScope { .. })
    }
}

/// What a law counts as a working day, and the calendar whose bank holidays it excludes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingDayDefinition {
    /// The gov.uk division of the calendar whose bank holidays are not working days
    /// (`england-and-wales`, `scotland`).
    pub calendar: String,
    /// The definition in words.
    pub definition: String,
    /// Where the law defines it, or why that is not yet confirmed.
    pub source: String,
    /// Whether the definition was read in the instrument's own text; an unverified
    /// definition is shown as UNVERIFIED.
    pub verified: bool,
}

/// The rules of one law: who it covers, its steps, working days and phases, and the version
/// every deadline records. Despite the name (kept for the callers that predate other laws),
/// it holds any law file: Awaab's Law or Scotland's regulations alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaabRules {
    id: String,
    name: String,
    tenancy: Tenancy,
    data_version: String,
    version: String,
    title: String,
    source: String,
    working_day: WorkingDayDefinition,
    triage: TriageTracks,
    steps: Vec<StepRule>,
    phases: Vec<Phase>,
}

/// Which track a case triaged as emergency or significant runs on (a law without an
/// emergency track runs urgent cases on its one timetable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriageTracks {
    #[serde(default)]
    emergency: Option<Track>,
    #[serde(default)]
    significant: Option<Track>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    id: String,
    name: String,
    version: String,
    title: String,
    source: String,
    taxonomy: String,
    jurisdiction: Jurisdiction,
    tenure: Tenure,
    #[serde(default)]
    triage: TriageTracks,
    working_day: WorkingDayDefinition,
    step: Vec<StepEntry>,
    phase: Vec<PhaseEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepEntry {
    name: StepName,
    tracks: Vec<Track>,
    basis: Basis,
    amount: u32,
    counted_from: Vec<Trigger>,
    #[serde(default)]
    applies_when: Option<StepCondition>,
    description: String,
    source: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    waived_when: Option<StepWaiver>,
    #[serde(default)]
    alternative_accommodation_on_expiry: bool,
    #[serde(default)]
    unable_to_comply: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseEntry {
    id: String,
    #[serde(default)]
    effective: Option<NaiveDate>,
    verified: bool,
    source: String,
    #[serde(default)]
    emergency: Option<HazardSetEntry>,
    #[serde(default)]
    significant: Option<HazardSetEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum HazardSetEntry {
    Hazards(Vec<Hazard>),
    AllExcept(Vec<Hazard>),
}

impl From<HazardSetEntry> for HazardSet {
    fn from(entry: HazardSetEntry) -> Self {
        match entry {
            HazardSetEntry::Hazards(h) => HazardSet::Hazards(h.into_iter().collect()),
            HazardSetEntry::AllExcept(h) => HazardSet::AllExcept(h.into_iter().collect()),
        }
    }
}

impl AwaabRules {
    /// England's social-housing rules (Awaab's Law) compiled into the crate.
    pub fn embedded() -> Result<Self, RulesError> {
        Self::from_toml(EMBEDDED_RULES_DATA)
    }

    /// Parse and check a law data file.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let invalid = |reason: String| RulesError::InvalidData { reason };
        let file: RulesFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if file.taxonomy != TAXONOMY_VERSION {
            return Err(invalid(format!(
                "taxonomy {:?}, this build knows {TAXONOMY_VERSION:?}",
                file.taxonomy
            )));
        }
        let mut seen = BTreeSet::new();
        for entry in &file.step {
            if !seen.insert(entry.name) {
                return Err(invalid(format!("step {} is defined twice", entry.name)));
            }
            if entry.amount == 0 || entry.tracks.is_empty() || entry.counted_from.is_empty() {
                return Err(invalid(format!("step {} needs an amount, tracks and counted_from", entry.name)));
            }
        }
        // Every track a triaged case can run on starts with a step counted from awareness:
        // without one the statutory clock would never start.
        let runs_on = |track: Track| match track {
            Track::Emergency => file.triage.emergency.unwrap_or(Track::Emergency),
            Track::Significant => file.triage.significant.unwrap_or(Track::Significant),
        };
        for track in [Track::Emergency, Track::Significant].map(runs_on) {
            let starts =
                |s: &&StepEntry| s.tracks.contains(&track) && s.counted_from.contains(&Trigger::Awareness);
            if !file.step.iter().any(|s| starts(&s)) {
                return Err(invalid(format!("the {track} track has no step counted from awareness")));
            }
        }
        if file.id.trim().is_empty() || file.working_day.calendar.trim().is_empty() {
            return Err(invalid("a law needs an `id` and a working-day `calendar`".to_owned()));
        }
        let mut ids = BTreeSet::new();
        if let Some(dup) = file.phase.iter().find(|p| !ids.insert(p.id.clone())) {
            return Err(invalid(format!("phase {} is defined twice", dup.id)));
        }
        let steps = file
            .step
            .into_iter()
            .map(|s| StepRule {
                name: s.name,
                tracks: s.tracks,
                basis: s.basis,
                amount: s.amount,
                counted_from: s.counted_from,
                applies_when: s.applies_when,
                description: s.description,
                source: s.source,
                note: s.note,
                waived_when: s.waived_when,
                alternative_accommodation_on_expiry: s.alternative_accommodation_on_expiry,
                unable_to_comply: s.unable_to_comply,
            })
            .collect();
        let phases = file
            .phase
            .into_iter()
            .map(|p| Phase {
                id: p.id,
                effective: p.effective,
                date_origin: DateOrigin::Data,
                verified: p.verified,
                source: p.source,
                emergency: p.emergency.map(HazardSet::from),
                significant: p.significant.map(HazardSet::from),
            })
            .collect();
        Ok(AwaabRules {
            id: file.id,
            name: file.name,
            tenancy: Tenancy::new(file.jurisdiction, file.tenure),
            data_version: file.version.clone(),
            version: file.version,
            title: file.title,
            source: file.source,
            working_day: file.working_day,
            triage: file.triage,
            steps,
            phases,
        })
    }

    /// These rules with phase dates from configuration. The version gains
    /// `+phase_3@2027-10-01` for each configured date.
    pub fn with_overrides(mut self, overrides: &RulesOverrides) -> Result<Self, RulesError> {
        let mut version = self.data_version.clone();
        for (id, date) in &overrides.phase_effective {
            let known = self.phases.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ");
            let phase = self
                .phases
                .iter_mut()
                .find(|p| &p.id == id)
                .ok_or_else(|| RulesError::UnknownPhase { phase: id.clone(), known })?;
            phase.effective = Some(*date);
            phase.date_origin = DateOrigin::Configuration;
            version.push_str(&format!("+{id}@{date}"));
        }
        self.version = version;
        Ok(self)
    }

    /// The law's identifier: its key in configuration (`england-social`,
    /// `scotland-private-rented`, ...).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The law's short name, for sentences: `Awaab's Law`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The jurisdiction and tenure the law covers.
    pub fn tenancy(&self) -> Tenancy {
        self.tenancy
    }

    /// What the law counts as a working day, and on which calendar.
    pub fn working_day(&self) -> &WorkingDayDefinition {
        &self.working_day
    }

    /// The track a case triaged onto `triaged` runs on under this law: the same track, unless
    /// the law has no such track (Scotland's regulations have one timetable for all damp and
    /// mould, so an urgent case runs on it too).
    pub fn track_for(&self, triaged: Track) -> Track {
        match triaged {
            Track::Emergency => self.triage.emergency.unwrap_or(Track::Emergency),
            Track::Significant => self.triage.significant.unwrap_or(Track::Significant),
        }
    }

    /// The earliest date of effect of any phase, and that phase: the day the law starts to
    /// apply. `None` while no phase has a date (not yet in force, date to be set).
    pub fn date_of_effect(&self) -> Option<&Phase> {
        self.phases.iter().filter(|p| p.effective.is_some()).min_by_key(|p| p.effective)
    }

    /// Is the law in effect for a landlord who became aware on `aware_on` (a Europe/London
    /// date)?
    pub fn in_effect_on(&self, aware_on: NaiveDate) -> bool {
        self.phases.iter().any(|p| p.in_effect_on(aware_on))
    }

    /// The version every deadline records.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The regulations' title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Where the regulations are published.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every step, in data order.
    pub fn steps(&self) -> &[StepRule] {
        &self.steps
    }

    /// The definition of one step.
    pub fn step(&self, name: StepName) -> Option<&StepRule> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The steps of a track, in data order.
    pub fn steps_for(&self, track: Track) -> impl Iterator<Item = &StepRule> {
        self.steps.iter().filter(move |s| s.on_track(track))
    }

    /// Every phase, in data order.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// Does Awaab's Law cover `hazard` on `track` for a landlord who became aware on `aware_on`
    /// (a Europe/London date)?
    pub fn scope(&self, track: Track, hazard: Hazard, aware_on: NaiveDate) -> Scope {
        let covering = |p: &&Phase| {
            let set = match track {
                Track::Emergency => &p.emergency,
                Track::Significant => &p.significant,
            };
            set.as_ref().is_some_and(|s| s.contains(hazard))
        };
        if let Some(phase) = self.phases.iter().filter(|p| p.in_effect_on(aware_on)).find(covering) {
            return Scope::InScope {
                phase: phase.id.clone(),
                effective: phase.date_label(),
                verified: phase.verified || phase.date_origin == DateOrigin::Configuration,
            };
        }
        let reason = match self.phases.iter().find(covering) {
            Some(later) => format!(
                "{hazard} on the {track} track is covered from {} ({}); awareness on {aware_on} is before that",
                later.id,
                later.date_label()
            ),
            None => format!("{hazard} on the {track} track is outside {} in every phase", self.name),
        };
        Scope::OutOfScope { reason }
    }

    /// Every hazard covered on `track` for awareness on `aware_on`.
    pub fn hazards_in_scope(&self, track: Track, aware_on: NaiveDate) -> BTreeSet<Hazard> {
        Hazard::ALL.iter().copied().filter(|h| self.scope(track, *h, aware_on).applies()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn embedded_rules_load_with_every_step() {
        let rules = AwaabRules::embedded().expect("embedded rules");
        assert_eq!(rules.version(), "awaab-2026-11");
        let names = |t| rules.steps_for(t).map(|s| s.name.as_str()).collect::<Vec<_>>();
        assert_eq!(
            names(Track::Significant),
            ["investigate", "written_summary", "safety_work", "preventative_start", "preventative_backstop"]
        );
        assert_eq!(
            names(Track::Emergency),
            [
                "emergency_investigate",
                "emergency_make_safe",
                "written_summary",
                "preventative_start",
                "preventative_backstop"
            ]
        );
    }

    #[test]
    fn phase_3_never_applies_until_configured() {
        let rules = AwaabRules::embedded().unwrap();
        assert!(!rules.scope(Track::Significant, Hazard::Noise, d(2035, 1, 1)).applies());
        let configured = rules
            .with_overrides(&RulesOverrides {
                phase_effective: [("phase_3".to_owned(), d(2027, 10, 1))].into_iter().collect(),
            })
            .unwrap();
        assert_eq!(configured.version(), "awaab-2026-11+phase_3@2027-10-01");
        assert!(configured.scope(Track::Significant, Hazard::Noise, d(2027, 10, 1)).applies());
        assert!(!configured.scope(Track::Significant, Hazard::CrowdingAndSpace, d(2027, 10, 1)).applies());
    }

    #[test]
    fn unknown_phases_in_configuration_are_refused() {
        let err = AwaabRules::embedded()
            .unwrap()
            .with_overrides(&RulesOverrides {
                phase_effective: [("phase_9".to_owned(), d(2027, 1, 1))].into_iter().collect(),
            })
            .unwrap_err();
        assert!(err.to_string().contains("phase_1, phase_2, phase_3"), "{err}");
    }

    #[test]
    fn a_file_missing_a_step_is_refused() {
        let text = EMBEDDED_RULES_DATA.replace("name = \"safety_work\"", "name = \"investigate\"");
        assert!(matches!(AwaabRules::from_toml(&text), Err(RulesError::InvalidData { .. })));
    }

    #[test]
    fn a_track_without_a_step_from_awareness_is_refused() {
        let text = EMBEDDED_RULES_DATA.replace(
            "name = \"emergency_investigate\"\ntracks = [\"emergency\"]",
            "name = \"emergency_investigate\"\ntracks = [\"significant\"]",
        );
        assert_ne!(text, EMBEDDED_RULES_DATA);
        let text = text.replace(
            "counted_from = [\"awareness\", \"investigation_concluded\"]",
            "counted_from = [\"investigation_concluded\"]",
        );
        let err = AwaabRules::from_toml(&text).expect_err("the emergency clock would never start");
        assert!(err.to_string().contains("emergency track has no step counted from awareness"), "{err}");
    }

    #[test]
    fn england_social_is_awaabs_law_on_the_england_and_wales_calendar() {
        let rules = AwaabRules::embedded().unwrap();
        assert_eq!(rules.id(), "england-social");
        assert_eq!(rules.tenancy(), Tenancy::ENGLAND_SOCIAL);
        assert_eq!(rules.working_day().calendar, "england-and-wales");
        assert_eq!(rules.track_for(Track::Emergency), Track::Emergency);
        assert_eq!(rules.date_of_effect().and_then(|p| p.effective), Some(d(2025, 10, 27)));
        assert!(!rules.in_effect_on(d(2025, 10, 26)) && rules.in_effect_on(d(2025, 10, 27)));
    }
}
