//! Hazard indicators computed from room readings, for Dampwatch.
//!
//! What it computes: dew point, surface relative humidity (measured with a surface probe, or
//! ESTIMATED from the temperature factor and labelled as such), the dew-point margin, the VTT
//! mould index (updated model, material class configurable, integrated over the real time
//! between readings), and alerts from rules kept as data: sustained humidity, surface humidity
//! on most days, mould index, cold, heat, CO2 on most nights and "no data for 48 h". Patterns
//! that follow the day (a bedroom stuffy while people sleep) are judged over days or nights,
//! so they make one alert while they last, not one a night. Every alert explains
//! itself: which rule (id, version, basis), which values, which window.
//!
//! How it is used: one [`HazardEngine`] per configuration, one [`RoomState`] per room;
//! [`HazardEngine::ingest`] for every committed reading (any arrival order) and
//! [`HazardEngine::evaluate`] periodically so silent rooms go "offline". Both return
//! [`AlertTransition`]s. Everything here is serialisable for storage. A reading that arrives
//! after its room has moved on (a sensor's store-and-forward backlog) is placed in time order
//! by [`HazardEngine::replay`] from a [`Checkpoint`] the caller keeps beside the state, within
//! the configured late-reading horizon; older ones are left out and counted in the room's
//! [`RoomCoverage`].
//!
//! What it must never do: I/O, clocks, threads or async. Time comes in with the readings and
//! the caller's `now`, so every result can be reproduced from the stored readings. It produces
//! indicators, never HHSRS hazard scores (those need an inspector's judgement), and it never
//! treats missing data as safe data.
//!
//! A mould index over a series comes with its [`Coverage`]: the hours integrated, the hours
//! treated as no data (readings further apart than the hold limit) and the longest gap, so a
//! frozen index is never read as a dry room. [`SamplingInterval`] reads a logger's own interval
//! from its row times, so a logger that samples every few hours on purpose is not "missing".
//!
//! Each alert's hazard says whether it runs a legal clock or is advice ([`Duty`]); each room
//! has a current risk level from its open alerts and mould index ([`RoomRisk`], a versioned
//! model documented in `risk` and `docs/alert-stories.md`).
//!
//! With the `cli` feature, the `csv_tool` module is the `dampwatch mould` command.

pub mod alert;
pub mod config;
pub mod coverage;
mod daily;
pub mod engine;
mod evaluation;
mod explain;
pub mod history;
pub mod indicators;
pub mod material;
pub mod mould;
mod nightly;
pub mod occupants;
pub mod psychrometrics;
pub mod reading;
pub mod risk;
pub mod room;
pub mod rule;
pub mod sampling;
pub mod surface;
mod window;

#[cfg(feature = "cli")]
pub mod csv_tool;

pub use alert::{
    AlertTransition, DailyMean, DayCounts, Evidence, Finding, HazardAlert, LateRevision, MouldContext,
    NightCounts, NightSummary, ReportedWindow, RuleRef, TimeWindow, TransitionKind, WindowStats,
};
pub use config::{ConfigError, EngineConfig};
pub use coverage::Coverage;
pub use engine::{HazardEngine, Ingested};
pub use history::IndicatorHistory;
pub use indicators::{ConditionsBasis, Indicators};
pub use material::{MaterialClass, MATERIAL_TABLE};
pub use mould::{MouldState, MouldTimeline, MOULD_MODEL_VERSION};
pub use occupants::{OccupantRules, OccupantRulesError, StricterRule, UnknownVulnerability, Vulnerability};
pub use psychrometrics::{dew_point_c, saturation_pressure_pa};
pub use reading::{ReadingError, RoomReading};
pub use risk::{RiskLevel, RoomRisk, EARLY_MOULD_INDEX, ROOM_RISK_MODEL_VERSION};
pub use room::{
    Checkpoint, IngestError, Placement, ReplayError, ReplayFrom, Replayed, RoomCoverage, RoomState,
};
pub use rule::{
    default_rules, Comparison, Condition, Duty, Hazard, Metric, Rule, Severity, DEFAULT_RULESET_VERSION,
};
pub use sampling::SamplingInterval;
pub use surface::{CondensationRisk, DewPointMargin, SurfaceBasis, SurfaceCondition};
