//! `deadlines.json`: every deadline row of the case (`case_deadlines`), and their
//! recomputation from the pack alone: the case replayed from its events under the law and
//! calendar files in the pack gives the rows again through the hazard worker's own function
//! (`dampwatch_alerts::deadlines::rows`), which must match what was stored, field by field.
//! A row's status (on track, overdue, ...) depends on the moment it was computed and is
//! shown, not compared.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dampwatch_clock::{AwarenessPolicy, Case, CaseEvent, Clock, Hazard, Tenancy};
use serde::{Deserialize, Serialize};

use crate::case_record::CaseRecord;
use crate::event::EventRecord;
use crate::timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadlineRecord {
    /// `emergency`, `significant`, or `triage` (the product's triage review).
    pub track: String,
    pub step: String,
    /// Before triage: what is due if the issue is triaged onto this track.
    pub provisional: bool,
    /// Last permitted Europe/London date (`YYYY-MM-DD`) or an RFC 3339 instant.
    pub due: String,
    #[serde(with = "timestamp")]
    pub ends_at: DateTime<Utc>,
    /// `elapsed_hours`, `working_days`, `weeks` or `product_policy`.
    pub basis: String,
    pub amount: i32,
    pub counted_from_event: String,
    #[serde(with = "timestamp")]
    pub counted_from: DateTime<Utc>,
    /// The calendar version the deadline was computed with (a file under `law/calendars/`).
    pub calendar_version: String,
    /// The law version (a file under `law/laws/`, with the phase dates of `law/clock.toml`).
    pub rules_version: String,
    /// The legal source of the step.
    pub source: String,
    /// As of `computed_at`.
    pub status: String,
    #[serde(with = "timestamp")]
    pub computed_at: DateTime<Utc>,
    /// The whole computation: bank holidays skipped, other clocks, status detail.
    pub detail: serde_json::Value,
}

impl DeadlineRecord {
    /// `significant/investigate`.
    pub fn label(&self) -> String {
        format!("{}/{}{}", self.track, self.step, if self.provisional { " (provisional)" } else { "" })
    }

    /// The fields a recomputation must give again, as (name, value) pairs.
    fn computed_fields(&self) -> [(&'static str, String); 10] {
        [
            ("due", self.due.clone()),
            ("ends_at", timestamp::format(self.ends_at)),
            ("basis", self.basis.clone()),
            ("amount", self.amount.to_string()),
            ("counted_from_event", self.counted_from_event.clone()),
            ("counted_from", timestamp::format(self.counted_from)),
            ("calendar_version", self.calendar_version.clone()),
            ("rules_version", self.rules_version.clone()),
            ("source", self.source.clone()),
            ("provisional", self.provisional.to_string()),
        ]
    }
}

/// The case replayed from the pack: its record and its clock events in seq order.
pub fn replay(case: &CaseRecord, events: &[EventRecord]) -> Result<Case, String> {
    let hazard: Hazard = case.hazard.parse().map_err(|_| format!("unknown hazard {:?}", case.hazard))?;
    let policy: AwarenessPolicy =
        serde_json::from_value(serde_json::Value::String(case.awareness_policy.clone()))
            .map_err(|_| format!("unknown awareness policy {:?}", case.awareness_policy))?;
    let jurisdiction =
        dampwatch_alerts::home::parse_jurisdiction(&case.jurisdiction).map_err(|e| e.to_string())?;
    let tenure = dampwatch_alerts::home::parse_tenure(&case.tenure).map_err(|e| e.to_string())?;
    let mut clock_events = Vec::new();
    for e in events.iter().filter(|e| e.affects_clock) {
        let event: CaseEvent = serde_json::from_str(&e.event)
            .map_err(|err| format!("seq {}: not a clock event: {err}", e.seq))?;
        clock_events.push((e.occurred_at, event));
    }
    Case::replay_in(
        Tenancy::new(jurisdiction, tenure),
        hazard,
        case.opened_at,
        policy,
        clock_events.iter().map(|(at, e)| (*at, e)),
    )
    .map_err(|e| format!("the events do not replay: {e}"))
}

/// Recomputes every row and compares it with `stored`; the first difference, as (row label,
/// reason).
pub fn check_deadlines(
    case: &Case,
    clock: &Clock,
    stored: &[DeadlineRecord],
    now: DateTime<Utc>,
) -> Result<usize, (String, String)> {
    let whole = |reason: String| ("the case".to_owned(), reason);
    let view = clock.view(case, now).map_err(|e| whole(format!("cannot compute the deadlines: {e}")))?;
    let rows = dampwatch_alerts::deadlines::rows(case, &view, clock, now)
        .map_err(|e| whole(format!("cannot compute the deadlines: {e}")))?;
    let mut recomputed: BTreeMap<(String, String), DeadlineRecord> = BTreeMap::new();
    for r in rows {
        let record = DeadlineRecord {
            track: r.track,
            step: r.step,
            provisional: r.provisional,
            due: r.due,
            ends_at: r.ends_at,
            basis: r.basis,
            amount: r.amount,
            counted_from_event: r.counted_from_event,
            counted_from: r.counted_from,
            calendar_version: r.calendar_version,
            rules_version: r.rules_version,
            source: r.source,
            status: r.status,
            computed_at: now,
            detail: r.detail,
        };
        recomputed.insert((record.track.clone(), record.step.clone()), record);
    }
    for row in stored {
        let Some(again) = recomputed.remove(&(row.track.clone(), row.step.clone())) else {
            return Err((row.label(), "the pack's events and law data give no such deadline".into()));
        };
        for ((name, stored_value), (_, recomputed_value)) in
            row.computed_fields().into_iter().zip(again.computed_fields())
        {
            if stored_value != recomputed_value {
                return Err((
                    row.label(),
                    format!(
                        "{name} is {stored_value}, the pack's events and law data give {recomputed_value}"
                    ),
                ));
            }
        }
    }
    if let Some(missing) = recomputed.values().next() {
        return Err((missing.label(), "missing: the pack's events and law data give this deadline".into()));
    }
    Ok(stored.len())
}
