//! `GET /rooms/{id}`: a room and its home: charts of temperature, relative humidity, dew
//! point, surface RH and the mould index over the last 7 days, 30 days or year
//! (`?range=7d|30d|1y`), with the hazard rules' thresholds drawn and the room's alert windows
//! shaded; then the devices in the room with their battery, newest reading and where their
//! credentials stand in rotation.
//!
//! The indicators come from the hazard engine's own formulas and settings (`[alerts.engine]`)
//! and the thresholds from its rules, so the page draws the numbers the alerts are raised by.
//! Seven days are charted from every stored reading (those the rules would leave out, flagged
//! by the device or the collector, are left out here too); longer ranges from the hourly
//! rollups. The mould index is integrated through the year before the period first, so it
//! starts where the room's history left it rather than at zero.
//!
//! Readings are device data: the page needs `read_devices`; the alert windows are shown to
//! roles that may read alerts. Another landlord's room is not found.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use dampwatch_accounts::Permission;
use dampwatch_alerts::occupant_engines::RoomEngine;
use dampwatch_alerts::room::{RoomRef, StoredReading};
use dampwatch_indicators::{
    Comparison, Condition, HazardEngine, Indicators, Metric, RoomReading, Rule, Severity,
};
use dampwatch_store::read_model::{alert, device_health, room_history, Alert, DeviceHealth, RoomHome};
use maud::html;
use serde::Deserialize;

use super::chart::{Chart, Threshold, Window};
use super::devices::device_table;
use super::layout::{page, when};
use super::viewer::Viewer;
use super::ServerTiming;
use crate::extract::parse_id;
use crate::problem::ApiError;
use crate::state::ApiState;

/// How far back the page looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Week,
    Month,
    Year,
}

impl Range {
    const ALL: [Range; 3] = [Range::Week, Range::Month, Range::Year];

    fn parse(text: &str) -> Option<Range> {
        match text {
            "" | "7d" => Some(Range::Week),
            "30d" => Some(Range::Month),
            "1y" => Some(Range::Year),
            _ => None,
        }
    }

    fn param(self) -> &'static str {
        match self {
            Range::Week => "7d",
            Range::Month => "30d",
            Range::Year => "1y",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Range::Week => "Last 7 days",
            Range::Month => "Last 30 days",
            Range::Year => "Last 12 months",
        }
    }

    fn span(self) -> TimeDelta {
        match self {
            Range::Week => TimeDelta::days(7),
            Range::Month => TimeDelta::days(30),
            Range::Year => TimeDelta::days(365),
        }
    }

    /// Whether the period is charted from every reading (else from the hourly means).
    fn charts_every_reading(self) -> bool {
        self == Range::Week
    }
}

/// Hourly means before the period the mould index is integrated through first.
const MOULD_LEAD_IN: TimeDelta = TimeDelta::days(365);

#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    range: String,
}

/// Everything the page shows, read in one tenant transaction.
struct RoomData {
    home: RoomHome,
    devices: Vec<DeviceHealth>,
    /// `None` when the viewer may not read alerts.
    alerts: Option<Vec<Alert>>,
    /// The period's indicators, in time order.
    indicators: Vec<Indicators>,
    /// Readings of the period the rules leave out (flagged, incomplete or implausible).
    left_out: usize,
    /// How long the database reads took (the rest of [`load`] computes the indicators).
    read: Duration,
}

async fn load(
    state: &ApiState,
    viewer: &Viewer,
    room_id: i64,
    range: Range,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<RoomData, ApiError> {
    let reading = Instant::now();
    let mut tenant = viewer.tenant(state);
    let tx = tenant.transaction().await?;
    let Some(home) = room_history::find(&*tx, room_id).await? else {
        return Err(ApiError::not_found("room", room_id.to_string()));
    };
    let devices = device_health::of_room(&*tx, room_id).await?;
    let alerts = if viewer.may(Permission::ReadAlerts) {
        Some(alert::of_room(&*tx, &home.key(), from, to).await?)
    } else {
        None
    };
    let hourly_to = if range.charts_every_reading() { from } else { to };
    let hourly = room_history::hourly(&*tx, room_id, from - MOULD_LEAD_IN, hourly_to).await?;
    let stored = if range.charts_every_reading() {
        room_history::readings(&*tx, room_id, from, to).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let read = reading.elapsed();

    let mut history = room_engine(state, &home).engine.history();
    let mut indicators = Vec::new();
    let mut left_out = 0;
    for mean in &hourly {
        let (Some(t), Some(rh)) = (mean.temperature_c, mean.rh_pct) else { continue };
        let mut reading = RoomReading::air(mean.hour, t, rh);
        reading.surface_temperature_c = mean.surface_temperature_c;
        match history.push(&reading) {
            Ok(i) if mean.hour >= from => indicators.push(i),
            Ok(_) => {}
            Err(_) if mean.hour >= from => left_out += 1,
            Err(_) => {}
        }
    }
    let room = RoomRef::Room(room_id);
    for sample in stored {
        // The hazard worker's own conversion: what the rules would not see is not charted.
        let stored = StoredReading {
            device_id: sample.device_id,
            landlord_id: String::new(),
            room: room.clone(),
            sampled_at: sample.sampled_at,
            temperature_centi_c: sample.temperature_centi_c,
            rh_centi_pct: sample.rh_centi_pct,
            surface_temperature_centi_c: sample.surface_temperature_centi_c,
            co2_ppm: sample.co2_ppm,
            status: sample.status,
        };
        match stored.for_rules().ok().map(|r| history.push(&r)) {
            Some(Ok(i)) => indicators.push(i),
            _ => left_out += 1,
        }
    }
    Ok(RoomData { home, devices, alerts, indicators, left_out, read })
}

/// A rule in words: "Amber: above 70 % for 24 h (damp.room_rh_sustained)".
fn rule_words(rule: &Rule) -> String {
    let severity = match rule.severity {
        Severity::Amber => "Amber",
        Severity::Red => "Red",
    };
    let condition = match &rule.condition {
        Condition::Sustained { metric, comparison, threshold, raise_after, .. } => {
            let held = match raise_after.as_secs() {
                0 => String::new(),
                s if s % 3600 == 0 => format!(" for {} h", s / 3600),
                _ => format!(" for {}", humantime_serde::re::humantime::format_duration(*raise_after)),
            };
            format!("{} {threshold}{}{held}", comparison.words(), metric.unit())
        }
        Condition::MostDays { metric, threshold, window_days, raise_days, .. } => format!(
            "daily mean {} {threshold}{} on {raise_days} of {window_days} days",
            Comparison::Above.words(),
            metric.unit()
        ),
        Condition::Nights { metric, threshold, min_above, window_nights, raise_nights, .. } => format!(
            "{} {threshold}{} for {} of a night on {raise_nights} of {window_nights} nights",
            Comparison::Above.words(),
            metric.unit(),
            humantime_serde::re::humantime::format_duration(*min_above)
        ),
        Condition::NoData { .. } => "no data".to_owned(),
    };
    format!("{severity}: {condition} ({})", rule.id)
}

/// The engine the hazard worker judges the room by: its home's occupants' (the stricter cold
/// and heat rules the home's record selects).
fn room_engine<'a>(state: &'a ApiState, home: &RoomHome) -> &'a RoomEngine {
    state.engines.for_occupants(&state.engines.parse(&home.occupant_rules))
}

/// Whom the stricter rules that apply to the home protect, as the occupant data words it (the
/// home's own record of which is sealed, and not the API's to open).
fn protected(state: &ApiState, home: &RoomHome) -> Vec<String> {
    let selected = state.engines.parse(&home.occupant_rules);
    let rules = state.engines.rules();
    let mut who: Vec<String> = Vec::new();
    for stricter in rules.stricter().iter().filter(|s| selected.contains(&s.rule.id)) {
        let protects = rules.protects(stricter);
        if !who.contains(&protects) {
            who.push(protects);
        }
    }
    who
}

/// The engine's rules on `metric`, as lines to draw.
fn thresholds(engine: &HazardEngine, metric: Option<Metric>) -> Vec<Threshold> {
    let Some(metric) = metric else { return Vec::new() };
    engine
        .config()
        .rules
        .iter()
        .filter_map(|rule| match rule.threshold() {
            Some((m, value)) if m == metric => {
                Some(Threshold { value, label: rule_words(rule), red: rule.severity == Severity::Red })
            }
            _ => None,
        })
        .collect()
}

/// The indicator hazards whose alert windows a chart of `metric` shades: the hazards of the
/// rules that watch it, and silence, which leaves every chart without data.
fn hazards_of(engine: &HazardEngine, metric: Option<Metric>) -> BTreeSet<&'static str> {
    let mut hazards: BTreeSet<&'static str> = engine
        .config()
        .rules
        .iter()
        .filter(|rule| match (rule.threshold(), metric) {
            (Some((m, _)), Some(metric)) => m == metric,
            (None, _) => true,
            _ => false,
        })
        .map(|rule| rule.hazard.slug())
        .collect();
    if metric.is_none_or(|m| matches!(m, Metric::RoomRh | Metric::SurfaceRh | Metric::MouldIndex)) {
        // Dew point and humidity tell of damp whichever rule raised it.
        hazards.insert(dampwatch_indicators::Hazard::DampAndMouldGrowth.slug());
    }
    hazards
}

fn windows(alerts: &[Alert], hazards: &BTreeSet<&str>) -> Vec<Window> {
    alerts
        .iter()
        .filter(|a| hazards.contains(a.hazard.as_str()))
        .map(|a| Window {
            from: a.raised_at,
            to: a.cleared_at,
            label: format!("Alert {}: {} ({})", a.id, a.hazard.replace('_', " "), a.severity),
        })
        .collect()
}

/// One chart's definition: id, title, unit, decimals, the rules' metric, the value.
type Series =
    (&'static str, &'static str, &'static str, usize, Option<Metric>, fn(&Indicators) -> Option<f64>);

const SERIES: [Series; 5] = [
    ("temperature", "Air temperature", " °C", 1, Some(Metric::AirTemperature), |i| Some(i.temperature_c)),
    ("humidity", "Relative humidity", " %", 0, Some(Metric::RoomRh), |i| Some(i.rh_pct)),
    ("dew-point", "Dew point", " °C", 1, None, |i| i.dew_point_c),
    ("surface-rh", "Surface relative humidity", " %", 0, Some(Metric::SurfaceRh), |i| {
        i.surface.map(|s| s.rh_pct)
    }),
    ("mould", "Mould index (VTT, 0–6)", "", 2, Some(Metric::MouldIndex), |i| Some(i.mould_index)),
];

fn charts(state: &ApiState, data: &RoomData, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Chart> {
    let engine = &room_engine(state, &data.home).engine;
    let max_gap = TimeDelta::from_std(engine.config().max_gap).unwrap_or(TimeDelta::hours(2));
    SERIES
        .iter()
        .map(|&(id, title, unit, decimals, metric, value)| Chart {
            id,
            title,
            unit,
            decimals,
            from,
            to,
            points: data.indicators.iter().filter_map(|i| value(i).map(|v| (i.time, v))).collect(),
            max_gap,
            floor: (metric == Some(Metric::MouldIndex)).then_some((0.0, 1.0)),
            thresholds: thresholds(engine, metric),
            windows: data
                .alerts
                .as_deref()
                .map_or_else(Vec::new, |a| windows(a, &hazards_of(engine, metric))),
        })
        .collect()
}

pub(super) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn render(state: &ApiState, viewer: &Viewer, data: &RoomData, range: Range, now: DateTime<Utc>) -> Response {
    let from = now - range.span();
    let home = &data.home;
    let content = html! {
        dl {
            dt { "Home" } dd { (home.dwelling_reference) @if !home.dwelling_address.is_empty() { ", " (home.dwelling_address) } }
            dt { "Room" } dd { (home.name) }
        }
        nav.ranges aria-label="Period" {
            ul.counts {
                @for r in Range::ALL {
                    li { @if r == range {
                        strong aria-current="page" { (r.words()) }
                    } @else {
                        a href={"/rooms/" (home.room_id) "?range=" (r.param())} { (r.words()) }
                    } }
                }
            }
        }
        p {
            (range.words()) ", " (when(from)) " to " (when(now)) ". "
            @if range.charts_every_reading() { "Charted from every stored reading" } @else { "Charted from hourly means" }
            " of the devices placed in the room now; indicators and thresholds are the hazard engine's ("
            (room_engine(state, home).ruleset_version) "). The mould index is integrated through the year before the period first."
            @let protected = protected(state, home);
            @if !protected.is_empty() {
                " The home records an occupant the stricter cold and heat rules protect ("
                (protected.join("; "))
                "): they apply ("
                (state.engines.occupant_rules_version()) ")."
            }
            @if data.left_out > 0 { " " (data.left_out) " readings were left out, as the alert rules leave them out (flagged by the device or the collector, or incomplete)." }
        }
        @if data.alerts.is_none() {
            p { "Alert windows are not shown: your role may not read alerts." }
        }
        @for chart in charts(state, data, from, now) {
            section.chart aria-labelledby={(chart.id) "-heading"} {
                h2 id={(chart.id) "-heading"} { (chart.title) }
                (chart.svg())
                (chart.summary())
                @if !chart.windows.is_empty() {
                    p { "Shaded (hatched): " @for (i, w) in chart.windows.iter().enumerate() { @if i > 0 { "; " } (w.label) } "." }
                }
            }
        }
        @if let Some(alerts) = &data.alerts {
            h2 { "Alerts in this period" }
            @if alerts.is_empty() { p { "None." } } @else {
                table {
                    caption.visually-hidden { "Alerts of this room open during the period" }
                    thead { tr { th scope="col" { "Alert" } th scope="col" { "Hazard" } th scope="col" { "Severity" }
                                 th scope="col" { "Raised" } th scope="col" { "Cleared" } th scope="col" { "Case" } } }
                    tbody {
                        @for a in alerts {
                            tr {
                                td { (a.id) }
                                td { (a.hazard.replace('_', " ")) }
                                td { (capitalised(a.severity.as_str())) }
                                td { (when(a.raised_at)) }
                                td { @match a.cleared_at { Some(c) => { (when(c)) } None => { "still open" } } }
                                td { @if let Some(c) = a.case_id { a href={"/cases/" (c)} { "Case " (c) } } @else { "—" } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Devices" }
        (device_table(state, &data.devices, now, false))
    };
    page(&format!("{} — {}", home.name, home.dwelling_reference), Some(viewer), content)
}

/// `GET /rooms/{id}`.
pub async fn get(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    viewer.require(Permission::ReadDevices)?;
    let id = parse_id("room", &id)?;
    let range =
        Range::parse(&q.range).ok_or_else(|| ApiError::BadRequest("range must be 7d, 30d or 1y".into()))?;
    let now = state.now();
    let from = now - range.span();
    let loading = Instant::now();
    let data = load(&state, &viewer, id, range, from, now).await?;
    let indicators = loading.elapsed().saturating_sub(data.read);
    let rendering = Instant::now();
    let mut response = render(&state, &viewer, &data, range, now);
    let parts = vec![("read", data.read), ("indicators", indicators), ("html", rendering.elapsed())];
    response.extensions_mut().insert(ServerTiming(parts));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dampwatch_indicators::default_rules;

    #[test]
    fn rules_read_as_words_with_their_severity_and_id() {
        let rules = default_rules();
        let rh = rules.iter().find(|r| r.id == "damp.room_rh_sustained").unwrap();
        assert_eq!(rule_words(rh), "Amber: above 70 % for 24 h (damp.room_rh_sustained)");
        let visible = rules.iter().find(|r| r.id == "mould.index_visible").unwrap();
        assert_eq!(rule_words(visible), "Red: at or above 3 (mould.index_visible)");
    }

    #[test]
    fn ranges_are_seven_days_thirty_days_or_a_year() {
        assert_eq!(Range::parse(""), Some(Range::Week));
        assert_eq!(Range::parse("30d"), Some(Range::Month));
        assert_eq!(Range::parse("1y").map(Range::span), Some(TimeDelta::days(365)));
        assert_eq!(Range::parse("2y"), None);
        assert!(Range::Week.charts_every_reading() && !Range::Year.charts_every_reading());
    }
}
