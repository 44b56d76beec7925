//! A case's deadlines as rows of `case_deadlines`: each step's due time and how it was
//! computed (basis, amount, the event counted from, calendar and rules versions, source).
//!
//! Before triage the track is not known. When the clock already runs (awareness at
//! detection) both tracks' steps whose clocks have started are listed as `provisional`: what
//! is due if a person triages the issue as emergency or as significant. The 24-hour emergency
//! investigation clock is then visibly running from detection, which is the point of the
//! conservative awareness policy.

use chrono::{DateTime, Utc};
use dampwatch_clock::case::{EventKind, RecordedLate};
use dampwatch_clock::law::Applicability;
use dampwatch_clock::london::{format_utc, local_date};
use dampwatch_clock::{
    deadlines_for_track, due_soon_from, running_status, Case, CaseState, CaseView, Clock, Deadline,
    StepDeadline, StepStatus, Track, Triggers,
};
use dampwatch_store::read_model;
use serde_json::{json, Value};
use tokio_postgres::Transaction;

use crate::error::AlertsError;

/// `track` of the triage review row.
pub const TRIAGE_TRACK: &str = "triage";
/// `step` of the triage review row.
pub const TRIAGE_STEP: &str = "triage_review";

/// The key of a case event's evidence under which the API stores why the event was recorded
/// late (`{"reason": ...}`): the evidence is part of the event's hash chain, so the reason
/// cannot be changed or removed later.
pub const LATE_RECORD_KEY: &str = "late_record";

/// The late record of a stored clock event, if it was recorded late.
pub fn late_record(
    event: &Value,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    evidence: &Value,
) -> Option<RecordedLate> {
    let reason = evidence.get(LATE_RECORD_KEY)?.get("reason")?.as_str()?.to_owned();
    let event: EventKind = serde_json::from_value(event.get("type")?.clone()).ok()?;
    Some(RecordedLate { event, occurred_at, recorded_at, reason })
}

/// The snake_case name serde gives a unit enum value.
fn name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The status identifier of a step status.
pub fn status_name(status: &StepStatus) -> &'static str {
    match status {
        StepStatus::OnTrack => "on_track",
        StepStatus::DueSoon => "due_soon",
        StepStatus::Overdue => "overdue",
        StepStatus::Met { .. } => "met",
        StepStatus::NotRequired { .. } => "not_required",
        StepStatus::Stopped { .. } => "stopped",
        StepStatus::AwaitingTrigger { .. } => "awaiting_trigger",
    }
}

fn row(
    track: Track,
    deadline: &Deadline,
    provisional: bool,
    status: &str,
    status_detail: Value,
) -> Result<read_model::Deadline, AlertsError> {
    let detail = json!({
        "deadline": serde_json::to_value(deadline).map_err(AlertsError::json("deadline"))?,
        "status": status_detail,
    });
    Ok(read_model::Deadline {
        track: track.as_str().to_owned(),
        step: deadline.step.as_str().to_owned(),
        provisional,
        due: deadline.due.to_string(),
        ends_at: deadline.ends_at,
        basis: name(&deadline.basis),
        amount: i32::try_from(deadline.amount).unwrap_or(i32::MAX),
        counted_from_event: deadline.counted_from.event.as_str().to_owned(),
        counted_from: deadline.counted_from.at,
        calendar_version: deadline.calendar_version.clone(),
        rules_version: deadline.rules_version.clone(),
        source: deadline.source.clone(),
        status: status.to_owned(),
        detail,
        recorded_late: None,
        due_soon_from: None,
    })
}

/// A late record as the read model shows it.
fn late_view(late: &RecordedLate) -> read_model::RecordedLate {
    read_model::RecordedLate {
        event: late.event.as_str().to_owned(),
        occurred_at: late.occurred_at,
        recorded_at: late.recorded_at,
        reason: late.reason.clone(),
    }
}

/// Every deadline row of `case` as of `now` (`view` is the case's view at `now`).
pub fn rows(
    case: &Case,
    view: &CaseView,
    clock: &Clock,
    now: DateTime<Utc>,
) -> Result<Vec<read_model::Deadline>, AlertsError> {
    let mut rows = vec![read_model::Deadline {
        track: TRIAGE_TRACK.to_owned(),
        step: TRIAGE_STEP.to_owned(),
        provisional: false,
        due: format_utc(view.triage.due),
        ends_at: view.triage.due,
        basis: "product_policy".to_owned(),
        amount: i32::try_from(clock.status.triage_review_hours).unwrap_or(i32::MAX),
        counted_from_event: "potential_issue_recorded".to_owned(),
        counted_from: case.opened_at(),
        calendar_version: view.calendar_version.clone(),
        rules_version: view.rules_version.clone(),
        source: "Dampwatch product policy: a person triages a potential issue within \
                 [clock.status] triage_review_hours (not a statutory period)"
            .to_owned(),
        status: status_name(&view.triage.status).to_owned(),
        detail: json!({ "status": view.triage.status }),
        recorded_late: None,
        due_soon_from: view.triage.due_soon_from,
    }];
    match (view.track, case.awareness()) {
        (Some(track), _) => {
            for step in &view.steps {
                if let Some(deadline) = &step.deadline {
                    let mut detail =
                        serde_json::to_value(&step.status).map_err(AlertsError::json("status"))?;
                    if let (Some(late), Value::Object(map)) = (&step.recorded_late, &mut detail) {
                        let late = serde_json::to_value(late).map_err(AlertsError::json("recorded late"))?;
                        map.insert("recorded_late".to_owned(), late);
                    }
                    let mut row = row(track, deadline, false, status_name(&step.status), detail)?;
                    row.recorded_late = step.recorded_late.as_ref().map(late_view);
                    row.due_soon_from = step.due_soon_from;
                    rows.push(row);
                }
            }
        }
        (None, Some(awareness)) if case.state() == CaseState::AwaitingTriage => {
            let triggers = Triggers { awareness, investigation_concluded: None };
            let aware_on = local_date(awareness);
            // The law of the case's home: none (no rows; the view says why) or one whose
            // tracks may be fewer than England's (Scotland has one timetable).
            let Applicability::Clock(law) = clock.applicable(case.tenancy(), aware_on) else {
                return Ok(rows);
            };
            let calendar = clock.calendar_for(law)?;
            let mut tracks = vec![law.track_for(Track::Emergency), law.track_for(Track::Significant)];
            tracks.dedup();
            for track in tracks {
                let scope = law.scope(track, case.hazard(), aware_on);
                for step in deadlines_for_track(track, &triggers, calendar, law)? {
                    let StepDeadline::Computed(deadline) = step else { continue };
                    let detail = json!({ "scope": scope });
                    if !scope.applies() {
                        rows.push(row(track, &deadline, true, "not_required", detail)?);
                        continue;
                    }
                    // What is due if triaged so: the period's fraction rule only, since which
                    // track (and so which working-day step) applies is not known yet.
                    let soon = due_soon_from(
                        deadline.counted_from.at,
                        deadline.ends_at,
                        None,
                        calendar,
                        &clock.status,
                    );
                    let status = running_status(now, deadline.ends_at, soon);
                    let mut provisional = row(track, &deadline, true, status_name(&status), detail)?;
                    provisional.due_soon_from = Some(soon);
                    rows.push(provisional);
                }
            }
        }
        _ => {}
    }
    Ok(rows)
}

/// Replaces the deadline rows of a case (they are a projection of its events).
pub async fn store(
    tx: &Transaction<'_>,
    case_id: i64,
    landlord_id: &str,
    rows: &[read_model::Deadline],
    now: DateTime<Utc>,
) -> Result<(), AlertsError> {
    tx.execute("DELETE FROM case_deadlines WHERE case_id = $1", &[&case_id]).await?;
    for r in rows {
        let late = r
            .recorded_late
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(AlertsError::json("recorded late"))?;
        tx.execute(
            "INSERT INTO case_deadlines (case_id, landlord_id, track, step, provisional, due, ends_at, basis,
                 amount, counted_from_event, counted_from, calendar_version, rules_version, source, status,
                 detail, computed_at, due_soon_from, recorded_late)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
            &[
                &case_id,
                &landlord_id,
                &r.track,
                &r.step,
                &r.provisional,
                &r.due,
                &r.ends_at,
                &r.basis,
                &r.amount,
                &r.counted_from_event,
                &r.counted_from,
                &r.calendar_version,
                &r.rules_version,
                &r.source,
                &r.status,
                &r.detail,
                &now,
                &r.due_soon_from,
                &late,
            ],
        )
        .await?;
    }
    Ok(())
}
