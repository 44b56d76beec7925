//! Sentences that explain a finding to a landlord or a housing officer.

use chrono::{DateTime, Utc};

use chrono::TimeDelta;

use crate::alert::{stamp, DayCounts, MouldContext, NightCounts, TimeWindow, WindowStats};
use crate::rule::{Comparison, Metric, Rule};

fn value(metric: Metric, v: f64) -> String {
    match metric {
        Metric::MouldIndex => format!("{v:.3}"),
        Metric::Co2 => format!("{v:.0}{}", metric.unit()),
        _ => format!("{v:.1}{}", metric.unit()),
    }
}

fn rule_tail(rule: &Rule, estimates: bool) -> String {
    let estimate = if estimates { " Includes ESTIMATED surface values (temperature factor)." } else { "" };
    format!("{estimate} Rule {} v{}: {}", rule.id, rule.version, rule.basis)
}

pub(crate) fn sustained(
    rule: &Rule,
    metric: Metric,
    (comparison, threshold): (Comparison, f64),
    window: &TimeWindow,
    stats: &WindowStats,
    mould: Option<&MouldContext>,
    estimates: bool,
) -> String {
    let head = format!(
        "{} {} {} from {} to {} ({:.1} h): mean {}, min {}, max {}, latest {} over {} readings.",
        capitalised(metric.label()),
        comparison.words(),
        value(metric, threshold),
        stamp(window.start),
        stamp(window.end),
        window.hours(),
        value(metric, stats.mean),
        value(metric, stats.min),
        value(metric, stats.max),
        value(metric, stats.latest),
        stats.readings,
    );
    let model = mould
        .map(|m| {
            format!(
                " Peak {:.3}; VTT model {}, {} material, {} conditions.",
                m.peak_index,
                m.model_version,
                m.material,
                basis_words(m)
            )
        })
        .unwrap_or_default();
    format!("{head}{model}{}", rule_tail(rule, estimates))
}

fn basis_words(m: &MouldContext) -> &'static str {
    match m.basis {
        crate::indicators::ConditionsBasis::MeasuredSurface => "measured surface",
        crate::indicators::ConditionsBasis::EstimatedSurface => "ESTIMATED surface",
        crate::indicators::ConditionsBasis::RoomAir => "room air (optimistic)",
    }
}

pub(crate) fn daily(
    rule: &Rule,
    metric: Metric,
    threshold: f64,
    counts: &DayCounts,
    estimates: bool,
) -> String {
    let highest = counts.days.iter().filter(|d| d.above).map(|d| d.mean).fold(f64::NAN, f64::max);
    let highest = if highest.is_nan() {
        String::new()
    } else {
        format!(", highest daily mean {}", value(metric, highest))
    };
    format!(
        "Daily mean {} above {} on {} of the last {} days (at or below on {}, too little data on {}){}.{}",
        metric.label(),
        value(metric, threshold),
        counts.days_above,
        counts.window_days,
        counts.days_below,
        counts.days_without_enough_data,
        highest,
        rule_tail(rule, estimates),
    )
}

pub(crate) fn nightly(
    rule: &Rule,
    (metric, threshold): (Metric, f64),
    min_above: TimeDelta,
    (start_hour, end_hour): (u32, u32),
    counts: &NightCounts,
) -> String {
    let counted: Vec<_> = counts.nights.iter().filter(|n| n.above).collect();
    let longest = counted.iter().map(|n| n.hours_above).fold(f64::NAN, f64::max);
    let peak = counted.iter().map(|n| n.peak).fold(f64::NAN, f64::max);
    let worst = if longest.is_nan() {
        String::new()
    } else {
        format!("; longest {longest:.1} h above, peak {}", value(metric, peak))
    };
    format!(
        "{} above {} for {:.1} h or more on {} of the last {} nights ({start_hour:02}:00-{end_hour:02}:00 UTC; \
         below on {}, too little data on {}){worst}.{}",
        capitalised(metric.label()),
        value(metric, threshold),
        min_above.num_minutes() as f64 / 60.0,
        counts.nights_above,
        counts.window_nights,
        counts.nights_below,
        counts.nights_without_enough_data,
        rule_tail(rule, false),
    )
}

pub(crate) fn silence(rule: &Rule, last_reading_at: DateTime<Utc>, now: DateTime<Utc>, hours: f64) -> String {
    format!(
        "No reading for {hours:.1} h: last reading at {}, checked at {}.{}",
        stamp(last_reading_at),
        stamp(now),
        rule_tail(rule, false)
    )
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
