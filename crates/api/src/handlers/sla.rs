//! `GET /v1/sla`: the landlord's service-level view. Every case not closed, each with every
//! step's due time and status as of now (from the stored deadlines, or replayed from the
//! case's events while those are not current: see [`report`]), and counts of what is overdue
//! and due soon.
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
use dampwatch_alerts::deadlines::status_name;
use dampwatch_clock::running_status;
use dampwatch_store::read_model::{alert, case, deadline, Alert, Case, CaseEventRecord, Deadline};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::alerts::with_triage_review;
use super::cases::{evaluate, late_records, replay};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Counts of steps by status.
#[derive(Debug, Default, Serialize, PartialEq, Eq, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaCase {
    #[serde(flatten)]
    pub case: Case,
    /// The most urgent status among its non-provisional steps: overdue, due_soon, on_track,
    /// or none (nothing running).
    #[schema(value_type = String, pattern = "^(overdue|due_soon|on_track|none)$")]
    pub worst_status: &'static str,
    /// The earliest deadline still running (not met, stopped or waiting), if any.
    #[schema(required = true)]
    pub next_due: Option<DateTime<Utc>>,
    /// Every step, earliest deadline first.
    pub steps: Vec<Deadline>,
}

/// The SLA view.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaReport {
    pub landlord_id: String,
    pub as_of: DateTime<Utc>,
    pub counts: SlaCounts,
    /// Cases, most urgent first (overdue, then due soon, then by next deadline).
    pub cases: Vec<SlaCase>,
    /// Alerts waiting for triage, earliest review deadline first.
    pub alerts_awaiting_triage: Vec<Alert>,
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
fn entry(case: Case, mut steps: Vec<Deadline>, counts: &mut SlaCounts) -> SlaCase {
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
    SlaCase { case, worst_status: worst, next_due, steps }
}

/// Service-level view
///
/// Every case not closed with every step's due time and status as of now, and counts of what
/// is overdue and due soon.
#[utoipa::path(
    get,
    path = "/v1/sla",
    operation_id = "getSla",
    tag = "cases",
    responses((status = 200, description = "The SLA view.", body = SlaReport))
)]
pub async fn get(State(state): State<ApiState>, tenant: Tenant) -> Result<Json<SlaReport>, ApiError> {
    Ok(Json(report(&state, tenant, state.now(), StepDetail::Full).await?))
}

/// How much of each step's computation the SLA view carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepDetail {
    /// Each step's full `detail` (the API's answer).
    Full,
    /// No `detail` but the late-record mark, and no event-log head (what the board shows).
    Summary,
}

/// The SLA view of the tenant's landlord at `now` (the API's and the dashboard board's one
/// definition of it).
///
/// Statuses come from the stored deadlines when they were computed under this clock's basis
/// (each running step keeps when it becomes due soon, so its status at `now` follows without
/// the events; see `dampwatch_alerts::projection`); otherwise, until the hazard worker has
/// recomputed them, every case is replayed from its events.
pub(crate) async fn report(
    state: &ApiState,
    mut tenant: Tenant,
    now: DateTime<Utc>,
    detail: StepDetail,
) -> Result<SlaReport, ApiError> {
    let landlord_id = tenant.landlord_id().to_owned();
    let tx = tenant.transaction().await?;
    let open = case::not_closed(&*tx, detail == StepDetail::Full).await?;
    let waiting = alert::awaiting_triage(&*tx).await?;
    let current = deadline::projection_basis(&*tx).await?.is_some_and(|b| b == state.clock.basis());
    let mut steps: HashMap<i64, Vec<Deadline>> = HashMap::new();
    if current {
        for (case_id, step) in deadline::of_cases_not_closed(&*tx, detail == StepDetail::Full).await? {
            steps.entry(case_id).or_default().push(as_of(step, now));
        }
        tx.commit().await?;
    } else {
        let event_rows = case::clock_events_of_cases_not_closed(&*tx).await?;
        tx.commit().await?;
        let mut events: HashMap<i64, Vec<CaseEventRecord>> = HashMap::new();
        for (case_id, event) in event_rows {
            events.entry(case_id).or_default().push(event);
        }
        for case in &open {
            let case_events = events.get(&case.id).map_or(&[][..], |v| v.as_slice());
            let replayed = replay(case, case_events)?;
            let (_, rows) = evaluate(&replayed, &late_records(case_events), &state.clock, now)?;
            steps.insert(case.id, rows);
        }
    }
    let mut counts = SlaCounts::default();
    let mut awaiting = Vec::with_capacity(waiting.len());
    for alert in waiting {
        let alert = with_triage_review(alert, &state.clock, now);
        match alert.triage_review.as_ref().map(|r| r.status.as_str()) {
            Some("overdue") => counts.overdue += 1,
            Some("due_soon") => counts.due_soon += 1,
            Some("on_track") => counts.on_track += 1,
            _ => {}
        }
        counts.alerts_awaiting_triage += 1;
        awaiting.push(alert);
    }
    let mut cases = Vec::with_capacity(open.len());
    for case in open {
        let rows = steps.remove(&case.id).unwrap_or_default();
        cases.push(entry(case, rows, &mut counts));
    }
    cases.sort_by(|a, b| {
        rank(a.worst_status)
            .cmp(&rank(b.worst_status))
            .then_with(|| {
                a.next_due
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
                    .cmp(&b.next_due.unwrap_or(DateTime::<Utc>::MAX_UTC))
            })
            .then_with(|| a.case.id.cmp(&b.case.id))
    });
    Ok(SlaReport { landlord_id, as_of: now, counts, cases, alerts_awaiting_triage: awaiting })
}

/// A stored step as of `now`: a running clock's status follows from its due time and the
/// instant it becomes due soon (the clock's own rule); any other status only an event
/// changes, and every event rewrites the rows.
fn as_of(mut step: Deadline, now: DateTime<Utc>) -> Deadline {
    let Some(soon) = step.due_soon_from.filter(|_| running(&step.status)) else { return step };
    let name = status_name(&running_status(now, step.ends_at, soon));
    if let Some(Value::Object(status)) = step.detail.get_mut("status") {
        if status.contains_key("status") {
            status.insert("status".to_owned(), Value::from(name));
        }
    }
    step.status = name.to_owned();
    step
}
