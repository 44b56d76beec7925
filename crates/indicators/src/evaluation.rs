//! The deterministic fold of a room's readings, in time order, into indicator and rule state.
//!
//! It is a plain value (cloneable, serialisable): the room state keeps one at a checkpoint and
//! replays the few readings after it when a reading arrives out of order, and copies of it are
//! the checkpoints a late reading is replayed from.

pub(crate) mod coverage;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{Evidence, Finding, MouldContext, RuleRef, TimeWindow};
use crate::config::Settings;
use crate::daily::{seconds, DailyParams, DailyTracker};
use crate::explain;
use crate::indicators::Indicators;
use crate::mould::{held_span, hours, MouldState, MOULD_MODEL_VERSION};
use crate::nightly::{NightParams, NightTracker};
use crate::reading::RoomReading;
use crate::rule::{Condition, Hazard, Metric, Rule};
use crate::window::{SustainedParams, SustainedTracker};
use coverage::CoverageTally;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Evaluation {
    latest: Option<Indicators>,
    mould: MouldState,
    /// Keyed by rule id, so a stored state survives a change to the rule list.
    sustained: BTreeMap<String, SustainedTracker>,
    daily: BTreeMap<String, DailyTracker>,
    /// Absent from states stored before night-based rules existed.
    #[serde(default)]
    nightly: BTreeMap<String, NightTracker>,
    /// Absent from states stored before it was counted: it then counts from the next reading.
    #[serde(default)]
    coverage: CoverageTally,
}

fn to_delta(d: std::time::Duration) -> TimeDelta {
    // Durations were range-checked when the settings were built.
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn sustained_params(condition: &Condition, max_gap: TimeDelta) -> Option<(Metric, SustainedParams)> {
    match condition {
        Condition::Sustained { metric, comparison, threshold, clear_at, raise_after, clear_after } => Some((
            *metric,
            SustainedParams {
                comparison: *comparison,
                threshold: *threshold,
                clear_at: *clear_at,
                raise_after: to_delta(*raise_after),
                clear_after: to_delta(*clear_after),
                max_gap,
            },
        )),
        _ => None,
    }
}

fn daily_params(condition: &Condition) -> Option<(Metric, DailyParams)> {
    match condition {
        Condition::MostDays {
            metric,
            threshold,
            window_days,
            raise_days,
            clear_dry_days,
            min_day_coverage,
        } => Some((
            *metric,
            DailyParams {
                threshold: *threshold,
                window_days: *window_days,
                raise_days: *raise_days,
                clear_dry_days: *clear_dry_days,
                min_day_coverage_seconds: seconds(to_delta(*min_day_coverage)),
            },
        )),
        _ => None,
    }
}

fn night_params(condition: &Condition) -> Option<(Metric, NightParams)> {
    match condition {
        Condition::Nights {
            metric,
            threshold,
            night_start_hour,
            night_end_hour,
            min_above,
            min_night_coverage,
            window_nights,
            raise_nights,
            clear_nights,
        } => Some((
            *metric,
            NightParams::new(
                *threshold,
                (*night_start_hour, *night_end_hour),
                to_delta(*min_above),
                to_delta(*min_night_coverage),
                (*window_nights, *raise_nights, *clear_nights),
            ),
        )),
        _ => None,
    }
}

impl Evaluation {
    pub fn latest(&self) -> Option<&Indicators> {
        self.latest.as_ref()
    }

    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.latest.as_ref().map(|i| i.time)
    }

    pub fn mould(&self) -> &MouldState {
        &self.mould
    }

    pub fn coverage(&self) -> &CoverageTally {
        &self.coverage
    }

    /// Folds one reading that is later than every reading folded so far.
    pub fn apply(&mut self, settings: &Settings, reading: &RoomReading) {
        let config = &settings.config;
        let mut now = Indicators::of(reading, &settings.point());
        self.coverage.count(self.last_time(), now.time, settings.max_gap);
        if let Some(prev) = self.latest.take() {
            let held = held_span(prev.time, now.time, settings.max_gap);
            let (t, rh) = prev.mould_conditions();
            self.mould.advance(config.material, t, rh, hours(held));
            now.mould_index_basis = Some(prev.conditions_basis);
            for rule in config.tracked() {
                if let Some((metric, _)) = daily_params(&rule.condition) {
                    if let Some((value, estimate)) = prev.metric(metric) {
                        self.daily.entry(rule.id.clone()).or_default().add_interval(
                            prev.time,
                            prev.time + held,
                            value,
                            estimate,
                        );
                    }
                } else if let Some((metric, params)) = night_params(&rule.condition) {
                    if let Some((value, estimate)) = prev.metric(metric) {
                        self.nightly.entry(rule.id.clone()).or_default().add_interval(
                            (prev.time, prev.time + held),
                            value,
                            estimate,
                            &params,
                        );
                    }
                }
            }
        }
        now.mould_index = self.mould.index;
        for rule in config.tracked() {
            if let Some((metric, params)) = sustained_params(&rule.condition, settings.max_gap) {
                if let Some((value, estimate)) = now.metric(metric) {
                    self.sustained
                        .entry(rule.id.clone())
                        .or_default()
                        .observe(now.time, value, estimate, &params);
                }
            } else if let Some((_, params)) = daily_params(&rule.condition) {
                self.daily.entry(rule.id.clone()).or_default().observe(now.time, &params);
            } else if let Some((_, params)) = night_params(&rule.condition) {
                self.nightly.entry(rule.id.clone()).or_default().observe(now.time, &params);
            }
        }
        self.latest = Some(now);
    }

    /// When the data last showed `rule` clear.
    pub fn last_cleared_at(&self, rule: &Rule) -> Option<DateTime<Utc>> {
        let sustained = self.sustained.get(&rule.id).and_then(|t| t.last_cleared_at());
        sustained
            .or_else(|| self.daily.get(&rule.id).and_then(|t| t.last_cleared_at()))
            .or_else(|| self.nightly.get(&rule.id).and_then(|t| t.last_cleared_at()))
    }

    /// Every active rule with its evidence, judged at `now` for the no-data rules.
    pub fn findings(&self, settings: &Settings, now: DateTime<Utc>) -> Vec<(Hazard, Finding)> {
        let config = &settings.config;
        let mut out = Vec::new();
        for rule in &config.rules {
            if let Some(finding) = self.finding(settings, rule, now) {
                out.push((rule.hazard, finding));
            }
        }
        out
    }

    fn finding(&self, settings: &Settings, rule: &Rule, now: DateTime<Utc>) -> Option<Finding> {
        let rule_ref = RuleRef {
            id: rule.id.clone(),
            version: rule.version,
            ruleset_version: settings.config.ruleset_version.clone(),
            basis: rule.basis.clone(),
        };
        match &rule.condition {
            Condition::Sustained { metric, comparison, threshold, .. } => {
                let tracker = self.sustained.get(&rule.id)?;
                let view = tracker.view()?;
                let mould = (*metric == Metric::MouldIndex).then(|| self.mould_context(settings));
                let explanation = explain::sustained(
                    rule,
                    *metric,
                    (*comparison, *threshold),
                    &view.window,
                    &view.stats,
                    mould.as_ref(),
                    view.estimates,
                );
                Some(Finding {
                    rule: rule_ref,
                    severity: rule.severity,
                    metric: Some(*metric),
                    active_since: view.active_since,
                    window: view.window,
                    evidence: view.evidence,
                    includes_estimates: view.estimates,
                    mould,
                    explanation,
                })
            }
            Condition::MostDays { metric, threshold, .. } => {
                let tracker = self.daily.get(&rule.id)?;
                let (_, params) = daily_params(&rule.condition)?;
                let view = tracker.view(&params)?;
                let explanation = explain::daily(rule, *metric, *threshold, &view.counts, view.estimates);
                Some(Finding {
                    rule: rule_ref,
                    severity: rule.severity,
                    metric: Some(*metric),
                    active_since: view.active_since,
                    window: view.window,
                    evidence: Evidence::Days(view.counts),
                    includes_estimates: view.estimates,
                    mould: None,
                    explanation,
                })
            }
            Condition::Nights { metric, threshold, min_above, night_start_hour, night_end_hour, .. } => {
                let tracker = self.nightly.get(&rule.id)?;
                let (_, params) = night_params(&rule.condition)?;
                let view = tracker.view(&params)?;
                let explanation = explain::nightly(
                    rule,
                    (*metric, *threshold),
                    to_delta(*min_above),
                    (*night_start_hour, *night_end_hour),
                    &view.counts,
                );
                Some(Finding {
                    rule: rule_ref,
                    severity: rule.severity,
                    metric: Some(*metric),
                    active_since: view.active_since,
                    window: view.window,
                    evidence: Evidence::Nights(view.counts),
                    includes_estimates: view.estimates,
                    mould: None,
                    explanation,
                })
            }
            Condition::NoData { after } => {
                let last = self.last_time()?;
                // Settings give every no-data rule its period.
                let after = to_delta(after.unwrap_or(settings.config.offline_after));
                if now - last < after {
                    return None;
                }
                let silent_hours = hours(now - last);
                Some(Finding {
                    rule: rule_ref,
                    severity: rule.severity,
                    metric: None,
                    active_since: last + after,
                    window: TimeWindow { start: last, end: now },
                    evidence: Evidence::Silence { last_reading_at: last, hours_without_data: silent_hours },
                    includes_estimates: false,
                    mould: None,
                    explanation: explain::silence(rule, last, now, silent_hours),
                })
            }
        }
    }

    fn mould_context(&self, settings: &Settings) -> MouldContext {
        let basis = self
            .latest
            .as_ref()
            .map(|i| i.mould_index_basis.unwrap_or(i.conditions_basis))
            .unwrap_or(crate::indicators::ConditionsBasis::RoomAir);
        MouldContext {
            model_version: MOULD_MODEL_VERSION.to_owned(),
            material: settings.config.material,
            basis,
            peak_index: self.mould.peak,
        }
    }
}
