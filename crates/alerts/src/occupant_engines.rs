//! The hazard engines the worker judges rooms by: one per set of vulnerabilities a home can
//! record for its occupants, each the configured engine with the stricter cold and heat rules
//! of `dampwatch-indicators`' occupant data (`data/occupants.toml`) that the set selects.
//!
//! A room is judged by the engine of its home's vulnerabilities as they are when its readings
//! are folded, so recording an occupant over 65 makes the next readings face the stricter
//! rules. Rule trackers are kept by rule id in the room's state, so a rule that comes into
//! force for a room starts from that room's next reading, and the rule it replaced stops
//! raising. Every alert records the rule set version with the occupant data's version and
//! the vulnerabilities that selected it (`…+occupants-2026-12:over_65`), and the rule's basis
//! says why it applied.

use std::collections::BTreeSet;

use dampwatch_indicators::{ConfigError, EngineConfig, HazardEngine, OccupantRules, Vulnerability};

/// One engine with the rule set version its rooms record.
#[derive(Debug, Clone)]
pub struct RoomEngine {
    pub engine: HazardEngine,
    /// What a room judged by it records (the offline period included when not the default).
    pub ruleset_version: String,
}

/// Every engine a room can be judged by, one per subset of [`Vulnerability::ALL`].
#[derive(Debug, Clone)]
pub struct OccupantEngines {
    /// Indexed by [`index`]: bit `i` set when `Vulnerability::ALL[i]` is recorded.
    engines: Vec<RoomEngine>,
    /// The occupant data they were built from.
    rules: OccupantRules,
}

/// The position of a set of vulnerabilities among the engines.
fn index(vulnerabilities: &BTreeSet<Vulnerability>) -> usize {
    Vulnerability::ALL
        .iter()
        .enumerate()
        .filter(|(_, v)| vulnerabilities.contains(v))
        .map(|(i, _)| 1 << i)
        .sum()
}

impl OccupantEngines {
    /// [`OccupantEngines::with_rules`] with the occupant data compiled into
    /// `dampwatch-indicators` (checked by its tests, so it always loads).
    pub fn new(base: &EngineConfig) -> Result<Self, ConfigError> {
        let rules = OccupantRules::embedded().expect("the embedded occupant rules are valid");
        Self::with_rules(base, &rules)
    }

    /// Builds an engine for every set of vulnerabilities from `base` and `rules` (a set
    /// that selects no stricter rule gets `base` itself).
    pub fn with_rules(base: &EngineConfig, rules: &OccupantRules) -> Result<Self, ConfigError> {
        let subsets = 1usize << Vulnerability::ALL.len();
        let mut engines = Vec::with_capacity(subsets);
        for bits in 0..subsets {
            let set: BTreeSet<Vulnerability> = Vulnerability::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, v)| *v)
                .collect();
            let config = rules.config_for(base, &set);
            let ruleset_version = config.effective_ruleset_version();
            engines.push(RoomEngine { engine: HazardEngine::new(config)?, ruleset_version });
        }
        Ok(OccupantEngines { engines, rules: rules.clone() })
    }

    /// The engine for a home recording `vulnerabilities`.
    pub fn for_occupants(&self, vulnerabilities: &BTreeSet<Vulnerability>) -> &RoomEngine {
        &self.engines[index(vulnerabilities)]
    }

    /// The engine for a home recording none (the configured rules as they are).
    pub fn base(&self) -> &RoomEngine {
        &self.engines[0]
    }

    /// The occupant data's version (`occupants-2026-12`).
    pub fn occupant_rules_version(&self) -> &str {
        self.rules.version()
    }

    /// "an occupant aged 65 or over", as the occupant data words it.
    pub fn describe(&self, vulnerability: Vulnerability) -> &str {
        self.rules.describe(vulnerability)
    }

    /// The vulnerabilities among `names` (as stored, `over_65`); a name this release does not
    /// know selects nothing.
    pub fn parse(names: &[String]) -> BTreeSet<Vulnerability> {
        names.iter().filter_map(|n| n.parse().ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engines() -> OccupantEngines {
        OccupantEngines::new(&EngineConfig::default()).unwrap()
    }

    fn rule_ids(engine: &RoomEngine) -> Vec<String> {
        engine.engine.config().rules.iter().map(|r| r.id.clone()).collect()
    }

    #[test]
    fn a_home_without_vulnerabilities_is_judged_by_the_configured_rules() {
        let e = engines();
        let none = e.for_occupants(&BTreeSet::new());
        assert_eq!(rule_ids(none), rule_ids(e.base()));
        let defaults: Vec<String> = EngineConfig::default().rules.iter().map(|r| r.id.clone()).collect();
        assert_eq!(rule_ids(none), defaults);
        assert_eq!(none.ruleset_version, EngineConfig::default().effective_ruleset_version());
    }

    #[test]
    fn each_set_of_vulnerabilities_gets_its_own_stricter_engine_and_version() {
        let e = engines();
        let over_65: BTreeSet<_> = [Vulnerability::Over65].into_iter().collect();
        let two: BTreeSet<_> =
            [Vulnerability::Under5, Vulnerability::CardiovascularCondition].into_iter().collect();
        let a = e.for_occupants(&over_65);
        let b = e.for_occupants(&two);
        assert!(rule_ids(a).contains(&"cold.below_18c_vulnerable".to_owned()), "{:?}", rule_ids(a));
        assert!(!rule_ids(a).contains(&"cold.below_16c".to_owned()));
        assert!(a.ruleset_version.ends_with("+occupants-2026-12:over_65"), "{}", a.ruleset_version);
        assert!(b.ruleset_version.ends_with(":under_5,cardiovascular_condition"), "{}", b.ruleset_version);
        assert_eq!(e.occupant_rules_version(), "occupants-2026-12");
    }

    #[test]
    fn every_set_of_vulnerabilities_finds_the_engine_built_for_it() {
        let e = engines();
        let rules = OccupantRules::embedded().unwrap();
        let base = EngineConfig::default();
        for bits in 0..1usize << Vulnerability::ALL.len() {
            let set: BTreeSet<Vulnerability> = Vulnerability::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, v)| *v)
                .collect();
            let built = e.for_occupants(&set);
            let wanted = rules.config_for(&base, &set);
            let ids = |c: &EngineConfig| c.rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(built.engine.config()), ids(&wanted), "{set:?}");
            assert_eq!(built.ruleset_version, wanted.effective_ruleset_version(), "{set:?}");
        }
    }
}
