//! Awaab's Law cases in the database. The events in `case_events` are the record; a case is
//! rebuilt by replaying its clock events, and the `cases` snapshot and `case_deadlines` rows
//! are refreshed from that replay in the same transaction as every new event.
//!
//! The API appends people's decisions with [`append_event`]; the hazard worker opens cases
//! at detection with [`open_case`] and notes later alert changes with [`append_record`].

use chrono::{DateTime, Utc};
use dampwatch_clock::case::RecordedLate;
use dampwatch_clock::{AwarenessPolicy, Case, CaseEvent, CaseView, Clock, Hazard, Tenancy};
use dampwatch_indicators::Duty;
use serde_json::{json, Value};
use tokio_postgres::Transaction;

use crate::deadlines;
use crate::error::AlertsError;
use crate::home;
use crate::outbox;
use crate::room::RoomRef;

/// Who the hazard worker records events as.
pub const SYSTEM_ACTOR: &str = "system:hazard-engine";
/// Kind of the first event of a case opened from a sensor alert.
pub const POTENTIAL_ISSUE_DETECTED: &str = "potential_issue_detected";

/// Landlord policy `open_on_detection` / `open_on_triage` (landlords.case_policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasePolicy {
    /// A sensor alert opens a case at once and starts the statutory clock (the default).
    OpenOnDetection,
    /// A sensor alert waits for a person's triage; the case is opened then.
    OpenOnTriage,
}

impl CasePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            CasePolicy::OpenOnDetection => "open_on_detection",
            CasePolicy::OpenOnTriage => "open_on_triage",
        }
    }

    pub fn parse(value: &str) -> Result<Self, AlertsError> {
        match value {
            "open_on_detection" => Ok(CasePolicy::OpenOnDetection),
            "open_on_triage" => Ok(CasePolicy::OpenOnTriage),
            other => {
                Err(AlertsError::UnknownValue { what: "landlords.case_policy", value: other.to_owned() })
            }
        }
    }
}

fn awareness_policy_name(policy: AwarenessPolicy) -> &'static str {
    match policy {
        AwarenessPolicy::AtDetection => "at_detection",
        AwarenessPolicy::AtTriage => "at_triage",
    }
}

fn parse_awareness_policy(value: &str) -> Result<AwarenessPolicy, AlertsError> {
    match value {
        "at_detection" => Ok(AwarenessPolicy::AtDetection),
        "at_triage" => Ok(AwarenessPolicy::AtTriage),
        other => Err(AlertsError::UnknownValue { what: "cases.awareness_policy", value: other.to_owned() }),
    }
}

/// A potential issue to open a case for.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub landlord_id: &'a str,
    pub room: &'a RoomRef,
    pub hazard: Hazard,
    /// When the potential issue was recorded (detection, or the report).
    pub noticed_at: DateTime<Utc>,
    pub awareness_policy: AwarenessPolicy,
    pub case_policy: CasePolicy,
    /// The sensor alert behind it, if any.
    pub alert_id: Option<i64>,
    pub actor: &'a str,
    /// Kind and content of the opening record (e.g. [`POTENTIAL_ISSUE_DETECTED`]).
    pub kind: &'a str,
    pub record: Value,
    pub evidence: Value,
}

/// Opens a case: the `cases` row, its first event and its deadlines. Returns the case id.
pub async fn open_case(
    tx: &Transaction<'_>,
    clock: &Clock,
    new: &NewCase<'_>,
    now: DateTime<Utc>,
) -> Result<i64, AlertsError> {
    // The case runs under the law of the home's jurisdiction and tenure as they are now; a
    // later change to the home does not move an open case to another law.
    let home = home::profile_of_room(tx, new.room.room_id()).await?;
    let case = Case::open_in(home.tenancy, new.hazard, new.noticed_at, new.awareness_policy);
    let view = clock.view(&case, now)?;
    let view_json = serde_json::to_value(&view).map_err(AlertsError::json("case view"))?;
    let row = tx
        .query_one(
            "INSERT INTO cases (landlord_id, room_key, room_id, device_id, hazard, opened_at, awareness,
                 awareness_policy, case_policy, alert_id, state, track, view, view_at, calendar_version,
                 rules_version, event_count, updated_at, jurisdiction, tenure)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13, $14, $15, 0, $13, $16, $17)
             RETURNING id",
            &[
                &new.landlord_id,
                &new.room.key(),
                &new.room.room_id(),
                &new.room.device_id(),
                &new.hazard.slug(),
                &new.noticed_at,
                &case.awareness(),
                &awareness_policy_name(new.awareness_policy),
                &new.case_policy.as_str(),
                &new.alert_id,
                &case.state().as_str(),
                &view_json,
                &now,
                &view.calendar_version,
                &view.rules_version,
                &home.tenancy.jurisdiction.as_str(),
                &home.tenancy.tenure.as_str(),
            ],
        )
        .await?;
    let case_id: i64 = row.get(0);
    insert_event(
        tx,
        case_id,
        new.landlord_id,
        1,
        new.kind,
        false,
        &new.record,
        new.noticed_at,
        new.actor,
        &new.evidence,
    )
    .await?;
    tx.execute("UPDATE cases SET event_count = 1 WHERE id = $1", &[&case_id]).await?;
    let rows = deadlines::rows(&case, &view, clock, now)?;
    deadlines::store(tx, case_id, new.landlord_id, &rows, now).await?;
    Ok(case_id)
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    tx: &Transaction<'_>,
    case_id: i64,
    landlord_id: &str,
    seq: i32,
    kind: &str,
    affects_clock: bool,
    event: &Value,
    occurred_at: DateTime<Utc>,
    actor: &str,
    evidence: &Value,
) -> Result<DateTime<Utc>, AlertsError> {
    let row = tx
        .query_one(
            "INSERT INTO case_events (case_id, landlord_id, seq, kind, affects_clock, event, occurred_at, actor, evidence)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING recorded_at",
            &[&case_id, &landlord_id, &seq, &kind, &affects_clock, event, &occurred_at, &actor, evidence],
        )
        .await?;
    Ok(row.get(0))
}

/// A case row locked for change, with the case replayed from its events.
pub struct LockedCase {
    pub id: i64,
    pub landlord_id: String,
    pub event_count: i32,
    pub alert_id: Option<i64>,
    pub case: Case,
    /// Its clock events recorded late (shown beside the steps they met).
    pub late: Vec<RecordedLate>,
}

/// Locks a case and replays it.
pub async fn lock_case(tx: &Transaction<'_>, case_id: i64) -> Result<LockedCase, AlertsError> {
    let row = tx
        .query_opt(
            "SELECT landlord_id, hazard, opened_at, awareness_policy, event_count, alert_id, jurisdiction, tenure
             FROM cases WHERE id = $1 FOR UPDATE",
            &[&case_id],
        )
        .await?
        .ok_or(AlertsError::CaseNotFound(case_id))?;
    let hazard_slug: String = row.get(1);
    let hazard: Hazard = hazard_slug
        .parse()
        .map_err(|_| AlertsError::UnknownValue { what: "cases.hazard", value: hazard_slug.clone() })?;
    let policy = parse_awareness_policy(row.get(3))?;
    let events = tx
        .query(
            "SELECT occurred_at, event, recorded_at, evidence FROM case_events
             WHERE case_id = $1 AND affects_clock ORDER BY seq",
            &[&case_id],
        )
        .await?;
    let late = events
        .iter()
        .filter_map(|r| deadlines::late_record(&r.get(1), r.get(0), r.get(2), &r.get(3)))
        .collect();
    let events: Vec<(DateTime<Utc>, CaseEvent)> = events
        .into_iter()
        .map(|r| Ok((r.get(0), serde_json::from_value(r.get(1)).map_err(AlertsError::json("case event"))?)))
        .collect::<Result<_, AlertsError>>()?;
    let tenancy = Tenancy::new(home::parse_jurisdiction(row.get(6))?, home::parse_tenure(row.get(7))?);
    let case = Case::replay_in(tenancy, hazard, row.get(2), policy, events.iter().map(|(at, e)| (*at, e)))
        .map_err(|source| AlertsError::Transition { case_id, source })?;
    Ok(LockedCase {
        id: case_id,
        landlord_id: row.get(0),
        event_count: row.get(4),
        alert_id: row.get(5),
        case,
        late,
    })
}

/// Writes the snapshot columns and deadline rows of a replayed case; returns its view.
async fn refresh(
    tx: &Transaction<'_>,
    clock: &Clock,
    locked: &LockedCase,
    now: DateTime<Utc>,
) -> Result<CaseView, AlertsError> {
    let mut view = clock.view(&locked.case, now)?;
    view.mark_recorded_late(&locked.late);
    let view_json = serde_json::to_value(&view).map_err(AlertsError::json("case view"))?;
    tx.execute(
        "UPDATE cases SET state = $2, track = $3, awareness = $4, view = $5, view_at = $6,
             calendar_version = $7, rules_version = $8, event_count = $9, updated_at = $6
         WHERE id = $1",
        &[
            &locked.id,
            &locked.case.state().as_str(),
            &locked.case.track().map(|t| t.as_str()),
            &locked.case.awareness(),
            &view_json,
            &now,
            &view.calendar_version,
            &view.rules_version,
            &locked.event_count,
        ],
    )
    .await?;
    store_deadlines(tx, clock, locked, &view, now).await?;
    Ok(view)
}

/// Replaces the deadline rows of a replayed case with those of `view` (its view at `now`).
async fn store_deadlines(
    tx: &Transaction<'_>,
    clock: &Clock,
    locked: &LockedCase,
    view: &CaseView,
    now: DateTime<Utc>,
) -> Result<(), AlertsError> {
    let rows = deadlines::rows(&locked.case, view, clock, now)?;
    deadlines::store(tx, locked.id, &locked.landlord_id, &rows, now).await
}

/// Recomputes the deadline rows of a case from its events under `clock` without touching
/// anything else of it (its snapshot and `updated_at` stay: nothing happened to the case).
pub async fn recompute_deadlines(
    tx: &Transaction<'_>,
    clock: &Clock,
    case_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AlertsError> {
    let locked = lock_case(tx, case_id).await?;
    let mut view = clock.view(&locked.case, now)?;
    view.mark_recorded_late(&locked.late);
    store_deadlines(tx, clock, &locked, &view, now).await
}

/// Appends a person's (or a system's) clock event to a case: checks it against the case as
/// replayed (an event the case does not accept is refused with the accepted ones listed),
/// stores it with who, when and evidence, refreshes the snapshot and deadlines and queues a
/// `case.updated` webhook. With `expected_events`, refuses if the case changed meanwhile.
#[allow(clippy::too_many_arguments)]
pub async fn append_event(
    tx: &Transaction<'_>,
    clock: &Clock,
    case_id: i64,
    expected_events: Option<i32>,
    actor: &str,
    occurred_at: DateTime<Utc>,
    event: &CaseEvent,
    evidence: &Value,
    now: DateTime<Utc>,
) -> Result<CaseView, AlertsError> {
    let mut locked = lock_case(tx, case_id).await?;
    if let Some(expected) = expected_events {
        if expected != locked.event_count {
            return Err(AlertsError::CaseChanged { case_id, expected, found: locked.event_count });
        }
    }
    locked.case.apply(occurred_at, event).map_err(|source| AlertsError::Transition { case_id, source })?;
    let event_json = serde_json::to_value(event).map_err(AlertsError::json("case event"))?;
    locked.event_count += 1;
    let kind = event.kind().as_str();
    let recorded_at = insert_event(
        tx,
        case_id,
        &locked.landlord_id,
        locked.event_count,
        kind,
        true,
        &event_json,
        occurred_at,
        actor,
        evidence,
    )
    .await?;
    locked.late.extend(deadlines::late_record(&event_json, occurred_at, recorded_at, evidence));
    let view = refresh(tx, clock, &locked, now).await?;
    let event_id = format!("case:{case_id}:event:{}", locked.event_count);
    let payload =
        crate::payload::build(tx, "case.updated", &event_id, now, locked.alert_id, Some(case_id)).await?;
    outbox::enqueue_event(
        tx,
        &locked.landlord_id,
        Duty::LegalClock,
        "case.updated",
        (locked.alert_id, Some(case_id)),
        &payload,
        now,
    )
    .await?;
    Ok(view)
}

/// Appends a record that changes no clock (e.g. the alert behind the case changed), and
/// refreshes the snapshot so statuses are current.
#[allow(clippy::too_many_arguments)]
pub async fn append_record(
    tx: &Transaction<'_>,
    clock: &Clock,
    case_id: i64,
    actor: &str,
    occurred_at: DateTime<Utc>,
    kind: &str,
    record: &Value,
    evidence: &Value,
    now: DateTime<Utc>,
) -> Result<CaseView, AlertsError> {
    let mut locked = lock_case(tx, case_id).await?;
    locked.event_count += 1;
    insert_event(
        tx,
        case_id,
        &locked.landlord_id,
        locked.event_count,
        kind,
        false,
        record,
        occurred_at,
        actor,
        evidence,
    )
    .await?;
    refresh(tx, clock, &locked, now).await
}

/// The case still open for a room and hazard that a new alert belongs to: awaiting triage,
/// investigating or with work required (a concluded case gets a new one).
pub async fn active_case_for(
    tx: &Transaction<'_>,
    room_key: &str,
    hazard: Hazard,
) -> Result<Option<i64>, AlertsError> {
    let row = tx
        .query_opt(
            "SELECT id FROM cases
             WHERE room_key = $1 AND hazard = $2 AND state IN ('awaiting_triage', 'investigating', 'work_required')
             ORDER BY id DESC LIMIT 1",
            &[&room_key, &hazard.slug()],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The detection record of a case opened from an alert.
pub(crate) fn detection_record(
    alert_id: i64,
    indicator_hazard: &str,
    severity: &str,
    rule_ids: &[String],
) -> Value {
    json!({
        "type": POTENTIAL_ISSUE_DETECTED,
        "source": "sensor_alert",
        "alert_id": alert_id,
        "indicator": indicator_hazard,
        "severity": severity,
        "rule_ids": rule_ids,
    })
}
