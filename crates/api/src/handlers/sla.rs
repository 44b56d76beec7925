//! `GET /v1/sla`: the landlord's service-level view. Every case not closed, each with every
//! step's due time and status as of now (computed afresh from the case's events), and counts
//! of what is overdue and due soon.
//!
//! Counting rule: the headline counts take the statutory steps of triaged cases and the
//! triage review of untriaged ones, and of sensor alerts waiting for triage without a case
//! (the landlord's policy `open_on_triage`). Before triage, both tracks' running clocks are
//! listed as `provisional` (what is due if the issue is triaged so) and counted apart, since
//! only one of the two tracks will apply.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_alerts::deadlines::{self, DeadlineRow};
use dampwatch_clock::case::RecordedLate;
use serde::Serialize;
use serde_json::Value;

use super::alerts::{alert_select, alert_view, AlertView};
use super::cases::{evaluate, replay, CaseSummary, CASE_COLUMNS};
use super::ROOM_JOIN;
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Counts of steps by status.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SlaCounts {
    pub open_cases: u64,
    /// Sensor alerts waiting for a person's triage, with no case yet.
    pub alerts_awaiting_triage: u64,
    /// Non-provisional steps (including triage reviews) past their deadline and not done.
    pub overdue: u64,
    /// Non-provisional steps close to their deadline.
    pub due_soon: u64,
    pub on_track: u64,
    /// Cases with at least one overdue non-provisional step.
    pub cases_overdue: u64,
    /// Cases with a step due soon and none overdue.
    pub cases_due_soon: u64,
    /// Provisional clocks (untriaged cases) past their deadline.
    pub provisional_overdue: u64,
    /// Provisional clocks close to their deadline.
    pub provisional_due_soon: u64,
    /// Steps met by an event recorded long after the instant it gives (each step shows both
    /// instants and the reason in `recorded_late`).
    pub recorded_late: u64,
}

/// One open case in the SLA view.
#[derive(Debug, Serialize)]
pub struct SlaCase {
    #[serde(flatten)]
    pub summary: CaseSummary,
    /// The most urgent status among its non-provisional steps: overdue, due_soon, on_track,
    /// or none (nothing running).
    pub worst_status: &'static str,
    /// The earliest deadline still running (not met, stopped or waiting), if any.
    pub next_due: Option<DateTime<Utc>>,
    /// Every step, earliest deadline first.
    pub steps: Vec<DeadlineRow>,
}

/// The SLA view.
#[derive(Debug, Serialize)]
pub struct SlaReport {
    pub landlord_id: String,
    pub as_of: DateTime<Utc>,
    pub counts: SlaCounts,
    /// Cases, most urgent first (overdue, then due soon, then by next deadline).
    pub cases: Vec<SlaCase>,
    /// Alerts waiting for triage, earliest review deadline first.
    pub alerts_awaiting_triage: Vec<AlertView>,
}

fn running(status: &str) -> bool {
    matches!(status, "overdue" | "due_soon" | "on_track")
}

fn rank(status: &str) -> u8 {
    match status {
        "overdue" => 0,
        "due_soon" => 1,
        "on_track" => 2,
        _ => 3,
    }
}

/// Builds one case's SLA entry and adds it to the counts.
fn entry(summary: CaseSummary, mut steps: Vec<DeadlineRow>, counts: &mut SlaCounts) -> SlaCase {
    steps.sort_by(|a, b| a.ends_at.cmp(&b.ends_at).then_with(|| a.track.cmp(&b.track)));
    let mut worst = "none";
    for step in &steps {
        if step.recorded_late.is_some() {
            counts.recorded_late += 1;
        }
        match (step.provisional, step.status.as_str()) {
            (true, "overdue") => counts.provisional_overdue += 1,
            (true, "due_soon") => counts.provisional_due_soon += 1,
            (false, "overdue") => counts.overdue += 1,
            (false, "due_soon") => counts.due_soon += 1,
            (false, "on_track") => counts.on_track += 1,
            _ => {}
        }
        if !step.provisional && running(&step.status) && rank(&step.status) < rank(worst) {
            worst = match step.status.as_str() {
                "overdue" => "overdue",
                "due_soon" => "due_soon",
                _ => "on_track",
            };
        }
    }
    match worst {
        "overdue" => counts.cases_overdue += 1,
        "due_soon" => counts.cases_due_soon += 1,
        _ => {}
    }
    counts.open_cases += 1;
    let next_due = steps.iter().filter(|s| running(&s.status)).map(|s| s.ends_at).min();
    SlaCase { summary, worst_status: worst, next_due, steps }
}

pub async fn get(State(state): State<ApiState>, mut tenant: Tenant) -> Result<Json<SlaReport>, ApiError> {
    let now = Utc::now();
    let landlord_id = tenant.landlord_id().to_owned();
    let tx = tenant.transaction().await?;
    let case_rows = tx
        .query(
            &format!(
                "SELECT {CASE_COLUMNS} FROM cases t {ROOM_JOIN} WHERE t.state <> 'closed' ORDER BY t.id"
            ),
            &[],
        )
        .await?;
    let alert_rows = tx
        .query(
            &format!("{} WHERE t.triage = 'awaiting_triage' ORDER BY t.raised_at, t.id", alert_select(false)),
            &[],
        )
        .await?;
    let event_rows = tx
        .query(
            "SELECT e.case_id, e.occurred_at, e.event, e.recorded_at, e.evidence
             FROM case_events e JOIN cases c ON c.id = e.case_id
             WHERE c.state <> 'closed' AND e.affects_clock ORDER BY e.case_id, e.seq",
            &[],
        )
        .await?;
    tx.commit().await?;
    let mut events: HashMap<i64, Vec<(DateTime<Utc>, Value)>> = HashMap::new();
    let mut late: HashMap<i64, Vec<RecordedLate>> = HashMap::new();
    for r in &event_rows {
        let event: Value = r.get(2);
        if let Some(record) = deadlines::late_record(&event, r.get(1), r.get(3), &r.get(4)) {
            late.entry(r.get(0)).or_default().push(record);
        }
        events.entry(r.get(0)).or_default().push((r.get(1), event));
    }
    let mut counts = SlaCounts::default();
    let mut awaiting = Vec::with_capacity(alert_rows.len());
    for row in &alert_rows {
        let alert = alert_view(row, false).with_triage_review(&state.clock, now);
        match alert.triage_review.as_ref().map(|r| r.status) {
            Some("overdue") => counts.overdue += 1,
            Some("due_soon") => counts.due_soon += 1,
            Some("on_track") => counts.on_track += 1,
            _ => {}
        }
        counts.alerts_awaiting_triage += 1;
        awaiting.push(alert);
    }
    let mut cases = Vec::with_capacity(case_rows.len());
    for row in &case_rows {
        let summary = super::cases::case_summary(row);
        let case = replay(&summary, events.get(&summary.id).map_or(&[][..], |v| v.as_slice()))?;
        let late = late.get(&summary.id).map_or(&[][..], |v| v.as_slice());
        let (_, steps) = evaluate(&case, late, &state.clock, now)?;
        cases.push(entry(summary, steps, &mut counts));
    }
    cases.sort_by(|a, b| {
        rank(a.worst_status)
            .cmp(&rank(b.worst_status))
            .then_with(|| {
                a.next_due
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
                    .cmp(&b.next_due.unwrap_or(DateTime::<Utc>::MAX_UTC))
            })
            .then_with(|| a.summary.id.cmp(&b.summary.id))
    });
    Ok(Json(SlaReport { landlord_id, as_of: now, counts, cases, alerts_awaiting_triage: awaiting }))
}
