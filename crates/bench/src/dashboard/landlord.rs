//! The landlord the dashboard benchmark measures: many homes, thousands of open cases at every
//! stage of the clock, and one room with a year of readings, written straight into the
//! database the way the collector and the hazard worker would have left them.

use chrono::{DateTime, Duration, Utc};
use dampwatch_alerts::cases::{
    append_event, open_case, CasePolicy, NewCase, POTENTIAL_ISSUE_DETECTED, SYSTEM_ACTOR,
};
use dampwatch_alerts::room::RoomRef;
use dampwatch_clock::case::{InvestigationOutcome, TriageCategory};
use dampwatch_clock::{AwarenessPolicy, CaseEvent, Clock, ClockConfig, Hazard};
use serde_json::json;
use tokio_postgres::Client;

pub const LANDLORD: &str = "bench-dashboard";
/// The device that sends the charted room's readings.
const CHART_DEVICE: &str = "bench-chart-1";
/// Cases opened per transaction while seeding.
const CASES_PER_COMMIT: usize = 250;
/// Minutes between the charted room's readings.
const READING_EVERY_MIN: i64 = 10;

/// What was seeded.
pub struct Seeded {
    pub homes: i64,
    pub open_cases: i64,
    /// The room with the year of readings.
    pub chart_room: i64,
    pub readings: i64,
    pub hourly_rows: i64,
    pub alert_windows: i64,
}

/// Seeds `homes` homes with one room each, `cases` open cases in the first rooms after the
/// charted one, and `days` of 10-minute readings (and their hourly rollups) in the first room.
pub async fn seed(
    db: &mut Client,
    homes: i64,
    cases: usize,
    days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Seeded> {
    anyhow::ensure!(homes > cases as i64, "every case needs a home of its own besides the charted room");
    db.execute("INSERT INTO landlords (id, name) VALUES ($1, 'Benchmark Homes')", &[&LANDLORD]).await?;
    db.execute(
        "INSERT INTO dwellings (landlord_id, reference, address)
         SELECT $1, 'H' || lpad(g::text, 6, '0'), g || ' Long Street'
         FROM generate_series(1, $2::int8) g",
        &[&LANDLORD, &homes],
    )
    .await?;
    db.execute(
        "INSERT INTO rooms (dwelling_id, name) SELECT id, 'living room' FROM dwellings WHERE landlord_id = $1 ORDER BY id",
        &[&LANDLORD],
    )
    .await?;
    let rooms: Vec<i64> = db
        .query(
            "SELECT r.id FROM rooms r JOIN dwellings d ON d.id = r.dwelling_id WHERE d.landlord_id = $1
             ORDER BY d.id LIMIT $2",
            &[&LANDLORD, &(cases as i64 + 1)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let chart_room = rooms[0];
    let (readings, hourly_rows) = chart_readings(db, chart_room, days, now).await?;
    let alert_windows = chart_alerts(db, chart_room, days, now).await?;
    open_cases(db, LANDLORD, &rooms[1..], now).await?;
    let open_cases: i64 = db
        .query_one("SELECT count(*) FROM cases WHERE landlord_id = $1 AND state <> 'closed'", &[&LANDLORD])
        .await?
        .get(0);
    db.batch_execute("ANALYZE").await?;
    Ok(Seeded { homes, open_cases, chart_room, readings, hourly_rows, alert_windows })
}

/// `days` of readings every 10 minutes up to `now` from one device in `room`: a daily swing
/// and a colder, damper winter, a surface probe on a cold wall, a slowly falling battery;
/// then the hourly rollups of them, as the collector writes them in the same transaction.
async fn chart_readings(
    db: &mut Client,
    room: i64,
    days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<(i64, i64)> {
    db.execute(
        "INSERT INTO devices (id, landlord_id, room_id, signing_public_key, provisioned_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[&CHART_DEVICE, &LANDLORD, &room, &vec![0u8; 32], &(now - Duration::days(70))],
    )
    .await?;
    let count = days * 24 * 60 / READING_EVERY_MIN;
    let first = now - Duration::minutes(READING_EVERY_MIN * (count - 1));
    let tx = db.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
                 temperature_centi_c, rh_centi_pct, surface_temperature_centi_c, battery_mv, status, uplink_digest)
             SELECT $1, 1, s, t, t, false, t,
                    round(100 * (19.5 + 1.5 * sin(2 * pi() * h / 24) - 2.5 * cos(2 * pi() * h / 8760)))::int,
                    round(100 * (62 + 8 * sin(2 * pi() * h / 24 + 1) + 7 * cos(2 * pi() * h / 8760)
                                 + 6 * sin(2 * pi() * h / 500)))::int,
                    round(100 * (15.5 + 1.0 * sin(2 * pi() * h / 24) - 3.5 * cos(2 * pi() * h / 8760)))::int,
                    3000 - (s * 300 / $3)::int, 0, '\\x00'::bytea
             FROM generate_series(1, $3::int8) s,
                  LATERAL (SELECT $2::timestamptz + (s - 1) * interval '10 minutes' AS t,
                                  (s - 1) / 6.0 AS h) x",
            &[&CHART_DEVICE, &first, &count],
        )
        .await?;
    let hourly = crate::rollups::roll_up(&tx, &[CHART_DEVICE]).await?;
    tx.commit().await?;
    if hourly == 0 {
        // TimescaleDB's continuous aggregate: filled by its refresh.
        db.batch_execute("CALL refresh_continuous_aggregate('readings_hourly', NULL, NULL)").await?;
    }
    Ok((inserted as i64, hourly as i64))
}

/// Damp alerts of the charted room: one every eight weeks of the period, each open for five
/// days, and one still open.
async fn chart_alerts(db: &Client, room: i64, days: i64, now: DateTime<Utc>) -> anyhow::Result<i64> {
    let mut raised: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = (1..)
        .map(|k| now - Duration::days(days) + Duration::weeks(8 * k))
        .take_while(|t| *t + Duration::days(5) < now - Duration::days(2))
        .map(|t| (t, Some(t + Duration::days(5))))
        .collect();
    raised.push((now - Duration::hours(30), None));
    for (at, cleared) in &raised {
        db.execute(
            "INSERT INTO alerts (landlord_id, room_key, room_id, hazard, hhsrs_hazard, status, severity, since,
                 raised_at, updated_at, cleared_at, rule_ids, ruleset_version, summary, explanation, triage)
             VALUES ($1, $2, $3, 'damp_and_mould_growth', 'damp_and_mould_growth',
                     CASE WHEN $5::timestamptz IS NULL THEN 'open' ELSE 'cleared' END, 'amber', $4, $4, $4, $5,
                     ARRAY['damp.room_rh_sustained'], 'dampwatch-rules/2025.1',
                     'Room air above 70 % RH for 24 h', '{}', 'not_applicable')",
            &[&LANDLORD, &format!("room:{room}"), &room, at, cleared],
        )
        .await?;
    }
    Ok(raised.len() as i64)
}

/// One open case per room, at every stage: untriaged (both tracks provisional), triaged
/// significant or emergency at ages that leave them overdue, due soon or on track, and
/// investigated ones waiting for their summary or their works.
/// Opens a case in each of `rooms` (of `landlord`), at every stage of the clock.
pub(crate) async fn open_cases(
    db: &mut Client,
    landlord: &str,
    rooms: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let clock = Clock::from_config(&ClockConfig::default(), None)?;
    for (batch, chunk) in rooms.chunks(CASES_PER_COMMIT).enumerate() {
        let tx = db.transaction().await?;
        for (k, room_id) in chunk.iter().enumerate() {
            let i = batch * CASES_PER_COMMIT + k;
            let room = RoomRef::Room(*room_id);
            // Spread over the last 40 days, a few hours apart.
            let noticed = now - Duration::hours(((i * 7) % (40 * 24)) as i64 + 1);
            let new = NewCase {
                landlord_id: landlord,
                room: &room,
                hazard: if i % 5 == 4 { Hazard::ExcessCold } else { Hazard::DampAndMouldGrowth },
                noticed_at: noticed,
                awareness_policy: AwarenessPolicy::AtDetection,
                case_policy: CasePolicy::OpenOnDetection,
                alert_id: None,
                actor: SYSTEM_ACTOR,
                kind: POTENTIAL_ISSUE_DETECTED,
                record: json!({"type": POTENTIAL_ISSUE_DETECTED}),
                evidence: json!({}),
            };
            let id = open_case(&tx, &clock, &new, now).await?;
            let triaged = noticed + Duration::hours(2);
            let events: Vec<CaseEvent> = match i % 10 {
                0..=2 => vec![],
                3..=5 => vec![significant()],
                6 | 7 => vec![CaseEvent::TriageDecided { category: TriageCategory::Emergency, hazard: None }],
                8 => vec![
                    significant(),
                    CaseEvent::InvestigationConcluded { outcome: InvestigationOutcome::HazardFound },
                ],
                _ => vec![
                    significant(),
                    CaseEvent::InvestigationConcluded { outcome: InvestigationOutcome::HazardFound },
                    CaseEvent::WrittenSummarySent,
                ],
            };
            for (n, event) in events.iter().enumerate() {
                let at = (triaged + Duration::days(n as i64)).min(now);
                append_event(&tx, &clock, id, None, "user:bench", at, event, &json!({}), now).await?;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

fn significant() -> CaseEvent {
    CaseEvent::TriageDecided { category: TriageCategory::Significant, hazard: None }
}
