//! Late readings through the hazard worker with a real PostgreSQL: a room's second sensor
//! delivers a two-day backlog after the room's state has moved on. The backlog is placed in
//! time order (the room is folded again from a stored checkpoint), so the room's mould index
//! and its alerts end as those of an identical room whose readings came in time order, and the
//! alert already reported is updated, not raised again. A reading older than the late-reading
//! horizon is counted (metrics and the room's coverage), not logged one by one, not applied.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use dampwatch_alerts::room::Skipped;
use dampwatch_alerts::HazardProcessor;
use dampwatch_indicators::RoomState;
use serde_json::Value;
use support::{eventually, fast_config, Db, Sample};
use tokio_util::sync::CancellationToken;

/// Five days of a room, from `start`: dry for a day, then damp air (76 % RH). Sensor A, on the
/// cold outside wall with a surface probe, samples every 10 minutes on the hour and was
/// unplugged for three hours at 38 h; sensor B (room air) samples 5 minutes after A. With
/// `a_dry_spell`, A also saw two dry hours at 70 h.
struct Room {
    start: DateTime<Utc>,
    a_dry_spell: bool,
}

const END_H: i64 = 120;
/// B is offline (keeping its readings) from 36 h to 84 h, then delivers its backlog.
const B_OFF_H: i64 = 36;
const B_BACK_H: i64 = 84;

impl Room {
    fn new(a_dry_spell: bool) -> Room {
        let now = Utc::now();
        // Whole seconds, as stored.
        let start = DateTime::from_timestamp(now.timestamp(), 0).expect("time") - TimeDelta::hours(END_H);
        Room { start, a_dry_spell }
    }

    fn at(&self, h: f64) -> DateTime<Utc> {
        self.start + TimeDelta::milliseconds((h * 3_600_000.0) as i64)
    }

    /// Sensor A's (`a = true`) or B's readings from hour `from` to hour `to`.
    fn samples(&self, a: bool, from: i64, to: i64) -> Vec<Sample> {
        let mut out = Vec::new();
        let mut m = from * 60 + if a { 0 } else { 5 };
        while m < to * 60 {
            let h = m as f64 / 60.0;
            if !(a && (38.0..41.0).contains(&h)) {
                let dry = h < 24.0 || (a && self.a_dry_spell && (70.0..72.0).contains(&h));
                let rh = if dry { 60.0 } else { 76.0 };
                let mut s = Sample::air(self.start + TimeDelta::minutes(m), 20.0, rh);
                if a {
                    s.surface_temperature_c = Some(15.5);
                }
                out.push(s);
            }
            m += 10;
        }
        out
    }
}

/// Stores both sensors' readings of hours `from..to` in six-hour uplinks, each processed
/// before the next arrives; B's only outside its outage unless `b_always`.
async fn deliver(
    db: &mut Db,
    p: &HazardProcessor,
    room: &Room,
    devices: (&str, &str),
    span: (i64, i64),
    b_always: bool,
) {
    for h in (span.0..span.1).step_by(6) {
        db.store(devices.0, &room.samples(true, h, h + 6)).await;
        if b_always || !(B_OFF_H..B_BACK_H).contains(&h) {
            db.store(devices.1, &room.samples(false, h, h + 6)).await;
        }
        db.drain(p, Utc::now()).await;
    }
}

/// A room's alerts as the landlord sees them, without ids and detection instants.
async fn alerts(db: &Db, room_id: i64) -> Vec<Value> {
    let rows = db
        .client
        .query(
            "SELECT hazard, status, since, cleared_at, severity, rule_ids, explanation FROM alerts
             WHERE room_id = $1 ORDER BY hazard, since",
            &[&room_id],
        )
        .await
        .expect("alerts");
    rows.iter()
        .map(|r| {
            let explanation: Value = r.get(6);
            let windows: Vec<Value> = explanation["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f["window"]["start"].clone())
                .collect();
            serde_json::json!({
                "hazard": r.get::<_, String>(0),
                "status": r.get::<_, String>(1),
                "since": r.get::<_, DateTime<Utc>>(2),
                "cleared_at": r.get::<_, Option<DateTime<Utc>>>(3),
                "severity": r.get::<_, String>(4),
                "rule_ids": r.get::<_, Vec<String>>(5),
                "windows": windows,
            })
        })
        .collect()
}

async fn state(db: &Db, room_id: i64) -> (RoomState, Value) {
    let row = db
        .client
        .query_one("SELECT state, coverage FROM room_hazard_state WHERE room_id = $1", &[&room_id])
        .await
        .expect("state");
    (serde_json::from_str(row.get(0)).expect("room state"), row.get(1))
}

/// Two identical rooms: one whose sensor B delivers its two-day backlog at 84 h, and a
/// reference whose readings all come in time order.
struct Backlog {
    db: Db,
    room: Room,
    late_room: i64,
    reference_room: i64,
}

async fn backlog(a_dry_spell: bool) -> Backlog {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    // Nothing listens there; only the queued bodies matter here.
    db.endpoint("l", "http://127.0.0.1:9/hook", "secret-secret-secret").await;
    let late_room = db.room("l", "flat-1", "bedroom").await;
    let reference_room = db.room("l", "flat-2", "bedroom").await;
    for (device, room) in
        [("a-1", late_room), ("b-1", late_room), ("a-2", reference_room), ("b-2", reference_room)]
    {
        db.device(device, "l", Some(room)).await;
    }
    let p = HazardProcessor::new(&fast_config(), None).expect("processor");
    let room = Room::new(a_dry_spell);

    // The reference room: both sensors in time order.
    deliver(&mut db, &p, &room, ("a-2", "b-2"), (0, END_H), true).await;

    // The late room: B goes quiet at 36 h; A alone, with its three unplugged hours, restarts
    // the 24 h damp window, so the damp alert is raised at 65 h.
    deliver(&mut db, &p, &room, ("a-1", "b-1"), (0, B_BACK_H), false).await;
    let before = alerts(&db, late_room).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["since"], serde_json::json!(room.at(65.0)));
    assert_eq!(before[0]["status"], if a_dry_spell { "cleared" } else { "open" });

    // B comes back at 84 h with its backlog: four uplinks of twelve hours.
    for h in (B_OFF_H..B_BACK_H).step_by(12) {
        db.store("b-1", &room.samples(false, h, h + 12)).await;
    }
    let outcome = db.drain(&p, Utc::now()).await;
    assert_eq!(outcome.left_out.get(Skipped::TooLate), 0, "{outcome:?}");
    // B's backlog older than the room's settled state (the rest is placed as any reading is).
    assert!((200..=4 * 72).contains(&outcome.late), "backlog placed late: {outcome:?}");
    assert_eq!(outcome.replays, 1, "one replay per room and unit of work: {outcome:?}");
    // A replay folds at most the horizon (72 h) and a checkpoint interval (6 h) of both sensors.
    assert!(outcome.replayed <= 2 * 6 * 78, "{outcome:?}");
    deliver(&mut db, &p, &room, ("a-1", "b-1"), (B_BACK_H, END_H), true).await;

    // The same mould index (to the bit), rule windows, coverage and alerts as in time order.
    let (late, late_coverage) = state(&db, late_room).await;
    let (reference, reference_coverage) = state(&db, reference_room).await;
    assert_eq!(late.mould_index().to_bits(), reference.mould_index().to_bits());
    assert!(late.mould_index() > 0.0);
    assert_eq!(late.open_alerts().collect::<Vec<_>>(), reference.open_alerts().collect::<Vec<_>>());
    assert_eq!(late_coverage, reference_coverage);
    assert_eq!(late_coverage["gaps"], 0, "B's readings cover A's unplugged hours: {late_coverage}");
    assert_eq!(late_coverage["late_readings_left_out"], 0);
    assert_eq!(alerts(&db, late_room).await, alerts(&db, reference_room).await);
    Backlog { db, room, late_room, reference_room }
}

impl Backlog {
    /// The late room's one alert: id, revision, explanation, and its webhooks' types and bodies.
    async fn the_alert(&self) -> (i64, i32, Value, Vec<(String, Value)>) {
        let r = self
            .db
            .client
            .query_one("SELECT id, revision, explanation FROM alerts WHERE room_id = $1", &[&self.late_room])
            .await
            .expect("one alert");
        let id: i64 = r.get(0);
        let webhooks = self
            .db
            .client
            .query("SELECT event_type, payload FROM webhook_outbox WHERE alert_id = $1 ORDER BY id", &[&id])
            .await
            .expect("outbox")
            .iter()
            .map(|w| (w.get(0), w.get(1)))
            .collect();
        (id, r.get(1), r.get(2), webhooks)
    }

    async fn case_events(&self, room_id: i64) -> Vec<String> {
        self.db
            .client
            .query(
                "SELECT e.kind FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.room_id = $1
                 ORDER BY e.seq",
                &[&room_id],
            )
            .await
            .expect("case events")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sensors_two_day_backlog_ends_as_if_its_readings_had_come_in_time_order() {
    let b = backlog(false).await;

    // One damp alert, known to have started at 48 h, not 65 h: updated in place, and the
    // landlord told so by an update of the same alert.
    let late_alerts = alerts(&b.db, b.late_room).await;
    assert_eq!(late_alerts.len(), 1);
    assert_eq!(late_alerts[0]["since"], serde_json::json!(b.room.at(48.0)));
    assert_eq!(late_alerts[0]["status"], "open");
    assert_eq!(late_alerts[0]["windows"], serde_json::json!([b.room.at(24.0)]));
    let (_, revision, explanation, webhooks) = b.the_alert().await;
    let late_data = &explanation["late_data"];
    assert_eq!(late_data["known_to_have_started_earlier"], true, "{explanation}");
    assert_eq!(late_data["reported"]["since"], serde_json::json!(b.room.at(65.0)));
    let types: Vec<&str> = webhooks.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, vec!["alert.raised", "alert.updated"], "no second alert");
    let update = &webhooks[1].1;
    assert_eq!(update["alert"]["since"], serde_json::json!(b.room.at(48.0)));
    assert_eq!(update["alert"]["revision"], revision);
    assert_eq!(update["explanation"]["alert"]["late_data"]["known_to_have_started_earlier"], true);
    assert!(
        update["explanation"]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("known to have started earlier"),
        "{update}"
    );
    assert_eq!(b.case_events(b.late_room).await, vec!["potential_issue_detected", "alert_updated"]);

    // Checkpoints are kept beside the state, a horizon's worth.
    let kept =
        b.db.count(
            "SELECT count(*) FROM room_hazard_checkpoints c JOIN room_hazard_state s USING (room_key)
             WHERE s.room_id = $1",
            &[&b.late_room],
        )
        .await;
    assert!((12..=14).contains(&kept), "{kept} checkpoints");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clear_the_backlog_contradicts_opens_the_same_alert_again() {
    // A alone saw two dry hours at 70 h and cleared the alert; B's readings show the room
    // stayed damp, so the alert never cleared.
    let b = backlog(true).await;
    let late_alerts = alerts(&b.db, b.late_room).await;
    assert_eq!(late_alerts.len(), 1, "the same alert, not a second one: {late_alerts:?}");
    assert_eq!(late_alerts[0]["status"], "open");
    assert_eq!(late_alerts[0]["since"], serde_json::json!(b.room.at(48.0)));
    let (_, _, explanation, webhooks) = b.the_alert().await;
    assert_eq!(explanation["late_data"]["reported"]["cleared_at"], serde_json::json!(b.room.at(71.0)));
    let types: Vec<&str> = webhooks.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, vec!["alert.raised", "alert.cleared", "alert.updated"]);
    let reopened = &webhooks[2].1;
    assert_eq!(reopened["alert"]["status"], "open");
    assert!(reopened["alert"]["cleared_at"].is_null());
    assert!(
        reopened["explanation"]["summary"].as_str().unwrap_or_default().contains("did not clear"),
        "{reopened}"
    );
    assert_eq!(
        b.case_events(b.late_room).await,
        vec!["potential_issue_detected", "alert_cleared", "alert_reopened"]
    );
    assert_eq!(b.case_events(b.reference_room).await, vec!["potential_issue_detected"]);
}

/// Counts the events the hazard worker logs on this thread.
#[derive(Clone, Default)]
struct LogCounter {
    events: Arc<AtomicUsize>,
    warnings: Arc<Mutex<Vec<String>>>,
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for LogCounter {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("dampwatch_alerts")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        self.events.fetch_add(1, Relaxed);
        if *event.metadata().level() <= tracing::Level::WARN {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.warnings.lock().expect("lock").push(message.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// One thread, so every task of the worker logs to this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn readings_older_than_the_horizon_are_counted_not_logged_one_by_one_and_not_applied() {
    let log = LogCounter::default();
    let _guard = tracing::subscriber::set_default(log.clone());
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    let room_id = db.room("l", "flat-3", "kitchen").await;
    db.device("dev", "l", Some(room_id)).await;
    let stop = CancellationToken::new();
    let worker = dampwatch_alerts::start(&db.url, fast_config(), stop.clone()).await.expect("worker");
    let stats = worker.hazard_stats();
    let room = Room::new(false);

    // Five days at 20 °C, 76 % RH after the first: taken as they come.
    let samples = room.samples(true, 0, END_H);
    db.store("dev", &samples).await;
    let newest = samples.last().expect("samples").at;
    eventually(Duration::from_secs(30), || async {
        let at = db
            .client
            .query_one("SELECT last_reading_at FROM room_hazard_state WHERE room_id = $1", &[&room_id])
            .await
            .ok()?;
        (at.get::<_, Option<DateTime<Utc>>>(0) == Some(newest)).then_some(())
    })
    .await
    .expect("the worker took the readings");
    let (before, _) = state(&db, room_id).await;
    let events_before = log.events.load(Relaxed);

    // Thirty readings of a freezing room from 100 h before the newest: beyond the 72 h horizon.
    let old: Vec<Sample> =
        (0..30).map(|i| Sample::air(room.at(19.0) + TimeDelta::minutes(i), 2.0, 99.0)).collect();
    db.store("dev", &old).await;
    let counted = eventually(Duration::from_secs(30), || async {
        (stats.left_out(Skipped::TooLate) == 30).then_some(())
    })
    .await;
    stop.cancel();
    worker.join().await.expect("join");
    assert!(counted.is_some(), "{}", stats.render());
    assert!(stats.render().contains("dampwatch_hazard_readings_left_out_total{reason=\"too_late\"} 30"));

    // Counted in the room's coverage and state...
    let (after, coverage) = state(&db, room_id).await;
    assert_eq!(coverage["late_readings_left_out"], 30, "{coverage}");
    assert_eq!(coverage["newest_left_out_sample_at"], serde_json::json!(old[29].at));
    assert_eq!(after.coverage().late_readings_left_out, 30);
    // ...not applied: the indicators are those before, and the freezing readings raised nothing.
    assert_eq!(after.mould_index().to_bits(), before.mould_index().to_bits());
    assert_eq!(after.last_reading_at(), before.last_reading_at());
    assert_eq!(after.coverage().readings, before.coverage().readings);
    assert_eq!(db.count("SELECT count(*) FROM alerts WHERE hazard = 'excess_cold'", &[]).await, 0);
    // ...and not logged one by one: one summary line for the unit of work, a handful of events.
    let warnings = log.warnings.lock().expect("lock").clone();
    let about_late: Vec<&String> = warnings.iter().filter(|w| w.contains("left out")).collect();
    assert_eq!(about_late.len(), 1, "{warnings:?}");
    let events = log.events.load(Relaxed) - events_before;
    assert!(events < 10, "{events} events logged for 30 readings left out");
}
