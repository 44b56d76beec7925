//! A room's current risk level: one word a landlord can sort a portfolio by, derived from the
//! room's open alerts and its mould index. It is a summary of the indicators, never an HHSRS
//! score (that needs an inspector), and it never reads missing data as low risk.
//!
//! The model ([`ROOM_RISK_MODEL_VERSION`]), highest level that applies:
//!
//! | level | when |
//! |---|---|
//! | `severe` | an open red alert with a legal clock (e.g. visible mould growth likely, air below 10 °C) |
//! | `high` | an open amber alert with a legal clock (damp, cold, heat) |
//! | `elevated` | an open advisory alert about the room's conditions (poor ventilation), or early mould risk: mould index at least [`EARLY_MOULD_INDEX`] without a damp alert |
//! | `unknown` | no data: the device is offline, or no reading yet |
//! | `low` | none of the above, with data |
//!
//! Changing a level's meaning or a number changes the version, which is stored with every
//! assessment.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rule::{Duty, Hazard, Severity};

/// Version of the model below; stored with every assessment.
pub const ROOM_RISK_MODEL_VERSION: &str = "dampwatch-room-risk/1";

/// Mould index from which a room shows early mould risk: half-way to microscopic growth
/// (M = 1, where the damp alert is raised). Dampwatch policy, not from the VTT model's papers:
/// the model says growth is under way above 0 and microscopic at 1.
pub const EARLY_MOULD_INDEX: f64 = 0.5;

/// How much a room needs a landlord's attention now. Ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Data shows nothing that needs attention.
    Low,
    /// No data to judge by (device offline, or no reading yet): never read as low.
    Unknown,
    /// Advice: a condition that can lead to a hazard (poor ventilation, early mould risk).
    Elevated,
    /// A potential hazard with a legal clock (amber).
    High,
    /// A potential hazard with a legal clock, at its worst (red).
    Severe,
}

impl RiskLevel {
    pub const ALL: [RiskLevel; 5] =
        [RiskLevel::Low, RiskLevel::Unknown, RiskLevel::Elevated, RiskLevel::High, RiskLevel::Severe];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Unknown => "unknown",
            RiskLevel::Elevated => "elevated",
            RiskLevel::High => "high",
            RiskLevel::Severe => "severe",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A room's risk level and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomRisk {
    pub level: RiskLevel,
    /// [`ROOM_RISK_MODEL_VERSION`] when assessed.
    pub model_version: String,
    /// One sentence per contribution, the highest first.
    pub reasons: Vec<String>,
    /// The mould index at the newest reading, if there is one.
    pub mould_index: Option<f64>,
}

impl RoomRisk {
    /// Assesses a room from its open alerts (hazard and severity) and its mould index at the
    /// newest reading (`None`: no reading yet).
    pub fn assess(open: impl IntoIterator<Item = (Hazard, Severity)>, mould_index: Option<f64>) -> RoomRisk {
        let mut found: Vec<(RiskLevel, String)> = Vec::new();
        let mut damp_alert = false;
        for (hazard, severity) in open {
            damp_alert |= hazard == Hazard::DampAndMouldGrowth;
            let level = match (hazard.duty(), severity, hazard) {
                (Duty::LegalClock, Severity::Red, _) => RiskLevel::Severe,
                (Duty::LegalClock, Severity::Amber, _) => RiskLevel::High,
                (Duty::Advisory, _, Hazard::DeviceOffline) => RiskLevel::Unknown,
                (Duty::Advisory, _, _) => RiskLevel::Elevated,
            };
            let duty = match hazard.duty() {
                Duty::LegalClock => "with a legal clock",
                Duty::Advisory => "advisory",
            };
            found.push((level, format!("open {severity} {hazard} alert ({duty})")));
        }
        match mould_index {
            Some(m) if m >= EARLY_MOULD_INDEX && !damp_alert => found.push((
                RiskLevel::Elevated,
                format!("early mould risk: mould index {m:.2} (microscopic growth likely from 1)"),
            )),
            Some(_) => {}
            None => found.push((RiskLevel::Unknown, "no reading yet".to_owned())),
        }
        found.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
        let level = found.first().map_or(RiskLevel::Low, |(level, _)| *level);
        RoomRisk {
            level,
            model_version: ROOM_RISK_MODEL_VERSION.to_owned(),
            reasons: found.into_iter().map(|(_, reason)| reason).collect(),
            mould_index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Hazard::*;
    use Severity::*;

    fn level(open: &[(Hazard, Severity)], mould: Option<f64>) -> RiskLevel {
        RoomRisk::assess(open.iter().copied(), mould).level
    }

    #[test]
    fn the_highest_contribution_sets_the_level() {
        let table = [
            (vec![], Some(0.0), RiskLevel::Low),
            (vec![], None, RiskLevel::Unknown),
            (vec![(DeviceOffline, Amber)], Some(0.0), RiskLevel::Unknown),
            (vec![(PoorVentilation, Amber)], Some(0.0), RiskLevel::Elevated),
            (vec![(PoorVentilation, Amber), (DeviceOffline, Amber)], Some(0.1), RiskLevel::Elevated),
            (vec![], Some(0.6), RiskLevel::Elevated),
            (vec![(ExcessCold, Amber), (PoorVentilation, Amber)], Some(0.2), RiskLevel::High),
            (vec![(DampAndMouldGrowth, Amber)], Some(1.2), RiskLevel::High),
            (vec![(DampAndMouldGrowth, Red), (DeviceOffline, Amber)], Some(3.4), RiskLevel::Severe),
            (vec![(ExcessHeat, Red)], Some(0.0), RiskLevel::Severe),
        ];
        for (open, mould, expected) in table {
            assert_eq!(level(&open, mould), expected, "{open:?} with mould index {mould:?}");
        }
    }

    #[test]
    fn reasons_say_why_highest_first_and_the_version_is_recorded() {
        let risk = RoomRisk::assess([(PoorVentilation, Amber), (ExcessCold, Amber)], Some(0.7));
        assert_eq!(risk.level, RiskLevel::High);
        assert_eq!(risk.model_version, ROOM_RISK_MODEL_VERSION);
        assert_eq!(risk.reasons.len(), 3, "{:?}", risk.reasons);
        assert!(
            risk.reasons[0].contains("excess_cold") && risk.reasons[0].contains("legal clock"),
            "{:?}",
            risk.reasons
        );
        assert!(
            risk.reasons.iter().any(|r| r.contains("early mould risk: mould index 0.70")),
            "{:?}",
            risk.reasons
        );
    }

    #[test]
    fn levels_are_ordered_and_named_as_stored() {
        let mut sorted = RiskLevel::ALL;
        sorted.sort();
        assert_eq!(sorted, RiskLevel::ALL);
        for level in RiskLevel::ALL {
            assert_eq!(serde_json::to_value(level).expect("json"), level.as_str());
        }
    }
}
