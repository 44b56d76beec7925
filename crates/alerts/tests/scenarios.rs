//! Scenarios through the worker with a real PostgreSQL and a real HTTP receiver: readings
//! stored the way the collector stores them (readings + inbox row in one transaction) turn
//! into alerts, cases with deadlines, and signed webhooks.

mod support;

use support::SignedBy;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_alerts::HazardProcessor;
use serde_json::Value;
use support::receiver::Receiver;
use support::{eventually, fast_config, series, Db, Sample};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "landlord-webhook-secret-0123456789";

fn hours(h: i64) -> chrono::Duration {
    chrono::Duration::hours(h)
}

/// Ten days of a damp bedroom: 20 °C air at 78 % RH, a cold external wall at 15.5 °C.
fn damp_bedroom(end: DateTime<Utc>) -> Vec<Sample> {
    series(end - chrono::Duration::days(10), end, Duration::from_secs(900), |at| Sample {
        surface_temperature_c: Some(15.5),
        ..Sample::air(at, 20.0, 78.0)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damp_bedroom_over_ten_days_raises_a_damp_alert_with_its_case_deadlines_and_a_signed_webhook() {
    let mut db = Db::new().await;
    db.landlord("hyde", "open_on_detection").await;
    let bedroom = db.room("hyde", "flat-12", "bedroom").await;
    db.device("dev-bed", "hyde", Some(bedroom)).await;
    let receiver = Receiver::start(0).await;
    db.endpoint("hyde", &receiver.url, SECRET).await;

    let stop = CancellationToken::new();
    let worker = dampwatch_alerts::start(&db.url, fast_config(), stop.clone()).await.expect("start");
    let end = Utc::now();
    // One inbox row per simulated day, as the collector commits batches.
    for day in damp_bedroom(end).chunks(96) {
        db.store("dev-bed", day).await;
    }

    let raised = eventually(Duration::from_secs(30), || async {
        receiver.requests().into_iter().find(|r| {
            let b = r.json();
            b["type"] == "alert.raised" && b["alert"]["hazard"] == "damp_and_mould_growth"
        })
    })
    .await
    .expect("an alert.raised webhook for damp and mould arrives");
    // The sender counts what it delivered, for the metrics endpoint.
    let stats = worker.webhook_stats();
    let counted =
        eventually(Duration::from_secs(10), || async { (stats.delivered.get() >= 1).then_some(()) }).await;
    assert!(counted.is_some(), "{}", stats.render());
    assert!(stats.render().contains("# TYPE dampwatch_webhooks_delivered_total counter"));
    stop.cancel();
    worker.join().await.expect("join");

    // The webhook: signed over timestamp, idempotency key and body, and a body that
    // carries the alert, its explanation, the case and the deadlines.
    assert!(raised.signed_by(SECRET), "valid Dampwatch-Signature");
    assert!(!raised.signed_by("another-secret-of-some-length"), "the signature depends on the secret");
    assert!(raised.header("dampwatch-signature").starts_with("v2="));
    // The same request replayed under a fresh key (to pass the receiver's duplicate check)
    // does not verify: the key is signed too.
    let mut replayed = raised.clone();
    replayed.headers.insert("idempotency-key", axum::http::HeaderValue::from_static("999999999"));
    assert_eq!(replayed.verify(SECRET), Err(dampwatch_alerts::signature::SignatureError::Mismatch));
    assert!(raised.header("idempotency-key").parse::<i64>().is_ok());
    assert_eq!(raised.header("dampwatch-event"), "alert.raised");
    let body = raised.json();
    assert_eq!(body["alert"]["room"]["room_id"], bedroom);
    assert_eq!(body["alert"]["status"], "open");
    assert_eq!(body["alert"]["triage"], "case_opened");
    let findings = body["explanation"]["alert"]["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        assert!(
            f["rule"]["id"].is_string() && f["rule"]["version"].is_u64() && f["rule"]["basis"].is_string()
        );
        assert!(f["window"]["start"].is_string() && f["evidence"]["kind"].is_string());
    }
    assert!(body["explanation"]["summary"].as_str().unwrap_or_default().contains("damp_and_mould_growth"));
    assert_eq!(body["case"]["hazard"], "damp_and_mould_growth");
    assert_eq!(body["case"]["status"], "awaiting_triage");
    assert_eq!(body["case"]["awareness_policy"], "at_detection");
    let deadlines = body["deadlines"].as_array().expect("deadlines");
    let step = |track: &str, step: &str| -> Value {
        deadlines.iter().find(|d| d["track"] == track && d["step"] == step).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(step("triage", "triage_review")["basis"], "product_policy");
    let emergency = step("emergency", "emergency_investigate");
    assert_eq!(emergency["basis"], "elapsed_hours");
    assert_eq!(emergency["amount"], 24);
    assert_eq!(emergency["provisional"], true);
    assert_eq!(emergency["counted_from_event"], "awareness");
    let significant = step("significant", "investigate");
    assert_eq!(significant["basis"], "working_days");
    assert_eq!(significant["amount"], 10);
    assert!(significant["calendar_version"].is_string() && significant["rules_version"].is_string());
    assert!(significant["source"].as_str().unwrap_or_default().len() > 5);

    // The database: one open damp alert for the room, its case, the detection event with
    // its evidence, and the deadlines counted from detection.
    let open = db
        .count(
            "SELECT count(*) FROM alerts WHERE room_id = $1 AND hazard = 'damp_and_mould_growth' AND status = 'open'",
            &[&bedroom],
        )
        .await;
    assert_eq!(open, 1);
    let case = db
        .client
        .query_one(
            "SELECT c.id, c.awareness, a.raised_at FROM cases c JOIN alerts a ON a.case_id = c.id
             WHERE a.room_id = $1 AND a.hazard = 'damp_and_mould_growth'",
            &[&bedroom],
        )
        .await
        .expect("the alert's case");
    let (case_id, awareness, raised_at): (i64, DateTime<Utc>, DateTime<Utc>) =
        (case.get(0), case.get(1), case.get(2));
    assert_eq!(awareness, raised_at, "awareness is the detection instant");
    let first = db
        .client
        .query_one(
            "SELECT kind, actor, evidence FROM case_events WHERE case_id = $1 AND seq = 1",
            &[&case_id],
        )
        .await
        .expect("first event");
    assert_eq!(first.get::<_, String>(0), "potential_issue_detected");
    assert_eq!(first.get::<_, String>(1), "system:hazard-engine");
    assert!(first.get::<_, Value>(2)["alert"]["findings"].is_array(), "the evidence is the explained alert");
    let due: DateTime<Utc> = db
        .client
        .query_one(
            "SELECT ends_at FROM case_deadlines WHERE case_id = $1 AND step = 'emergency_investigate'",
            &[&case_id],
        )
        .await
        .expect("emergency deadline")
        .get(0);
    assert_eq!(due - awareness, hours(24));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_receiver_that_fails_its_first_three_requests_still_gets_the_alert_exactly_once() {
    let mut db = Db::new().await;
    db.landlord("peabody", "open_on_detection").await;
    let lounge = db.room("peabody", "house-3", "lounge").await;
    db.device("dev-cold", "peabody", Some(lounge)).await;
    let receiver = Receiver::start(3).await;
    let endpoint = db.endpoint("peabody", &receiver.url, SECRET).await;

    let stop = CancellationToken::new();
    let worker = dampwatch_alerts::start(&db.url, fast_config(), stop.clone()).await.expect("start");
    let end = Utc::now();
    // Eight hours at 14 °C: the cold rule (below 16 °C for 6 h) raises once, and only that.
    db.store(
        "dev-cold",
        &series(end - hours(8), end, Duration::from_secs(600), |t| Sample::air(t, 14.0, 50.0)),
    )
    .await;

    let delivered = eventually(Duration::from_secs(30), || async {
        let n = db.count("SELECT count(*) FROM webhook_outbox WHERE state = 'delivered'", &[]).await;
        (n >= 1).then_some(n)
    })
    .await
    .expect("delivered in the end");
    // Delivered is final: the row is never taken again, so no retry can follow. Stopping and
    // joining the worker ends any request still in flight before the receiver is read.
    stop.cancel();
    worker.join().await.expect("join");

    assert_eq!(delivered, 1);
    let outbox: i64 = db.count("SELECT count(*) FROM webhook_outbox", &[]).await;
    assert_eq!(outbox, 1, "one alert, one endpoint: one outbox row");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 4, "three failures and one success");
    let ok: Vec<_> = requests.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1, "exactly one successful delivery");
    let key = requests[0].header("idempotency-key");
    assert!(requests.iter().all(|r| r.header("idempotency-key") == key), "same key on every retry");
    assert!(requests.iter().all(|r| r.body == requests[0].body), "same body on every retry");
    assert!(requests.iter().all(|r| r.signed_by(SECRET)), "every attempt signed afresh");
    let attempts: Vec<String> = requests.iter().map(|r| r.header("dampwatch-attempt")).collect();
    assert_eq!(attempts, ["1", "2", "3", "4"]);
    assert_eq!(ok[0].json()["alert"]["hazard"], "excess_cold");

    let log = db
        .client
        .query(
            "SELECT attempt, outcome, status_code, error FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY attempt",
            &[&endpoint],
        )
        .await
        .expect("log");
    let outcomes: Vec<(i32, String, Option<i32>)> =
        log.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        outcomes,
        [
            (1, "failed".into(), Some(500)),
            (2, "failed".into(), Some(500)),
            (3, "failed".into(), Some(500)),
            (4, "delivered".into(), Some(200)),
        ]
    );
    assert!(log[0].get::<_, Option<String>>(3).unwrap_or_default().contains("HTTP 500"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_home_raises_a_cold_alert() {
    let mut db = Db::new().await;
    db.landlord("clarion", "open_on_detection").await;
    let kitchen = db.room("clarion", "flat-1", "kitchen").await;
    db.device("dev-kitchen", "clarion", Some(kitchen)).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let end = Utc::now();
    db.store(
        "dev-kitchen",
        &series(end - hours(30), end, Duration::from_secs(600), |t| Sample::air(t, 9.0, 55.0)),
    )
    .await;
    let outcome = db.drain(&processor, Utc::now()).await;
    assert_eq!(outcome.skipped, 0);

    let rows = db
        .client
        .query(
            "SELECT severity, rule_ids, status, revision FROM alerts WHERE room_id = $1 AND hazard = 'excess_cold'",
            &[&kitchen],
        )
        .await
        .expect("alerts");
    assert_eq!(rows.len(), 1, "one cold alert");
    assert_eq!(rows[0].get::<_, String>(0), "red", "9 °C is below the 10 °C rule");
    let rules: Vec<String> = rows[0].get(1);
    assert!(
        rules.contains(&"cold.below_10c".to_owned()) && rules.contains(&"cold.below_16c".to_owned()),
        "{rules:?}"
    );
    assert_eq!(rows[0].get::<_, String>(2), "open");
    let cases = db
        .count("SELECT count(*) FROM cases WHERE room_id = $1 AND hazard = 'excess_cold'", &[&kitchen])
        .await;
    assert_eq!(cases, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_sensor_raises_offline_and_its_next_reading_clears_it() {
    let mut db = Db::new().await;
    db.landlord("sovereign", "open_on_detection").await;
    let hall = db.room("sovereign", "flat-9", "hall").await;
    db.device("dev-hall", "sovereign", Some(hall)).await;
    // A device with no room is watched as its own room.
    db.device("dev-loose", "sovereign", None).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let now = Utc::now();
    let unplugged_at = now - hours(50);
    let fine = |t| Sample::air(t, 20.0, 50.0);
    db.store("dev-hall", &series(unplugged_at - hours(24), unplugged_at, Duration::from_secs(600), fine))
        .await;
    db.store("dev-loose", &series(now - hours(24), now, Duration::from_secs(600), fine)).await;
    db.drain(&processor, now).await;
    assert_eq!(db.count("SELECT count(*) FROM alerts", &[]).await, 0, "comfortable readings raise nothing");

    let outcome = processor
        .evaluate_offline(&mut db.client, &mut dampwatch_store::Prepared::default(), now, 10)
        .await
        .expect("evaluate");
    assert_eq!(outcome.transitions, 1);
    let row = db
        .client
        .query_one("SELECT room_key, severity, explanation, triage, case_id FROM alerts WHERE hazard = 'device_offline'", &[])
        .await
        .expect("offline alert");
    assert_eq!(row.get::<_, String>(0), format!("room:{hall}"));
    let explanation: Value = row.get(2);
    assert_eq!(explanation["findings"][0]["rule"]["id"], "data.offline_48h");
    assert_eq!(explanation["findings"][0]["evidence"]["kind"], "silence");
    assert_eq!(row.get::<_, String>(3), "not_applicable", "offline is not an HHSRS hazard: no case");
    assert_eq!(row.get::<_, Option<i64>>(4), None);
    // Evaluating again changes nothing: still one open offline alert.
    processor
        .evaluate_offline(&mut db.client, &mut dampwatch_store::Prepared::default(), now + hours(1), 10)
        .await
        .expect("evaluate");
    assert_eq!(db.count("SELECT count(*) FROM alerts WHERE hazard = 'device_offline'", &[]).await, 1);

    db.store("dev-hall", &[fine(now)]).await;
    db.drain(&processor, now).await;
    let status: String = db
        .client
        .query_one("SELECT status FROM alerts WHERE hazard = 'device_offline'", &[])
        .await
        .expect("offline alert")
        .get(0);
    assert_eq!(status, "cleared", "data again clears offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_open_on_triage_an_alert_waits_for_triage_and_opens_no_case() {
    let mut db = Db::new().await;
    db.landlord("l-triage", "open_on_triage").await;
    let room = db.room("l-triage", "flat-2", "bedroom").await;
    db.device("dev-t", "l-triage", Some(room)).await;
    db.endpoint("l-triage", "http://127.0.0.1:9/unused", SECRET).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let end = Utc::now();
    db.store("dev-t", &series(end - hours(8), end, Duration::from_secs(600), |t| Sample::air(t, 14.0, 50.0)))
        .await;
    let outcome = db.drain(&processor, end).await;
    assert_eq!(outcome.cases_opened, 0);
    assert_eq!(db.count("SELECT count(*) FROM cases", &[]).await, 0);
    let triage: String = db.client.query_one("SELECT triage FROM alerts", &[]).await.expect("alert").get(0);
    assert_eq!(triage, "awaiting_triage");
    let payload: Value =
        db.client.query_one("SELECT payload FROM webhook_outbox", &[]).await.expect("queued webhook").get(0);
    assert_eq!(payload["case"], Value::Null);
    assert_eq!(payload["deadlines"], serde_json::json!([]));
    assert_eq!(payload["alert"]["triage"], "awaiting_triage");
}
