//! Writing the engine's alert transitions: one open alert per room and hazard (raised,
//! updated in place, cleared), the case a detection opens under the landlord's policy, and
//! the webhooks that report each change. All in the caller's transaction.
//!
//! One story per room and hazard: a condition that clears and comes back within the quiet
//! period (data time from the clear to the new start) opens the same alert again with a new
//! episode (`alert_episodes`) rather than a new alert, so a landlord follows one alert, with
//! its case, through every recurrence (`alert.reopened`). A recurrence after the alert's case
//! was concluded, or after the quiet period, is a new alert. Pattern findings that only count
//! on (another night above the threshold) refresh the stored explanation without a revision
//! or a webhook. Advisory alerts' webhooks go out at once or in the landlord's daily batch
//! ([`outbox::enqueue_event`], which queues people's e-mails too); alerts with a legal clock always at once.
//!
//! Transitions from late readings placed in time order revise alerts already reported rather
//! than adding new ones: the alert's `since` becomes the start the readings in time order show,
//! its explanation carries `late_data` (e.g. `known_to_have_started_earlier`), a cleared alert
//! they show never cleared is opened again, and a cleared one whose window moved is corrected.
//! Each is an `alert.updated` webhook. An episode found entirely in the past is recorded as a
//! cleared alert (one `alert.raised` webhook showing it cleared).

use chrono::{DateTime, TimeDelta, Utc};
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
    /// The alert was opened again with a new episode.
    pub reopened: bool,
    /// Outbox rows written (sent at once).
    pub webhooks: u64,
    /// Advisory events waiting for the landlord's batch.
    pub batched: u64,
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
    /// Opened again with a new episode (a recurrence within the quiet period).
    reopened: bool,
}

impl AlertRow {
    fn from(r: &tokio_postgres::Row, raised: bool) -> AlertRow {
        AlertRow { id: r.get(0), case_id: r.get(1), revision: r.get(2), raised, reopened: false }
    }
}

/// Writes one transition at detection instant `detected_at`; a raise within `quiet_period` of
/// the clear of the room's last alert of the hazard opens that alert again.
pub async fn apply(
    tx: &Transaction<'_>,
    clock: &Clock,
    quiet_period: TimeDelta,
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
    let alert = AlertValues {
        severity: &severity,
        rule_ids: &rule_ids,
        ruleset_version: &t.ruleset_version,
        summary: &summary,
        explanation: &explanation,
        detected_at,
    };
    let row = match t.kind {
        TransitionKind::Refreshed => {
            // Newer evidence of the same open alert: kept current, reported to no one.
            let row = tx
                .query_opt(
                    "UPDATE alerts SET summary = $3, explanation = $4, updated_at = $5
                     WHERE room_key = $1 AND hazard = $2 AND status = 'open' RETURNING id, case_id",
                    &[&room.key, &hazard, &summary, &explanation, &detected_at],
                )
                .await?;
            let row = row.map(|r| (r.get::<_, i64>(0), r.get::<_, Option<i64>>(1)));
            return Ok(Applied {
                alert_id: row.map(|r| r.0),
                case_id: row.and_then(|r| r.1),
                ..Applied::default()
            });
        }
        TransitionKind::Raised => {
            match reopen(tx, room, hazard, since, t.cleared_at, quiet_period, &alert).await? {
                Some(row) => row,
                None => {
                    insert(tx, room, (hazard, hhsrs.map(|h| h.slug()), triage), since, t.cleared_at, &alert)
                        .await?
                }
            }
        }
        TransitionKind::Revised => {
            let Some(row) =
                revise_episode(tx, room, hazard, reported_end, (since, t.cleared_at), &alert).await?
            else {
                // Nothing stored to revise (the alert predates this room's state).
                return Ok(Applied::default());
            };
            row
        }
        TransitionKind::Updated => {
            let updated = tx
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
                .await?;
            match updated {
                Some(r) => {
                    let row = AlertRow::from(&r, false);
                    tx.execute(
                        "UPDATE alert_episodes SET severity = greatest(severity, $2), since = coalesce($3, since)
                         WHERE alert_id = $1 AND cleared_at IS NULL",
                        &[&row.id, &severity, &late_since],
                    )
                    .await?;
                    row
                }
                // An update of an alert the table does not hold (state restarted): insert, or
                // update the open one if it exists; never a second open alert.
                None => {
                    insert(tx, room, (hazard, hhsrs.map(|h| h.slug()), triage), since, None, &alert).await?
                }
            }
        }
        TransitionKind::Reopened => {
            match reopen_episode(tx, room, hazard, reported_end, since, &alert).await? {
                Some(row) => row,
                // Against the engine's record, another alert of the hazard is open, or none is
                // stored: that one is updated, or one inserted.
                None => {
                    insert(tx, room, (hazard, hhsrs.map(|h| h.slug()), triage), since, None, &alert).await?
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
                Some(r) => {
                    let row = AlertRow::from(&r, false);
                    tx.execute(
                        "UPDATE alert_episodes SET cleared_at = $2, since = coalesce($3, since)
                         WHERE alert_id = $1 AND cleared_at IS NULL",
                        &[&row.id, &cleared_at, &late_since],
                    )
                    .await?;
                    row
                }
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

    let mut applied = Applied {
        alert_id: Some(row.id),
        case_id: row.case_id,
        reopened: row.reopened,
        ..Applied::default()
    };
    let evidence = json!({ "alert": explanation, "summary": summary });
    match (row.case_id, hhsrs, policy) {
        (Some(case_id), _, _) => {
            let kind = match (t.kind, row.raised) {
                (TransitionKind::Cleared, _) => "alert_cleared",
                (_, true) => "alert_raised",
                (TransitionKind::Reopened, _) => "alert_reopened",
                _ if row.reopened => "alert_reopened",
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
        _ if row.reopened => "alert.reopened",
        _ => "alert.updated",
    };
    let event_id = format!("alert:{}:rev:{}", row.id, row.revision);
    let body = payload::build(tx, event_type, &event_id, detected_at, Some(row.id), applied.case_id).await?;
    let queued = outbox::enqueue_event(
        tx,
        room.landlord_id,
        t.hazard.duty(),
        event_type,
        (Some(row.id), applied.case_id),
        &body,
        detected_at,
    )
    .await?;
    applied.webhooks = queued.immediate;
    applied.batched = queued.batched;
    Ok(applied)
}

/// What a transition writes into an alert row, whichever way it goes.
struct AlertValues<'a> {
    severity: &'a str,
    rule_ids: &'a [String],
    ruleset_version: &'a str,
    summary: &'a str,
    explanation: &'a Value,
    detected_at: DateTime<Utc>,
}

/// A new alert (already cleared when `cleared_at` is given) with its first episode; or, if an
/// alert of the hazard is open against the engine's record, that one updated (never a second
/// open alert).
async fn insert(
    tx: &Transaction<'_>,
    room: RoomContext<'_>,
    (hazard, hhsrs, triage): (&str, Option<&str>, &str),
    since: DateTime<Utc>,
    cleared_at: Option<DateTime<Utc>>,
    a: &AlertValues<'_>,
) -> Result<AlertRow, AlertsError> {
    let r = tx
        .query_one(
            "INSERT INTO alerts (landlord_id, room_key, room_id, device_id, hazard, hhsrs_hazard,
                 status, severity, since, raised_at, updated_at, cleared_at, rule_ids, ruleset_version,
                 summary, explanation, triage)
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $10::timestamptz IS NULL THEN 'open' ELSE 'cleared' END,
                     $7, $8, $9, $9, $10, $11, $12, $13, $14, $15)
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
                &hhsrs,
                &a.severity,
                &since,
                &a.detected_at,
                &cleared_at,
                &a.rule_ids,
                &a.ruleset_version,
                &a.summary,
                &a.explanation,
                &triage,
            ],
        )
        .await?;
    let row = AlertRow::from(&r, r.get(3));
    if row.raised {
        tx.execute(
            "INSERT INTO alert_episodes (alert_id, landlord_id, episode, since, raised_at, cleared_at, severity)
             VALUES ($1, $2, 1, $3, $4, $5, $6)",
            &[&row.id, &room.landlord_id, &since, &a.detected_at, &cleared_at, &a.severity],
        )
        .await?;
    }
    Ok(row)
}

/// Opens the room's last alert of the hazard again with a new episode starting at `since`
/// (already over at `cleared_at`, for an episode late readings show in the past), if it
/// cleared at most `quiet_period` before `since`, no alert of the hazard is open, and its case
/// (if it has one) is not concluded.
async fn reopen(
    tx: &Transaction<'_>,
    room: RoomContext<'_>,
    hazard: &str,
    since: DateTime<Utc>,
    cleared_at: Option<DateTime<Utc>>,
    quiet_period: TimeDelta,
    a: &AlertValues<'_>,
) -> Result<Option<AlertRow>, AlertsError> {
    let quiet_s = quiet_period.num_milliseconds() as f64 / 1000.0;
    let Some(last) = tx
        .query_opt(
            "SELECT a.id FROM alerts a LEFT JOIN cases c ON c.id = a.case_id
             WHERE a.room_key = $1 AND a.hazard = $2 AND a.status = 'cleared'
               AND a.cleared_at <= $3 AND a.cleared_at >= $3 - make_interval(secs => $4)
               AND (c.id IS NULL OR c.state IN ('awaiting_triage', 'investigating', 'work_required'))
               AND NOT EXISTS (SELECT 1 FROM alerts o WHERE o.room_key = $1 AND o.hazard = $2 AND o.status = 'open')
             ORDER BY a.cleared_at DESC, a.id DESC LIMIT 1
             FOR UPDATE OF a",
            &[&room.key, &hazard, &since, &quiet_s],
        )
        .await?
    else {
        return Ok(None);
    };
    let id: i64 = last.get(0);
    let r = tx
        .query_one(
            "UPDATE alerts SET status = CASE WHEN $2::timestamptz IS NULL THEN 'open' ELSE 'cleared' END,
                 cleared_at = $2, since = $3, severity = $4, rule_ids = $5, ruleset_version = $6, summary = $7,
                 explanation = $8, updated_at = $9, revision = revision + 1, episodes = episodes + 1
             WHERE id = $1
             RETURNING id, case_id, revision, episodes",
            &[&id, &cleared_at, &since, &a.severity, &a.rule_ids, &a.ruleset_version, &a.summary, &a.explanation, &a.detected_at],
        )
        .await?;
    let episode: i32 = r.get(3);
    tx.execute(
        "INSERT INTO alert_episodes (alert_id, landlord_id, episode, since, raised_at, cleared_at, severity)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &room.landlord_id, &episode, &since, &a.detected_at, &cleared_at, &a.severity],
    )
    .await?;
    Ok(Some(AlertRow { reopened: true, ..AlertRow::from(&r, false) }))
}

/// Late readings moved the window of a cleared episode (found by the end it was reported
/// with): the episode is corrected, and the alert's own window too when it is the newest.
async fn revise_episode(
    tx: &Transaction<'_>,
    room: RoomContext<'_>,
    hazard: &str,
    reported_end: Option<DateTime<Utc>>,
    (since, cleared_at): (DateTime<Utc>, Option<DateTime<Utc>>),
    a: &AlertValues<'_>,
) -> Result<Option<AlertRow>, AlertsError> {
    let Some(found) = tx
        .query_opt(
            "UPDATE alert_episodes e SET since = $4, cleared_at = $5
             FROM alerts a
             WHERE a.id = e.alert_id AND a.room_key = $1 AND a.hazard = $2 AND e.cleared_at = $3
             RETURNING e.alert_id, e.episode = a.episodes",
            &[&room.key, &hazard, &reported_end, &since, &cleared_at],
        )
        .await?
    else {
        return Ok(None);
    };
    let (id, newest): (i64, bool) = (found.get(0), found.get(1));
    let r = tx
        .query_one(
            "UPDATE alerts SET revision = revision + 1, summary = $3, explanation = $4, updated_at = $5,
                 since = CASE WHEN $2 AND status = 'cleared' THEN $6 ELSE since END,
                 cleared_at = CASE WHEN $2 AND status = 'cleared' THEN $7 ELSE cleared_at END,
                 severity = CASE WHEN $2 AND status = 'cleared' THEN $8 ELSE severity END,
                 rule_ids = CASE WHEN $2 AND status = 'cleared' THEN $9 ELSE rule_ids END
             WHERE id = $1
             RETURNING id, case_id, revision",
            &[
                &id,
                &newest,
                &a.summary,
                &a.explanation,
                &a.detected_at,
                &since,
                &cleared_at,
                &a.severity,
                &a.rule_ids,
            ],
        )
        .await?;
    Ok(Some(AlertRow::from(&r, false)))
}

/// Late readings show that a cleared episode (found by the end it was reported with) never
/// ended: its alert is open again. When later episodes followed it, they were the same
/// condition all along and are folded into it.
async fn reopen_episode(
    tx: &Transaction<'_>,
    room: RoomContext<'_>,
    hazard: &str,
    reported_end: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    a: &AlertValues<'_>,
) -> Result<Option<AlertRow>, AlertsError> {
    let Some(found) = tx
        .query_opt(
            "SELECT e.alert_id, e.episode FROM alert_episodes e JOIN alerts a ON a.id = e.alert_id
             WHERE a.room_key = $1 AND a.hazard = $2 AND e.cleared_at = $3
               AND NOT EXISTS (SELECT 1 FROM alerts o
                               WHERE o.room_key = $1 AND o.hazard = $2 AND o.status = 'open' AND o.id <> a.id)
             ORDER BY e.alert_id DESC LIMIT 1
             FOR UPDATE OF a",
            &[&room.key, &hazard, &reported_end],
        )
        .await?
    else {
        return Ok(None);
    };
    let (id, episode): (i64, i32) = (found.get(0), found.get(1));
    tx.execute(
        "UPDATE alert_episodes SET cleared_at = NULL,
             severity = (SELECT max(severity) FROM alert_episodes WHERE alert_id = $1 AND episode >= $2)
         WHERE alert_id = $1 AND episode = $2",
        &[&id, &episode],
    )
    .await?;
    tx.execute("DELETE FROM alert_episodes WHERE alert_id = $1 AND episode > $2", &[&id, &episode]).await?;
    let r = tx
        .query_one(
            "UPDATE alerts SET status = 'open', cleared_at = NULL, since = $3, severity = $4, rule_ids = $5,
                 ruleset_version = $6, summary = $7, explanation = $8, updated_at = $9,
                 revision = revision + 1, episodes = $2
             WHERE id = $1
             RETURNING id, case_id, revision",
            &[
                &id,
                &episode,
                &since,
                &a.severity,
                &a.rule_ids,
                &a.ruleset_version,
                &a.summary,
                &a.explanation,
                &a.detected_at,
            ],
        )
        .await?;
    Ok(Some(AlertRow::from(&r, false)))
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
    use dampwatch_indicators::Duty;

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
            // The stored duty is derived from the HHSRS hazard (0400_alert_stories.sql): the
            // engine's own word for it must agree.
            let duty = if hhsrs.is_some() { Duty::LegalClock } else { Duty::Advisory };
            assert_eq!(engine.duty(), duty, "{engine}");
            // Alerts stored before the mapping was typed named the same HHSRS hazard by slug.
            if let Some(h) = hhsrs {
                assert_eq!(h.slug(), engine.slug(), "{engine}");
                assert!(h.number() <= 3, "{engine}: damp and mould, excess cold or excess heat");
            }
        }
    }
}
