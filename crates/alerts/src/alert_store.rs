//! Writing the engine's alert transitions: one open alert per room and hazard (raised,
//! updated in place, cleared), the case a detection opens under the landlord's policy, and
//! the webhooks that report each change. All in the caller's transaction.
//!
//! Transitions from late readings placed in time order revise alerts already reported rather
//! than adding new ones: the alert's `since` becomes the start the readings in time order show,
//! its explanation carries `late_data` (e.g. `known_to_have_started_earlier`), a cleared alert
//! they show never cleared is opened again, and a cleared one whose window moved is corrected.
//! Each is an `alert.updated` webhook. An episode found entirely in the past is recorded as a
//! cleared alert (one `alert.raised` webhook showing it cleared).

use chrono::{DateTime, Utc};
use dampwatch_clock::{AwarenessPolicy, Clock, Hazard as ClockHazard};
use dampwatch_indicators::{AlertTransition, Hazard, TransitionKind};
use serde_json::{json, Value};
use tokio_postgres::Transaction;

use crate::cases::{self, CasePolicy, NewCase, SYSTEM_ACTOR};
use crate::error::AlertsError;
use crate::outbox;
use crate::payload;
use crate::room::RoomRef;

/// The room a transition happened in.
#[derive(Debug, Clone, Copy)]
pub struct RoomContext<'a> {
    pub key: &'a str,
    pub room: &'a RoomRef,
    pub landlord_id: &'a str,
}

/// What a transition wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub alert_id: Option<i64>,
    pub case_id: Option<i64>,
    pub case_opened: bool,
    pub webhooks: u64,
}

/// The landlord's case policy.
/// The HHSRS (2006) hazard an engine alert is evidence of, if any: only those open cases and
/// run the legal clock. One exhaustive match, so a new kind of engine hazard does not compile
/// until it is decided here whether it opens cases.
pub fn hhsrs_hazard(hazard: Hazard) -> Option<ClockHazard> {
    match hazard {
        Hazard::DampAndMouldGrowth => Some(ClockHazard::DampAndMouldGrowth),
        Hazard::ExcessCold => Some(ClockHazard::ExcessCold),
        Hazard::ExcessHeat => Some(ClockHazard::ExcessHeat),
        // Ventilation and the data itself are not HHSRS hazards: their alerts open no case.
        Hazard::PoorVentilation | Hazard::DeviceOffline => None,
    }
}

pub async fn case_policy(tx: &Transaction<'_>, landlord_id: &str) -> Result<CasePolicy, AlertsError> {
    let row = tx.query_opt("SELECT case_policy FROM landlords WHERE id = $1", &[&landlord_id]).await?;
    match row {
        Some(r) => CasePolicy::parse(r.get(0)),
        // Landlords are referenced by foreign keys, so this cannot happen; the conservative
        // policy is the safe answer if it ever does.
        None => Ok(CasePolicy::OpenOnDetection),
    }
}

struct AlertRow {
    id: i64,
    case_id: Option<i64>,
    revision: i32,
    raised: bool,
}

/// Writes one transition at detection instant `detected_at`.
pub async fn apply(
    tx: &Transaction<'_>,
    clock: &Clock,
    room: RoomContext<'_>,
    t: &AlertTransition,
    detected_at: DateTime<Utc>,
) -> Result<Applied, AlertsError> {
    let hazard = t.hazard.slug();
    let hhsrs = hhsrs_hazard(t.hazard);
    let explanation = explanation_of(t)?;
    // The start the readings in time order show, for transitions from late readings.
    let late_since = t.late.as_ref().map(|l| l.since);
    let since = late_since.unwrap_or(t.alert.since);
    let summary = t.explanation();
    let severity = t.alert.severity.to_string();
    let rule_ids: Vec<String> = t.alert.rule_ids().into_iter().map(str::to_owned).collect();
    let policy = match hhsrs {
        Some(_) => Some(case_policy(tx, room.landlord_id).await?),
        None => None,
    };
    let triage = match policy {
        None => "not_applicable",
        Some(_) => "awaiting_triage",
    };
    let reported_end = t.late.as_ref().and_then(|l| l.reported).and_then(|r| r.cleared_at);
    let row = match t.kind {
        TransitionKind::Raised if t.cleared_at.is_some() => {
            let r = tx
                .query_one(
                    "INSERT INTO alerts (landlord_id, room_key, room_id, device_id, hazard, hhsrs_hazard,
                         status, severity, since, raised_at, updated_at, cleared_at, rule_ids, ruleset_version,
                         summary, explanation, triage)
                     VALUES ($1, $2, $3, $4, $5, $6, 'cleared', $7, $8, $9, $9, $10, $11, $12, $13, $14, $15)
                     RETURNING id, case_id, revision",
                    &[
                        &room.landlord_id,
                        &room.key,
                        &room.room.room_id(),
                        &room.room.device_id(),
                        &hazard,
                        &hhsrs.map(|h| h.slug()),
                        &severity,
                        &since,
                        &detected_at,
                        &t.cleared_at,
                        &rule_ids,
                        &t.ruleset_version,
                        &summary,
                        &explanation,
                        &triage,
                    ],
                )
                .await?;
            AlertRow { id: r.get(0), case_id: r.get(1), revision: r.get(2), raised: true }
        }
        TransitionKind::Revised => {
            let row = tx
                .query_opt(
                    "UPDATE alerts SET since = $4, cleared_at = $5, severity = $6, rule_ids = $7, summary = $8,
                         explanation = $9, updated_at = $10, revision = revision + 1
                     WHERE room_key = $1 AND hazard = $2 AND status = 'cleared' AND cleared_at = $3
                     RETURNING id, case_id, revision",
                    &[
                        &room.key,
                        &hazard,
                        &reported_end,
                        &since,
                        &t.cleared_at,
                        &severity,
                        &rule_ids,
                        &summary,
                        &explanation,
                        &detected_at,
                    ],
                )
                .await?;
            match row {
                Some(r) => AlertRow { id: r.get(0), case_id: r.get(1), revision: r.get(2), raised: false },
                // Nothing stored to revise (the alert predates this room's state).
                None => return Ok(Applied::default()),
            }
        }
        TransitionKind::Raised | TransitionKind::Updated | TransitionKind::Reopened => {
            let updated = match t.kind {
                TransitionKind::Updated => tx
                    .query_opt(
                        "UPDATE alerts SET severity = $3, rule_ids = $4, ruleset_version = $5, summary = $6,
                             explanation = $7, updated_at = $8, revision = revision + 1,
                             since = coalesce($9, since)
                         WHERE room_key = $1 AND hazard = $2 AND status = 'open'
                         RETURNING id, case_id, revision",
                        &[
                            &room.key,
                            &hazard,
                            &severity,
                            &rule_ids,
                            &t.ruleset_version,
                            &summary,
                            &explanation,
                            &detected_at,
                            &late_since,
                        ],
                    )
                    .await?
                    .map(|r| AlertRow { id: r.get(0), case_id: r.get(1), revision: r.get(2), raised: false }),
                // The same alert, open again, unless (against the engine's record) another alert
                // of the hazard is open: then that one is updated below.
                TransitionKind::Reopened => tx
                    .query_opt(
                        "UPDATE alerts SET status = 'open', cleared_at = NULL, since = $4, severity = $5,
                             rule_ids = $6, ruleset_version = $7, summary = $8, explanation = $9, updated_at = $10,
                             revision = revision + 1
                         WHERE room_key = $1 AND hazard = $2 AND status = 'cleared' AND cleared_at = $3
                           AND NOT EXISTS (SELECT 1 FROM alerts o
                                           WHERE o.room_key = $1 AND o.hazard = $2 AND o.status = 'open')
                         RETURNING id, case_id, revision",
                        &[
                            &room.key,
                            &hazard,
                            &reported_end,
                            &since,
                            &severity,
                            &rule_ids,
                            &t.ruleset_version,
                            &summary,
                            &explanation,
                            &detected_at,
                        ],
                    )
                    .await?
                    .map(|r| AlertRow { id: r.get(0), case_id: r.get(1), revision: r.get(2), raised: false }),
                _ => None,
            };
            match updated {
                Some(row) => row,
                // A raise, or an update of an alert the table does not hold (state restarted):
                // insert, or update the open one if it exists; never a second open alert.
                None => {
                    let r = tx
                        .query_one(
                            "INSERT INTO alerts (landlord_id, room_key, room_id, device_id, hazard, hhsrs_hazard,
                                 status, severity, since, raised_at, updated_at, rule_ids, ruleset_version,
                                 summary, explanation, triage)
                             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $9, $10, $11, $12, $13, $14)
                             ON CONFLICT (room_key, hazard) WHERE status = 'open' DO UPDATE
                             SET severity = EXCLUDED.severity, rule_ids = EXCLUDED.rule_ids,
                                 ruleset_version = EXCLUDED.ruleset_version, summary = EXCLUDED.summary,
                                 explanation = EXCLUDED.explanation, updated_at = EXCLUDED.updated_at,
                                 since = LEAST(alerts.since, EXCLUDED.since), revision = alerts.revision + 1
                             RETURNING id, case_id, revision, (xmax = 0)",
                            &[
                                &room.landlord_id,
                                &room.key,
                                &room.room.room_id(),
                                &room.room.device_id(),
                                &hazard,
                                &hhsrs.map(|h| h.slug()),
                                &severity,
                                &since,
                                &detected_at,
                                &rule_ids,
                                &t.ruleset_version,
                                &summary,
                                &explanation,
                                &triage,
                            ],
                        )
                        .await?;
                    AlertRow { id: r.get(0), case_id: r.get(1), revision: r.get(2), raised: r.get(3) }
                }
            }
        }
        TransitionKind::Cleared => {
            let cleared_at = t.cleared_at.unwrap_or(t.evaluated_at);
            let row = tx
                .query_opt(
                    "UPDATE alerts SET status = 'cleared', cleared_at = $3, updated_at = $4, summary = $5,
                         explanation = $6, revision = revision + 1, since = coalesce($7, since)
                     WHERE room_key = $1 AND hazard = $2 AND status = 'open'
                     RETURNING id, case_id, revision",
                    &[&room.key, &hazard, &cleared_at, &detected_at, &summary, &explanation, &late_since],
                )
                .await?;
            match row {
                Some(r) => AlertRow { id: r.get(0), case_id: r.get(1), revision: r.get(2), raised: false },
                None => {
                    tracing::warn!(
                        room = room.key,
                        hazard,
                        "cleared an alert the table holds no open row for"
                    );
                    return Ok(Applied::default());
                }
            }
        }
    };

    let mut applied = Applied { alert_id: Some(row.id), case_id: row.case_id, ..Applied::default() };
    let evidence = json!({ "alert": explanation, "summary": summary });
    match (row.case_id, hhsrs, policy) {
        (Some(case_id), _, _) => {
            let kind = match (t.kind, row.raised) {
                (TransitionKind::Cleared, _) => "alert_cleared",
                (_, true) => "alert_raised",
                (TransitionKind::Reopened, _) => "alert_reopened",
                _ => "alert_updated",
            };
            let record = alert_record(kind, row.id, row.revision, &severity, &rule_ids);
            cases::append_record(
                tx,
                clock,
                case_id,
                SYSTEM_ACTOR,
                detected_at,
                kind,
                &record,
                &evidence,
                detected_at,
            )
            .await?;
        }
        (None, Some(hazard), Some(CasePolicy::OpenOnDetection))
            if !matches!(t.kind, TransitionKind::Cleared | TransitionKind::Revised) =>
        {
            let case_id = match cases::active_case_for(tx, room.key, hazard).await? {
                Some(case_id) => {
                    let record = alert_record("alert_raised", row.id, row.revision, &severity, &rule_ids);
                    cases::append_record(
                        tx,
                        clock,
                        case_id,
                        SYSTEM_ACTOR,
                        detected_at,
                        "alert_raised",
                        &record,
                        &evidence,
                        detected_at,
                    )
                    .await?;
                    case_id
                }
                None => {
                    let new = NewCase {
                        landlord_id: room.landlord_id,
                        room: room.room,
                        hazard,
                        noticed_at: detected_at,
                        awareness_policy: AwarenessPolicy::AtDetection,
                        case_policy: CasePolicy::OpenOnDetection,
                        alert_id: Some(row.id),
                        actor: SYSTEM_ACTOR,
                        kind: cases::POTENTIAL_ISSUE_DETECTED,
                        record: cases::detection_record(row.id, t.hazard.slug(), &severity, &rule_ids),
                        evidence: evidence.clone(),
                    };
                    applied.case_opened = true;
                    cases::open_case(tx, clock, &new, detected_at).await?
                }
            };
            tx.execute(
                "UPDATE alerts SET case_id = $2, triage = 'case_opened' WHERE id = $1",
                &[&row.id, &case_id],
            )
            .await?;
            applied.case_id = Some(case_id);
        }
        _ => {}
    }

    let event_type = match (t.kind, row.raised) {
        (TransitionKind::Cleared, _) => "alert.cleared",
        (_, true) => "alert.raised",
        _ => "alert.updated",
    };
    let event_id = format!("alert:{}:rev:{}", row.id, row.revision);
    let body = payload::build(tx, event_type, &event_id, detected_at, Some(row.id), applied.case_id).await?;
    applied.webhooks =
        outbox::enqueue(tx, room.landlord_id, event_type, Some(row.id), applied.case_id, &body).await?;
    Ok(applied)
}

/// The alert with its findings, and what late readings showed about it.
fn explanation_of(t: &AlertTransition) -> Result<Value, AlertsError> {
    let mut explanation = serde_json::to_value(&t.alert).map_err(AlertsError::json("alert"))?;
    if let (Some(late), Some(fields)) = (&t.late, explanation.as_object_mut()) {
        fields
            .insert("late_data".to_owned(), serde_json::to_value(late).map_err(AlertsError::json("alert"))?);
    }
    Ok(explanation)
}

fn alert_record(kind: &str, alert_id: i64, revision: i32, severity: &str, rule_ids: &[String]) -> Value {
    json!({ "type": kind, "alert_id": alert_id, "revision": revision, "severity": severity, "rule_ids": rule_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_awaab_hazards_open_cases_under_their_hhsrs_names() {
        let cases = [
            (Hazard::DampAndMouldGrowth, Some(ClockHazard::DampAndMouldGrowth)),
            (Hazard::ExcessCold, Some(ClockHazard::ExcessCold)),
            (Hazard::ExcessHeat, Some(ClockHazard::ExcessHeat)),
            (Hazard::PoorVentilation, None),
            (Hazard::DeviceOffline, None),
        ];
        for (engine, hhsrs) in cases {
            assert_eq!(hhsrs_hazard(engine), hhsrs, "{engine}");
            // Alerts stored before the mapping was typed named the same HHSRS hazard by slug.
            if let Some(h) = hhsrs {
                assert_eq!(h.slug(), engine.slug(), "{engine}");
                assert!(h.number() <= 3, "{engine}: damp and mould, excess cold or excess heat");
            }
        }
    }
}
