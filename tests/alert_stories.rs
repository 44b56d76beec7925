//! Alerts people act on, through the whole system: `dampwatch sim --provision --devices 2
//! --scenario damp-bedroom --speed 20000 --for 60s` (two damp bedrooms, about two simulated
//! weeks: the real firmware core signing and sending over mutual-TLS MQTT, the gateway, the
//! collector and its hazard worker, PostgreSQL) to a landlord's webhook receiver.
//!
//! Each bedroom is stuffy every night. That is one ventilation alert per room, which says how
//! many of the last nights were stuffy, not one raised and cleared every night; every room has
//! at most one alert per hazard, each with its episodes; the damp-and-mould alert and its case
//! are as before. A landlord who chose daily batches for advisory alerts gets the ventilation
//! alerts in one delivery per endpoint, while alerts with a legal clock still arrive at once.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use dampwatch_alerts::advisory_delivery::{self, AdvisoryDelivery};
use dampwatch_sim::SimArgs;
use dampwatch_testkit::{eventually, eventually_true, Received, Receiver};
use dampwatch_tests::{fast_alerts_config, signed_by, Stack};
use serde_json::Value;
use tokio_postgres::Client;

const SECRET: &str = "demo-landlord-webhook-secret";
/// The issue's own words: "at most a handful of webhook deliveries per room".
const HANDFUL: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_weeks_of_two_damp_bedrooms_tell_one_story_per_room_and_hazard() {
    let run = Run::scenario("60s", AdvisoryDelivery::Immediate).await;
    let db = &run.db;

    // At most one alert per room and hazard, whatever came and went.
    let alerts = db
        .query("SELECT room_key, hazard, count(*) FROM alerts GROUP BY 1, 2 ORDER BY 1, 2", &[])
        .await
        .expect("alerts");
    let stories: Vec<(String, String, i64)> = alerts.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    eprintln!("alerts per room and hazard: {stories:?}");
    assert!(stories.iter().all(|(_, _, n)| *n == 1), "one alert per room and hazard: {stories:?}");
    let rooms: Vec<&String> = {
        let mut r: Vec<&String> = stories.iter().map(|(room, _, _)| room).collect();
        r.dedup();
        r
    };
    assert_eq!(rooms.len(), 2, "two bedrooms: {stories:?}");

    for room in &rooms {
        // The stuffy nights make one advisory ventilation alert, which counts them.
        let vent =
            alert_of(db, room, "poor_ventilation").await.expect("a ventilation alert in every damp bedroom");
        assert_eq!(vent["duty"], "advisory", "{vent}");
        assert!(vent["case_id"].is_null(), "ventilation opens no case: {vent}");
        assert_eq!(vent["status"], "open", "stuffy every night: still open at the end: {vent}");
        let summary = vent["summary"].as_str().expect("summary");
        let nights = nights_counted(summary).unwrap_or_else(|| panic!("says how many nights: {summary}"));
        assert!(nights >= 5, "most of the last 7 nights were stuffy: {summary}");
        assert!(summary.contains("ventilation.co2_nights v1"), "names its rule and version: {summary}");
        let episodes = vent["episodes"].as_array().expect("episodes");
        assert_eq!(episodes.len(), vent["episode"].as_i64().expect("episode") as usize, "{vent}");
        assert!(episodes.iter().all(|e| e["since"].is_string() && e.get("cleared_at").is_some()), "{vent}");
        assert!(vent["revision"].as_i64().expect("revision") <= 3, "not a revision a night: {vent}");

        // The damp-and-mould alert and its case, as before: one alert with a legal clock, its
        // case opened at detection and waiting for triage.
        let damp =
            alert_of(db, room, "damp_and_mould_growth").await.expect("a damp alert in every damp bedroom");
        assert_eq!(damp["duty"], "legal_clock", "{damp}");
        assert_eq!(damp["triage"], "case_opened", "{damp}");
        assert_eq!(damp["episode"], 1, "{damp}");
        let case_id = damp["case_id"].as_i64().expect("the damp alert's case");
        let case: (String, String, i64) = {
            let r = db
                .query_one(
                    "SELECT hazard, state, (SELECT count(*) FROM cases c2 WHERE c2.room_key = c.room_key)
                     FROM cases c WHERE id = $1",
                    &[&case_id],
                )
                .await
                .expect("case");
            (r.get(0), r.get(1), r.get(2))
        };
        assert_eq!((case.0.as_str(), case.1.as_str()), ("damp_and_mould_growth", "awaiting_triage"));
        // Every case of the room is held by the room's one alert of its hazard (damp, and cold
        // if the room got cold enough).
        let clock_alerts: i64 = db
            .query_one(
                "SELECT count(*) FROM alerts WHERE room_key = $1 AND duty = 'legal_clock' AND case_id IS NOT NULL",
                &[room],
            )
            .await
            .expect("clock alerts")
            .get(0);
        assert_eq!(case.2, clock_alerts, "one case per alert with a legal clock in {room}");

        // The room's risk level follows from its open alerts: an open damp alert is high (or
        // severe once visible growth is likely).
        let risk = db
            .query_one("SELECT risk_level, risk FROM room_hazard_state WHERE room_key = $1", &[room])
            .await
            .expect("room risk");
        let (level, detail): (String, Value) = (risk.get(0), risk.get(1));
        assert!(level == "high" || level == "severe", "{room}: {level} {detail}");
        let model = detail["model_version"].as_str().unwrap_or_default();
        assert!(model.starts_with("dampwatch-room-risk/"), "the model's version is recorded: {detail}");
    }

    // A handful of deliveries per room, every one signed and as documented.
    let per_room = run.deliveries_per_room();
    eprintln!("webhook deliveries per room: {per_room:?}");
    assert_eq!(per_room.len(), 2, "{per_room:?}");
    assert!(per_room.values().all(|n| *n <= HANDFUL), "at most {HANDFUL} per room: {per_room:?}");
    let vent_events = run.delivered().filter(|b| b["alert"]["hazard"] == "poor_ventilation").count();
    assert!(
        vent_events <= 2 * 2,
        "a raise (and at most one more change) per room, not one a night: {vent_events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advisory_alerts_wait_for_the_daily_batch_while_alerts_with_a_legal_clock_arrive_at_once() {
    // A week is enough for the third stuffy night.
    let run = Run::scenario("35s", AdvisoryDelivery::Daily).await;
    let db = &run.db;

    // Alerts with a legal clock came at once; advisory ones wait.
    assert!(
        run.delivered().any(|b| b["alert"]["hazard"] == "damp_and_mould_growth"),
        "the damp alert is not held back"
    );
    assert!(
        !run.delivered().any(|b| b["alert"]["duty"] == "advisory"),
        "no advisory alert is sent before the batch"
    );
    let waiting: i64 = db
        .query_one("SELECT count(*) FROM webhook_batch_items WHERE outbox_id IS NULL AND due_at > now()", &[])
        .await
        .expect("batch items")
        .get(0);
    assert!(waiting >= 2, "each bedroom's ventilation alert waits for the batch: {waiting}");

    // The batch time comes: one delivery for the endpoint, holding every waiting event.
    let mut client = dampwatch_store::connect(&run.url).await.expect("database");
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    let released = dampwatch_alerts::batch::release_due(&mut client, tomorrow).await.expect("release");
    assert_eq!((released.batches, released.items), (1, u64::try_from(waiting).expect("count")));
    let again = dampwatch_alerts::batch::release_due(&mut client, tomorrow).await.expect("release again");
    assert_eq!(again.batches, 0, "an event goes out in one batch only");
    let batch = eventually(Duration::from_secs(30), || async {
        run.receiver.requests().into_iter().find(|r| r.status == 200 && r.json()["type"] == "alert.batch")
    })
    .await
    .expect("the batch is delivered");
    assert!(signed_by(&batch, SECRET), "the batch is signed like any webhook");
    assert_eq!(batch.header("dampwatch-event"), "alert.batch");
    let body = batch.json();
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), usize::try_from(waiting).expect("count"));
    assert!(events.iter().all(|e| e["alert"]["duty"] == "advisory"), "{body}");
    let mut ids: Vec<&str> = events.iter().filter_map(|e| e["event_id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "each event once, under its own id");
    matches_the_documented_webhook(&batch);
    let drained = eventually_true(Duration::from_secs(30), || async {
        let n: i64 = db
            .query_one("SELECT count(*) FROM webhook_outbox WHERE state <> 'delivered'", &[])
            .await
            .map(|r| r.get(0))
            .unwrap_or(-1);
        n == 0
    })
    .await;
    assert!(drained, "everything delivered");
    let batches = run
        .receiver
        .requests()
        .iter()
        .filter(|r| r.status == 200 && r.json()["type"] == "alert.batch")
        .count();
    assert_eq!(batches, 1, "one batch delivery");
}

/// One scenario run, finished: every committed reading consumed and every queued webhook
/// delivered.
struct Run {
    // Field order: the receiver and connection go before the stack they talk to.
    receiver: Receiver,
    db: Client,
    url: String,
    _stack: Stack,
}

impl Run {
    async fn scenario(duration: &str, advisory: AdvisoryDelivery) -> Run {
        let stack = Stack::builder()
            .collector_config(|c| c.alerts = fast_alerts_config())
            .start()
            .await
            .expect("gateway, collector and PostgreSQL");
        let url = stack.pg.url();
        let db = stack.db().await.expect("database");
        dampwatch_store::registry::ensure_landlord(&db, "demo", "Demo landlord").await.expect("landlord");
        advisory_delivery::set(&db, "demo", advisory, None).await.expect("advisory delivery");
        let receiver = Receiver::start(0).await;
        db.execute(
            "INSERT INTO webhook_endpoints (landlord_id, url, secret) VALUES ('demo', $1, $2)",
            &[&receiver.url, &SECRET],
        )
        .await
        .expect("endpoint");

        let data = stack.dir.path().join("sim");
        let pki = stack.pki();
        let gateway = stack.gateway_addr().to_string();
        let args = SimArgs::try_parse_from([
            "dampwatch-sim",
            "--provision",
            "--devices",
            "2",
            "--scenario",
            "damp-bedroom",
            "--speed",
            "20000",
            "--for",
            duration,
            "--gateway",
            &gateway,
            "--data-dir",
            data.to_str().expect("utf-8 path"),
            "--pki-dir",
            pki.to_str().expect("utf-8 path"),
            "--database-url",
            &url,
        ])
        .expect("the issue's command line");
        let mut out = Vec::new();
        let summary = dampwatch_sim::run(args, &mut out).await.expect("simulation");
        eprintln!("{}", String::from_utf8_lossy(&out));
        assert_eq!(summary.devices, 2);

        let settled = eventually_true(Duration::from_secs(120), || async {
            let row = db
                .query_one(
                    "SELECT (SELECT count(*) FROM hazard_inbox),
                            (SELECT count(*) FROM webhook_outbox WHERE state <> 'delivered')",
                    &[],
                )
                .await;
            row.is_ok_and(|r| r.get::<_, i64>(0) == 0 && r.get::<_, i64>(1) == 0)
        })
        .await;
        assert!(settled, "every committed reading consumed and every webhook delivered");
        let run = Run { receiver, db, url, _stack: stack };
        for request in run.receiver.requests() {
            assert_eq!(request.status, 200);
            assert!(signed_by(&request, SECRET), "valid signature");
            matches_the_documented_webhook(&request);
        }
        run
    }

    /// The bodies delivered, each once (a retry repeats an idempotency key).
    fn delivered(&self) -> impl Iterator<Item = Value> {
        let mut seen = std::collections::BTreeSet::new();
        self.receiver
            .requests()
            .into_iter()
            .filter(|r| r.status == 200 && seen.insert(r.header("idempotency-key")))
            .map(|r| r.json())
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Deliveries by the room they are about (and, on the test's output, what each was).
    fn deliveries_per_room(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for body in self.delivered() {
            let room = body["alert"]["room"]["key"].as_str().or(body["case"]["room"]["key"].as_str());
            let room = room.unwrap_or("?").to_owned();
            eprintln!("{room}: {} {}", body["type"], body["alert"]["hazard"]);
            *out.entry(room).or_default() += 1;
        }
        out
    }
}

/// The room's alert of `hazard` as the API serves it (with its episodes), if there is one.
async fn alert_of(db: &Client, room: &str, hazard: &str) -> Option<Value> {
    let id: i64 = db
        .query_opt("SELECT id FROM alerts WHERE room_key = $1 AND hazard = $2", &[&room, &hazard])
        .await
        .expect("alerts")?
        .get(0);
    let alert = dampwatch_store::read_model::alert::find(db, id).await.expect("alert")?;
    Some(serde_json::to_value(alert).expect("json"))
}

/// N of "on N of the last 7 nights".
fn nights_counted(summary: &str) -> Option<u32> {
    let before = summary.split(" of the last 7 nights").next()?;
    before.rsplit(' ').next()?.parse().ok()
}

/// Fails unless `request`'s body is a webhook the API's OpenAPI document describes: a
/// `WebhookEvent`, or a `WebhookBatch` of them.
fn matches_the_documented_webhook(request: &Received) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let doc = dampwatch_api::openapi::document(&dampwatch_api::ApiConfig::default());
        let schema = serde_json::json!({
            "anyOf": [
                {"$ref": "#/components/schemas/WebhookEvent"},
                {"$ref": "#/components/schemas/WebhookBatch"},
            ],
            "components": doc["components"],
        });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .expect("the document's webhook schemas compile")
    });
    let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
    let errors: Vec<String> =
        validator.iter_errors(&body).map(|e| format!("{e} (at {})", e.instance_path())).collect();
    assert!(errors.is_empty(), "a webhook body does not match the document: {}\n{body}", errors.join("; "));
}
