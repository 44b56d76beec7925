//! Occupant-aware rules: a home's recorded vulnerabilities (an occupant over 65, a child
//! under 5, a heart or lung condition) select stricter cold and heat rules.
//!
//! The law tests the risk to the people who actually live in the home, so the same 17 °C
//! that is only uncomfortable for a healthy adult is a hazard for someone aged 80. The
//! stricter rules are data (`data/occupants.toml`): each replaces one default rule for the
//! vulnerabilities it names, carries its own id, version, numbers and source, and says in its
//! basis whom it protects. The engine itself knows nothing of occupants: callers build one
//! [`EngineConfig`] per set of stricter rules a home's record selects
//! ([`OccupantRules::select`], [`OccupantRules::config_for`]). The vulnerabilities are health
//! data and are kept sealed; only the selection is kept in clear, so the rules and alerts name
//! the stricter rule and whom it protects, never which vulnerability a home records.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::EngineConfig;
use crate::rule::{Condition, Rule};

/// The occupant rules compiled into the crate.
pub const EMBEDDED_OCCUPANT_RULES: &str = include_str!("../data/occupants.toml");

/// A recorded vulnerability of a home's occupants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vulnerability {
    /// An occupant aged 65 or over.
    #[serde(rename = "over_65")]
    Over65,
    /// A child under 5.
    #[serde(rename = "under_5")]
    Under5,
    /// An occupant with a respiratory (lung) condition.
    RespiratoryCondition,
    /// An occupant with a cardiovascular (heart) condition.
    CardiovascularCondition,
}

impl Vulnerability {
    /// Every vulnerability, in a stable order.
    pub const ALL: [Vulnerability; 4] = [
        Vulnerability::Over65,
        Vulnerability::Under5,
        Vulnerability::RespiratoryCondition,
        Vulnerability::CardiovascularCondition,
    ];

    /// The identifier used in data, the database and the command line.
    pub fn slug(self) -> &'static str {
        match self {
            Vulnerability::Over65 => "over_65",
            Vulnerability::Under5 => "under_5",
            Vulnerability::RespiratoryCondition => "respiratory_condition",
            Vulnerability::CardiovascularCondition => "cardiovascular_condition",
        }
    }
}

impl fmt::Display for Vulnerability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// A vulnerability name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown vulnerability {0:?}; known: over_65, under_5, respiratory_condition, cardiovascular_condition"
)]
pub struct UnknownVulnerability(pub String);

impl FromStr for Vulnerability {
    type Err = UnknownVulnerability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('-', "_");
        Vulnerability::ALL
            .into_iter()
            .find(|v| v.slug() == wanted)
            .ok_or_else(|| UnknownVulnerability(s.to_owned()))
    }
}

/// Why the occupant rules data could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OccupantRulesError {
    /// Not valid TOML of the expected shape.
    #[error("occupant rules data is invalid: {0}")]
    Invalid(String),
    /// Every vulnerability needs a title, said once.
    #[error("occupant rules data: vulnerability {0} has no title, or has two")]
    Titles(Vulnerability),
    /// A stricter rule that applies to nobody, or two that replace the same rule.
    #[error("occupant rules data: stricter rule {0}: {1}")]
    Stricter(String, &'static str),
}

/// One stricter rule: which default rule it replaces, and for whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StricterRule {
    /// The id of the default rule it replaces.
    pub replaces: String,
    /// The vulnerabilities that select it (any one of them is enough).
    pub applies_to: BTreeSet<Vulnerability>,
    /// Where its numbers come from.
    pub source: String,
    /// The rule itself.
    pub rule: Rule,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TitleEntry {
    id: Vulnerability,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OccupantRulesFile {
    version: String,
    title: String,
    vulnerability: Vec<TitleEntry>,
    stricter: Vec<StricterRule>,
}

/// The stricter rules in force, and the version every alert raised under them records.
#[derive(Debug, Clone, PartialEq)]
pub struct OccupantRules {
    version: String,
    title: String,
    titles: BTreeMap<Vulnerability, String>,
    stricter: Vec<StricterRule>,
}

impl OccupantRules {
    /// The rules compiled into the crate.
    pub fn embedded() -> Result<Self, OccupantRulesError> {
        Self::from_toml(EMBEDDED_OCCUPANT_RULES)
    }

    /// Parse and check an occupant rules file.
    pub fn from_toml(text: &str) -> Result<Self, OccupantRulesError> {
        let file: OccupantRulesFile =
            toml::from_str(text).map_err(|e| OccupantRulesError::Invalid(e.to_string()))?;
        let mut titles = BTreeMap::new();
        for entry in file.vulnerability {
            if titles.insert(entry.id, entry.title).is_some() {
                return Err(OccupantRulesError::Titles(entry.id));
            }
        }
        if let Some(missing) = Vulnerability::ALL.into_iter().find(|v| !titles.contains_key(v)) {
            return Err(OccupantRulesError::Titles(missing));
        }
        let mut replaced = BTreeSet::new();
        for s in &file.stricter {
            if s.applies_to.is_empty() {
                return Err(OccupantRulesError::Stricter(s.rule.id.clone(), "applies to no vulnerability"));
            }
            if !replaced.insert(s.replaces.as_str()) {
                return Err(OccupantRulesError::Stricter(
                    s.rule.id.clone(),
                    "replaces a rule already replaced",
                ));
            }
            if s.rule.hazard != crate::rule::Hazard::ExcessCold
                && s.rule.hazard != crate::rule::Hazard::ExcessHeat
            {
                return Err(OccupantRulesError::Stricter(
                    s.rule.id.clone(),
                    "only cold and heat rules depend on occupants",
                ));
            }
        }
        Ok(OccupantRules { version: file.version, title: file.title, titles, stricter: file.stricter })
    }

    /// The data version, e.g. `occupants-2026-12`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The data's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Every stricter rule, in data order.
    pub fn stricter(&self) -> &[StricterRule] {
        &self.stricter
    }

    /// "an occupant aged 65 or over", as the data words it.
    pub fn describe(&self, vulnerability: Vulnerability) -> &str {
        self.titles.get(&vulnerability).map(String::as_str).unwrap_or_else(|| vulnerability.slug())
    }

    /// The ids of the stricter rules that `vulnerabilities` select (each rule any of whose
    /// vulnerabilities is recorded): what a home's record keeps in clear for the hazard worker
    /// (`dwellings.occupant_rules`), while the vulnerabilities themselves are sealed.
    pub fn select(&self, vulnerabilities: &BTreeSet<Vulnerability>) -> BTreeSet<String> {
        self.stricter
            .iter()
            .filter(|s| !s.applies_to.is_disjoint(vulnerabilities))
            .map(|s| s.rule.id.clone())
            .collect()
    }

    /// The ids among `names` (as a home's record keeps them) that are stricter rules of this
    /// data; a name it does not know selects nothing.
    pub fn known(&self, names: &[String]) -> BTreeSet<String> {
        names.iter().filter(|n| self.stricter.iter().any(|s| &s.rule.id == *n)).cloned().collect()
    }

    /// Who a stricter rule protects, as the data words it: "an occupant aged 65 or over, a
    /// child under 5, …".
    pub fn protects(&self, stricter: &StricterRule) -> String {
        let who: Vec<&str> = stricter.applies_to.iter().map(|v| self.describe(*v)).collect();
        match who.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => who.concat(),
        }
    }

    /// The engine configuration for a home whose record selects the stricter rules `selected`
    /// (their ids, from [`OccupantRules::select`]): `base` with each default rule replaced by
    /// the stricter rule selected, if any. Each stricter rule's basis says whom it protects
    /// (never which of them the home records: that stays sealed); the rule set version gains
    /// `+occupants-2026-12:cold.below_18c_vulnerable,…` so every alert can be traced to the
    /// rules that raised it. With nothing selected (or nothing that applies) `base`'s rules and
    /// version come back unchanged.
    ///
    /// A stricter rule replaces a default only when it is at least as strict ([`at_least_as_strict`]):
    /// an operator who tightened a default beyond it keeps theirs. Every stricter rule not in
    /// force, and every default one replaced, is kept as a tracked rule (it follows the readings
    /// and raises nothing), so every home's configuration tracks the same rules and a room whose
    /// home's record changes is judged at once with trackers that saw its readings.
    pub fn config_for(&self, base: &EngineConfig, selected: &BTreeSet<String>) -> EngineConfig {
        let mut config = base.clone();
        let mut applied = Vec::new();
        for stricter in &self.stricter {
            let Some(slot) = config.rules.iter_mut().find(|r| r.id == stricter.replaces) else {
                // The operator removed the default this tightens; nothing to make stricter.
                continue;
            };
            let mut rule = stricter.rule.clone();
            if !selected.contains(&rule.id) || !at_least_as_strict(&rule, slot) {
                config.tracked_rules.push(rule);
                continue;
            }
            rule.basis = format!(
                "{} Applies instead of {} because the home records an occupant it protects: {} ({}). \
                 Source: {}",
                rule.basis,
                stricter.replaces,
                self.protects(stricter),
                self.version,
                stricter.source
            );
            applied.push(rule.id.clone());
            config.tracked_rules.push(std::mem::replace(slot, rule));
        }
        if !applied.is_empty() {
            config.ruleset_version =
                format!("{}+{}:{}", base.ruleset_version, self.version, applied.join(","));
        }
        config
    }
}

/// Whether `stricter` raises at least whenever `default` does: both sustained, on the same
/// metric and in the same direction, with a threshold no further from the safe side and a
/// hold no longer. Anything else is not comparable, and the default stays.
fn at_least_as_strict(stricter: &Rule, default: &Rule) -> bool {
    match (&stricter.condition, &default.condition) {
        (
            Condition::Sustained { metric: m1, comparison: c1, threshold: t1, raise_after: r1, .. },
            Condition::Sustained { metric: m2, comparison: c2, threshold: t2, raise_after: r2, .. },
        ) if m1 == m2 && c1.is_upward() == c2.is_upward() => {
            let threshold_ok = if c1.is_upward() { t1 <= t2 } else { t1 >= t2 };
            threshold_ok && r1 <= r2
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{Comparison, Condition};

    fn threshold(config: &EngineConfig, id: &str) -> Option<f64> {
        config.rules.iter().find(|r| r.id == id).map(|r| match &r.condition {
            Condition::Sustained { threshold, comparison, .. } => {
                assert!(matches!(comparison, Comparison::Below | Comparison::Above));
                *threshold
            }
            other => panic!("{id} is not sustained: {other:?}"),
        })
    }

    #[test]
    fn the_embedded_data_loads_and_names_every_vulnerability() {
        let rules = OccupantRules::embedded().expect("embedded occupant rules");
        assert_eq!(rules.version(), "occupants-2026-12");
        assert_eq!(rules.describe(Vulnerability::Over65), "an occupant aged 65 or over");
        assert!(rules.stricter().iter().all(|s| !s.source.is_empty()));
    }

    fn over_65(rules: &OccupantRules) -> BTreeSet<String> {
        rules.select(&[Vulnerability::Over65].into_iter().collect())
    }

    #[test]
    fn each_vulnerability_selects_the_stricter_rules_that_name_it_and_the_selection_says_no_more() {
        let rules = OccupantRules::embedded().unwrap();
        let both: BTreeSet<String> =
            ["cold.below_18c_vulnerable", "heat.above_24c_vulnerable"].map(String::from).into();
        for v in Vulnerability::ALL {
            assert_eq!(rules.select(&[v].into_iter().collect()), both, "{v}");
        }
        assert!(rules.select(&BTreeSet::new()).is_empty());
        let stored = ["heat.above_24c_vulnerable".to_owned(), "gone.in_a_later_version".to_owned()];
        assert_eq!(rules.known(&stored), ["heat.above_24c_vulnerable".to_owned()].into());
    }

    #[test]
    fn a_home_without_vulnerabilities_keeps_the_default_rules_and_tracks_the_stricter_ones() {
        let rules = OccupantRules::embedded().unwrap();
        let base = EngineConfig::default();
        let config = rules.config_for(&base, &rules.select(&BTreeSet::new()));
        assert_eq!((&config.rules, &config.ruleset_version), (&base.rules, &base.ruleset_version));
        let tracked: Vec<&str> = config.tracked_rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(tracked, ["cold.below_18c_vulnerable", "heat.above_24c_vulnerable"]);
    }

    #[test]
    fn every_home_tracks_the_same_rules() {
        let rules = OccupantRules::embedded().unwrap();
        let base = EngineConfig::default();
        let ids = |c: &EngineConfig| {
            let mut ids: Vec<String> = c.rules.iter().chain(&c.tracked_rules).map(|r| r.id.clone()).collect();
            ids.sort();
            ids
        };
        let none = ids(&rules.config_for(&base, &BTreeSet::new()));
        let older = rules.config_for(&base, &over_65(&rules));
        assert_eq!(ids(&older), none);
        let tracked: Vec<&str> = older.tracked_rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(tracked, ["cold.below_16c", "heat.above_25c"], "the replaced defaults are tracked");
    }

    #[test]
    fn an_operators_stricter_default_is_kept() {
        let rules = OccupantRules::embedded().unwrap();
        let mut base = EngineConfig::default();
        let cold = base.rules.iter_mut().find(|r| r.id == "cold.below_16c").unwrap();
        if let Condition::Sustained { threshold, clear_at, .. } = &mut cold.condition {
            (*threshold, *clear_at) = (19.0, 20.0);
        }
        let config = rules.config_for(&base, &over_65(&rules));
        assert_eq!(
            threshold(&config, "cold.below_16c"),
            Some(19.0),
            "19 °C is stricter than the occupant rule's 18"
        );
        assert_eq!(threshold(&config, "cold.below_18c_vulnerable"), None);
        assert_eq!(
            threshold(&config, "heat.above_24c_vulnerable"),
            Some(24.0),
            "the heat rule still applies"
        );
    }

    #[test]
    fn an_occupant_over_65_selects_the_stricter_cold_and_heat_rules() {
        let rules = OccupantRules::embedded().unwrap();
        let base = EngineConfig::default();
        let config = rules.config_for(&base, &over_65(&rules));
        assert_eq!(threshold(&config, "cold.below_16c"), None, "the default cold rule is replaced");
        assert_eq!(threshold(&config, "cold.below_18c_vulnerable"), Some(18.0));
        assert_eq!(threshold(&config, "heat.above_24c_vulnerable"), Some(24.0));
        assert_eq!(threshold(&config, "cold.below_10c"), Some(10.0), "the red rule stays");
        assert_eq!(config.rules.len(), base.rules.len());
        assert_eq!(
            config.ruleset_version,
            format!(
                "{}+occupants-2026-12:cold.below_18c_vulnerable,heat.above_24c_vulnerable",
                base.ruleset_version
            )
        );
        let cold = config.rules.iter().find(|r| r.id == "cold.below_18c_vulnerable").unwrap();
        assert!(
            cold.basis.contains(
                "because the home records an occupant it protects: an occupant aged 65 or over, a child \
                 under 5, an occupant with a respiratory (lung) condition or an occupant with a \
                 cardiovascular (heart) condition (occupants-2026-12)"
            ),
            "{}",
            cold.basis
        );
        assert!(cold.basis.contains("Source: "), "{}", cold.basis);
    }

    #[test]
    fn vulnerabilities_are_read_from_their_names() {
        assert_eq!("over-65".parse::<Vulnerability>(), Ok(Vulnerability::Over65));
        assert!("elderly".parse::<Vulnerability>().is_err());
    }

    #[test]
    fn a_stricter_rule_for_nobody_is_refused() {
        let text = EMBEDDED_OCCUPANT_RULES.replacen(
            "applies_to = [\"over_65\", \"under_5\", \"respiratory_condition\", \"cardiovascular_condition\"]",
            "applies_to = []",
            1,
        );
        assert!(matches!(OccupantRules::from_toml(&text), Err(OccupantRulesError::Stricter(..))));
    }
}
