//! The hazard engines the worker judges rooms by: one per set of stricter rules a home's record
//! can select, each the configured engine with those stricter cold and heat rules of
//! `dampwatch-indicators`' occupant data (`data/occupants.toml`).
//!
//! A home's record keeps its occupants' vulnerabilities sealed (health data the worker never
//! opens) and, in clear, the ids of the stricter rules they select (`dwellings.occupant_rules`,
//! written with the sealed record). A room is judged by the engine of that selection as it is
//! when its readings are folded, so recording an occupant over 65 makes the next readings face
//! the stricter rules. Rule trackers are kept by rule id in the room's state, so a rule that
//! comes into force for a room starts from that room's next reading, and the rule it replaced
//! stops raising. Every alert records the rule set version with the occupant data's version and
//! the stricter rules applied (`…+occupants-2026-12:cold.below_18c_vulnerable,…`), and the
//! rule's basis says whom the rule protects.

use std::collections::BTreeSet;

use dampwatch_indicators::{ConfigError, EngineConfig, HazardEngine, OccupantRules};

/// One engine with the rule set version its rooms record.
#[derive(Debug, Clone)]
pub struct RoomEngine {
    pub engine: HazardEngine,
    /// What a room judged by it records (the offline period included when not the default).
    pub ruleset_version: String,
}

/// Every engine a room can be judged by, one per subset of the occupant data's stricter rules.
#[derive(Debug, Clone)]
pub struct OccupantEngines {
    /// Indexed by [`OccupantEngines::index`]: bit `i` set when the `i`th stricter rule of the
    /// data is selected.
    engines: Vec<RoomEngine>,
    /// The occupant data they were built from.
    rules: OccupantRules,
}

impl OccupantEngines {
    /// [`OccupantEngines::with_rules`] with the occupant data compiled into
    /// `dampwatch-indicators` (checked by its tests, so it always loads).
    pub fn new(base: &EngineConfig) -> Result<Self, ConfigError> {
        let rules = OccupantRules::embedded().expect("the embedded occupant rules are valid");
        Self::with_rules(base, &rules)
    }

    /// Builds an engine for every selection of stricter rules from `base` and `rules` (the
    /// empty selection gets `base` itself).
    pub fn with_rules(base: &EngineConfig, rules: &OccupantRules) -> Result<Self, ConfigError> {
        let ids: Vec<&str> = rules.stricter().iter().map(|s| s.rule.id.as_str()).collect();
        let subsets = 1usize << ids.len();
        let mut engines = Vec::with_capacity(subsets);
        for bits in 0..subsets {
            let selected: BTreeSet<String> = ids
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, id)| (*id).to_owned())
                .collect();
            let config = rules.config_for(base, &selected);
            let ruleset_version = config.effective_ruleset_version();
            engines.push(RoomEngine { engine: HazardEngine::new(config)?, ruleset_version });
        }
        Ok(OccupantEngines { engines, rules: rules.clone() })
    }

    /// The position of a selection among the engines; ids the data does not know select nothing.
    fn index(&self, selected: &BTreeSet<String>) -> usize {
        self.rules
            .stricter()
            .iter()
            .enumerate()
            .filter(|(_, s)| selected.contains(&s.rule.id))
            .map(|(i, _)| 1 << i)
            .sum()
    }

    /// The engine for a home whose record selects the stricter rules `selected`.
    pub fn for_occupants(&self, selected: &BTreeSet<String>) -> &RoomEngine {
        &self.engines[self.index(selected)]
    }

    /// The engine for a home selecting none (the configured rules as they are).
    pub fn base(&self) -> &RoomEngine {
        &self.engines[0]
    }

    /// The occupant data they were built from.
    pub fn rules(&self) -> &OccupantRules {
        &self.rules
    }

    /// The occupant data's version (`occupants-2026-12`).
    pub fn occupant_rules_version(&self) -> &str {
        self.rules.version()
    }

    /// The selection a home's record keeps (`dwellings.occupant_rules`), as this data knows it.
    pub fn parse(&self, names: &[String]) -> BTreeSet<String> {
        self.rules.known(names)
    }
}

#[cfg(test)]
mod tests {
    use dampwatch_indicators::Vulnerability;

    use super::*;

    fn engines() -> OccupantEngines {
        OccupantEngines::new(&EngineConfig::default()).unwrap()
    }

    fn rule_ids(engine: &RoomEngine) -> Vec<String> {
        engine.engine.config().rules.iter().map(|r| r.id.clone()).collect()
    }

    #[test]
    fn a_home_selecting_no_stricter_rule_is_judged_by_the_configured_rules() {
        let e = engines();
        let none = e.for_occupants(&BTreeSet::new());
        assert_eq!(rule_ids(none), rule_ids(e.base()));
        let defaults: Vec<String> = EngineConfig::default().rules.iter().map(|r| r.id.clone()).collect();
        assert_eq!(rule_ids(none), defaults);
        assert_eq!(none.ruleset_version, EngineConfig::default().effective_ruleset_version());
        let unknown = e.parse(&["gone.in_a_later_version".to_owned()]);
        assert_eq!(rule_ids(e.for_occupants(&unknown)), defaults, "an unknown id selects nothing");
    }

    #[test]
    fn each_selection_gets_its_own_stricter_engine_and_version() {
        let e = engines();
        let over_65 = e.rules().select(&[Vulnerability::Over65].into_iter().collect());
        let a = e.for_occupants(&over_65);
        assert!(rule_ids(a).contains(&"cold.below_18c_vulnerable".to_owned()), "{:?}", rule_ids(a));
        assert!(!rule_ids(a).contains(&"cold.below_16c".to_owned()));
        assert!(
            a.ruleset_version
                .ends_with("+occupants-2026-12:cold.below_18c_vulnerable,heat.above_24c_vulnerable"),
            "{}",
            a.ruleset_version
        );
        let heat_only = e.for_occupants(&["heat.above_24c_vulnerable".to_owned()].into());
        assert!(
            heat_only.ruleset_version.ends_with(":heat.above_24c_vulnerable"),
            "{}",
            heat_only.ruleset_version
        );
        assert!(rule_ids(heat_only).contains(&"cold.below_16c".to_owned()));
        assert_eq!(e.occupant_rules_version(), "occupants-2026-12");
    }

    #[test]
    fn every_selection_finds_the_engine_built_for_it() {
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
            let selected = rules.select(&set);
            let built = e.for_occupants(&selected);
            let wanted = rules.config_for(&base, &selected);
            let ids = |c: &EngineConfig| c.rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(built.engine.config()), ids(&wanted), "{set:?}");
            assert_eq!(built.ruleset_version, wanted.effective_ruleset_version(), "{set:?}");
        }
    }
}
