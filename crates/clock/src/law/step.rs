//! The response steps of the laws in the data (Awaab's Law, Scotland's Investigation and
//! Commencement of Repair Regulations) and how each one's period is counted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which set of deadlines a triaged case runs on (a person decides; a question of fact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Track {
    /// An imminent and significant risk of harm: 24-hour clocks.
    Emergency,
    /// A significant risk of harm: working-day clocks.
    Significant,
}

impl Track {
    /// The identifier used in data and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Emergency => "emergency",
            Track::Significant => "significant",
        }
    }
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! step_names {
    ($( $variant:ident => $name:literal, )*) => {
        /// A statutory response step. The names are part of the product's interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum StepName {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl StepName {
            /// Every step.
            pub const ALL: &'static [StepName] = &[$(StepName::$variant),*];

            /// The step's name as shown and stored.
            pub fn as_str(self) -> &'static str {
                match self { $(StepName::$variant => $name,)* }
            }
        }
    };
}

step_names! {
    EmergencyInvestigate => "emergency_investigate",
    EmergencyMakeSafe => "emergency_make_safe",
    Investigate => "investigate",
    WrittenSummary => "written_summary",
    SafetyWork => "safety_work",
    PreventativeStart => "preventative_start",
    PreventativeBackstop => "preventative_backstop",
    SafetyWorkCommenced => "safety_work_commenced",
}

/// A step name that is not one of [`StepName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown step {0:?}")]
pub struct UnknownStep(pub String);

impl FromStr for StepName {
    type Err = UnknownStep;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StepName::ALL.iter().copied().find(|n| n.as_str() == s).ok_or_else(|| UnknownStep(s.to_owned()))
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StepName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StepName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// How a step's period is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Working days of the law's calendar (see its working-day definition) from the day after
    /// the trigger's Europe/London date; due at the end of the last permitted day.
    WorkingDays,
    /// Exact elapsed hours from the trigger instant (computed in UTC, so exactly 24 h across a
    /// clock change).
    ElapsedHours,
    /// Calendar weeks from the day after the trigger's Europe/London date; due at the end of
    /// the last permitted day.
    Weeks,
}

impl Basis {
    /// The unit, for people: `working days`, `hours`, `weeks`.
    pub fn unit(self) -> &'static str {
        match self {
            Basis::WorkingDays => "working days",
            Basis::ElapsedHours => "hours",
            Basis::Weeks => "weeks",
        }
    }
}

/// An event that starts a step's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The landlord becoming aware of a potential hazard.
    Awareness,
    /// The investigation concluding.
    InvestigationConcluded,
}

impl Trigger {
    /// The identifier used in data and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Awareness => "awareness",
            Trigger::InvestigationConcluded => "investigation_concluded",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A condition under which a step applies at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepCondition {
    /// Beginning preventative work within its period was recorded as not reasonably practicable.
    PreventativeNotReasonablyPracticable,
}

/// When a step is not needed at all, as the law states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepWaiver {
    /// Not needed when the safety work and the preventative work were both completed before
    /// the step's period ended (Awaab's Law's written summary).
    AllWorkDoneWithinPeriod,
}

/// One step as the rules data defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRule {
    /// The step.
    pub name: StepName,
    /// The tracks it belongs to.
    pub tracks: Vec<Track>,
    /// How its period is measured.
    pub basis: Basis,
    /// The length of the period in the basis' unit.
    pub amount: u32,
    /// The events that start its clock; with several, each runs and the earliest is due.
    pub counted_from: Vec<Trigger>,
    /// Applies only under this condition.
    pub applies_when: Option<StepCondition>,
    /// What the step is, for people.
    pub description: String,
    /// The legal source.
    pub source: String,
    /// Qualifications (e.g. when the step is not needed).
    pub note: Option<String>,
    /// When the step is not needed at all.
    pub waived_when: Option<StepWaiver>,
    /// Whether alternative accommodation is owed from the expiry of this step's period when
    /// it is not met in time (Awaab's Law's safety work).
    pub alternative_accommodation_on_expiry: bool,
    /// The provision letting the landlord, when circumstances outwith its control prevent
    /// compliance, notify the tenant that it cannot comply, why, and when it expects to
    /// (Scotland); `None` when the law has no such notice for this step.
    pub unable_to_comply: Option<String>,
}

impl StepRule {
    /// Does this step belong to `track`?
    pub fn on_track(&self, track: Track) -> bool {
        self.tracks.contains(&track)
    }
}
