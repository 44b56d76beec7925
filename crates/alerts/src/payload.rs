//! The webhook body: `{type, event_id, occurred_at, landlord_id, alert, explanation, case,
//! deadlines}`, read back from the rows the transaction just wrote so it says exactly what
//! was committed. `event_id` is the same for every endpoint (`alert:<id>:rev:<n>` or
//! `case:<id>:event:<n>`); the `Idempotency-Key` header is per delivery row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::Transaction;

use crate::error::AlertsError;

/// Version of the body's shape, sent as `schema`.
pub const PAYLOAD_SCHEMA: &str = "dampwatch-webhook/1";

#[derive(Debug, Serialize)]
struct AlertBody {
    id: i64,
    room_key: String,
    room_id: Option<i64>,
    device_id: Option<String>,
    hazard: String,
    hhsrs_hazard: Option<String>,
    status: String,
    severity: String,
    since: DateTime<Utc>,
    raised_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    cleared_at: Option<DateTime<Utc>>,
    revision: i32,
    rule_ids: Vec<String>,
    ruleset_version: String,
    triage: String,
    case_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct CaseBody {
    id: i64,
    hazard: String,
    state: String,
    track: Option<String>,
    opened_at: DateTime<Utc>,
    awareness: Option<DateTime<Utc>>,
    awareness_policy: String,
    case_policy: String,
    /// The full case view (steps, statuses, scope, versions).
    view: Value,
    /// The newest event's sequence number and chained hash: a receiver that keeps these can
    /// show later that the case log was not rewritten.
    log_head: Option<LogHead>,
}

#[derive(Debug, Serialize)]
struct LogHead {
    seq: i32,
    hash: String,
}

#[derive(Debug, Serialize)]
struct DeadlineBody {
    track: String,
    step: String,
    provisional: bool,
    due: String,
    ends_at: DateTime<Utc>,
    basis: String,
    amount: i32,
    counted_from_event: String,
    counted_from: DateTime<Utc>,
    status: String,
    calendar_version: String,
    rules_version: String,
    source: String,
}

/// Builds the body of an `event_type` webhook about an alert and/or a case.
pub async fn build(
    tx: &Transaction<'_>,
    event_type: &str,
    event_id: &str,
    occurred_at: DateTime<Utc>,
    alert_id: Option<i64>,
    case_id: Option<i64>,
) -> Result<Value, AlertsError> {
    let mut landlord: Option<String> = None;
    let (mut alert, mut explanation) = (Value::Null, Value::Null);
    if let Some(id) = alert_id {
        let r = tx
            .query_one(
                "SELECT id, room_key, room_id, device_id, hazard, hhsrs_hazard, status, severity, since,
                        raised_at, updated_at, cleared_at, revision, rule_ids, ruleset_version, triage, case_id,
                        landlord_id, summary, explanation
                 FROM alerts WHERE id = $1",
                &[&id],
            )
            .await?;
        let body = AlertBody {
            id: r.get(0),
            room_key: r.get(1),
            room_id: r.get(2),
            device_id: r.get(3),
            hazard: r.get(4),
            hhsrs_hazard: r.get(5),
            status: r.get(6),
            severity: r.get(7),
            since: r.get(8),
            raised_at: r.get(9),
            updated_at: r.get(10),
            cleared_at: r.get(11),
            revision: r.get(12),
            rule_ids: r.get(13),
            ruleset_version: r.get(14),
            triage: r.get(15),
            case_id: r.get(16),
        };
        landlord = Some(r.get(17));
        let summary: String = r.get(18);
        let detail: Value = r.get(19);
        explanation = json!({ "summary": summary, "alert": detail });
        alert = serde_json::to_value(body).map_err(AlertsError::json("alert body"))?;
    }
    let (mut case, mut deadlines) = (Value::Null, Value::Array(Vec::new()));
    if let Some(id) = case_id {
        let r = tx
            .query_one(
                "SELECT id, hazard, state, track, opened_at, awareness, awareness_policy, case_policy, view,
                        landlord_id
                 FROM cases WHERE id = $1",
                &[&id],
            )
            .await?;
        let body = CaseBody {
            id: r.get(0),
            hazard: r.get(1),
            state: r.get(2),
            track: r.get(3),
            opened_at: r.get(4),
            awareness: r.get(5),
            awareness_policy: r.get(6),
            case_policy: r.get(7),
            view: r.get(8),
            log_head: tx
                .query_opt(
                    "SELECT seq, hash FROM case_events WHERE case_id = $1 ORDER BY seq DESC LIMIT 1",
                    &[&id],
                )
                .await?
                .map(|h| LogHead { seq: h.get(0), hash: hex::encode(h.get::<_, Vec<u8>>(1)) }),
        };
        landlord.get_or_insert(r.get(9));
        case = serde_json::to_value(body).map_err(AlertsError::json("case body"))?;
        let rows = tx
            .query(
                "SELECT track, step, provisional, due, ends_at, basis, amount, counted_from_event, counted_from,
                        status, calendar_version, rules_version, source
                 FROM case_deadlines WHERE case_id = $1 ORDER BY ends_at, track, step",
                &[&id],
            )
            .await?;
        let list: Vec<DeadlineBody> = rows
            .iter()
            .map(|r| DeadlineBody {
                track: r.get(0),
                step: r.get(1),
                provisional: r.get(2),
                due: r.get(3),
                ends_at: r.get(4),
                basis: r.get(5),
                amount: r.get(6),
                counted_from_event: r.get(7),
                counted_from: r.get(8),
                status: r.get(9),
                calendar_version: r.get(10),
                rules_version: r.get(11),
                source: r.get(12),
            })
            .collect();
        deadlines = serde_json::to_value(list).map_err(AlertsError::json("deadlines body"))?;
    }
    Ok(json!({
        "schema": PAYLOAD_SCHEMA,
        "type": event_type,
        "event_id": event_id,
        "occurred_at": occurred_at,
        "landlord_id": landlord,
        "alert": alert,
        "explanation": explanation,
        "case": case,
        "deadlines": deadlines,
    }))
}
