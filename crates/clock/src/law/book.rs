//! Every law in the data, and the choice of the one whose clock runs for a home: by its
//! jurisdiction and tenure and the Europe/London date the landlord became aware.
//!
//! Two answers are not errors but facts a housing officer needs to see: no law covers the home
//! at all (Wales), or its law is not in effect on that date (before its date of effect, or no
//! date set yet). Both come back as [`NoClock`] with the reason.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{AwaabRules, RulesError, RulesOverrides};
use crate::jurisdiction::Tenancy;
use crate::london::format_date;

/// Every law file compiled into the crate: England social (Awaab's Law), England private
/// rented (no date of effect yet), Scotland private rented and Scotland social (the
/// Investigation and Commencement of Repair (Scotland) Regulations 2026).
pub const EMBEDDED_LAW_FILES: [&str; 4] = [
    include_str!("../../data/awaab.toml"),
    include_str!("../../data/england-private-rented.toml"),
    include_str!("../../data/scotland-private-rented.toml"),
    include_str!("../../data/scotland-social.toml"),
];

/// Why no statutory clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoClockReason {
    /// No law in the data covers the home's jurisdiction and tenure (Wales).
    NoLaw,
    /// The law has no date of effect yet (none in its data, none configured).
    DateNotSet,
    /// The landlord became aware before the law's date of effect.
    BeforeDateOfEffect,
}

impl NoClockReason {
    /// The identifier used in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            NoClockReason::NoLaw => "no_law",
            NoClockReason::DateNotSet => "date_not_set",
            NoClockReason::BeforeDateOfEffect => "before_date_of_effect",
        }
    }
}

impl fmt::Display for NoClockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// No statutory clock runs for a home on a date, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoClock {
    /// The home's jurisdiction and tenure.
    pub tenancy: Tenancy,
    /// The law that covers it but is not in effect, if there is one (its id).
    pub law: Option<String>,
    /// Which kind of answer this is.
    pub why: NoClockReason,
    /// The reason, for people.
    pub reason: String,
}

/// The law whose clock runs, or why none does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applicability<'a> {
    /// This law applies: its steps and periods run (each hazard's scope is still judged by
    /// its phases, see [`AwaabRules::scope`]).
    Clock(&'a AwaabRules),
    /// No statutory clock.
    NoClock(NoClock),
}

impl<'a> Applicability<'a> {
    /// The law, when one applies.
    pub fn law(&self) -> Option<&'a AwaabRules> {
        match self {
            Applicability::Clock(law) => Some(law),
            Applicability::NoClock(_) => None,
        }
    }
}

/// Every law, keyed by id and by the jurisdiction and tenure it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LawBook {
    laws: Vec<AwaabRules>,
}

impl LawBook {
    /// Every law file compiled into the crate.
    pub fn embedded() -> Result<Self, RulesError> {
        Self::from_laws(
            EMBEDDED_LAW_FILES.iter().map(|text| AwaabRules::from_toml(text)).collect::<Result<_, _>>()?,
        )
    }

    /// A book of these laws: one per id and one per jurisdiction and tenure.
    pub fn from_laws(laws: Vec<AwaabRules>) -> Result<Self, RulesError> {
        for (i, law) in laws.iter().enumerate() {
            for earlier in &laws[..i] {
                if earlier.id() == law.id() {
                    return Err(RulesError::DuplicateLaw { what: format!("id {:?}", law.id()) });
                }
                if earlier.tenancy() == law.tenancy() {
                    return Err(RulesError::DuplicateLaw { what: law.tenancy().to_string() });
                }
            }
        }
        Ok(LawBook { laws })
    }

    /// These laws with phase dates from configuration, by law id (see
    /// [`AwaabRules::with_overrides`]). An unknown id is refused.
    pub fn with_overrides(
        mut self,
        overrides: &BTreeMap<String, RulesOverrides>,
    ) -> Result<Self, RulesError> {
        for (id, law_overrides) in overrides {
            let known = self.laws.iter().map(AwaabRules::id).collect::<Vec<_>>().join(", ");
            let index = self
                .laws
                .iter()
                .position(|l| l.id() == id)
                .ok_or_else(|| RulesError::UnknownLaw { law: id.clone(), known })?;
            let law = self.laws.remove(index).with_overrides(law_overrides)?;
            self.laws.insert(index, law);
        }
        Ok(self)
    }

    /// This book with `law` in place of the law of the same id (an operator's configured
    /// copy, for instance).
    pub fn with_law(mut self, law: AwaabRules) -> Result<Self, RulesError> {
        let known = self.laws.iter().map(AwaabRules::id).collect::<Vec<_>>().join(", ");
        let slot = self
            .laws
            .iter_mut()
            .find(|l| l.id() == law.id())
            .ok_or_else(|| RulesError::UnknownLaw { law: law.id().to_owned(), known })?;
        *slot = law;
        Ok(self)
    }

    /// Every law, in data order.
    pub fn laws(&self) -> &[AwaabRules] {
        &self.laws
    }

    /// The law with this id.
    pub fn by_id(&self, id: &str) -> Option<&AwaabRules> {
        self.laws.iter().find(|l| l.id() == id)
    }

    /// The law covering homes of this jurisdiction and tenure, whatever the date.
    pub fn law(&self, tenancy: Tenancy) -> Option<&AwaabRules> {
        self.laws.iter().find(|l| l.tenancy() == tenancy)
    }

    /// The answer for a home no law in the data covers (Wales).
    pub fn no_law(tenancy: Tenancy) -> NoClock {
        NoClock {
            tenancy,
            law: None,
            why: NoClockReason::NoLaw,
            reason: format!(
                "no statutory response clock applies to {} homes in {}: the law data has no law for {tenancy}",
                tenancy.tenure.title(),
                tenancy.jurisdiction.title()
            ),
        }
    }

    /// The law whose clock runs for a home of `tenancy` whose landlord became aware on
    /// `aware_on` (a Europe/London date), or why none does.
    pub fn applicable(&self, tenancy: Tenancy, aware_on: NaiveDate) -> Applicability<'_> {
        let Some(law) = self.law(tenancy) else {
            return Applicability::NoClock(Self::no_law(tenancy));
        };
        if law.in_effect_on(aware_on) {
            return Applicability::Clock(law);
        }
        let no_clock = |why, reason| {
            Applicability::NoClock(NoClock { tenancy, law: Some(law.id().to_owned()), why, reason })
        };
        match law.date_of_effect() {
            None => no_clock(
                NoClockReason::DateNotSet,
                format!(
                    "{} ({}) has no date of effect yet: no clock runs until one is set in configuration \
                     ([laws.{}.phase_effective])",
                    law.name(),
                    law.title(),
                    law.id()
                ),
            ),
            Some(first) => no_clock(
                NoClockReason::BeforeDateOfEffect,
                format!(
                    "{} takes effect on {}; awareness on {} is before that",
                    law.name(),
                    first.date_label(),
                    format_date(aware_on)
                ),
            ),
        }
    }
}
