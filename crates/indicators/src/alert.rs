//! Alerts and the evidence that explains them, as the collector stores them (JSON via serde).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::indicators::ConditionsBasis;
use crate::material::MaterialClass;
use crate::rule::{Hazard, Metric, Severity};

/// Which rule, in which version, on which basis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: String,
    pub version: u32,
    pub ruleset_version: String,
    pub basis: String,
}

/// A span of time in the data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    pub fn hours(&self) -> f64 {
        (self.end - self.start).num_milliseconds() as f64 / 3_600_000.0
    }
}

/// Statistics of the readings in a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub readings: u64,
    /// Mean of the readings' values.
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub latest: f64,
}

/// One UTC day of a day-based rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailyMean {
    pub date: NaiveDate,
    /// Time-weighted mean of the metric over the covered part of the day.
    pub mean: f64,
    pub covered_hours: f64,
    /// Counted toward raising (mean above threshold with enough coverage).
    pub above: bool,
    /// Counted toward clearing (mean at or below threshold with enough coverage).
    pub below: bool,
}

/// Days of a day-based rule's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCounts {
    pub window_days: u32,
    pub days_above: u32,
    pub days_below: u32,
    /// Days with too little data to count either way.
    pub days_without_enough_data: u32,
    pub days: Vec<DailyMean>,
}

/// One night of a night-based rule (see the rule's `Nights` condition).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NightSummary {
    /// The UTC date the night starts on.
    pub date: NaiveDate,
    /// Hours of the night with data.
    pub covered_hours: f64,
    /// Hours of the night with the metric above the threshold.
    pub hours_above: f64,
    /// The highest value held during the night.
    pub peak: f64,
    /// Counted toward raising (above the threshold for long enough).
    pub above: bool,
    /// Counted toward clearing (over, with enough data, and not above for long enough).
    pub below: bool,
}

/// Nights of a night-based rule's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NightCounts {
    pub window_nights: u32,
    pub nights_above: u32,
    pub nights_below: u32,
    /// Nights with too little data to count either way, or still under way.
    pub nights_without_enough_data: u32,
    /// The nights of the window with any data, oldest first.
    pub nights: Vec<NightSummary>,
}

/// The values behind a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    Readings(WindowStats),
    Days(DayCounts),
    Nights(NightCounts),
    Silence { last_reading_at: DateTime<Utc>, hours_without_data: f64 },
}

/// How a mould index was obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MouldContext {
    pub model_version: String,
    pub material: MaterialClass,
    pub basis: ConditionsBasis,
    pub peak_index: f64,
}

/// One active rule and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: RuleRef,
    pub severity: Severity,
    /// `None` for the no-data rule.
    pub metric: Option<Metric>,
    /// When the rule's condition was first met for long enough (data time).
    pub active_since: DateTime<Utc>,
    pub window: TimeWindow,
    pub evidence: Evidence,
    /// Some values in the window are ESTIMATES (surface from the temperature factor).
    pub includes_estimates: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mould: Option<MouldContext>,
    /// One sentence for people.
    pub explanation: String,
}

/// The one open alert of a room for a hazard; its findings are the rules currently active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HazardAlert {
    pub hazard: Hazard,
    /// The highest severity among the findings.
    pub severity: Severity,
    /// Earliest `active_since` of the findings.
    pub since: DateTime<Utc>,
    /// Most severe first, then by rule id.
    pub findings: Vec<Finding>,
}

impl HazardAlert {
    pub(crate) fn from_findings(hazard: Hazard, mut findings: Vec<Finding>) -> Option<HazardAlert> {
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.rule.id.cmp(&b.rule.id)));
        let severity = findings.iter().map(|f| f.severity).max()?;
        let since = findings.iter().map(|f| f.active_since).min()?;
        Some(HazardAlert { hazard, severity, since, findings })
    }

    /// Ids of the active rules, in finding order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.rule.id.as_str()).collect()
    }

    /// What a pattern finding counts (days or nights of its window above the threshold), per
    /// rule: when only these change, the alert is the same alert with newer evidence
    /// ([`TransitionKind::Refreshed`]).
    pub(crate) fn pattern_counts(&self) -> Vec<(&str, u32)> {
        self.findings
            .iter()
            .filter_map(|f| match &f.evidence {
                Evidence::Days(d) => Some((f.rule.id.as_str(), d.days_above)),
                Evidence::Nights(n) => Some((f.rule.id.as_str(), n.nights_above)),
                Evidence::Readings(_) | Evidence::Silence { .. } => None,
            })
            .collect()
    }

    /// The findings' explanations, one per line.
    pub fn explanation(&self) -> String {
        let lines: Vec<&str> = self.findings.iter().map(|f| f.explanation.as_str()).collect();
        lines.join("\n")
    }
}

/// What happened to a room's alert for a hazard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// A new alert. With `cleared_at`, late readings show an episode that began and ended in
    /// the past: the alert is recorded already cleared.
    Raised,
    /// Still open, but its severity, its set of active rules or (after late readings) its start
    /// changed.
    Updated,
    Cleared,
    /// A cleared alert that late readings show never cleared: the same alert is open again.
    Reopened,
    /// A cleared alert whose start or end late readings moved; it stays cleared.
    Revised,
    /// Still open with the same severity and rules, but a pattern it counts moved on (another
    /// night or day above the threshold, or one fewer): the explanation is brought up to date
    /// ("6 of the last 7 nights"). Nothing to report to anyone.
    Refreshed,
}

/// A change to report (and to store) after a reading or an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertTransition {
    pub kind: TransitionKind,
    pub hazard: Hazard,
    /// The alert now (raised, updated) or as it last stood (cleared).
    pub alert: HazardAlert,
    /// For `Cleared`, `Revised` and an already-over `Raised`: when the data showed the hazard
    /// gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_at: Option<DateTime<Utc>>,
    /// The `now` of the evaluation that produced this transition.
    pub evaluated_at: DateTime<Utc>,
    pub ruleset_version: String,
    /// Set when placing late readings in time order produced this transition: how the alert's
    /// window compares with what had been reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<LateRevision>,
}

/// What placing late readings in time order showed about one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateRevision {
    /// The room's readings were folded again in time order from this data time (`None`: from
    /// the room's first reading).
    pub replayed_from: Option<DateTime<Utc>>,
    /// When the condition began, as the readings in time order show it.
    pub since: DateTime<Utc>,
    /// The alert as it had been reported before; `None` for an alert the late readings raise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<ReportedWindow>,
    /// The condition is known to have started earlier than had been reported.
    pub known_to_have_started_earlier: bool,
    /// The readings in time order do not show the condition: the reported alert is withdrawn
    /// (cleared).
    pub not_supported: bool,
}

/// An alert's window as it had been reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReportedWindow {
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_at: Option<DateTime<Utc>>,
}

impl AlertTransition {
    /// A one-paragraph summary for people.
    pub fn explanation(&self) -> String {
        let (hazard, severity) = (self.hazard, self.alert.severity);
        let cleared = self.cleared_at.map(|at| format!(" at {}", stamp(at))).unwrap_or_default();
        let head = match self.kind {
            TransitionKind::Raised if self.cleared_at.is_some() => {
                format!("{hazard} alert raised ({severity}) from late readings, already cleared{cleared}")
            }
            TransitionKind::Raised => format!("{hazard} alert raised ({severity})"),
            TransitionKind::Updated => format!("{hazard} alert now {severity}"),
            TransitionKind::Cleared => format!("{hazard} alert cleared{cleared}"),
            TransitionKind::Reopened => {
                format!("{hazard} alert open again ({severity}): late readings show it did not clear")
            }
            TransitionKind::Revised => {
                format!("{hazard} alert (cleared{cleared}) revised from late readings")
            }
            TransitionKind::Refreshed => format!("{hazard} alert open ({severity})"),
        };
        let late = self.late.as_ref().map(LateRevision::sentence).unwrap_or_default();
        format!("{head}:\n{late}{}", self.alert.explanation())
    }
}

impl LateRevision {
    /// One line (with its newline) for the transition's summary.
    fn sentence(&self) -> String {
        let since = stamp(self.since);
        let what = match self.reported {
            _ if self.not_supported => {
                "the readings in time order do not show this condition; the alert is withdrawn".to_owned()
            }
            Some(r) if self.known_to_have_started_earlier => {
                format!("known to have started earlier: at {since}, not {} as first reported", stamp(r.since))
            }
            _ => format!("the condition began at {since}"),
        };
        format!("Late readings placed in time order: {what}.\n")
    }
}

/// Seconds-precision RFC 3339, as in every explanation.
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
