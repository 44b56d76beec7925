//! Engine configuration with working defaults, and its validation.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::indicators::PointSettings;
use crate::material::MaterialClass;
use crate::rule::{default_rules, Condition, Rule, DEFAULT_RULESET_VERSION};
use crate::surface::{DEFAULT_CONDENSATION_WARNING_MARGIN_C, DEFAULT_F_RSI};

/// Everything the engine needs to know; every field has a default. Unknown keys are errors,
/// as everywhere in a configuration file: a misspelt key must not fall back to its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Material class for the mould index (default: sensitive).
    pub material: MaterialClass,
    /// Temperature factor used to ESTIMATE the surface temperature without a probe.
    pub f_rsi: f64,
    /// Outdoor temperature assumed when a reading carries none (e.g. a design winter value);
    /// `None` means no estimate without a weather feed.
    pub assumed_outdoor_temperature_c: Option<f64>,
    /// Dew-point margin (°C) below which condensation is near.
    pub condensation_warning_margin_c: f64,
    /// Longer gaps between readings are "no data": they break sustained windows, and the mould
    /// index holds a reading's conditions for at most this long.
    #[serde(with = "humantime_serde")]
    pub max_gap: Duration,
    /// How late (behind the newest reading) a reading may arrive and still be placed in order
    /// inside the room state alone. An older one within `late_horizon` is placed by replaying
    /// the room's stored readings ([`crate::IngestError::NeedsReplay`]).
    #[serde(with = "humantime_serde")]
    pub reorder_window: Duration,
    /// How far behind the room's newest reading a stored reading may arrive and still be placed
    /// in time order: the devices' store-and-forward horizon (they keep at least 48 h of
    /// readings while offline). The room keeps checkpoints covering at least this span; an
    /// older reading is left out of the indicators ([`crate::IngestError::TooLate`]) and
    /// counted in the room's coverage. Replaying costs at most this span (plus a twelfth of
    /// it) of the room's readings.
    #[serde(with = "humantime_serde")]
    pub late_horizon: Duration,
    /// No reading for this long raises "device offline" (the no-data rules that name no
    /// period of their own). A period other than the default is recorded in the rule set
    /// version the caller stores ([`EngineConfig::effective_ruleset_version`]).
    #[serde(with = "humantime_serde")]
    pub offline_after: Duration,
    /// Version label of `rules`, stored with every alert.
    pub ruleset_version: String,
    pub rules: Vec<Rule>,
    /// Rules whose trackers follow every reading but which raise nothing: the occupant rules
    /// not in force for this home and the defaults those in force replace
    /// ([`crate::OccupantRules::config_for`]). A room whose home's record changes is then
    /// judged at once by trackers that have seen its readings, whichever engine folded them.
    /// Never read from or written to a configuration file.
    #[serde(skip)]
    pub tracked_rules: Vec<Rule>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            material: MaterialClass::default(),
            f_rsi: DEFAULT_F_RSI,
            assumed_outdoor_temperature_c: None,
            condensation_warning_margin_c: DEFAULT_CONDENSATION_WARNING_MARGIN_C,
            max_gap: Duration::from_secs(2 * 3600),
            reorder_window: Duration::from_secs(6 * 3600),
            late_horizon: Duration::from_secs(72 * 3600),
            offline_after: Duration::from_secs(48 * 3600),
            ruleset_version: DEFAULT_RULESET_VERSION.to_owned(),
            rules: default_rules(),
            tracked_rules: Vec::new(),
        }
    }
}

impl EngineConfig {
    /// Every rule whose trackers a reading moves: those that raise alerts, then those only
    /// tracked.
    pub(crate) fn tracked(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().chain(&self.tracked_rules)
    }

    /// The rule set version to store with alerts: `ruleset_version`, plus the offline period
    /// when it is not the default, so stored alerts stay traceable to the numbers that raised
    /// them.
    pub fn effective_ruleset_version(&self) -> String {
        if self.offline_after == EngineConfig::default().offline_after {
            self.ruleset_version.clone()
        } else {
            format!(
                "{}+offline_after={}",
                self.ruleset_version,
                humantime_serde::re::humantime::format_duration(self.offline_after)
            )
        }
    }
}

/// A configuration the engine refuses to run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("f_rsi {0} must be in (0, 1]")]
    TemperatureFactor(f64),
    #[error("{field} must be a finite number, got {value}")]
    NotFinite { field: String, value: f64 },
    #[error("{field} must be between {min:?} and {max:?}, got {value:?}")]
    DurationOutOfRange { field: String, value: Duration, min: Duration, max: Duration },
    #[error("rule id {0:?} is used twice")]
    DuplicateRule(String),
    #[error("a rule has an empty id")]
    EmptyRuleId,
    #[error("rule {id}: clear level {clear_at} is on the wrong side of threshold {threshold} (hysteresis must point to the safe side)")]
    Hysteresis { id: String, threshold: f64, clear_at: f64 },
    #[error("rule {id}: {reason}")]
    DayWindow { id: String, reason: String },
}

/// The validated configuration in the units the engine computes with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub config: EngineConfig,
    pub max_gap: TimeDelta,
    pub reorder_window: TimeDelta,
    pub late_horizon: TimeDelta,
    /// Data time between checkpoints of a room's fold: a twelfth of `late_horizon`.
    pub checkpoint_every: TimeDelta,
    /// The shortest "no data" period of the rules, if any rule watches for silence.
    pub shortest_silence: Option<TimeDelta>,
}

const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);
/// A horizon shorter than this would take checkpoints every few minutes.
const MIN_LATE_HORIZON: Duration = Duration::from_secs(3600);
/// Checkpoints per horizon: more make a replay start closer to the late reading, fewer keep
/// less beside the state.
const CHECKPOINTS_PER_HORIZON: i32 = 12;

fn delta(field: &str, value: Duration, min: Duration) -> Result<TimeDelta, ConfigError> {
    let out_of_range =
        || ConfigError::DurationOutOfRange { field: field.to_owned(), value, min, max: MAX_DURATION };
    if value < min || value > MAX_DURATION {
        return Err(out_of_range());
    }
    TimeDelta::from_std(value).map_err(|_| out_of_range())
}

fn finite(field: String, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::NotFinite { field, value })
    }
}

impl Settings {
    pub fn new(mut config: EngineConfig) -> Result<Self, ConfigError> {
        if !(config.f_rsi > 0.0 && config.f_rsi <= 1.0) {
            return Err(ConfigError::TemperatureFactor(config.f_rsi));
        }
        finite("condensation_warning_margin_c".into(), config.condensation_warning_margin_c)?;
        if let Some(t) = config.assumed_outdoor_temperature_c {
            finite("assumed_outdoor_temperature_c".into(), t)?;
        }
        let max_gap = delta("max_gap", config.max_gap, Duration::from_secs(1))?;
        delta("offline_after", config.offline_after, Duration::from_secs(60))?;
        let reorder_window = delta("reorder_window", config.reorder_window, Duration::ZERO)?;
        let late_horizon =
            delta("late_horizon", config.late_horizon, config.reorder_window.max(MIN_LATE_HORIZON))?;
        let checkpoint_every = late_horizon / CHECKPOINTS_PER_HORIZON;
        let mut ids = BTreeSet::new();
        for rule in config.rules.iter().chain(&config.tracked_rules) {
            if rule.id.is_empty() {
                return Err(ConfigError::EmptyRuleId);
            }
            if !ids.insert(rule.id.as_str()) {
                return Err(ConfigError::DuplicateRule(rule.id.clone()));
            }
            validate_rule(rule)?;
        }
        // Rules without a period of their own watch for the configured one.
        let offline_after = config.offline_after;
        for rule in &mut config.rules {
            if let Condition::NoData { after } = &mut rule.condition {
                after.get_or_insert(offline_after);
            }
        }
        let shortest_silence = config
            .rules
            .iter()
            .filter_map(|r| match r.condition {
                Condition::NoData { after } => after.and_then(|a| TimeDelta::from_std(a).ok()),
                _ => None,
            })
            .min();
        Ok(Settings { config, max_gap, reorder_window, late_horizon, checkpoint_every, shortest_silence })
    }

    pub fn point(&self) -> PointSettings {
        PointSettings {
            f_rsi: self.config.f_rsi,
            assumed_outdoor_temperature_c: self.config.assumed_outdoor_temperature_c,
            condensation_warning_margin_c: self.config.condensation_warning_margin_c,
        }
    }
}

fn validate_rule(rule: &Rule) -> Result<(), ConfigError> {
    let id = &rule.id;
    match &rule.condition {
        Condition::Sustained { comparison, threshold, clear_at, raise_after, clear_after, .. } => {
            finite(format!("{id}.threshold"), *threshold)?;
            finite(format!("{id}.clear_at"), *clear_at)?;
            let safe_side =
                if comparison.is_upward() { clear_at <= threshold } else { clear_at >= threshold };
            if !safe_side {
                return Err(ConfigError::Hysteresis {
                    id: id.clone(),
                    threshold: *threshold,
                    clear_at: *clear_at,
                });
            }
            delta(&format!("{id}.raise_after"), *raise_after, Duration::ZERO)?;
            delta(&format!("{id}.clear_after"), *clear_after, Duration::ZERO)?;
        }
        Condition::MostDays {
            threshold, window_days, raise_days, clear_dry_days, min_day_coverage, ..
        } => {
            finite(format!("{id}.threshold"), *threshold)?;
            let reason = if !(1..=62).contains(window_days) {
                Some(format!("window_days {window_days} must be 1..=62"))
            } else if !(1..=*window_days).contains(raise_days) {
                Some(format!("raise_days {raise_days} must be 1..={window_days}"))
            } else if !(1..=*window_days).contains(clear_dry_days) {
                Some(format!("clear_dry_days {clear_dry_days} must be 1..={window_days}"))
            } else if *min_day_coverage == Duration::ZERO || *min_day_coverage > Duration::from_secs(86_400) {
                Some("min_day_coverage must be more than 0 and at most 24h".to_owned())
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(ConfigError::DayWindow { id: id.clone(), reason });
            }
        }
        Condition::Nights {
            threshold,
            night_start_hour,
            night_end_hour,
            min_above,
            min_night_coverage,
            window_nights,
            raise_nights,
            clear_nights,
            ..
        } => {
            finite(format!("{id}.threshold"), *threshold)?;
            // Hours from start to end, across midnight; 0 for hours out of range or equal.
            let hours = if *night_start_hour < 24 && *night_end_hour < 24 {
                u64::from((night_end_hour + 24 - night_start_hour) % 24)
            } else {
                0
            };
            let night = Duration::from_secs(hours * 3600);
            let reason = if night.is_zero() {
                Some(format!(
                    "night_start_hour {night_start_hour} and night_end_hour {night_end_hour} must be 0..=23 and differ"
                ))
            } else if !(1..=62).contains(window_nights) {
                Some(format!("window_nights {window_nights} must be 1..=62"))
            } else if !(1..=*window_nights).contains(raise_nights) {
                Some(format!("raise_nights {raise_nights} must be 1..={window_nights}"))
            } else if !(1..=*window_nights).contains(clear_nights) {
                Some(format!("clear_nights {clear_nights} must be 1..={window_nights}"))
            } else if min_above.is_zero() || *min_above > night {
                Some(format!("min_above must be more than 0 and at most the night ({hours} h)"))
            } else if min_night_coverage.is_zero() || *min_night_coverage > night {
                Some(format!("min_night_coverage must be more than 0 and at most the night ({hours} h)"))
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(ConfigError::DayWindow { id: id.clone(), reason });
            }
        }
        Condition::NoData { after } => {
            if let Some(after) = after {
                delta(&format!("{id}.after"), *after, Duration::from_secs(1))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Comparison;

    #[test]
    fn defaults_are_valid() {
        Settings::new(EngineConfig::default()).expect("default config must validate");
    }

    #[test]
    fn the_offline_period_is_configured_once_and_recorded_when_changed() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let default = Settings::new(EngineConfig::default()).expect("valid");
        assert_eq!(default.shortest_silence, Some(TimeDelta::hours(48)));
        assert_eq!(EngineConfig::default().effective_ruleset_version(), DEFAULT_RULESET_VERSION);
        // The built-in rule names no period of its own.
        assert!(default_rules().iter().all(|r| !matches!(r.condition, Condition::NoData { after: Some(_) })));
        let six = EngineConfig { offline_after: hours(6), ..EngineConfig::default() };
        assert_eq!(Settings::new(six.clone()).expect("valid").shortest_silence, Some(TimeDelta::hours(6)));
        assert_eq!(six.effective_ruleset_version(), format!("{DEFAULT_RULESET_VERSION}+offline_after=6h"));
        let too_short = EngineConfig { offline_after: Duration::from_secs(10), ..EngineConfig::default() };
        assert!(matches!(Settings::new(too_short), Err(ConfigError::DurationOutOfRange { .. })));
    }

    #[test]
    fn a_night_rule_with_a_night_of_no_length_is_refused() {
        let mut config = EngineConfig::default();
        let rule = config
            .rules
            .iter_mut()
            .find(|r| matches!(r.condition, Condition::Nights { .. }))
            .expect("the default rules judge ventilation over nights");
        if let Condition::Nights { night_end_hour, .. } = &mut rule.condition {
            *night_end_hour = 22;
        }
        let refused = Settings::new(config);
        assert!(
            matches!(&refused, Err(ConfigError::DayWindow { id, .. }) if id == "ventilation.co2_nights"),
            "{refused:?}"
        );
    }

    #[test]
    fn hysteresis_on_the_wrong_side_is_refused() {
        let mut config = EngineConfig::default();
        if let Condition::Sustained { clear_at, comparison, .. } = &mut config.rules[0].condition {
            assert_eq!(*comparison, Comparison::Above);
            *clear_at = 75.0;
        }
        assert!(matches!(Settings::new(config), Err(ConfigError::Hysteresis { .. })));
    }

    #[test]
    fn the_late_reading_horizon_covers_the_reorder_window_and_sets_the_checkpoints() {
        let settings = Settings::new(EngineConfig::default()).expect("defaults");
        assert_eq!(settings.late_horizon, TimeDelta::hours(72));
        assert_eq!(settings.checkpoint_every, TimeDelta::hours(6));
        let config = EngineConfig { late_horizon: Duration::from_secs(3 * 3600), ..EngineConfig::default() };
        assert!(
            matches!(Settings::new(config), Err(ConfigError::DurationOutOfRange { field, .. }) if field == "late_horizon")
        );
    }

    #[test]
    fn config_round_trips_through_json_with_readable_durations() {
        let json = serde_json::to_string(&EngineConfig::default()).expect("serialize");
        assert!(json.contains("\"max_gap\":\"2h\""), "{json}");
        let back: EngineConfig = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, EngineConfig::default());
    }
}
