//! Awaab's Law as data: the response steps, their periods and triggers, and the phases that
//! decide which hazards each track covers on a given date.
//!
//! The embedded `data/awaab.toml` is the default. Phase dates that are unverified or not yet
//! set are changed through [`RulesOverrides`], which also changes the rules version.

mod phase;
mod step;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::hazard::{Hazard, TAXONOMY_VERSION};

pub use phase::{DateOrigin, HazardSet, Phase};
pub use step::{Basis, StepCondition, StepName, StepRule, Track, Trigger, UnknownStep};

/// The rules data compiled into the crate.
pub const EMBEDDED_RULES_DATA: &str = include_str!("../../data/awaab.toml");

/// Why the rules could not be loaded or configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The rules data file is not valid TOML of the expected shape.
    #[error("Awaab's Law rules data is invalid: {reason}")]
    InvalidData {
        /// What is wrong.
        reason: String,
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

/// The rules in force: steps, phases, and the version every deadline records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaabRules {
    data_version: String,
    version: String,
    title: String,
    source: String,
    steps: Vec<StepRule>,
    phases: Vec<Phase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    version: String,
    title: String,
    source: String,
    taxonomy: String,
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
    /// The rules compiled into the crate.
    pub fn embedded() -> Result<Self, RulesError> {
        Self::from_toml(EMBEDDED_RULES_DATA)
    }

    /// Parse and check a rules data file.
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
        if let Some(missing) = StepName::ALL.iter().find(|n| !seen.contains(n)) {
            return Err(invalid(format!("step {missing} is missing")));
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
            data_version: file.version.clone(),
            version: file.version,
            title: file.title,
            source: file.source,
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
            None => format!("{hazard} on the {track} track is outside Awaab's Law in every phase"),
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
}
