//! Phases: which hazards each track covers, from which date.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;

use crate::hazard::Hazard;

/// A set of hazards as the rules data states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardSet {
    /// Exactly these hazards.
    Hazards(BTreeSet<Hazard>),
    /// Every hazard except these.
    AllExcept(BTreeSet<Hazard>),
}

impl HazardSet {
    /// Does the set include `hazard`?
    pub fn contains(&self, hazard: Hazard) -> bool {
        match self {
            HazardSet::Hazards(set) => set.contains(&hazard),
            HazardSet::AllExcept(set) => !set.contains(&hazard),
        }
    }
}

/// Where a phase's date of effect comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrigin {
    /// The rules data (see `verified`).
    Data,
    /// Configuration, set by the operator.
    Configuration,
}

/// A phase of Awaab's Law.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    /// Identifier, e.g. `phase_2`.
    pub id: String,
    /// Date of effect; `None` means not yet set, so the phase never applies.
    pub effective: Option<NaiveDate>,
    /// Where `effective` comes from.
    pub date_origin: DateOrigin,
    /// Whether the data's date is confirmed by legislation; an unverified date is shown as
    /// UNVERIFIED.
    pub verified: bool,
    /// The source, or the note saying why the date is unverified.
    pub source: String,
    /// Hazards this phase brings into the emergency track.
    pub emergency: Option<HazardSet>,
    /// Hazards this phase brings into the significant track.
    pub significant: Option<HazardSet>,
}

impl Phase {
    /// Is the phase in effect on `date`?
    pub fn in_effect_on(&self, date: NaiveDate) -> bool {
        self.effective.is_some_and(|e| e <= date)
    }

    /// `2026-11-30 (UNVERIFIED)`, `2025-10-27`, `date to be set`, `2027-10-01 (configured)`.
    pub fn date_label(&self) -> String {
        match (self.effective, self.date_origin, self.verified) {
            (None, _, _) => "date to be set".to_owned(),
            (Some(d), DateOrigin::Configuration, _) => format!("{d} (configured)"),
            (Some(d), DateOrigin::Data, true) => d.to_string(),
            (Some(d), DateOrigin::Data, false) => format!("{d} (UNVERIFIED)"),
        }
    }
}
